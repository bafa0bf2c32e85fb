"""Benchmark 6: customs events through the batch endpoint, against ``COPY`` of the same rows.

The service: ``POST /api/v1/customs-events/batch/`` in batches of ``API_BATCH_MAX_ITEMS``
through the Django test client in this process (the whole request path, parsing,
validation, the service, the JSON answer; not the network), with a customs key. Each
shipment gets four events in order (inspecting, held, inspecting, cleared), so every
event is a real transition that moves the shipment and, when it clears, its licence's
counters. Fresh declared shipments are bulk-loaded before each run (untimed).

The limit: ``COPY`` of the same rows (declaration number, status, time, note) into a bare
table without keys or indexes (PostgreSQL). On SQLite it is ``executemany`` into the bare
table, which the table says.

An extra row times the database's share of the service alone (:func:`database_share`):
the same batches' locking read, bulk writes and commit, without the request or the
decisions taken in Python. No endpoint writing what this one writes can be faster.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import time

from django.conf import settings
from django.db import connection, reset_queries, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from benchmarks.api import in_process
from benchmarks.loading import INGEST_COMPANY, insert_rows, reset_sequence
from benchmarks.measure import (
    DATABASE_SHARE_VS_COPY,
    INGEST_VS_DATABASE_SHARE,
    SQLITE_INGEST_VS_EXECUTEMANY,
    Goal,
    Row,
    timed,
)
from benchmarks.world import FIRST_DAY, ensure_chips
from compliance.models import CompanyAPIKey
from licences.models import AllocationRound, Company, ImportLicence, Shipment
from licences.services import (
    CustomsEventLine,
    lock_shipment_states,
    plan_customs_events,
    record_implied_decisions,
    write_customs_events,
)

EVENTS_PER_SHIPMENT = ("inspecting", "held", "inspecting", "cleared")
BARE_TABLE = "bench_bare_customs_event"


def ingest_licence() -> tuple[ImportLicence, str]:
    """A company with one roomy approved licence to declare against, and a customs key to record its events."""
    company, _ = Company.objects.get_or_create(slug=INGEST_COMPANY, defaults={"name": "Bench ingestion importer"})
    h20 = next(chip for chip in ensure_chips()[0] if chip.code == "H20")
    wave, _ = AllocationRound.objects.get_or_create(
        name="Bench ingestion wave",
        defaults={"unit_cap": 9 * 10**15, "value_cap_usd": 9 * 10**15, "opens_on": FIRST_DAY,
                  "closes_on": dt.date(2099, 12, 31)},
    )  # fmt: skip
    now = timezone.now()
    licence, created = ImportLicence.objects.get_or_create(
        number="LIC-bench-ingest",
        defaults={"company": company, "chip": h20, "round": wave, "requested_quantity": 10**11,
                  "granted_quantity": 10**11, "unit_value_usd": h20.reference_unit_value_usd,
                  "valid_from": now.date() - dt.timedelta(days=30), "valid_until": now.date() + dt.timedelta(days=365),
                  "status": ImportLicence.Status.APPROVED, "applied_at": now - dt.timedelta(days=40),
                  "approved_at": now - dt.timedelta(days=35)},
    )  # fmt: skip
    if created:
        record_implied_decisions([licence])  # its decision ledger, as for every licence written directly
    _, key = CompanyAPIKey.objects.create_key(name="bench-ingest", kind=CompanyAPIKey.Kind.CUSTOMS)
    return licence, key


def declare_shipments(licence: ImportLicence, how_many: int, run: str) -> tuple[list[str], dt.datetime]:
    """``how_many`` fresh declared shipments of one chip each (bulk-loaded); their numbers and declaration time."""
    declared_at = timezone.now() - dt.timedelta(hours=2)
    numbers = [f"DEC-bench-ingest-{run}-{number}" for number in range(how_many)]
    with transaction.atomic():
        first = (Shipment.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        rows = (
            (first + index, number, licence.company_id, licence.pk, licence.chip_id, 1, licence.unit_value_usd,
             "Shanghai Pudong", "declared", declared_at, declared_at)
            for index, number in enumerate(numbers)
        )  # fmt: skip
        columns = ["id", "declaration_number", "company_id", "licence_id", "chip_id", "quantity", "declared_value_usd",
                   "port_of_entry", "status", "declared_at", "status_changed_at"]  # fmt: skip
        insert_rows(Shipment, columns, rows)
        reset_sequence(Shipment)
        ImportLicence.objects.filter(pk=licence.pk).update(reserved_quantity=F("reserved_quantity") + how_many)
    if connection.vendor == "postgresql":
        # What autovacuum would do after a load this size (it is off on the benchmark server):
        # without it, the planner still believes the benchmark's company has the few shipments
        # it had at the last ANALYZE and looks them up through the company index, scanning
        # every shipment the earlier runs added (~40 ms a batch after a dozen runs, growing).
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Shipment._meta.db_table}")
    return numbers, declared_at


def event_items(numbers: list[str], declared_at: dt.datetime) -> list[dict[str, str]]:
    """Four events per shipment, in order, a minute apart, grouped by shipment."""
    return [
        {
            "declaration_number": number,
            "status": status,
            "occurred_at": (declared_at + dt.timedelta(minutes=step + 1)).isoformat(),
            "note": "",
        }
        for number in numbers
        for step, status in enumerate(EVENTS_PER_SHIPMENT)
    ]


def create_bare_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {BARE_TABLE}")
        cursor.execute(
            f"CREATE TABLE {BARE_TABLE} (declaration_number varchar(200), status varchar(16), "
            f"occurred_at {'timestamptz' if connection.vendor == 'postgresql' else 'datetime'}, note text)"
        )


def copy_rows(items: list[dict[str, str]]) -> None:
    """The limit: the same rows into the bare table, by ``COPY`` (PostgreSQL) or ``executemany``."""
    rows = [(item["declaration_number"], item["status"], item["occurred_at"], item["note"]) for item in items]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {BARE_TABLE}")
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {BARE_TABLE} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {BARE_TABLE} VALUES (%s, %s, %s, %s)", rows)


@in_process
def bench_ingest(*, events: int, runs: int) -> list[Row]:
    """Benchmark 6: ``events`` customs events through the batch endpoint against ``COPY``."""
    from django.test import Client

    from api.v1 import licences as licences_api

    if not hasattr(licences_api, "CustomsEventViewSet"):
        return [Row("6. bulk ingestion", "pending", note="POST /api/v1/customs-events/batch/ does not exist yet")]
    batch_size = settings.API_BATCH_MAX_ITEMS
    shipments = max(1, events // len(EVENTS_PER_SHIPMENT))
    events = shipments * len(EVENTS_PER_SHIPMENT)
    licence, key = ingest_licence()
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")
    prepared: dict[str, list[bytes]] = {}
    last_items: list[dict[str, str]] = []

    def setup() -> None:
        run = timezone.now().strftime("%Y%m%d%H%M%S%f")  # unique across runs and processes
        numbers, declared_at = declare_shipments(licence, shipments, run)
        items = event_items(numbers, declared_at)
        last_items[:] = items
        prepared["bodies"] = [
            json.dumps({"batch_id": f"bench-{run}-{start}", "items": items[start : start + batch_size]}).encode()
            for start in range(0, len(items), batch_size)
        ]

    def ingest() -> None:
        for body in prepared["bodies"]:
            response = client.post("/api/v1/customs-events/batch/", body, content_type="application/json")
            answer = response.json()
            if response.status_code != 207 or answer["counts"]["refused"]:
                raise RuntimeError(f"Batch answered {response.status_code}: {json.dumps(answer)[:500]}")

    service = timed(ingest, runs=runs, setup=setup, warm=False)
    batches = len(prepared["bodies"])
    create_bare_table()
    limit = timed(lambda: copy_rows(last_items), runs=runs)
    shares = []
    for _ in range(runs):
        setup()  # fresh declared shipments, untimed
        shares.append(database_share(licence, last_items, batch_size))
    floor = statistics.median(shares)
    # Queries per batch, counted on one more batch of a fresh run.
    setup()
    prepared["bodies"] = prepared["bodies"][:1]
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        ingest()
    ratio = limit.median / service.median  # the service's rate against the bare insert's
    share_ratio = limit.median / floor
    own_ratio = floor / service.median  # the service's rate against its own writes' ceiling
    postgresql = connection.vendor == "postgresql"
    how = "COPY into a bare table" if postgresql else "executemany into a bare table (SQLite)"
    # Issue 16's goals: on PostgreSQL the service against its database share, and that share
    # against the bare COPY; on SQLite the service against the bare executemany.
    service_goal = None if postgresql else SQLITE_INGEST_VS_EXECUTEMANY
    share_goal = DATABASE_SHARE_VS_COPY if postgresql else None
    own_goal = INGEST_VS_DATABASE_SHARE if postgresql else None
    service_cells, share_cells, own_cells = (
        _goal_cells(service_goal, ratio), _goal_cells(share_goal, share_ratio), _goal_cells(own_goal, own_ratio)
    )  # fmt: skip
    return [
        Row("6. bulk ingestion", f"service: POST /customs-events/batch/ x{batches} of {batch_size:,}", service.median,
            events, "events", f"{len(captured)}/batch", f"{ratio:.2f}x", *service_cells,
            note=f"{events:,} events for {shipments:,} shipments, every one accepted; Django test client"),
        Row("6. bulk ingestion", f"limit: {how}", limit.median, events, "events", "1"),
        Row("6. bulk ingestion", "extra: the database's share of the service", floor, events, "events",
            ratio=f"{share_ratio:.2f}x", goal=share_cells[0], met=share_cells[1],
            note="the same batches' locking read, writes and commit, timed alone: the service's ceiling"),
        Row("6. bulk ingestion", "extra: the service against its database share",
            ratio=f"{own_ratio:.2f}x", goal=own_cells[0], met=own_cells[1],
            note="what the request, its JSON, the validation and the decisions leave of the share's rate"),
    ]  # fmt: skip


def _goal_cells(goal: Goal | None, ratio: float) -> tuple[str, str]:
    """A row's goal and verdict cells (both empty where no goal is set for this database)."""
    return ("", "") if goal is None else (goal.text, goal.verdict(ratio))


