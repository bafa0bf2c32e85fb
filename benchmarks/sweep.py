"""The sweep benchmarks: the full sweep against its rules in raw SQL, the unchanged re-sweep, and growth.

The service is the sweep as ``manage.py compliance_sweep`` runs it: under the sweep lock,
the companies in chunks (:func:`~compliance.chunks.company_chunks`: ``COMPLIANCE["SWEEP_CHUNK_ROWS"]``
rows or ``COMPLIANCE["SWEEP_CHUNK_SIZE"]`` companies), :func:`~compliance.sweep.run_sweep`
for each (rules, finding upserts with history, alert outbox), on the date :data:`ON`.

The limit is the same nine rules written by hand as one ``INSERT ... SELECT ... ON
CONFLICT (fingerprint) DO UPDATE`` statement each, plus one ``UPDATE`` resolving what no
rule hit, run raw against a scratch copy of the findings table (``bench_raw_finding``).
It computes the same hits (checked: the same fingerprints, rules and severities as the
service's open findings) with shorter summaries and no details, history or alerts: what
the database alone needs to do the job.
"""

# The raw SQL interpolates only this module's constants and model metadata; values are bound.
from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, reset_queries, transaction
from django.test.utils import CaptureQueriesContext

from benchmarks.measure import (
    MEMORY_GROWTH,
    SWEEP_VS_RAW_SQL,
    Memory,
    Row,
    mib,
    peak_memory,
    timed,
    timed_together,
    verdict,
)
from benchmarks.quota import totals_sql
from benchmarks.world import ON
from compliance import locks
from compliance.chunks import company_chunks
from compliance.models import (
    FINDING_TRANSITIONS,
    AlertEmail,
    Finding,
    FindingTransition,
    WebhookAttempt,
    WebhookDelivery,
)
from compliance.outcomes import SweepSummary
from compliance.sweep import run_sweep
from compliance.tasks import SWEEP_LOCK
from licences.chain import LedgerHead
from quotas.selectors import end_of_day, policy_in_force

ZONE = zoneinfo.ZoneInfo(settings.TIME_ZONE)
NOW = dt.datetime.combine(ON, dt.time(12), tzinfo=ZONE)  # noon on the judged day
RAW_TABLE = "bench_raw_finding"


# --- The service ------------------------------------------------------------------------------


def service_sweep(*, now: dt.datetime = NOW) -> tuple[SweepSummary, int]:
    """Sweep every company as ``compliance_sweep`` does; returns the summary and the number of chunks."""
    holder = locks.acquire_lock(SWEEP_LOCK, ttl_seconds=settings.COMPLIANCE["SWEEP_LOCK_SECONDS"])
    if holder is None:
        raise RuntimeError("A compliance sweep is already running.")
    try:
        summary = SweepSummary()
        chunks = company_chunks()
        for chunk in chunks:
            summary = summary.merge(run_sweep(company_ids=chunk, on=now.date(), now=now))
    finally:
        locks.release_lock(SWEEP_LOCK, holder)
    return summary, len(chunks)


def reset_findings() -> None:
    """Forget every finding, its history, its ledger of transitions and its alerts (no signals, no
    history rows for the deletes).

    ``TRUNCATE`` on PostgreSQL, so the next sweep starts from empty tables as a first sweep
    would, not from tables holding the last run's dead rows.
    """
    tables = [AlertEmail, WebhookAttempt, WebhookDelivery, FindingTransition, Finding.history.model, Finding]
    with transaction.atomic():
        LedgerHead.objects.filter(stream=FINDING_TRANSITIONS.name).delete()  # the ledger starts again
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                names = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in tables)
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending on these tables
                cursor.execute(f"TRUNCATE {names}")
            return
        for model in tables:
            model.objects.all()._raw_delete(connection.alias)


