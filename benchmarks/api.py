"""Benchmark 5: API reads under load, against a trivial endpoint served by the same server.

The server is gunicorn (``config.wsgi``, ``--api-workers`` sync workers) on
``127.0.0.1`` and a free port, on the benchmark's database, with ``DEBUG=0`` and the API
throttle raised out of the way. The load is wrk (``--latency``, for p99) when installed,
else a Python loop of keep-alive connections in threads; every request carries a regulator
API key. Each endpoint is loaded for ``seconds``, ``runs`` times; the medians are shown.

- quota: ``GET /api/v1/companies/<largest company>/quota/?on=...`` (its position, headroom);
- licences: ``GET /api/v1/licences/`` (the first page of every licence, regulator view);
- the trivial endpoint: ``GET /api/v1/chips/`` (the chip catalogue: a handful of rows
  through the same authentication, throttling, pagination and rendering).

The goal is at least half the trivial endpoint's throughput. ``client="inprocess"`` drives
the Django test client in this process instead (no server, no network: for tiny runs and
tests, and the only choice on an in-memory SQLite database).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from benchmarks.measure import API_VS_TRIVIAL, Row, percentile
from benchmarks.world import ON
from compliance.models import CompanyAPIKey

TRIVIAL = "chips"


@dataclass
class Load:
    """One load run against one path: requests per second, p99 latency (seconds), errors."""

    throughput: float
    p99: float
    requests: int
    errors: int


def endpoints(largest: str) -> dict[str, str]:
    """The paths to load: the ``largest`` company's quota position, the licence list, the trivial endpoint."""
    return {
        "quota": f"/api/v1/companies/{largest}/quota/?on={ON.isoformat()}",
        "licences": "/api/v1/licences/",
        TRIVIAL: "/api/v1/chips/",
    }


def regulator_key() -> str:
    """A regulator key, as ``manage.py issue_api_key --regulator --user bench-regulator --name bench``
    issues it (its user: a superuser created for the run, so the key authenticates)."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench-regulator", defaults={"is_superuser": True, "is_staff": True, "is_active": True}
    )
    _, key = CompanyAPIKey.objects.create_key(name="bench", kind=CompanyAPIKey.Kind.REGULATOR, user=user)
    return key


def database_url() -> str:
    """The benchmark's database as a URL for the server's environment."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        if "memory" in str(db["NAME"]):
            raise RuntimeError("An in-memory SQLite database cannot be shared with a server: use client=inprocess.")
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment() -> dict[str, str]:
    """The environment of a process serving the benchmark's database (gunicorn, a Celery worker)."""
    return {
        "DATABASE_URL": database_url(),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "false",
        "API_THROTTLE_RATE": "100000000/minute",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


@contextmanager
def gunicorn(*, workers: int, environment: dict[str, str] | None = None) -> Iterator[int]:
    """A gunicorn server on 127.0.0.1 for the duration of the block; yields its port.

    ``environment`` adds to (or overrides) the server's environment variables."""
    port = _free_port()
    variables = {**os.environ, **server_environment(), **(environment or {})}
    binary = Path(sys.executable).with_name("gunicorn")
    command = [str(binary), "config.wsgi", "-w", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level",
               "warning"]  # fmt: skip
    server = subprocess.Popen(command, env=variables, cwd=settings.BASE_DIR)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        stop(server, timeout=20)


def stop(process: subprocess.Popen, *, timeout: float) -> None:
    """Terminate ``process`` and wait for it; kill it if it has not exited within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


WRK_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
WRK_P99 = re.compile(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
WRK_ERRORS = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
WRK_TOTAL = re.compile(r"(\d+) requests in")
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def wrk(*, port: int, path: str, key: str, seconds: int, connections: int) -> Load:
    """One wrk run (two threads, ``connections`` keep-alive connections) against 127.0.0.1."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"Authorization: Api-Key {key}",
               f"http://127.0.0.1:{port}{path}"]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    p99 = WRK_P99.search(output)
    errors = WRK_ERRORS.search(output)
    return Load(
        throughput=float(WRK_RATE.search(output).group(1)),
        p99=float(p99.group(1)) * UNITS[p99.group(2)] if p99 else float("nan"),
        requests=int(WRK_TOTAL.search(output).group(1)),
        errors=int(errors.group(1)) if errors else 0,
    )


