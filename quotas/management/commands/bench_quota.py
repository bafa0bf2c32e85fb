"""Benchmark ``quota_positions`` against one hand-written SQL statement (the lower bound).

    python manage.py bench_quota --companies 10000 --shipments 1000000 --seed 1 --runs 5

Generates deterministic data from the seed (a few giants and a long tail of companies,
licences, shipments and domestic commitments), then, on the same database in the same
run, times ``quota_positions`` for every company and a single hand-written SQL statement
computing the same numbers, checks that both agree company by company, and prints both
median times, their ratio and the queries per call.

Data goes in with bulk inserts (``COPY`` on PostgreSQL, ``bulk_create`` in batches
elsewhere) under company slugs ``bench-<seed>-*``; a second run with ``--reuse`` skips the
generation. Run it against a scratch database, never production::

    createdb bench_quota
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_quota python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_quota python manage.py bench_quota ...
"""

# The raw SQL below interpolates only this module's constants; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from licences.models import AllocationRound, ChipModel, Company, ImportLicence, Shipment
from quotas.models import DomesticCommitment, QuotaPolicy
from quotas.selectors import end_of_day, quota_positions

D = Decimal
FOREIGN_CHIPS = {  # code: (name, vendor, compute index, reference unit value)
    "H200": ("NVIDIA H200", "NVIDIA", D("6.000"), D("32000.00")),
    "H20": ("NVIDIA H20", "NVIDIA", D("1.000"), D("12500.00")),
}
DOMESTIC_CHIPS = {
    "ASCEND-910B": ("Huawei Ascend 910B", "Huawei", D("1.000"), D("12000.00")),
    "HYGON-DCU": ("Hygon DCU", "Hygon", D("0.750"), D("7000.25")),
}
FIRST_DAY = dt.date(2026, 1, 23)
BATCH = 5_000


class Command(BaseCommand):
    help = "Time quota_positions for every company against one hand-written SQL statement."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--companies", type=int, default=10_000)
        parser.add_argument("--shipments", type=int, default=1_000_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--runs", type=int, default=5)
        parser.add_argument("--basis", choices=QuotaPolicy.Basis.values, default=QuotaPolicy.Basis.COMPUTE)
        parser.add_argument(
            "--measured-on", choices=QuotaPolicy.MeasuredOn.values, default=QuotaPolicy.MeasuredOn.CLEARED
        )
        parser.add_argument("--on", type=dt.date.fromisoformat, default=dt.date(2026, 6, 30))
        parser.add_argument("--reuse", action="store_true", help="Use this seed's data if already generated.")

    def handle(self, *args: Any, **options: Any) -> None:
        companies, shipments, seed = options["companies"], options["shipments"], options["seed"]
        if companies < 1 or shipments < 0 or options["runs"] < 1:
            raise CommandError("--companies and --runs must be positive, --shipments not negative.")
        prefix = f"bench-{seed}-"
        existing = Company.objects.filter(slug__startswith=prefix).count()
        if existing and not options["reuse"]:
            raise CommandError(f"{existing} companies from seed {seed} already exist: pass --reuse or use a new seed.")
        if not existing:
            started = time.perf_counter()
            with transaction.atomic():
                generate(companies=companies, shipments=shipments, seed=seed, prefix=prefix)
            self.stdout.write(f"generated {companies:,} companies / {shipments:,} shipments in "
                              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
        policy = bench_policy(seed=seed, basis=options["basis"], measured_on=options["measured_on"])
        self.report(policy=policy, on=options["on"], runs=options["runs"])

    def report(self, *, policy: QuotaPolicy, on: dt.date, runs: int) -> None:
        counts = {
            "companies": Company.objects.count(),
            "licences": ImportLicence.objects.count(),
            "shipments": Shipment.objects.count(),
            "commitments": DomesticCommitment.objects.count(),
        }
        self.stdout.write(f"{connection.vendor}: " + ", ".join(f"{count:,} {name}" for name, count in counts.items()))
        self.stdout.write(f"policy: {policy.ratio} by {policy.basis}, measured on {policy.measured_on}, on {on}")

        def orm() -> list:
            return quota_positions(on=on, policy=policy)

        def raw() -> list:
            return raw_positions(policy=policy, on=on)

        with CaptureQueriesContext(connection) as captured:
            positions = orm()
        expected = raw()
        disagreements = compare(positions, expected)
        if disagreements:
            for line in disagreements[:10]:
                self.stderr.write(line)
            raise CommandError(f"quota_positions and the SQL disagree for {len(disagreements)} companies.")
        self.stdout.write(f"agree: {len(positions):,} positions identical to the hand-written SQL")
        orm_time = median_time(orm, runs)
        raw_time = median_time(raw, runs)
        short = sum(1 for position in positions if position.is_short)
        self.stdout.write(f"short companies: {short:,}")
        self.stdout.write(f"quota_positions: {orm_time * 1000:9.1f} ms (median of {runs}), {len(captured)} queries")
        self.stdout.write(f"hand-written SQL: {raw_time * 1000:8.1f} ms (median of {runs}), 1 query")
        self.stdout.write(f"ratio: {orm_time / raw_time:.2f}x")


def median_time(function: Callable[[], object], runs: int) -> float:
    function()  # warm the caches once
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


# --- Data ---------------------------------------------------------------------------------


def bench_policy(*, seed: int, basis: str, measured_on: str) -> QuotaPolicy:
    """A draft (never in force, so it clashes with nothing) passed explicitly to the selector."""
    policy, _ = QuotaPolicy.objects.get_or_create(
        name=f"Bench rule {seed} ({basis}, {measured_on})",
        version=1,
        defaults={
            "ratio": D("0.3000"),
            "basis": basis,
            "measured_on": measured_on,
            "counts_contracted": True,
            "counts_delivered": True,
            "effective_from": dt.date(2026, 1, 1),
            "status": QuotaPolicy.Status.DRAFT,
        },
    )
    return policy


def _chips() -> tuple[list[ChipModel], list[ChipModel]]:
    def ensure(code: str, spec: tuple, origin: str) -> ChipModel:
        name, vendor, compute, value = spec
        chip, _ = ChipModel.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "vendor": vendor,
                "origin": origin,
                "export_controlled": origin == ChipModel.Origin.FOREIGN,
                "compute_index": compute,
                "reference_unit_value_usd": value,
            },
        )
        if chip.origin != origin:
            raise CommandError(f"Chip {code} exists but is not {origin}.")
        return chip

    foreign = [ensure(code, spec, ChipModel.Origin.FOREIGN) for code, spec in FOREIGN_CHIPS.items()]
    domestic = [ensure(code, spec, ChipModel.Origin.DOMESTIC) for code, spec in DOMESTIC_CHIPS.items()]
    return foreign, domestic