def findings_state() -> dict[str, Any]:
    """What an unchanged re-sweep must leave as it was: every finding but its heartbeat, the
    history, the ledger of transitions and the alert outbox."""
    findings = Finding.objects.order_by("fingerprint").values_list(
        "fingerprint", "rule", "severity", "status", "summary", "details", "first_seen_at", "resolved_at"
    )
    return {
        "findings": list(findings),
        "history rows": Finding.history.count(),
        "finding transitions": FindingTransition.objects.count(),
        "alert e-mails": AlertEmail.objects.count(),
        "webhook deliveries": WebhookDelivery.objects.count(),
    }


# --- The limit: the rules in raw SQL --------------------------------------------------------------

INSERT = f"""
    INSERT INTO {RAW_TABLE} (fingerprint, rule, severity, company_id, subject, status, summary, details,
                             first_seen_at, last_seen_at, resolution_note)
    SELECT fingerprint, rule, severity, company_id, subject, 'open', SUBSTR(summary, 1, 300), {{details}},
           %(now)s, %(now)s, ''
    FROM ({{hits}}) hits WHERE 1 = 1
    ON CONFLICT (fingerprint) DO UPDATE SET
        rule = excluded.rule, severity = excluded.severity, summary = excluded.summary,
        last_seen_at = excluded.last_seen_at,
        status = CASE WHEN {RAW_TABLE}.status = 'resolved' THEN 'open' ELSE {RAW_TABLE}.status END"""
RESOLVE = f"""
    UPDATE {RAW_TABLE} SET status = 'resolved', resolved_at = %(now)s,
        resolution_note = 'Resolved automatically: the condition no longer holds'
    WHERE status IN ('open', 'acknowledged') AND last_seen_at < %(now)s"""


def _insert(hits: str) -> str:
    # An empty JSON object; PostgreSQL needs the type spelt out in an INSERT ... SELECT.
    details = "'{}'::jsonb" if connection.vendor == "postgresql" else "'{}'"
    return INSERT.format(hits=hits, details=details)


def _hits(family: str, subject: str, severity: str, summary: str, source: str, rule: str | None = None) -> str:
    """A rule's hits as rows: fingerprint, rule, severity, company_id, subject, summary."""
    return f"""
        SELECT '{family}:' || company_id || ':' || {subject} AS fingerprint, {rule or repr(family)} AS rule,
               {severity} AS severity, company_id, {subject} AS subject, {summary} AS summary
        FROM ({source}) source"""


