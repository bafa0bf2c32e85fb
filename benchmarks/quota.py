"""The quota benchmark: ``quota_positions`` for every company against one hand-written SQL statement.

The statement is the lower bound: the same numbers computed by the database alone, written
for speed as a person would. Both run on the same data in the same run; :func:`compare`
checks that they agree company by company before anything is timed.
"""

# The raw SQL below interpolates only this module's constants; every value is a bound parameter.

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection

from benchmarks.measure import QUOTA_VS_STATEMENT, Row, timed_together
from quotas.models import QuotaPolicy
from quotas.selectors import end_of_day, quota_positions

D = Decimal


class Disagreement(Exception):
    """The selector and the hand-written SQL computed different positions."""


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


# --- The lower bound: one hand-written statement --------------------------------------------

DECIMAL_PLACES = {"units": 0, "compute": 3, "value": 2}
# In force on the day: within its validity window, and its latest ledger row effective by
# then (latest by day, then by recording order) leaves it approved.
LICENCE_STANDING = """
    il.granted_quantity > 0 AND il.valid_from <= %(on)s AND il.valid_until >= %(on)s
    AND (SELECT d.status FROM licences_licencedecision d
         WHERE d.licence_id = il.id AND d.effective_on <= %(on)s
         ORDER BY d.effective_on DESC, d.id DESC LIMIT 1) = 'approved'"""
COMMITMENT_STATUS_ON = {
    "delivered": "d.delivered_on <= %(on)s",
    "contracted": "d.contracted_on <= %(on)s AND (d.delivered_on IS NULL OR d.delivered_on > %(on)s)",
    "pledged": "(d.contracted_on IS NULL OR d.contracted_on > %(on)s)"
    " AND (d.delivered_on IS NULL OR d.delivered_on > %(on)s)",
}


def cleared_source(*, counters: bool) -> tuple[str, str, str]:
    """Rows of cleared quantity to sum: ``(source, quantity column, condition)`` (the source aliased ``il``).

    With ``counters`` (what :func:`quotas.selectors.imported_and_committed_totals` reads): each licence's
    ``used_quantity`` less the shipments cleared after the cut-off, as signed rows with the
    shipment's columns (``id AS licence_id`` on the licence side). Without: every shipment
    cleared by the cut-off.
    """
    if not counters:
        return "licences_shipment il", "il.quantity", "il.cleared_at < %(cutoff)s"
    source = """(
        SELECT l.company_id, l.chip_id, l.id AS licence_id, l.used_quantity AS quantity
        FROM licences_importlicence l WHERE l.used_quantity > 0
        UNION ALL
        SELECT s.company_id, s.chip_id, s.licence_id, -s.quantity
        FROM licences_shipment s WHERE s.cleared_at >= %(cutoff)s) il"""
    return source, "il.quantity", "TRUE"


def totals_sql(policy: QuotaPolicy, *, counters: bool = True) -> tuple[str, str]:
    """The two sub-queries of :func:`raw_sql`: weighted imports and counted commitments per company.

    On SQLite the totals are integers scaled by ``10 ** DECIMAL_PLACES[basis]`` (see
    :func:`raw_sql`); on PostgreSQL they are exact ``numeric``. Either way imports and
    commitments are on the same scale, so ``imported x ratio > committed`` compares them exactly.
    """
    postgres = connection.vendor == "postgresql"
    scale = 10 ** DECIMAL_PLACES[policy.basis]

    def weighed(column: str) -> str:
        return column if postgres or scale == 1 else f"CAST(ROUND({column} * {scale}) AS INTEGER)"

    if policy.measured_on == "licensed":
        source, quantity, where = "licences_importlicence il", "il.granted_quantity", LICENCE_STANDING
    else:
        source, quantity, where = cleared_source(counters=counters)
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
    return imports, commitments


def raw_sql(policy: QuotaPolicy, *, counters: bool = True) -> str:
    """One statement for every company: weighted imports and counted commitments as of a date.

    Written for speed, as a person would: each large table is summed by what decides the
    weight (company and chip, or licence) before the small chip or licence table is
    joined. PostgreSQL does the exact arithmetic in ``numeric``, shortfall and coverage
    included. SQLite has no exact decimal type, so there weights are summed as scaled
    integers (``compute_index x 1000``, cents) and the caller does the quota arithmetic.

    Cleared imports are read, like the selector reads them, from the licences'
    ``used_quantity`` counters less the shipments cleared after the date; ``counters=False``
    sums the cleared shipments instead (the statement before the counters, shown beside it).
    """
    postgres = connection.vendor == "postgresql"
    scale = 10 ** DECIMAL_PLACES[policy.basis]
    imports, commitments = totals_sql(policy, counters=counters)
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


def raw_positions(*, policy: QuotaPolicy, on: dt.date, counters: bool = True) -> list[tuple]:
    """Run the hand-written statement: one row per company."""
    params = {"cutoff": end_of_day(on), "on": on, "ratio": policy.ratio}
    with connection.cursor() as cursor:
        cursor.execute(raw_sql(policy, counters=counters), params)
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


def bench_quota_positions(*, policy: QuotaPolicy, on: dt.date, runs: int) -> list[Row]:
    """Benchmark 4: ``quota_positions`` for all companies against :func:`raw_sql` (goal within 1.5x)."""
    positions = quota_positions(on=on, policy=policy)
    cleared = policy.measured_on == QuotaPolicy.MeasuredOn.CLEARED
    for counters in (True, False) if cleared else (True,):
        problems = compare(positions, raw_positions(policy=policy, on=on, counters=counters))
        if problems:
            raise Disagreement(f"quota_positions and the SQL disagree for {len(problems)} companies: {problems[:3]}")
    operations = [lambda: quota_positions(on=on, policy=policy), lambda: raw_positions(policy=policy, on=on)]
    if cleared:
        operations.append(lambda: raw_positions(policy=policy, on=on, counters=False))
    service, limit, *extra = timed_together(operations, runs=runs)  # alternating runs
    ratio = service.median / limit.median
    name = f"4. quota positions ({policy.basis}, {policy.measured_on})"
    count = len(positions)
    rows = [
        Row(name, "service: quota_positions, all companies", service.median, count, "companies",
            str(service.queries), f"{ratio:.2f}x", QUOTA_VS_STATEMENT.text, QUOTA_VS_STATEMENT.verdict(ratio)),
        Row(name, "limit: one hand-written SQL statement", limit.median, count, "companies", str(limit.queries),
            note=f"{count:,} positions agree"),
    ]  # fmt: skip
    for summed in extra:
        rows.append(
            Row(name, "extra: the statement summing cleared shipments", summed.median, count, "companies",
                str(summed.queries), f"{service.median / summed.median:.2f}x",
                note="before the licence counters: reads every cleared shipment; positions agree too")
        )  # fmt: skip
    return rows