def _moment(rng: random.Random, day_from: int, day_to: int) -> dt.datetime:
    """A random instant between two day offsets from ``FIRST_DAY`` (service time zone)."""
    day = FIRST_DAY + dt.timedelta(days=rng.randint(day_from, day_to))
    return end_of_day(day) - dt.timedelta(seconds=rng.randint(1, 86_400))


def generate(*, companies: int, shipments: int, seed: int, prefix: str) -> None:
    """Deterministic data: company sizes follow a long tail (Zipf-like) with a few giants."""
    rng = random.Random(seed)  # noqa: S311 - reproducible benchmark data, not secrets
    foreign, domestic = _chips()
    wave, _ = AllocationRound.objects.get_or_create(
        name=f"Bench wave {seed}",
        defaults={
            "unit_cap": 9_000_000_000_000,
            "value_cap_usd": D("9000000000000000.00"),
            "opens_on": FIRST_DAY,
            "closes_on": dt.date(2026, 12, 31),
        },
    )
    company_rows = Company.objects.bulk_create(
        (Company(slug=f"{prefix}{index:06d}", name=f"Bench {seed} company {index:06d}") for index in range(companies)),
        batch_size=BATCH,
    )
    company_ids = [company.pk for company in company_rows]

    # Shipments per company: a long tail, the first few are the giants.
    weights = [1 / (rank + 1) ** 1.1 for rank in range(companies)]
    owners = rng.choices(range(companies), weights=weights, k=shipments)
    per_company: list[list[tuple[int, dt.datetime, dt.datetime | None]]] = [[] for _ in range(companies)]
    for owner in owners:
        quantity = rng.randint(50, 2_000)
        declared_at = _moment(rng, 0, 150)
        cleared_at = declared_at + dt.timedelta(hours=rng.randint(2, 240)) if rng.random() < 0.85 else None
        per_company[owner].append((quantity, declared_at, cleared_at))

    # Licences: one to three per company that ships (its shipments split among them), and a
    # bare approved licence for half of those that do not.
    licences: list[ImportLicence] = []
    licence_shipments: list[list[tuple[int, dt.datetime, dt.datetime | None]]] = []
    for index, company_id in enumerate(company_ids):
        lots = per_company[index]
        count = rng.randint(1, 3) if lots else (1 if rng.random() < 0.5 else 0)
        groups: list[list] = [[] for _ in range(count)]
        for lot in lots:
            groups[rng.randrange(count)].append(lot)
        for number, group in enumerate(groups):
            chip = rng.choice(foreign)
            used = sum(quantity for quantity, _, cleared in group if cleared is not None)
            reserved = sum(quantity for quantity, _, cleared in group if cleared is None)
            granted = used + reserved + rng.randint(0, 5_000) + 1
            approved_at = _moment(rng, -10, 0)
            ended: dict[str, Any] = {}
            status = ImportLicence.Status.APPROVED
            roll = rng.random()
            if roll < 0.05:
                status, ended = ImportLicence.Status.SUSPENDED, {"suspended_at": _moment(rng, 30, 170)}
            elif roll < 0.08:
                status, ended = ImportLicence.Status.REVOKED, {"revoked_at": _moment(rng, 30, 170)}
            licences.append(
                ImportLicence(
                    number=f"LIC-{prefix}{index:06d}-{number}",
                    company_id=company_id,
                    chip=chip,
                    round=wave,
                    requested_quantity=granted,
                    granted_quantity=granted,
                    reserved_quantity=reserved,
                    used_quantity=used,
                    unit_value_usd=chip.reference_unit_value_usd - D(rng.randint(0, 300_000)) / 100,
                    valid_from=FIRST_DAY,
                    valid_until=dt.date(2026, 12, 31),
                    status=status,
                    applied_at=approved_at - dt.timedelta(days=10),
                    approved_at=approved_at,
                    **ended,
                )
            )
            licence_shipments.append(group)
    licences = ImportLicence.objects.bulk_create(licences, batch_size=BATCH)

    shipment_rows = (
        (
            f"DEC-{prefix}{licence.pk}-{number}",
            licence.company_id,
            licence.pk,
            licence.chip_id,
            quantity,
            licence.unit_value_usd * quantity,
            "Shanghai Pudong",
            Shipment.Status.CLEARED if cleared_at else Shipment.Status.DECLARED,
            declared_at,
            cleared_at or declared_at,
            cleared_at,
        )
        for licence, group in zip(licences, licence_shipments, strict=True)
        for number, (quantity, declared_at, cleared_at) in enumerate(group)
    )
    _insert(
        Shipment,
        [
            "declaration_number",
            "company_id",
            "licence_id",
            "chip_id",
            "quantity",
            "declared_value_usd",
            "port_of_entry",
            "status",
            "declared_at",
            "status_changed_at",
            "cleared_at",
        ],
        shipment_rows,
    )

    # Commitments: zero to four per company, sized against its imports.
    imported = [sum(quantity for quantity, _, _ in lots) for lots in per_company]
    commitment_rows = []
    for index, company_id in enumerate(company_ids):
        for _ in range(rng.randint(0, 4)):
            chip = rng.choice(domestic)
            quantity = max(1, int(imported[index] * rng.uniform(0.02, 0.2)))
            pledged_on = FIRST_DAY + dt.timedelta(days=rng.randint(-20, 120))
            contracted_on = delivered_on = cancelled_on = None
            delivered = 0
            status = DomesticCommitment.Status.PLEDGED
            roll = rng.random()
            if roll < 0.7:
                status = DomesticCommitment.Status.CONTRACTED
                contracted_on = pledged_on + dt.timedelta(days=rng.randint(0, 40))
                if rng.random() < 0.3:
                    status, delivered = DomesticCommitment.Status.DELIVERED, quantity
                    delivered_on = contracted_on + dt.timedelta(days=rng.randint(10, 90))
            if status != DomesticCommitment.Status.DELIVERED and rng.random() < 0.1:
                status = DomesticCommitment.Status.CANCELLED
                cancelled_on = (contracted_on or pledged_on) + dt.timedelta(days=rng.randint(1, 60))
            commitment_rows.append(
                (
                    company_id,
                    chip.pk,
                    quantity,
                    chip.reference_unit_value_usd,
                    "USD",
                    chip.reference_unit_value_usd,
                    status,
                    pledged_on,
                    contracted_on,
                    delivered_on,
                    cancelled_on,
                    delivered,
                    "",
                )
            )
    _insert(
        DomesticCommitment,
        [
            "company_id",
            "chip_id",
            "quantity",
            "unit_price",
            "currency",
            "unit_price_usd",
            "status",
            "pledged_on",
            "contracted_on",
            "delivered_on",
            "cancelled_on",
            "delivered_quantity",
            "contract_reference",
        ],
        commitment_rows,
    )