def raw_rules(on: dt.date) -> list[tuple[str, str, dict[str, Any]]]:
    """``(name, statement, parameters)`` for each rule: one ``INSERT ... SELECT`` upsert each."""
    compliance = settings.COMPLIANCE
    window = compliance["EXPIRY_WARNING_DAYS"]
    numerator, denominator = Decimal(str(compliance["LICENCE_EXHAUSTION_RATIO"])).as_integer_ratio()
    adapt_date, adapt_moment = connection.ops.adapt_datefield_value, connection.ops.adapt_datetimefield_value
    hold_cutoff = dt.datetime.combine(on - dt.timedelta(days=compliance["CUSTOMS_HOLD_MAX_DAYS"]), dt.time.min, ZONE)
    params = {
        "on": adapt_date(on),
        "warn_until": adapt_date(on + dt.timedelta(days=window)),
        "hold_cutoff": adapt_moment(hold_cutoff),
    }
    statements: list[tuple[str, str, dict[str, Any]]] = []

    policy = policy_in_force(on)
    if policy is not None:
        imports, commitments = totals_sql(policy)
        ratio_numerator, ratio_denominator = Decimal(policy.ratio).as_integer_ratio()
        # In grace while on < max(effective_from, first approval's effective day) + grace_days.
        threshold = on - dt.timedelta(days=policy.grace_days)
        in_grace = "1 = 1" if policy.effective_from > threshold else "f.first_approval > %(threshold)s"
        source = f"""
            WITH imports AS ({imports}), commitments AS ({commitments}),
                 firsts AS (SELECT l.company_id, MIN(d.effective_on) AS first_approval
                            FROM licences_licencedecision d JOIN licences_importlicence l ON l.id = d.licence_id
                            WHERE d.kind = 'approve' GROUP BY l.company_id)
            SELECT c.id AS company_id, c.slug, c.name,
                   CASE WHEN {in_grace} THEN 1 ELSE 0 END AS in_grace
            FROM licences_company c
            JOIN imports i ON i.company_id = c.id
            LEFT JOIN commitments m ON m.company_id = c.id
            LEFT JOIN firsts f ON f.company_id = c.id
            WHERE i.imported * {ratio_numerator} > COALESCE(m.committed, 0) * {ratio_denominator}"""
        hits = _hits(
            "quota_shortfall",
            "'company:' || slug",
            "CASE WHEN in_grace = 1 THEN 'warning' ELSE 'high' END",
            "name || ' is short of the domestic-purchase quota'",
            source,
            rule="CASE WHEN in_grace = 1 THEN 'quota_at_risk' ELSE 'quota_shortfall' END",
        )
        quota_params = {
            **params,
            "cutoff": adapt_moment(end_of_day(on)),
            "threshold": adapt_date(threshold),
        }
        statements.append(("quota_shortfall", _insert(hits), quota_params))

    rules = {
        "security_gap": _hits(
            "security_gap",
            "'requirement:' || code",
            "'high'",
            "name || ' holds a licence for an export-controlled chip without a valid attestation of ' || title",
            """
            SELECT licensed.company_id, co.name, r.code, r.title
            FROM (SELECT DISTINCT l.company_id FROM licences_importlicence l
                  JOIN licences_chipmodel ch ON ch.id = l.chip_id
                  WHERE l.status IN ('applied', 'approved') AND ch.export_controlled) licensed
            JOIN licences_company co ON co.id = licensed.company_id
            CROSS JOIN compliance_securityrequirement r
            WHERE r.mandatory AND r.scope = 'company' AND NOT EXISTS (
                SELECT 1 FROM compliance_securityattestation a
                WHERE a.company_id = licensed.company_id AND a.requirement_id = r.id
                  AND a.status = 'accepted' AND a.expires_on >= %(on)s)""",
        ),
        "security_expiring": _hits(
            "security_expiring",
            "'requirement:' || code",
            "'warning'",
            "name || '''s attestation of ' || title || ' expires on ' || latest",
            """
            SELECT e.company_id, co.name, r.code, r.title, e.latest
            FROM (SELECT a.company_id, a.requirement_id, MAX(a.expires_on) AS latest
                  FROM compliance_securityattestation a
                  JOIN compliance_securityrequirement r ON r.id = a.requirement_id
                  WHERE a.status = 'accepted' AND r.scope = 'company' AND a.expires_on >= %(on)s
                  GROUP BY a.company_id, a.requirement_id) e
            JOIN compliance_securityrequirement r ON r.id = e.requirement_id
            JOIN licences_company co ON co.id = e.company_id
            WHERE e.latest <= %(warn_until)s""",
        ),
        "shipment_condition_gap": _hits(
            "shipment_condition_gap",
            "'shipment:' || declaration_number || ':' || code",
            "'high'",
            "name || '''s shipment ' || declaration_number || ' of ' || chip || ' lacks an accepted attestation of '"
            " || title",
            """
            SELECT s.company_id, co.name, s.declaration_number, ch.code AS chip, r.code, r.title
            FROM licences_shipment s
            JOIN licences_chipmodel ch ON ch.id = s.chip_id
            JOIN licences_company co ON co.id = s.company_id
            CROSS JOIN compliance_securityrequirement r
            WHERE ch.export_controlled AND s.status <> 'rejected' AND r.mandatory AND r.scope = 'shipment'
              AND NOT EXISTS (SELECT 1 FROM compliance_securityattestation a
                              WHERE a.shipment_id = s.id AND a.requirement_id = r.id AND a.status = 'accepted')""",
        ),
        "licence_expiring": _hits(
            "licence_expiring",
            "'licence:' || number",
            "'warning'",
            "name || '''s licence ' || number || ' expires on ' || valid_until",
            """
            SELECT l.company_id, co.name, l.number, l.valid_until
            FROM licences_importlicence l JOIN licences_company co ON co.id = l.company_id
            WHERE l.status = 'approved' AND l.valid_until >= %(on)s AND l.valid_until <= %(warn_until)s
              AND l.granted_quantity > l.reserved_quantity + l.used_quantity""",
        ),
        "licence_nearly_exhausted": _hits(
            "licence_nearly_exhausted",
            "'licence:' || number",
            "'warning'",
            "name || '''s licence ' || number || ' is nearly drawn'",
            f"""
            SELECT l.company_id, co.name, l.number
            FROM licences_importlicence l JOIN licences_company co ON co.id = l.company_id
            WHERE l.status = 'approved' AND l.granted_quantity > 0
              AND (l.reserved_quantity + l.used_quantity) * {denominator} >= l.granted_quantity * {numerator}""",
        ),
        "customs_hold_overdue": _hits(
            "customs_hold_overdue",
            "'shipment:' || declaration_number",
            "'warning'",
            "name || '''s shipment ' || declaration_number || ' has been held at ' || port_of_entry",
            """
            SELECT s.company_id, co.name, s.declaration_number, s.port_of_entry
            FROM licences_shipment s JOIN licences_company co ON co.id = s.company_id
            WHERE s.status = 'held' AND s.held_since < %(hold_cutoff)s""",
        ),
        "entry_block_shipment": _hits(
            "entry_block_shipment",
            "'shipment:' || declaration_number",
            "'high'",
            "name || '''s shipment ' || declaration_number || ' was declared during entry block ' || reference",
            """
            SELECT s.company_id, co.name, s.declaration_number, d.reference
            FROM licences_shipment s
            JOIN licences_customsdirective d ON d.id = s.entry_block_directive_id
            JOIN licences_company co ON co.id = s.company_id
            WHERE s.status <> 'rejected'""",
        ),
        "commitment_overdue": _hits(
            "commitment_overdue",
            "'commitment:' || id",
            "'warning'",
            "name || '''s commitment ' || id || ' was due ' || due_date",
            """
            SELECT d.id, d.company_id, co.name, d.due_date
            FROM quotas_domesticcommitment d JOIN licences_company co ON co.id = d.company_id
            WHERE d.status = 'contracted' AND d.due_date < %(on)s AND d.delivered_quantity < d.quantity""",
        ),
    }
    statements.extend((name, _insert(hits), params) for name, hits in rules.items())
    return statements


