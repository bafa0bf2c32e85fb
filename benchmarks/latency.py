"""Benchmark 7: alert latency end to end, against the same path doing nothing, under load.

Needs PostgreSQL and Redis (``REDIS_URL``): the real parts run, each in its own process or
thread (:mod:`benchmarks.background`): gunicorn serving the API, a Celery worker (prefork)
on Redis, a webhook receiver on 127.0.0.1 in this process, and a background load of batch
ingestion (one company changing continuously) and API reads (wrk when installed).

- The service: ``POST /api/v1/shipments/`` declares a shipment of a chip under an entry
  block (a company key); the commit enqueues the company's re-check, the worker's sweep
  opens an ``entry_block_shipment`` finding and queues its webhook, the worker delivers it
  signed. Timed from before the request to the receiver's arrival of that finding's webhook.
- The limit, the same path doing nothing: a trivial API request (``GET /api/v1/chips/``),
  then a no-op task enqueued after a commit (:func:`benchmarks.tasks.noop_post`) that posts
  to the same receiver through the same checked connection.

Samples alternate (service, limit, ...) after one warm-up each; p50 and p95 of each are
shown, the goal being the service's p95 within 5x of the limit's and under 5 s.

Before that, the re-check queue under continuous change: the ingestion alone for
``churn_seconds``, once as configured (re-checks coalesce) and once with the pending
marker's lifetime at 0 (each commit enqueues one), sampling how deep the broker's queue
gets and how many re-check messages of the company wait at once.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import statistics
import time
from dataclasses import dataclass
from decimal import Decimal

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from benchmarks.api import gunicorn, python_load, regulator_key
from benchmarks.background import RECHECK, Ingestion, QueueDepth, Reads, Receiver, celery_worker, receiving
from benchmarks.ingest import ingest_licence
from benchmarks.loading import LATENCY_COMPANY
from benchmarks.measure import Row, percentile
from benchmarks.tasks import noop_post
from compliance import webhooks
from compliance.models import CompanyAPIKey, JobLock, WebhookSubscription
from licences.models import ChipModel, Company, CustomsDirective, ImportLicence
from licences.services import record_implied_decisions

SECRET = "bench-latency-secret"
CHIP = "BENCH-LAT"
LICENCE = "LIC-bench-latency"
WAIT_SECONDS = 60.0  # a sample whose webhook has not arrived by then is counted as lost
GOAL_RATIO, GOAL_SECONDS = 5.0, 5.0


@dataclass
class World:
    """What the samples and the load use: keys, licence numbers."""

    company_key: str
    regulator_key: str
    ingest_licence: str
    ingest_company_key: str
    customs_key: str


def prepare(url: str) -> World:
    """The latency company (a licence for a chip under an open-ended entry block, a webhook
    subscription to the receiver) and the ingestion company's keys; created once, reused."""
    ingest, customs_key = ingest_licence()  # the ingestion company, its roomy licence, a customs key
    today = timezone.localdate()
    chip, _ = ChipModel.objects.get_or_create(
        code=CHIP,
        defaults={"name": "Bench latency chip", "vendor": "NVIDIA", "origin": ChipModel.Origin.FOREIGN,
                  "export_controlled": True, "compute_index": Decimal("6.000"),
                  "reference_unit_value_usd": Decimal("32000.00")},
    )  # fmt: skip
    CustomsDirective.objects.get_or_create(
        reference="BENCH-LAT-BLOCK",
        defaults={"chip": chip, "blocked_from": dt.date(2026, 1, 1), "blocked_until": None,
                  "reason": "Benchmark: every declaration of this chip is flagged"},
    )  # fmt: skip
    company, _ = Company.objects.get_or_create(slug=LATENCY_COMPANY, defaults={"name": "Bench latency importer"})
    now = timezone.now()
    licence, created = ImportLicence.objects.get_or_create(
        number=LICENCE,
        defaults={"company": company, "chip": chip, "round": ingest.round, "requested_quantity": 10**9,
                  "granted_quantity": 10**9, "unit_value_usd": chip.reference_unit_value_usd,
                  "valid_from": today - dt.timedelta(days=30), "valid_until": today + dt.timedelta(days=365),
                  "status": ImportLicence.Status.APPROVED, "applied_at": now - dt.timedelta(days=40),
                  "approved_at": now - dt.timedelta(days=35)},
    )  # fmt: skip
    if created:
        record_implied_decisions([licence])
    WebhookSubscription.objects.update_or_create(
        company=company, name="bench latency receiver",
        defaults={"url": url, "secret": SECRET, "event_types": ["finding.opened"], "language": "en",
                  "is_active": True, "disabled_reason": ""},
    )  # fmt: skip

    def key(of: Company) -> str:
        return CompanyAPIKey.objects.create_key(name="bench-latency", kind=CompanyAPIKey.Kind.COMPANY, company=of)[1]

    return World(key(company), regulator_key(), ingest.number, key(ingest.company), customs_key)


