"""The sweep: judge companies against every rule and upsert the results into findings.

For each rule hit the fingerprint (rule family + company + subject) decides:

- no finding yet: a new *open* finding, alerted (``opened``);
- a resolved finding (by hand or automatically) whose condition holds again: re-opened
  as a new episode (``first_seen_at`` moves to now) and alerted again (``opened``);
- an open or acknowledged finding whose severity rose: back to *open* and alerted
  (``escalated``), even if it had been acknowledged;
- otherwise (still open, or acknowledged): only ``last_seen_at`` moves (with the current
  summary and details, so numbers stay current): nothing is alerted and no history row
  is written for a heartbeat. Findings whose text did not change get one ``UPDATE`` of
  ``last_seen_at`` for all of them, so an unchanged re-sweep is cheaper than the first;
- an open or acknowledged finding of a swept rule with no hit: resolved automatically,
  with a note saying so, and alerted (``resolved``).

A finding's ``as_known_at`` is the moment of the sweep that last computed its figures
(``now``, taken before anything is read): opening, re-opening, escalating, restating or
resolving it sets it; a heartbeat with the same figures keeps it. Positions asked for
``as_known_at`` that moment give the figures again, whatever was back-dated since. (A write
recorded at an instant before ``now`` but committed after the sweep read is the one thing
the two can disagree on.)
Every opening, re-opening, escalation and resolution is also a row of the hash-chained
``finding_transitions`` ledger (``compliance.models.ledgers``), appended in bulk at the end
of the same transaction; a heartbeat is not a transition.

The alert outbox (``AlertEmail`` and ``WebhookDelivery`` rows) is written in the same
transaction as the findings, so a crash between the two can neither lose nor repeat an
alert: e-mails go out after commit from the outbox (rows not yet sent), webhook
deliveries are enqueued after commit. Running the sweep twice in a row writes nothing
new and sends nothing new.

Everything is set-based: the number of queries does not depend on the number of
companies (rules run a constant number each; writes are bulk statements). On PostgreSQL
the two cases that need no decision, new findings and unchanged ones (nearly every hit,
sweep after sweep), are settled in the database from a temporary table of the hits
(:func:`_settle_in_database`); the rest is decided here, the same way on every engine.
Concurrent sweeps of the same companies (an hourly chunk and an on-change re-check)
are serialised by locking the companies' rows first.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext_noop
from simple_history.utils import bulk_update_with_history

from common import bulk
from compliance import alerts, rules, webhook_outbox
from compliance.models import FINDING_TRANSITIONS, AlertEmail, Finding, FindingTransition
from compliance.outcomes import FindingEvent, SweepSummary
from licences import chain
from licences.models import Company

logger = logging.getLogger(__name__)

FindingStatus = Finding.Status
Event = AlertEmail.Event
ACTIVE = (FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED)
# Fingerprints per ``IN (...)`` list: well under SQLite's limit on bound parameters.
FINGERPRINT_BATCH = 5000
TRANSITION_FIELDS = [
    "first_seen_at",
    "rule",
    "severity",
    "status",
    "summary",
    "details",
    "last_seen_at",
    "acknowledged_at",
    "acknowledged_by",
    "resolved_at",
    "resolution_note",
    "as_known_at",
]
HEARTBEAT_FIELDS = ["rule", "severity", "summary", "details", "last_seen_at", "as_known_at"]
OPENED_REASON = gettext_noop("Opened by the compliance sweep")  # stored in English, shown translated
#: Who the ``finding_transitions`` ledger says made the sweep's transitions.
SWEEP_ACTOR = "compliance sweep"
Transition = FindingTransition.Kind
# Settle new and unchanged findings set-based in PostgreSQL (see _settle_in_database); off,
# every hit is decided in Python as on other engines (the tests run both ways).
SETTLE_IN_DATABASE = True
# New findings in one sweep from which the planner's statistics are refreshed (see _analyze_if_grown).
ANALYZE_MIN_INSERTED = 1000


def _event_key(now: dt.datetime) -> str:
    """The moment of a transition: it tells one opening of a finding from a later re-opening."""
    return now.strftime("%Y%m%dT%H%M%S.%f")


def _lock_companies(company_ids: Sequence[int] | None) -> int:
    """Lock the companies in scope (in primary-key order, so two sweeps cannot deadlock).

    ``FOR NO KEY UPDATE`` on PostgreSQL: it serialises sweeps of the same company without
    blocking inserts of licences or shipments that reference it. A no-op on SQLite, whose
    writes are serialised anyway.
    """
    companies = Company.objects.select_for_update(no_key=True).order_by("pk")
    if company_ids is not None:
        companies = companies.filter(bulk.one_of(Company, "pk", company_ids))
    return len(companies.values_list("pk", flat=True))


_FINDING_FIELDS = [(field.attname, field) for field in Finding._meta.concrete_fields]


def _new_finding(**values: Any) -> Finding:
    """A new, unsaved finding, built from positional arguments: three times faster than
    keywords, which counts at tens of thousands of findings a sweep."""
    return Finding(*[values[name] if name in values else field.get_default() for name, field in _FINDING_FIELDS])


def _existing_findings(
    fingerprints: list[str], company_ids: Sequence[int] | None, *, with_active: bool = True
) -> dict[str, Finding]:
    """Findings matching a hit, plus every active finding of a swept rule in scope."""
    # Two plain queries, not one with an OR: the active findings through the (company,
    # status) index (the rule is checked here, so a stale planner estimate cannot steer
    # the query to the rule index), the other matches through the unique fingerprint index.
    found: dict[str, Finding] = {}
    others = Finding.objects.order_by()
    if with_active:
        scoped = others if company_ids is None else others.filter(company_id__in=list(company_ids))
        found.update(
            {
                finding.fingerprint: finding
                for finding in scoped.filter(status__in=ACTIVE)
                if finding.rule in rules.SWEPT_RULES
            }
        )
        others = others.exclude(status__in=ACTIVE, rule__in=rules.SWEPT_RULES)
    for start in range(0, len(fingerprints), FINGERPRINT_BATCH):
        batch = fingerprints[start : start + FINGERPRINT_BATCH]
        found.update({finding.fingerprint: finding for finding in others.filter(fingerprint__in=batch)})
    return found


HIT_COLUMNS = ("fingerprint", "rule", "severity", "company_id", "subject", "summary", "details")


def _settle_in_database(
    by_fingerprint: dict[str, rules.Hit],
    *,
    company_ids: Sequence[int] | None,
    now: dt.datetime,
    key: str,
    summary: SweepSummary,
    events: list[FindingEvent],
    transitions: list[tuple[Any, ...]],
    by: str,
) -> dict[str, Finding]:
    """PostgreSQL: settle the two bulk cases in the database; return what needs a decision.

    First the hits whose fingerprint is already a finding's are told from the new ones
    (one lookup through the unique fingerprint index). Then, in this order:

    1. the findings needing a decision in Python are picked out (an existing finding
       whose hit differs from it: resolved, another rule, severity or text; and an active
       finding in scope with no hit, which is resolved if its rule is swept) and returned;
    2. every other matched finding, active with the same rule, severity and text, gets
       its heartbeat in one ``UPDATE ... FROM`` (no history row: not a change of state);
    3. the new hits become open findings with their ``+`` history rows, by binary
       ``COPY`` under ids reserved from the table's sequence (their ``opened`` events
       build the finding on first use; their ``opened`` transitions are added to
       ``transitions``).

    Steps 1 and 2 compare the known hits with their findings in a temporary table filled
    by binary ``COPY`` (none in a first sweep, when every hit is new). The decisions taken
    in Python for what step 1 returns are the same as on other engines
    (:func:`upsert_findings`); steps 2 and 3 are the cases that need no decision.
    """
    table = connection.ops.quote_name(Finding._meta.db_table)
    # Every hit is of a company in scope (a fingerprint names its company; the unique
    # constraint still guards the insert): the scope only lets the planner read the
    # findings through the (company, status) index. Not in the lookup of known fingerprints,
    # which must go through the unique fingerprint index: with the scope, a planner whose row
    # estimate lags a growing table read the whole range once per hit (9 s for one chunk).
    run = None if company_ids is None else bulk.integer_run(list(company_ids))
    if company_ids is None:
        scope = ""
    elif run is not None:  # a chunk of consecutive ids, as ``bulk.one_of`` asks for it
        scope = "f.company_id BETWEEN %(low)s AND %(high)s AND "
    else:
        scope = "f.company_id = ANY(%(scope)s) AND "
    params: dict[str, Any] = {
        "now": now,
        "active": list(ACTIVE),
        "scope": list(company_ids or []),
        "low": run[0] if run else None,
        "high": run[1] if run else None,
        # One JSON text, split by the database: psycopg writes a list parameter element by
        # element in Python, a twentieth of a national sweep for its 75,000 fingerprints.
        "fingerprints": json.dumps(list(by_fingerprint)),
    }
    same = "f.rule = h.rule AND f.severity = h.severity AND f.summary = h.summary AND f.details = h.details"
    with connection.cursor() as cursor:
        known: set[str] = set()
        # A scope with no finding yet (a first sweep) has no known hit: one probe, not one per hit.
        if scope:
            in_scope = scope.removesuffix(" AND ")
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table} f WHERE {in_scope})", params)  # noqa: S608
        if not scope or cursor.fetchone()[0]:
            cursor.execute(
                f"SELECT f.fingerprint FROM {table} f JOIN jsonb_array_elements_text(%(fingerprints)s::jsonb) "  # noqa: S608
                "AS h(fingerprint) ON h.fingerprint = f.fingerprint",
                params,
            )
            known = {fingerprint for (fingerprint,) in cursor.fetchall()}
        if known:
            cursor.execute("DROP TABLE IF EXISTS sweep_hit")
            cursor.execute(
                "CREATE TEMPORARY TABLE sweep_hit (fingerprint varchar(300) PRIMARY KEY, rule varchar(64) NOT NULL, "
                "severity varchar(16) NOT NULL, company_id bigint NOT NULL, subject varchar(200) NOT NULL, "
                "summary varchar(300) NOT NULL, details jsonb NOT NULL) ON COMMIT DROP"
            )
            bulk.copy_rows(
                Finding,
                HIT_COLUMNS,
                (
                    (fp, h.rule, h.severity, h.company_id, h.subject, h.summary, h.details)
                    for fp, h in by_fingerprint.items()
                    if fp in known
                ),
                table="sweep_hit",
            )
            cursor.execute(
                f"SELECT f.id FROM {table} f JOIN sweep_hit h ON h.fingerprint = f.fingerprint "  # noqa: S608
                f"WHERE {scope}NOT (f.status = ANY(%(active)s) AND {same}) "
                f"UNION ALL SELECT f.id FROM {table} f WHERE {scope}f.status = ANY(%(active)s) "
                "AND NOT EXISTS (SELECT 1 FROM sweep_hit h WHERE h.fingerprint = f.fingerprint)",
                params,
            )
            undecided = [pk for (pk,) in cursor.fetchall()]
            cursor.execute(
                f"WITH beat AS (UPDATE {table} f SET last_seen_at = GREATEST(%(now)s, f.first_seen_at) "  # noqa: S608
                f"FROM sweep_hit h WHERE {scope}h.fingerprint = f.fingerprint AND f.status = ANY(%(active)s) "
                f"AND {same} RETURNING f.rule) SELECT rule, COUNT(*) FROM beat GROUP BY rule",
                params,
            )
            summary.still_open.update(dict(cursor.fetchall()))
            cursor.execute("DROP TABLE sweep_hit")
        else:  # no hit is known: every active finding in scope is one without a hit
            and_in_scope = f" AND {scope.removesuffix(' AND ')}" if scope else ""
            cursor.execute(f"SELECT f.id FROM {table} f WHERE f.status = ANY(%(active)s){and_in_scope}", params)  # noqa: S608
            undecided = [pk for (pk,) in cursor.fetchall()]
        opened = _open_in_bulk([item for item in by_fingerprint.items() if item[0] not in known], now)
        _analyze_if_grown(cursor, table, len(opened))
    for pk, hit in opened:
        build = functools.partial(_opened_finding, pk, hit, now)
        events.append(FindingEvent(event=Event.OPENED, key=key, company_id=hit.company_id, build=build))
        transitions.append((hit.company_id, pk, Transition.OPENED, FindingStatus.OPEN, hit.severity, now, by, ""))
        summary.opened[hit.rule] += 1
    return {finding.fingerprint: finding for finding in Finding.objects.filter(pk__in=undecided)} if undecided else {}


#: The columns :func:`_open_in_bulk` writes (the others, the acknowledgement's and the
#: resolution's, are empty on a new finding).
NEW_FINDING_COLUMNS = (
    "id", "rule", "severity", "company_id", "subject", "fingerprint", "status", "summary", "details",
    "first_seen_at", "last_seen_at", "resolution_note", "as_known_at",
)  # fmt: skip


def _open_in_bulk(hits: list[tuple[str, rules.Hit]], now: dt.datetime) -> list[tuple[int, rules.Hit]]:
    """PostgreSQL: the hits as new open findings, by binary ``COPY`` under ids reserved from
    the table's sequence, then their ``+`` history rows copied from them in the database (one
    ``INSERT ... SELECT``: no second pass over the rows in Python). ``hits`` are ``(fingerprint,
    hit)`` pairs; returns ``(id, hit)`` for each."""
    if not hits:
        return []
    ids = bulk.reserve_ids(Finding, len(hits))
    status = str(FindingStatus.OPEN)
    bulk.copy_rows(
        Finding,
        NEW_FINDING_COLUMNS,
        (
            (pk, hit.rule, hit.severity, hit.company_id, hit.subject, fingerprint, status, hit.summary,
             hit.details, now, now, "", now)
            for pk, (fingerprint, hit) in zip(ids, hits, strict=True)
        ),
    )  # fmt: skip
    historical = Finding.history.model
    user = historical.get_default_history_user(Finding())
    quote = connection.ops.quote_name
    tracked = ", ".join(quote(name) for name in bulk.tracked_fields(Finding))
    run = bulk.integer_run(ids)  # reserved in one statement: consecutive unless another session drew between
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(historical._meta.db_table)} ({tracked}, history_date, "  # noqa: S608
            f"history_change_reason, history_type, history_user_id) SELECT {tracked}, %(now)s, %(reason)s, '+', "
            f"%(user)s FROM {quote(Finding._meta.db_table)} WHERE "
            + ("id BETWEEN %(low)s AND %(high)s" if run else "id = ANY(%(ids)s)"),
            {
                "now": now,
                "reason": OPENED_REASON,
                "user": user.pk if user is not None else None,
                "low": run[0] if run else None,
                "high": run[1] if run else None,
                "ids": ids,
            },
        )
    return [(pk, hit) for pk, (_, hit) in zip(ids, hits, strict=True)]


def _analyze_if_grown(cursor: Any, table: str, inserted: int) -> None:
    """``ANALYZE`` the findings table when this sweep at least doubled it.

    The planner's row estimate for the table otherwise lags far behind a first sweep
    that fills it (autovacuum analyses on its own schedule, minutes later), and with a
    table it believes tiny it reads the findings through the wrong index.
    """
    if inserted < ANALYZE_MIN_INSERTED:
        return
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
    estimate = cursor.fetchone()[0]
    if inserted >= estimate:  # reltuples is -1 for a table never analysed
        # Only the columns the sweep's statements filter and join on: the text and JSON columns
        # cost most of a full ANALYZE (sampled and measured) and steer no plan.
        cursor.execute(f"ANALYZE {table} (company_id, status, rule, fingerprint)")


def _opened_finding(pk: int | None, hit: rules.Hit, now: dt.datetime) -> Finding:
    """The finding a hit opens (saved already when ``pk`` is given)."""
    finding = _new_finding(
        id=pk,
        rule=hit.rule,
        severity=hit.severity,
        company_id=hit.company_id,
        subject=hit.subject,
        fingerprint=hit.fingerprint,
        status=FindingStatus.OPEN,
        summary=hit.summary,
        details=hit.details,
        first_seen_at=now,
        last_seen_at=now,
        as_known_at=now,
    )
    if pk is not None:
        finding._state.adding, finding._state.db = False, connection.alias
    return finding


def upsert_findings(
    hits: Iterable[rules.Hit],
    *,
    company_ids: Sequence[int] | None,
    on: dt.date,
    now: dt.datetime,
    resolve: bool = True,
    by: str = SWEEP_ACTOR,
) -> tuple[list[FindingEvent], SweepSummary]:
    """Apply the hits to the findings of the companies in scope (see the module docstring).

    With ``resolve=False`` only the hits are applied and nothing is resolved (a finding
    raised outside the rules). Each transition is appended to the ``finding_transitions``
    ledger as made ``by`` the given actor. Returns the events to alert about and the
    summary. Call inside a transaction.
    """
    by_fingerprint = {hit.fingerprint: hit for hit in hits}
    summary = SweepSummary()
    key = _event_key(now)
    created: list[Finding] = []
    transitioned: list[Finding] = []
    heartbeat: list[Finding] = []  # still open, nothing to rewrite but last_seen_at
    restated_findings: list[Finding] = []  # still open, with new numbers in the summary or details
    events: list[FindingEvent] = []
    # Rows of the ``finding_transitions`` ledger: (company, finding, kind, status, severity, at, by, note).
    transitions: list[tuple[Any, ...]] = []
    if resolve and SETTLE_IN_DATABASE and connection.vendor == "postgresql":
        # New and unchanged findings are settled in the database; what is left needs a decision.
        existing = _settle_in_database(
            by_fingerprint,
            company_ids=company_ids,
            now=now,
            key=key,
            summary=summary,
            events=events,
            transitions=transitions,
            by=by,
        )
        undecided = {
            fingerprint: by_fingerprint[fingerprint] for fingerprint in existing if fingerprint in by_fingerprint
        }
    else:
        existing = _existing_findings(list(by_fingerprint), company_ids, with_active=resolve)
        undecided = by_fingerprint

    changed: list[tuple[Finding, str]] = []  # transitioned findings and their transition kind
    for fingerprint, hit in undecided.items():
        finding = existing.get(fingerprint)
        if finding is None:
            finding = _opened_finding(None, hit, now)
            created.append(finding)
            events.append(FindingEvent(finding, event=Event.OPENED, key=key))
            summary.opened[hit.rule] += 1
            continue
        rose = rules.SEVERITY_RANK[hit.severity] > rules.SEVERITY_RANK[finding.severity]
        reopened = finding.status == FindingStatus.RESOLVED
        restated = (finding.rule, finding.severity, finding.summary, finding.details) != (
            hit.rule,
            hit.severity,
            hit.summary,
            hit.details,
        )
        finding.rule, finding.severity, finding.summary, finding.details = (
            hit.rule,
            hit.severity,
            hit.summary,
            hit.details,
        )
        # Never before the first sighting, even if the clock stepped back.
        finding.last_seen_at = max(now, finding.first_seen_at)
        if restated or reopened or rose:
            finding.as_known_at = now  # its figures are this sweep's
        if reopened or rose:
            finding.status = FindingStatus.OPEN
            finding.acknowledged_at = None
            finding.acknowledged_by = None
            if reopened:
                # A new episode: ``first_seen_at`` dates it (the earlier one stays in the history).
                finding.first_seen_at = now
                finding.resolved_at = None
                finding.resolution_note = ""
                finding._change_reason = gettext_noop("Re-opened by the compliance sweep: the condition holds again")
                events.append(FindingEvent(finding, event=Event.OPENED, key=key))
                summary.opened[hit.rule] += 1
                changed.append((finding, Transition.REOPENED))
            else:
                finding._change_reason = gettext_noop("Severity raised by the compliance sweep")
                events.append(FindingEvent(finding, event=Event.ESCALATED, key=key))
                summary.escalated[hit.rule] += 1
                changed.append((finding, Transition.ESCALATED))
            transitioned.append(finding)
        else:
            (restated_findings if restated else heartbeat).append(finding)
            summary.still_open[hit.rule] += 1

    for fingerprint, finding in existing.items() if resolve else ():
        if fingerprint in by_fingerprint or finding.status not in ACTIVE or finding.rule not in rules.SWEPT_RULES:
            continue
        finding.status = FindingStatus.RESOLVED
        finding.resolved_at = now
        finding.as_known_at = now
        finding.resolution_note = (
            f"Resolved automatically by the compliance sweep on {on:%Y-%m-%d}: the condition no longer holds."
        )
        finding._change_reason = gettext_noop("Resolved automatically: the condition no longer holds")
        transitioned.append(finding)
        changed.append((finding, Transition.RESOLVED))
        events.append(FindingEvent(finding, event=Event.RESOLVED, key=key))
        summary.resolved[finding.rule] += 1

    # New findings and their history rows by binary COPY on PostgreSQL (75,000 at national scale).
    bulk.create_with_history(created, change_reason=OPENED_REASON, date=now)
    if transitioned:
        bulk_update_with_history(transitioned, Finding, TRANSITION_FIELDS, default_date=now)
    # A heartbeat is not a change of state: no history row for it. Findings whose text is
    # unchanged (nearly all of them, sweep after sweep) get one UPDATE setting one value;
    # ``bulk_update`` writes a CASE per field and row, which costs quadratic time in the
    # number of findings, so it is kept for the few whose summary or details moved.
    if restated_findings:
        Finding.objects.bulk_update(restated_findings, HEARTBEAT_FIELDS)
    if heartbeat:
        Finding.objects.filter(pk__in=[finding.pk for finding in heartbeat]).update(
            last_seen_at=Greatest(Value(now), F("first_seen_at"))
        )
    # The ledger last (its chains' heads are the last rows this transaction locks).
    transitions += [
        (finding.company_id, finding.pk, Transition.OPENED, FindingStatus.OPEN, finding.severity, now, by, "")
        for finding in created
    ]
    transitions += [
        (finding.company_id, finding.pk, kind, finding.status, finding.severity, now, by,
         finding.resolution_note if kind == Transition.RESOLVED else "")
        for finding, kind in changed
    ]  # fmt: skip
    chain.insert_rows(FINDING_TRANSITIONS, transitions)
    return events, summary


def run_sweep(
    *,
    company_ids: Sequence[int] | None = None,
    on: dt.date | None = None,
    now: dt.datetime | None = None,
) -> SweepSummary:
    """Sweep the companies (all when ``company_ids`` is ``None``) and alert on what changed.

    ``on`` defaults to today in the service time zone (``timezone.localdate()``), so time
    travel in tests moves it. Findings and the alert outbox are written in one
    transaction; e-mails are sent and webhook deliveries enqueued after it commits.
    """
    now = now or timezone.now()
    on = on or timezone.localdate(now)
    # Hundreds of thousands of small objects per chunk: the cyclic collector would walk them
    # again and again (about a sixth of a national sweep); reference counting frees them.
    with bulk.collector_paused(), transaction.atomic():
        companies = _lock_companies(company_ids)
        hits = rules.evaluate(on, company_ids)
        events, summary = upsert_findings(hits, company_ids=company_ids, on=on, now=now)
        summary.companies = companies
        alerts.queue_emails(events)
        delivery_pks = webhook_outbox.queue_deliveries(events, now=now)
    # Flush the whole outbox, not only this sweep's rows: mail left unsent by a crash goes now.
    alerts.send_pending_emails()
    webhook_outbox.schedule_deliveries(delivery_pks)
    return summary


def flag_finding(
    *,
    company_id: int,
    rule: str,
    subject: str,
    severity: str,
    summary: str,
    details: dict[str, Any],
    by: str = SWEEP_ACTOR,
) -> None:
    """Open (or re-open, or escalate) a finding raised outside the rules, e.g. a disabled webhook,
    and alert on it. The sweep never resolves it (its rule is not swept): an officer does."""
    now = timezone.now()
    hit = rules.Hit(
        family=rule, rule=rule, company_id=company_id, subject=subject, severity=severity, summary=summary,
        details=details,
    )  # fmt: skip
    with transaction.atomic():
        _lock_companies([company_id])
        events, _ = upsert_findings([hit], company_ids=[company_id], on=timezone.localdate(now), now=now,
                                    resolve=False, by=by)  # fmt: skip
        alerts.queue_emails(events)
        delivery_pks = webhook_outbox.queue_deliveries(events, now=now)
    alerts.send_pending_emails()
    webhook_outbox.schedule_deliveries(delivery_pks)
