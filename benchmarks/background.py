"""The moving parts of the alert-latency benchmark (:mod:`benchmarks.latency`), each a real one:

- :class:`Receiver`: a webhook receiver, an HTTP server on 127.0.0.1 in a thread of the
  benchmark's process, recording when each POST arrived (``time.perf_counter``, the clock
  the samples start on);
- :func:`celery_worker`: a Celery worker process (the project's app, prefork) on the
  benchmark's database and Redis, allowed to deliver to that receiver by setting;
- :class:`Ingestion`: batch ingestion through the API (shipments declared, then four customs
  events each), one company changing continuously;
- :class:`Reads`: API reads from a load generator (wrk when installed, else Python threads);
- :class:`QueueDepth`: how deep the broker's queue gets, sampled while it all runs.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from benchmarks.api import WRK_RATE, server_environment, stop

QUEUE = "celery"  # Celery's default queue: a Redis list of that name
UNACKED = "unacked"  # the Redis transport's hash of messages delivered to a worker, not yet acknowledged
RECHECK = "compliance.tasks.recheck_company"


@dataclass
class Arrival:
    """One POST the receiver got: when (``perf_counter``), its headers and body."""

    at: float
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 recording each POST under a key taken from its body:
    a finding's subject (``shipment:DEC-...``) for a webhook, the sample for the no-op task."""

    url: str = ""
    arrivals: dict[str, Arrival] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)

    @staticmethod
    def key(body: bytes) -> str:
        payload = json.loads(body)
        if "sample" in payload:
            return str(payload["sample"])
        return str(payload.get("finding", {}).get("subject", ""))

    def record(self, arrival: Arrival) -> None:
        with self.changed:
            self.arrivals[self.key(arrival.body)] = arrival
            self.changed.notify_all()

    def wait(self, key: str, timeout: float) -> Arrival | None:
        """The arrival recorded under ``key``, waiting up to ``timeout`` seconds for it."""
        with self.changed:
            self.changed.wait_for(lambda: key in self.arrivals, timeout=timeout)
            return self.arrivals.get(key)


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A :class:`Receiver` listening on a free port of 127.0.0.1 for the block's duration."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            arrived = time.perf_counter()
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            receiver.record(Arrival(arrived, dict(self.headers), body))

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/bench"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def celery_worker(*, concurrency: int) -> Iterator[Path]:
    """A Celery worker process (prefork, ``concurrency`` children) for the block; yields its log.

    Its settings are the benchmark's (``config.settings_bench``: the no-op task is known), and
    the receiver on 127.0.0.1 is allowed by the test-only settings, plain http included; the
    defaults, which refuse both, are not touched.
    """
    log = Path(tempfile.mkstemp(prefix="bench-worker-", suffix=".log")[1])
    environment = {
        **os.environ,
        **server_environment(),
        "DJANGO_SETTINGS_MODULE": "config.settings_bench",
        "REDIS_URL": settings.REDIS_URL,
        "COMPLIANCE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "COMPLIANCE_WEBHOOK_ALLOW_HTTP": "true",
    }
    command = [str(Path(sys.executable).with_name("celery")), "-A", "config", "worker", "--pool=prefork",
               f"--concurrency={concurrency}", "-l", "warning", "--without-gossip", "--without-mingle",
               "--without-heartbeat", "-n", f"bench-latency-{os.getpid()}@%h"]  # fmt: skip
    with log.open("w") as output:
        worker = subprocess.Popen(command, env=environment, cwd=settings.BASE_DIR, stdout=output,
                                  stderr=subprocess.STDOUT)  # fmt: skip
    try:
        yield log
    finally:
        stop(worker, timeout=30)


def _post(connection: http.client.HTTPConnection, path: str, key: str, body: object) -> tuple[int, dict]:
    connection.request("POST", path, body=json.dumps(body),
                       headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"})  # fmt: skip
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"{}")