@dataclass
class Churn:
    """The re-check queue while one company changes continuously."""

    deepest: int
    most_rechecks: int
    most_held: int
    commits: int
    rechecks_run: int
    deferred: int
    seconds: float


def churn(port: int, world: World, *, seconds: float, batch: int) -> Churn:
    """The ingestion alone for ``seconds``, the queue sampled; what it left waiting is purged."""
    from django_celery_results.models import TaskResult

    forget_queue()  # a marker left by the server before would hold off this one's first enqueues
    started_at = timezone.now()
    depth = QueueDepth()
    depth.start()
    ingestion = Ingestion(port=port, licence=world.ingest_licence, company_key=world.ingest_company_key,
                          customs_key=world.customs_key, batch=batch)  # fmt: skip
    ingestion.start()
    time.sleep(seconds)
    ingestion.stop()
    depth.stop()
    if ingestion.error:
        raise RuntimeError(f"The ingestion failed: {ingestion.error}")
    finished = TaskResult.objects.filter(task_name=RECHECK, date_done__gte=started_at)
    deferred = finished.filter(result__contains='"deferred"').count()
    ran = finished.count() - deferred
    forget_queue()
    return Churn(depth.deepest, depth.most_rechecks, depth.most_held, ingestion.requests, ran, deferred,
                 ingestion.elapsed)  # fmt: skip


def warm(port: int, world: World, workers: int) -> None:
    """Warm every gunicorn worker (imports, connections) before anything is measured."""
    for path in ("/api/v1/chips/", "/api/v1/licences/"):
        python_load(port=port, path=path, key=world.regulator_key, seconds=1.0, connections=workers * 2)


def forget_queue() -> None:
    """Empty the broker's queue and drop the re-checks' pending markers (their messages went with it;
    a running re-check keeps its lock)."""
    current_app.control.purge()
    JobLock.objects.filter(name__startswith="recheck-pending:").delete()


@dataclass
class Samples:
    service: list[float]
    limit: list[float]
    answered: list[float]  # the service's API request alone, until its answer
    lost: int
    verified: int
    ingested: float
    reads: float
    reads_client: str


def sample(port: int, world: World, receiver: Receiver, *, samples: int, batch: int, connections: int,
           client: str | None) -> Samples:  # fmt: skip
    """``samples`` of each path, alternating, under the background load."""
    api = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    run = timezone.now().strftime("%Y%m%d%H%M%S%f")
    service: list[float] = []
    limit: list[float] = []
    answered: list[float] = []
    lost = verified = 0

    def one_service(index: int) -> float | None:
        nonlocal verified
        number = f"DEC-bench-latency-{run}-{index}"
        started = time.perf_counter()
        body = json.dumps({"declaration_number": number, "licence": LICENCE, "quantity": 1,
                           "declared_value_usd": "32000.00", "port_of_entry": "Shanghai Pudong"})  # fmt: skip
        headers = {"Authorization": f"Api-Key {world.company_key}", "Content-Type": "application/json"}
        api.request("POST", "/api/v1/shipments/", body=body, headers=headers)
        response = api.getresponse()
        answer = response.read()
        if response.status != 201:
            raise RuntimeError(f"POST /api/v1/shipments/ answered {response.status}: {answer[:300]!r}")
        answered.append(time.perf_counter() - started)
        arrival = receiver.wait(f"shipment:{number}", WAIT_SECONDS)
        if arrival is None:
            return None
        verified += webhooks.verify_signature(SECRET, arrival.headers.get("X-Compliance-Signature", ""), arrival.body)
        return arrival.at - started

    def one_limit(index: int) -> float | None:
        token = f"noop-{run}-{index}"
        started = time.perf_counter()
        api.request("GET", "/api/v1/chips/", headers={"Authorization": f"Api-Key {world.regulator_key}"})
        response = api.getresponse()
        response.read()
        with transaction.atomic():
            transaction.on_commit(lambda: noop_post.delay(receiver.url, token))
        arrival = receiver.wait(token, WAIT_SECONDS)
        return None if arrival is None else arrival.at - started

    if one_service(-1) is None or one_limit(-1) is None:  # warm-up, untimed (a cold worker, first findings)
        raise RuntimeError("The warm-up webhook never arrived: is the worker running? (see its log)")
    verified = 0
    answered.clear()
    ingestion = Ingestion(port=port, licence=world.ingest_licence, company_key=world.ingest_company_key,
                          customs_key=world.customs_key, batch=batch)  # fmt: skip
    reads = Reads(port=port, path="/api/v1/licences/", key=world.regulator_key, connections=connections,
                  client=client)  # fmt: skip
    ingestion.start()
    reads.start()
    try:
        for index in range(samples):
            for take, into in ((one_service, service), (one_limit, limit)):
                taken = take(index)
                if taken is None:
                    lost += 1
                else:
                    into.append(taken)
    finally:
        ingestion.stop()
        reads.stop()
        api.close()
    if ingestion.error:
        raise RuntimeError(f"The background ingestion failed: {ingestion.error}")
    return Samples(service, limit, answered, lost, verified, ingestion.rate, reads.rate, reads.client)