def create_raw_table() -> None:
    """The scratch findings table of the raw sweep: the real one's definition (columns, keys,
    indexes, storage and, on PostgreSQL, its foreign key to the company, checked at commit)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        if connection.vendor == "postgresql":
            company = Finding._meta.get_field("company")
            cursor.execute(f"CREATE TABLE {RAW_TABLE} (LIKE {Finding._meta.db_table} INCLUDING ALL)")
            cursor.execute(
                f"ALTER TABLE {RAW_TABLE} ADD FOREIGN KEY ({company.column}) "
                f"REFERENCES {company.related_model._meta.db_table} (id) DEFERRABLE INITIALLY DEFERRED"
            )
            cursor.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [Finding._meta.db_table])
            options = cursor.fetchone()[0]
            if options:  # storage parameters (the fillfactor) are not copied by LIKE
                cursor.execute(f"ALTER TABLE {RAW_TABLE} SET ({', '.join(options)})")
            return
        cursor.execute(f"""
            CREATE TABLE {RAW_TABLE} (
                id integer PRIMARY KEY AUTOINCREMENT, rule varchar(64) NOT NULL, severity varchar(16) NOT NULL,
                company_id bigint NOT NULL, subject varchar(200) NOT NULL, fingerprint varchar(300) NOT NULL UNIQUE,
                status varchar(16) NOT NULL, summary varchar(300) NOT NULL, details text NOT NULL,
                first_seen_at datetime NOT NULL, last_seen_at datetime NOT NULL, acknowledged_at datetime NULL,
                acknowledged_by_id integer NULL, resolved_at datetime NULL, resolution_note text NOT NULL)""")
        cursor.execute(f"CREATE INDEX {RAW_TABLE}_company_status ON {RAW_TABLE} (company_id, status)")
        cursor.execute(f"CREATE INDEX {RAW_TABLE}_rule_status ON {RAW_TABLE} (rule, status)")


def raw_sweep(*, now: dt.datetime = NOW) -> None:
    """The nine rules and the resolution as raw statements, in one transaction."""
    moment = connection.ops.adapt_datetimefield_value(now)
    with transaction.atomic(), connection.cursor() as cursor:
        for _name, statement, params in raw_rules(now.date()):
            cursor.execute(statement, {**params, "now": moment})
        cursor.execute(RESOLVE, {"now": moment})


def truncate_raw_table() -> None:
    """Empty the raw table the way :func:`reset_findings` empties the service's."""
    with connection.cursor() as cursor:
        cursor.execute(f"{'TRUNCATE' if connection.vendor == 'postgresql' else 'DELETE FROM'} {RAW_TABLE}")