def _insert(model: type, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """Bulk insert: ``COPY`` on PostgreSQL, ``bulk_create`` in batches elsewhere."""
    if connection.vendor == "postgresql":
        table = model._meta.db_table
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    batch: list = []
    for row in rows:
        batch.append(model(**dict(zip(columns, row, strict=True))))
        if len(batch) == BATCH:
            model.objects.bulk_create(batch)
            batch = []
    model.objects.bulk_create(batch)


# --- The lower bound: one hand-written statement --------------------------------------------

DECIMAL_PLACES = {"units": 0, "compute": 3, "value": 2}
LICENCE_STANDING = """
    il.approved_at < %(cutoff)s
    AND (il.suspended_at IS NULL OR il.suspended_at >= %(cutoff)s)
    AND (il.revoked_at IS NULL OR il.revoked_at >= %(cutoff)s)
    AND (il.expired_at IS NULL OR il.expired_at >= %(cutoff)s)
    AND (il.rejected_at IS NULL OR il.rejected_at >= %(cutoff)s)"""
COMMITMENT_STATUS_ON = {
    "delivered": "d.delivered_on <= %(on)s",
    "contracted": "d.contracted_on <= %(on)s AND (d.delivered_on IS NULL OR d.delivered_on > %(on)s)",
    "pledged": "(d.contracted_on IS NULL OR d.contracted_on > %(on)s)"
    " AND (d.delivered_on IS NULL OR d.delivered_on > %(on)s)",
}


def raw_sql(policy: QuotaPolicy) -> str:
    """One statement for every company: weighted imports and counted commitments as of a date.

    Written for speed, as a person would: each large table is summed by what decides the
    weight (company and chip, or licence) before the small chip or licence table is
    joined. PostgreSQL does the exact arithmetic in ``numeric``, shortfall and coverage
    included. SQLite has no exact decimal type, so there weights are summed as scaled
    integers (``compute_index x 1000``, cents) and the caller does the quota arithmetic.
    """
    postgres = connection.vendor == "postgresql"
    scale = 10 ** DECIMAL_PLACES[policy.basis]

    def weighed(column: str) -> str:
        return column if postgres or scale == 1 else f"CAST(ROUND({column} * {scale}) AS INTEGER)"

    if policy.measured_on == "licensed":
        source, quantity, where = "licences_importlicence il", "il.granted_quantity", LICENCE_STANDING
    else:
        source, quantity, where = "licences_shipment il", "il.quantity", "il.cleared_at < %(cutoff)s"
    if policy.basis == "units":
        imports = f"SELECT il.company_id, SUM({quantity}) AS imported FROM {source} WHERE {where} GROUP BY 1"
    elif policy.basis == "compute":
        imports = f"""
            SELECT g.company_id, SUM(g.quantity * {weighed("c.compute_index")}) AS imported
            FROM (SELECT il.company_id, il.chip_id, SUM({quantity}) AS quantity FROM {source}
                  WHERE {where} GROUP BY 1, 2) g
            JOIN licences_chipmodel c ON c.id = g.chip_id
            GROUP BY 1"""
    elif policy.measured_on == "licensed":
        imports = f"""
            SELECT il.company_id, SUM({quantity} * {weighed("il.unit_value_usd")}) AS imported
            FROM {source} WHERE {where} GROUP BY 1"""
    else:
        imports = f"""
            SELECT l.company_id, SUM(g.quantity * {weighed("l.unit_value_usd")}) AS imported
            FROM (SELECT il.licence_id, SUM({quantity}) AS quantity FROM {source} WHERE {where} GROUP BY 1) g
            JOIN licences_importlicence l ON l.id = g.licence_id
            GROUP BY 1"""

    counted = " OR ".join(f"({COMMITMENT_STATUS_ON[status]})" for status in policy.counted_statuses) or "1 = 0"
    where = f"d.pledged_on <= %(on)s AND (d.cancelled_on IS NULL OR d.cancelled_on > %(on)s) AND ({counted})"
    if policy.basis == "compute":
        commitments = f"""
            SELECT g.company_id, SUM(g.quantity * {weighed("c.compute_index")}) AS committed
            FROM (SELECT d.company_id, d.chip_id, SUM(d.quantity) AS quantity FROM quotas_domesticcommitment d
                  WHERE {where} GROUP BY 1, 2) g
            JOIN licences_chipmodel c ON c.id = g.chip_id
            GROUP BY 1"""
    else:
        weight = "1" if policy.basis == "units" else weighed("d.unit_price_usd")
        commitments = f"""
            SELECT d.company_id, SUM(d.quantity * {weight}) AS committed
            FROM quotas_domesticcommitment d WHERE {where} GROUP BY 1"""

    if postgres:
        figures = f"""
            COALESCE(i.imported, 0) AS imported,
            COALESCE(m.committed, 0) AS committed,
            %(ratio)s * COALESCE(i.imported, 0) AS required,
            CEIL(GREATEST(0, %(ratio)s * COALESCE(i.imported, 0) - COALESCE(m.committed, 0)) * {scale}) / {scale}
                AS shortfall,
            CASE WHEN %(ratio)s * COALESCE(i.imported, 0) = 0 THEN 1
                 WHEN COALESCE(m.committed, 0) < %(ratio)s * i.imported
                     THEN LEAST(0.9999, ROUND(COALESCE(m.committed, 0) / (%(ratio)s * i.imported), 4))
                 ELSE ROUND(COALESCE(m.committed, 0) / (%(ratio)s * i.imported), 4) END AS coverage"""
    else:
        figures = "COALESCE(i.imported, 0) AS imported, COALESCE(m.committed, 0) AS committed"
    return f"""
        WITH imports AS ({imports}), commitments AS ({commitments})
        SELECT c.id, {figures}
        FROM licences_company c
        LEFT JOIN imports i ON i.company_id = c.id
        LEFT JOIN commitments m ON m.company_id = c.id"""


def raw_positions(*, policy: QuotaPolicy, on: dt.date) -> list[tuple]:
    """Run the hand-written statement: one row per company."""
    params = {"cutoff": end_of_day(on), "on": on, "ratio": policy.ratio}
    with connection.cursor() as cursor:
        cursor.execute(raw_sql(policy), params)
        return cursor.fetchall()


def compare(positions: list, rows: list[tuple]) -> list[str]:
    """Company by company differences between the selector and the statement (empty: they agree)."""
    by_id = {position.company.id: position for position in positions}
    problems = [f"row count: {len(positions)} positions, {len(rows)} SQL rows"] if len(rows) != len(by_id) else []
    policy = positions[0].policy if positions else None
    places = DECIMAL_PLACES[policy.basis] if policy else 0
    for company_id, imported, committed, *rest in rows:
        position = by_id.get(company_id)
        if position is None:
            problems.append(f"company {company_id}: missing from quota_positions")
            continue
        if connection.vendor != "postgresql" and places:
            imported, committed = D(imported).scaleb(-places), D(committed).scaleb(-places)
        expected = {"imported": D(imported), "committed": D(committed)}
        if rest:
            required, shortfall, coverage = rest
            expected.update(required=D(required), shortfall=D(shortfall), coverage=D(coverage))
        else:
            expected.update(_arithmetic(policy, expected["imported"], expected["committed"]))
        actual = {field: getattr(position, field) for field in expected}
        if actual != expected:
            problems.append(f"company {company_id}: selector {actual} != SQL {expected}")
    return problems


def _arithmetic(policy: Any, imported: Decimal, committed: Decimal) -> dict[str, Decimal]:
    required = policy.ratio * imported
    quantum = D(1).scaleb(-DECIMAL_PLACES[policy.basis])
    shortfall = max(D(0), required - committed).quantize(quantum, rounding=ROUND_CEILING)
    coverage = D(1) if required == 0 else (committed / required).quantize(D("0.0001"), rounding=ROUND_HALF_UP)
    if committed < required:
        coverage = min(coverage, D("0.9999"))
    return {"required": required, "shortfall": shortfall, "coverage": coverage}