def bench_latency(*, samples: int, churn_seconds: float, batch: int, workers: int, concurrency: int,
                  connections: int, client: str | None) -> list[Row]:  # fmt: skip
    """Benchmark 7: the alert latency rows and the re-check queue rows."""
    name = "7. alert latency"
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        return [Row(name, "skipped", note="needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")]
    if connection.in_atomic_block:
        return [Row(name, "skipped", note="inside a transaction: the worker and the server would not see its writes")]
    if client == "inprocess":
        client = None  # this benchmark always loads a real server
    rows: list[Row] = []
    forget_queue()
    with receiving() as receiver, celery_worker(concurrency=concurrency) as log:
        world = prepare(receiver.url)
        try:
            with gunicorn(workers=workers) as port:
                warm(port, world, workers)
                coalesced = churn(port, world, seconds=churn_seconds, batch=batch)
                measured = sample(port, world, receiver, samples=samples, batch=batch, connections=connections,
                                  client=client)  # fmt: skip
            with gunicorn(workers=workers, environment={"COMPLIANCE_RECHECK_PENDING_SECONDS": "0"}) as port:
                warm(port, world, workers)
                piled = churn(port, world, seconds=churn_seconds, batch=batch)
        except RuntimeError as failure:
            raise RuntimeError(f"{failure}\nWorker log:\n{log.read_text()[-3000:]}") from failure
    rows.extend(latency_rows(measured, workers=workers, concurrency=concurrency))
    for label, queue in (("coalesced", coalesced), ("not coalesced (marker lifetime 0)", piled)):
        rows.append(
            Row("7b. re-check queue", f"{label}: deepest queue", unit="messages",
                note=f"{queue.deepest} messages, at most {queue.most_rechecks} re-checks of one company waiting "
                     f"and {queue.most_held} held by the worker (running or deferred); {queue.commits} commits "
                     f"in {queue.seconds:.1f} s of continuous change, {queue.rechecks_run} re-checks run, "
                     f"{queue.deferred} deferred")
        )  # fmt: skip
    return rows


def latency_rows(measured: Samples, *, workers: int, concurrency: int) -> list[Row]:
    name = "7. alert latency"
    if not measured.service or not measured.limit:
        return [Row(name, "no samples", note=f"{measured.lost} lost")]
    p50, p95 = statistics.median(measured.service), percentile(measured.service, 0.95)
    limit50, limit95 = statistics.median(measured.limit), percentile(measured.limit, 0.95)
    ratio = p95 / limit95
    met = "met" if ratio <= GOAL_RATIO and p95 < GOAL_SECONDS else "missed"
    load = (f"under load: {measured.ingested:,.0f} events/s ingested, {measured.reads:,.0f} reads/s "
            f"({measured.reads_client}); gunicorn -w {workers}, worker prefork -c {concurrency}")  # fmt: skip
    return [
        Row(name, "service: POST /shipments/ to signed webhook", p50, unit="alerts", ratio=f"{ratio:.2f}x",
            goal=f"p95 <= {GOAL_RATIO:g}x, < {GOAL_SECONDS:g} s", met=met,
            note=f"p50 {p50 * 1000:,.0f} ms, p95 {p95 * 1000:,.0f} ms; {len(measured.service)} samples, "
                 f"{measured.lost} lost, {measured.verified} signatures verified; the request alone p50 "
                 f"{statistics.median(measured.answered) * 1000:,.0f} ms; {load}"),
        Row(name, "limit: no-op task after commit to POST", limit50, unit="alerts",
            note=f"p50 {limit50 * 1000:,.0f} ms, p95 {limit95 * 1000:,.0f} ms; {len(measured.limit)} samples; "
                 "a GET /chips/, then a no-op task enqueued after commit posts to the same receiver"),
    ]  # fmt: skip
