"""The sweep's bulk cases settled in PostgreSQL (:func:`settle_in_database`), and how a hit
becomes a new finding (:func:`opened_finding`), shared with :mod:`compliance.sweep`.

A first sweep opens tens of thousands of findings and an hourly re-sweep finds nearly all
of them unchanged: neither needs a decision, so both are written set-based in the
database. What does need one (a re-opening, an escalation, a resolution) is returned to
the sweep, which decides it as on every engine.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext_noop

from common import bulk
from compliance import rules
from compliance.models import AlertEmail, Finding, FindingTransition
from compliance.outcomes import FindingEvent, SweepSummary

FindingStatus = Finding.Status
Event = AlertEmail.Event
Transition = FindingTransition.Kind
ACTIVE = (FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED)
OPENED_REASON = gettext_noop("Opened by the compliance sweep")  # stored in English, shown translated
# New findings in one sweep from which the planner's statistics are refreshed (see _analyze_if_grown).
ANALYZE_MIN_INSERTED = 1000

HIT_COLUMNS = ("fingerprint", "rule", "severity", "company_id", "subject", "summary", "details")


def heartbeat_due(now: dt.datetime) -> dt.datetime:
    """A still-open finding last seen at or before this moment gets its heartbeat (``last_seen_at``
    moves to ``now``); one seen since keeps it: at most one heartbeat write per finding per
    ``COMPLIANCE["HEARTBEAT_SECONDS"]``."""
    return now - dt.timedelta(seconds=settings.COMPLIANCE["HEARTBEAT_SECONDS"])


def settle_in_database(
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
        in_scope = ""
    elif run is not None:  # a chunk of consecutive ids, as ``bulk.one_of`` asks for it
        in_scope = "f.company_id BETWEEN %(low)s AND %(high)s"
    else:
        in_scope = "f.company_id = ANY(%(scope)s)"
    scope = f"{in_scope} AND " if in_scope else ""  # a condition before others
    params: dict[str, Any] = {
        "now": now,
        "active": list(ACTIVE),
        "scope": list(company_ids or []),
        "low": run[0] if run else None,
        "high": run[1] if run else None,
    }
    same = "f.rule = h.rule AND f.severity = h.severity AND f.summary = h.summary AND f.details = h.details"
    with connection.cursor() as cursor:
        known: set[str] = set()
        # A scope with no finding yet (a first sweep) has no known hit: one probe, not one per hit.
        if in_scope:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table} f WHERE {in_scope})", params)  # noqa: S608
        if not in_scope or cursor.fetchone()[0]:
            # One JSON text, split by the database: psycopg writes a list parameter element by
            # element in Python, a twentieth of a national sweep for its 75,000 fingerprints.
            params["fingerprints"] = json.dumps(list(by_fingerprint))
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
            # Every unchanged finding counts as still open; only those whose heartbeat is due
            # are written (see ``heartbeat_due``).
            params["due"] = heartbeat_due(now)
            cursor.execute(
                f"WITH same AS (SELECT f.id, f.rule, f.last_seen_at <= %(due)s AS due FROM {table} f "  # noqa: S608
                f"JOIN sweep_hit h ON h.fingerprint = f.fingerprint WHERE {scope}f.status = ANY(%(active)s) "
                f"AND {same}), beat AS (UPDATE {table} f SET last_seen_at = GREATEST(%(now)s, f.first_seen_at) "
                "FROM same WHERE same.due AND f.id = same.id) SELECT rule, COUNT(*) FROM same GROUP BY rule",
                params,
            )
            summary.still_open.update(dict(cursor.fetchall()))
            cursor.execute("DROP TABLE sweep_hit")
        else:  # no hit is known: every active finding in scope is one without a hit
            and_in_scope = f" AND {in_scope}" if in_scope else ""
            cursor.execute(f"SELECT f.id FROM {table} f WHERE f.status = ANY(%(active)s){and_in_scope}", params)  # noqa: S608
            undecided = [pk for (pk,) in cursor.fetchall()]
        opened = _open_in_bulk([item for item in by_fingerprint.items() if item[0] not in known], now)
        _analyze_if_grown(cursor, table, len(opened))
    for pk, hit in opened:
        build = functools.partial(opened_finding, pk, hit, now)
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


_FINDING_FIELDS = [(field.attname, field) for field in Finding._meta.concrete_fields]


def _new_finding(**values: Any) -> Finding:
    """A new, unsaved finding, built from positional arguments: three times faster than
    keywords, which counts at tens of thousands of findings a sweep."""
    return Finding(*[values[name] if name in values else field.get_default() for name, field in _FINDING_FIELDS])


def opened_finding(pk: int | None, hit: rules.Hit, now: dt.datetime) -> Finding:
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