def compare_with_raw() -> list[str]:
    """Differences between the service's open findings and the raw sweep's (empty: they agree)."""
    service = set(
        Finding.objects.exclude(status=Finding.Status.RESOLVED).values_list("fingerprint", "rule", "severity")
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT fingerprint, rule, severity FROM {RAW_TABLE} WHERE status <> 'resolved'")
        raw = set(cursor.fetchall())
    return [f"only the service: {hit}" for hit in sorted(service - raw)[:5]] + [
        f"only the SQL: {hit}" for hit in sorted(raw - service)[:5]
    ]


class Disagreement(Exception):
    """The service and the raw SQL found different hits."""


# --- Benchmarks 1 and 2: the first sweep and the unchanged re-sweep -------------------------------


def bench_sweeps(*, runs: int, shipments: int) -> list[Row]:
    """Benchmark 1 (first sweep against the raw rules) and 2 (an unchanged re-sweep against the first)."""
    outcome: dict[str, Any] = {}

    def first() -> None:
        outcome["summary"], outcome["chunks"] = service_sweep()

    # Alternated (service, limit, service, ...): the machine's speed drifts by a fifth over
    # minutes here, which a block of service runs and then a block of limit runs takes for a
    # difference between the two.
    create_raw_table()
    service, limit = timed_together(
        [first, raw_sweep], runs=runs, setups=[reset_findings, truncate_raw_table], warm=False
    )
    summary, chunks = outcome["summary"], outcome["chunks"]
    opened = summary.total("opened")
    problems = compare_with_raw()
    if problems:
        raise Disagreement("The sweep and the raw SQL disagree: " + "; ".join(problems))

    # The re-sweeps, each an hour after the one before: the data has not changed.
    before = findings_state()
    hours = iter(range(1, 10_000))
    resummaries: list[SweepSummary] = []

    def again() -> None:
        resummaries.append(service_sweep(now=NOW + dt.timedelta(hours=next(hours)))[0])

    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        resweep = timed(again, runs=runs, warm=False)
    after = findings_state()
    changed = [name for name in before if before[name] != after[name]]
    table = Finding._meta.db_table
    # Statements writing the findings table itself, a write inside a WITH included (the
    # heartbeat on PostgreSQL is the UPDATE of a common table expression).
    writes_findings = re.compile(
        rf'\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?{re.escape(table)}"?(?!\w)', re.IGNORECASE
    )
    writes = [query["sql"] for query in captured if writes_findings.search(query["sql"])]
    last = resummaries[-1]
    if changed or last.total("opened") or last.total("escalated") or last.total("resolved"):
        raise Disagreement(f"The unchanged re-sweep changed {changed or 'findings'}: {last.as_dict()}")

    companies = summary.companies
    per_chunk = f"{service.queries / chunks:.0f}/chunk ({service.queries} in {chunks})"
    ratio = service.median / limit.median
    reratio = resweep.median / service.median
    heartbeat_updates = len(writes) // max(1, len(resummaries))
    return [
        Row("1. full sweep", f"service: compliance_sweep, {companies:,} companies", service.median, shipments,
            "shipments", per_chunk, f"{ratio:.2f}x", SWEEP_VS_RAW_SQL.text, SWEEP_VS_RAW_SQL.verdict(ratio),
            f"{opened:,} findings opened"),
        Row("1. full sweep", "limit: 9 rules as raw SQL upserts", limit.median, shipments, "shipments",
            str(limit.queries), note="same hits as the service"),
        Row("2. unchanged re-sweep", "service: the same sweep again", resweep.median, shipments, "shipments",
            f"{resweep.queries / chunks:.0f}/chunk ({resweep.queries} in {chunks})", f"{reratio:.2f}x",
            "< 1x the first", verdict(reratio, at_most=0.999),
            f"0 created/changed/history/alerts; {last.total('still_open'):,} heartbeats in "
            f"{heartbeat_updates} UPDATE(s)"),
    ]  # fmt: skip


# --- Benchmark 3: growth ----------------------------------------------------------------------------


def bench_growth(stages: list[tuple[str, Callable[[], dict[str, int]]]], *, runs: int) -> list[Row]:
    """Benchmark 3: the first sweep after each stage of growth (``stages``: a label and a function
    adding the stage's data and returning the row counts now in the database)."""
    rows: list[Row] = []
    base: tuple[float, float, float] | None = None
    memory: list[tuple[str, Memory, int, int]] = []
    for label, grow in stages:
        counts = grow()
        summary_holder: dict[str, Any] = {}

        def sweep(holder: dict[str, Any] = summary_holder) -> None:
            holder["summary"], holder["chunks"] = service_sweep()

        timing = timed(sweep, runs=runs, setup=reset_findings, warm=False)
        companies, shipments = counts["companies"], counts["shipments"]
        memory.append((label, peak_memory(sweep, setup=reset_findings), shipments, summary_holder["chunks"]))
        per_company = timing.median / companies * 1e6
        per_shipment = timing.median / max(1, shipments) * 1e6
        note = f"{companies:,} companies, {shipments:,} shipments; {per_company:,.0f} us/company, "
        note += f"{per_shipment:,.1f} us/shipment"
        ratio = goal = met = ""
        if base is None:
            base = (timing.median, companies, shipments)
        else:
            time_growth = timing.median / base[0]
            data_growth = max(companies / base[1], shipments / max(1, base[2]))
            ratio = f"time x{time_growth:.1f}, data x{data_growth:.1f}"
            goal, met = "time <= data", verdict(time_growth / data_growth, at_most=1.0)
        rows.append(
            Row(f"3. sweep growth {label}", "service: compliance_sweep", timing.median, shipments, "shipments",
                f"{timing.queries / summary_holder['chunks']:.0f}/chunk", ratio, goal, met, note)
        )  # fmt: skip
    rows.extend(_memory_rows(memory))
    return rows


def _memory_rows(memory: list[tuple[str, Memory, int, int]]) -> list[Row]:
    """Benchmark 3b: the sweep's peak memory at each stage against the first (goal: bounded by
    the chunk, not the data: at most 1.5x the first stage's at the last)."""
    rows: list[Row] = []
    first = memory[0][1] if memory else None
    for index, (label, used, shipments, chunks) in enumerate(memory):
        ratio = goal = met = ""
        if first is not None and index == len(memory) - 1 and index > 0:
            growth = used.python / max(1, first.python)
            ratio, goal, met = f"{growth:.2f}x", MEMORY_GROWTH.text, MEMORY_GROWTH.verdict(growth)
        note = f"{shipments:,} shipments in {chunks} chunk(s); process resident set rose {mib(used.process)}"
        rows.append(Row(f"3b. sweep peak memory {label}", f"Python heap peak: {mib(used.python)}", ratio=ratio,
                        goal=goal, met=met, note=note))  # fmt: skip
    return rows