def database_share(licence: ImportLicence, items: list[dict[str, str]], batch_size: int) -> float:
    """Seconds the database takes for the service's work on ``items``, batch by batch.

    Each batch runs as the endpoint runs it (the same locking read, the same bulk writes,
    one transaction), but the request, its JSON, the validation and the decisions taken in
    Python are left out of the time (encoding the written rows for ``COPY`` stays in): what
    remains bounds the endpoint's rate from above.
    """
    scope = Shipment.objects.filter(company_id=licence.company_id)
    now = timezone.now()
    elapsed = 0.0
    for start in range(0, len(items), batch_size):
        lines = [
            CustomsEventLine(index, item["declaration_number"], item["status"],
                             dt.datetime.fromisoformat(item["occurred_at"]), item["note"])
            for index, item in enumerate(items[start : start + batch_size])
        ]  # fmt: skip
        with transaction.atomic():
            started = time.perf_counter()
            locked = lock_shipment_states(scope, {line.declaration_number for line in lines})
            elapsed += time.perf_counter() - started
            plan = plan_customs_events(lines, locked, now=now, recorded_by="bench")  # untimed: Python
            if plan.outcome.refused:
                raise RuntimeError(f"The database share refused {plan.outcome.refused[:3]}")
            started = time.perf_counter()
            write_customs_events(plan, now=now)
        elapsed += time.perf_counter() - started  # the writes and the commit
    return elapsed