def python_load(*, port: int, path: str, key: str, seconds: float, connections: int) -> Load:
    """A load loop in threads, one keep-alive connection each (the GIL makes it weaker than wrk)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, failed = [], 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            client.request("GET", path, headers={"Authorization": f"Api-Key {key}"})
            response = client.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            failed += response.status >= 300
        client.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return _load(latencies, elapsed, errors[0])


def _test_client(key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Api-Key {key}")


# The test client's host name, allowed for the in-process requests only.
in_process = override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"])


@in_process
def inprocess_load(*, path: str, key: str, seconds: float) -> Load:
    """Requests through the Django test client in this process, one after another."""
    client = _test_client(key)
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    while not latencies or time.perf_counter() - started < seconds:
        began = time.perf_counter()
        response = client.get(path)
        latencies.append(time.perf_counter() - began)
        errors += response.status_code >= 300
    return _load(latencies, time.perf_counter() - started, errors)


def _load(latencies: list[float], elapsed: float, errors: int) -> Load:
    return Load(throughput=len(latencies) / elapsed, p99=percentile(latencies, 0.99), requests=len(latencies),
                errors=errors)  # fmt: skip


@in_process
def queries_per_request(path: str, key: str) -> int:
    """The queries one request makes (through the test client, after a warm-up request)."""
    client = _test_client(key)
    client.get(path)
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}: {response.content[:200]!r}")
    return len(captured)


def bench_api(
    *, largest: str, seconds: float, connections: int, workers: int, client: str | None, runs: int
) -> list[Row]:
    """Benchmark 5: each endpoint's throughput and p99 under load, against the trivial endpoint's."""
    if client is None:
        client = "wrk" if shutil.which("wrk") else "python"
    key = regulator_key()
    paths = endpoints(largest)
    queries = {name: queries_per_request(path, key) for name, path in paths.items()}
    loads: dict[str, list[Load]] = {name: [] for name in paths}

    def measure(port: int | None) -> None:
        for _ in range(runs):
            for name, path in paths.items():  # interleaved, so a drift affects every endpoint alike
                if client == "wrk":
                    load = wrk(port=port, path=path, key=key, seconds=int(seconds), connections=connections)
                elif client == "python":
                    load = python_load(port=port, path=path, key=key, seconds=seconds, connections=connections)
                else:
                    load = inprocess_load(path=path, key=key, seconds=seconds)
                loads[name].append(load)

    if client == "inprocess":
        measure(None)
        server = "Django test client, in process"
    else:
        with gunicorn(workers=workers) as port:
            for path in paths.values():  # warm every worker's caches and connections
                python_load(port=port, path=path, key=key, seconds=0.5, connections=workers * 2)
            measure(port)
        server = f"gunicorn -w {workers} on {connection.vendor}, {client} -c{connections}"

    def median(name: str, field: str) -> float:
        return statistics.median(getattr(load, field) for load in loads[name])

    base = median(TRIVIAL, "throughput")
    rows = []
    for name, path in paths.items():
        throughput = median(name, "throughput")
        errors = sum(load.errors for load in loads[name])
        requests = sum(load.requests for load in loads[name])
        ratio = throughput / base
        trivial = name == TRIVIAL
        shown = path.split("?")[0].replace(largest, "<largest>")
        rows.append(
            Row(f"5. API {name}", ("limit: " if trivial else "service: ") + f"GET {shown}",
                None, None, "requests", str(queries[name]),
                "" if trivial else f"{ratio:.2f}x", "" if trivial else API_VS_TRIVIAL.text,
                "" if trivial else API_VS_TRIVIAL.verdict(ratio),
                f"p99 {median(name, 'p99') * 1000:.1f} ms; {requests:,} requests, {errors} errors; {server}",
                per_second=throughput)
        )  # fmt: skip
    return rows