class Ingestion(threading.Thread):
    """Batch ingestion through the API until stopped: ``batch`` shipments declared in one
    request (company key), then their four customs events each (inspecting, held, inspecting,
    cleared) in requests of ``batch`` events (customs key). Every request is one commit that
    changes the same company, so each would enqueue a re-check of it."""

    def __init__(self, *, port: int, licence: str, company_key: str, customs_key: str, batch: int) -> None:
        super().__init__(daemon=True)
        self.port, self.licence, self.batch = port, licence, batch
        self.company_key, self.customs_key = company_key, customs_key
        self.stopping = threading.Event()
        self.events = self.requests = self.errors = 0
        self.error = ""
        self.elapsed = 0.0

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        started = time.perf_counter()
        round_number = 0
        run = timezone.now().strftime("%Y%m%d%H%M%S%f")
        try:
            while not self.stopping.is_set():
                round_number += 1
                self.ingest(connection, f"DEC-bench-lat-{run}-{round_number}")
        finally:
            self.elapsed = time.perf_counter() - started
            connection.close()

    def ingest(self, connection: http.client.HTTPConnection, prefix: str) -> None:
        declared_at = timezone.now() - dt.timedelta(hours=2)
        numbers = [f"{prefix}-{index}" for index in range(self.batch)]
        declarations = [
            {"declaration_number": number, "licence": self.licence, "quantity": 1, "declared_value_usd": "12500.00",
             "port_of_entry": "Shanghai Pudong", "declared_at": declared_at.isoformat()}
            for number in numbers
        ]  # fmt: skip
        self.send(connection, "/api/v1/shipments/batch/", self.company_key, prefix, declarations)
        events = [
            {"declaration_number": number, "status": status, "note": "",
             "occurred_at": (declared_at + dt.timedelta(minutes=step + 1)).isoformat()}
            for number in numbers
            for step, status in enumerate(("inspecting", "held", "inspecting", "cleared"))
        ]  # fmt: skip
        for start in range(0, len(events), self.batch):
            if self.stopping.is_set():
                return
            items = events[start : start + self.batch]
            if self.send(connection, "/api/v1/customs-events/batch/", self.customs_key, f"{prefix}-{start}", items):
                self.events += len(items)

    def send(self, connection: http.client.HTTPConnection, path: str, key: str, batch_id: str, items: list) -> bool:
        status, answer = _post(connection, path, key, {"batch_id": batch_id, "items": items})
        self.requests += 1
        refused = answer.get("counts", {}).get("refused", 0) if isinstance(answer, dict) else 0
        if status != 207 or refused:
            self.errors += 1
            self.error = self.error or f"{path} answered {status}: {json.dumps(answer)[:300]}"
            return False
        return True

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=120)

    @property
    def rate(self) -> float:
        return self.events / self.elapsed if self.elapsed else 0.0


class Reads:
    """API reads until stopped: wrk (``connections`` keep-alive connections, two threads) when
    installed, else as many Python threads with a keep-alive connection each."""

    def __init__(self, *, port: int, path: str, key: str, connections: int, client: str | None) -> None:
        self.port, self.path, self.key, self.connections = port, path, key, connections
        self.client = client or ("wrk" if shutil.which("wrk") else "python")
        self.rate = 0.0
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.counts: list[int] = []
        self.started = 0.0
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.started = time.perf_counter()
        if self.client == "wrk":
            command = ["wrk", "-t2", f"-c{self.connections}", "-d3600s", "-H", f"Authorization: Api-Key {self.key}",
                       f"http://127.0.0.1:{self.port}{self.path}"]  # fmt: skip
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            return
        self.counts = [0] * self.connections
        for index in range(self.connections):
            thread = threading.Thread(target=self.loop, args=(index,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def loop(self, index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while not self.stopping.is_set():
            connection.request("GET", self.path, headers={"Authorization": f"Api-Key {self.key}"})
            connection.getresponse().read()
            self.counts[index] += 1
        connection.close()

    def stop(self) -> None:
        """Stop the load; ``rate`` is then the requests per second it made."""
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)  # wrk stops and prints its summary
            output, _ = self.process.communicate(timeout=60)
            match = WRK_RATE.search(output or "")
            self.rate = float(match.group(1)) if match else float("nan")
            return
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)
        self.rate = sum(self.counts) / (time.perf_counter() - self.started)


class QueueDepth(threading.Thread):
    """Samples the broker (Redis) every ``interval`` seconds until stopped: the deepest the
    queue got, the most re-check messages of one company waiting in it at once, and the most
    the worker held at once (delivered, not yet acknowledged: running, or deferred until a
    time, which Redis keeps out of the queue)."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        import redis

        self.client = redis.Redis.from_url(settings.REDIS_URL)
        self.interval = interval
        self.stopping = threading.Event()
        self.deepest = self.most_rechecks = self.most_held = 0

    @staticmethod
    def most_of_one_company(headers: list[dict]) -> int:
        counts: dict[str, int] = {}
        for header in headers:
            if header.get("task") == RECHECK:
                counts[header.get("argsrepr", "")] = counts.get(header.get("argsrepr", ""), 0) + 1
        return max(counts.values(), default=0)

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            queued = [json.loads(raw)["headers"] for raw in self.client.lrange(QUEUE, 0, -1)]
            held = [json.loads(raw)[0]["headers"] for raw in self.client.hvals(UNACKED)]
            self.deepest = max(self.deepest, len(queued))
            self.most_rechecks = max(self.most_rechecks, self.most_of_one_company(queued))
            self.most_held = max(self.most_held, self.most_of_one_company(held))

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)
