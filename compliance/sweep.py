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
  ``last_seen_at`` for all of them, so an unchanged re-sweep is cheaper than the first,
  and only where it last moved ``COMPLIANCE["HEARTBEAT_SECONDS"]`` or more ago (a company
  re-checked minute after minute does not rewrite all its open findings each time);
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
sweep after sweep), are settled in the database (:func:`compliance.settle.settle_in_database`:
new findings by ``COPY``, heartbeats by one ``UPDATE`` from a temporary table of the known
hits); the rest is decided here, the same way on every engine.
Concurrent sweeps of the same companies (an hourly chunk and an on-change re-check)
are serialised by locking the companies' rows first.
"""

from __future__ import annotations

import datetime as dt
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
from compliance.settle import ACTIVE, OPENED_REASON, heartbeat_due, opened_finding, settle_in_database
from licences import chain
from licences.models import Company

logger = logging.getLogger(__name__)

FindingStatus = Finding.Status
Event = AlertEmail.Event
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
#: Who the ``finding_transitions`` ledger says made the sweep's transitions.
SWEEP_ACTOR = "compliance sweep"
Transition = FindingTransition.Kind
# Settle new and unchanged findings set-based in PostgreSQL (``compliance.settle``); off,
# every hit is decided in Python as on other engines (the tests run both ways).
SETTLE_IN_DATABASE = True


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
        existing = settle_in_database(
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
            finding = opened_finding(None, hit, now)
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
        Finding.objects.filter(
            pk__in=[finding.pk for finding in heartbeat], last_seen_at__lte=heartbeat_due(now)
        ).update(last_seen_at=Greatest(Value(now), F("first_seen_at")))
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
