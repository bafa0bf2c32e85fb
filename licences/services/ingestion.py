"""Batch ingestion of shipments and customs events: the single-item rules of
``licences.services.shipments`` applied set-based, with bulk writes (COPY on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import BigIntegerField, Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from common import bulk
from common.errors import Conflict, safe_text
from licences import chain
from licences.identifiers import AMBIGUOUS, AMBIGUOUS_IDENTIFIER, ambiguous_message, pick_in_company
from licences.models import (
    CUSTOMS_EVENTS,
    ChipModel,
    Company,
    CustomsDirective,
    ImportLicence,
    Shipment,
)
from licences.services.shipments import (
    CustomsStatus,
    customs_event_refusal,
    shipment_refusal,
)
from licences.signals import shipments_changed

# --- Bulk ingestion ---------------------------------------------------------------------------
#
# The batch services apply exactly the single-item rules of ``shipments`` (same checks, in the same order,
# with the same codes) to many items at once, set-based: one query per kind of lookup for the
# whole batch, the touched rows locked in primary-key order (so concurrent batches queue
# instead of deadlocking), every decision taken in memory against the locked values, then one
# bulk write per table and one counter UPDATE for all the licences touched. The check
# constraints stay the last word: a decision computed wrongly would fail the whole batch, never
# over-draw a licence.


# Batch lines are named tuples: immutable like a frozen dataclass, and built several times
# faster, which counts at thousands per request.


class ShipmentLine(NamedTuple):
    """One item of a shipment batch, already parsed (its fields as ``shipment_declare`` takes them)."""

    index: int
    declaration_number: str
    licence_number: str
    quantity: int
    declared_value_usd: Decimal
    port_of_entry: str
    chip_code: str | None = None
    declared_at: dt.datetime | None = None
    company: str | None = None  # the licence's company (slug), for a caller who sees several


class CustomsEventLine(NamedTuple):
    """One item of a customs-event batch, already parsed (its fields as ``customs_event_record`` takes them)."""

    index: int
    declaration_number: str
    status: str
    occurred_at: dt.datetime | None = None
    note: str = ""
    company: str | None = None  # the shipment's company (slug), for a caller who sees several


@dataclass
class BatchOutcome:
    """What a batch service decided: accepted and refused items (in input order) and the companies touched."""

    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    company_ids: set[int] = field(default_factory=set)


def batch_refusal(
    index: int, code: str, detail: str, errors: dict[str, list[str]] | None = None, declaration_number: Any = None
) -> dict[str, Any]:
    """A refused batch item: the error envelope of the single endpoint, plus the item's index.

    The item's declaration number is echoed as sent, made safe (a NUL would break the answer
    stored as jsonb on PostgreSQL, a lone surrogate its very rendering).
    """
    return {
        "index": index,
        "declaration_number": safe_text(declaration_number) if isinstance(declaration_number, str) else None,
        "code": code,
        "detail": safe_text(detail),
        "errors": errors or {},
    }


def _add_to_counters(deltas: dict[int, dict[str, int]]) -> None:
    """Add per-licence deltas to the counters in one UPDATE (``licence_never_overdrawn`` still checks it)."""
    if not deltas:
        return
    changes: dict[str, Any] = {}
    for counter in ("reserved_quantity", "used_quantity"):
        whens = [When(pk=pk, then=Value(delta[counter])) for pk, delta in deltas.items() if delta.get(counter)]
        if whens:
            changes[counter] = F(counter) + Case(*whens, default=Value(0), output_field=BigIntegerField())
    if changes:
        ImportLicence.objects.filter(pk__in=deltas).update(**changes)


def _directives_by_chip(chip_ids: set[int], days: list[dt.date]) -> dict[int, list[CustomsDirective]]:
    """Every entry directive in force for one of ``chip_ids`` on some day in ``days``: one query."""
    by_chip: dict[int, list[CustomsDirective]] = defaultdict(list)
    if not chip_ids:
        return by_chip
    directives = (
        CustomsDirective.objects.filter(chip_id__in=chip_ids, blocked_from__lte=max(days))
        .filter(Q(blocked_until__isnull=True) | Q(blocked_until__gte=min(days)))
        .order_by("blocked_from", "pk")
    )
    for directive in directives:
        by_chip[directive.chip_id].append(directive)
    return by_chip


def _directive_on(directives: list[CustomsDirective], on: dt.date) -> CustomsDirective | None:
    """``directive_in_force`` over preloaded directives (same order: earliest ``blocked_from`` first)."""
    for directive in directives:
        if directive.blocked_from <= on and (directive.blocked_until is None or directive.blocked_until >= on):
            return directive
    return None


def shipments_ingest(
    *,
    lines: Sequence[ShipmentLine],
    licences: QuerySet[ImportLicence],
    recorded_by: str = "",
    now: dt.datetime | None = None,
) -> BatchOutcome:
    """Declare many shipments at once, each under exactly ``shipment_declare``'s rules.

    ``licences`` is what the caller may see (a company key's own licences, or all): a licence
    outside it is ``licence_not_found``. Items are decided in input order against the locked
    licence counters, so an item that would over-draw is refused while a later, smaller one
    against the same licence may still fit. The accepted shipments, their history and their
    customs events are written in bulk, the counters in one UPDATE; ``shipments_changed`` is
    sent once with the companies touched.
    """
    now = now or timezone.now()
    with transaction.atomic(savepoint=False):
        numbers = {line.licence_number for line in lines}
        locked: dict[str, list[ImportLicence]] = defaultdict(list)  # number: the caller's licences with it
        for licence in (
            licences.filter(bulk.one_of(ImportLicence, "number", numbers)).select_for_update().order_by("pk")
        ):
            locked[licence.number].append(licence)
        named = named_companies(lines)
        codes = {line.chip_code for line in lines if line.chip_code is not None}
        chips = dict(ChipModel.objects.filter(code__in=codes).values_list("code", "pk")) if codes else {}
        days = [timezone.localdate(line.declared_at or now) for line in lines]
        chip_ids = {licence.chip_id for held in locked.values() for licence in held}
        directives = _directives_by_chip(chip_ids, days)
        declarations = [line.declaration_number for line in lines]
        owners = {licence.company_id for held in locked.values() for licence in held}
        existing = Shipment.objects.filter(
            bulk.one_of(Shipment, "declaration_number", declarations), company_id__in=owners
        ).values_list("company_id", "declaration_number")
        for _attempt in range(3):
            taken = set(existing.all())  # a fresh read on every attempt
            outcome, shipments, deltas = _decide_shipments(lines, locked, named, chips, directives, taken, now)
            try:
                # A concurrent batch may have committed one of these declaration numbers since
                # the look-up: its unique index refuses ours, and the batch is decided again.
                with transaction.atomic():
                    _write_shipments(shipments, deltas, recorded_by)
            except IntegrityError:
                if set(existing.all()) <= taken:
                    raise
                continue
            break
        else:  # pragma: no cover - three races in a row on the same numbers
            raise Conflict("The batch kept colliding with concurrent declarations; retry it.", code="batch_conflict")
        if outcome.company_ids:
            shipments_changed.send(sender=Shipment, company_ids=frozenset(outcome.company_ids))
    return outcome


def named_companies(lines: Sequence[ShipmentLine | CustomsEventLine]) -> dict[str, int]:
    """The ids of the companies the lines name by slug (one query; none when no line names one)."""
    slugs = {line.company for line in lines if line.company is not None}
    return dict(Company.objects.filter(slug__in=slugs).values_list("slug", "pk")) if slugs else {}


def _company_id(record: Any) -> int:
    return record["company_id"] if isinstance(record, dict) else record.company_id


def _decide_shipments(
    lines: Sequence[ShipmentLine],
    locked: dict[str, list[ImportLicence]],
    named: dict[str, int],
    chips: dict[str, int],
    directives: dict[int, list[CustomsDirective]],
    taken: set[tuple[int, str]],
    now: dt.datetime,
) -> tuple[BatchOutcome, list[Shipment], dict[int, dict[str, int]]]:
    """Accept or refuse each line in order, as ``shipment_declare`` would one after the other."""
    outcome = BatchOutcome()
    shipments: list[Shipment] = []
    deltas: dict[int, dict[str, int]] = {}
    remaining = {licence.pk: licence.remaining_quantity for held in locked.values() for licence in held}
    taken = set(taken)
    for line in lines:
        declared_at = line.declared_at or now
        on = timezone.localdate(declared_at)
        number = line.declaration_number
        licence = pick_in_company(
            locked.get(line.licence_number, ()), company=line.company, company_ids=named, company_of=_company_id
        )
        refusal = _shipment_refusal(line, licence, chips, remaining, taken, on)
        if refusal is not None:
            outcome.refused.append(batch_refusal(line.index, *refusal, declaration_number=number))
            continue
        assert isinstance(licence, ImportLicence)  # refused above otherwise
        remaining[licence.pk] -= line.quantity
        taken.add((licence.company_id, number))
        delta = deltas.setdefault(licence.pk, {"reserved_quantity": 0})
        delta["reserved_quantity"] += line.quantity
        directive = _directive_on(directives.get(licence.chip_id, []), on)
        shipments.append(
            Shipment(
                declaration_number=number,
                company_id=licence.company_id,
                licence_id=licence.pk,
                chip_id=licence.chip_id,
                quantity=line.quantity,
                declared_value_usd=line.declared_value_usd,
                port_of_entry=line.port_of_entry,
                status=CustomsStatus.HELD if directive else CustomsStatus.DECLARED,
                declared_at=declared_at,
                status_changed_at=declared_at,
                held_since=declared_at if directive else None,
                entry_block_directive=directive,
            )
        )
        outcome.company_ids.add(licence.company_id)
        outcome.accepted.append(
            {
                "index": line.index,
                "declaration_number": number,
                "licence": licence.number,
                "quantity": line.quantity,
                "status": shipments[-1].status,
                "entry_block_directive": directive.reference if directive else None,
            }
        )
    return outcome, shipments, deltas


def _shipment_refusal(
    line: ShipmentLine,
    licence: ImportLicence | object | None,
    chips: dict[str, int],
    remaining: dict[int, int],
    taken: set[tuple[int, str]],
    on: dt.date,
) -> tuple[str, str, dict[str, list[str]] | None] | None:
    """``shipment_declare``'s checks, in its order: ``(code, detail, errors)``, or ``None`` when allowed.

    An unknown chip is the single endpoint's ``validation_error``; a licence the caller cannot
    see (or not in the company the line names) is ``licence_not_found``, never revealing
    whether another company holds that number; a number held by several of the companies the
    caller sees, with no company named, is ``ambiguous_identifier``.
    """
    if line.chip_code is not None and line.chip_code not in chips:
        message = f"Object with code={line.chip_code} does not exist."
        return "validation_error", f"Invalid input: chip: {message}", {"chip": [message]}
    if licence is None:
        message = f"Object with number={line.licence_number} does not exist."
        return "licence_not_found", f"Licence {line.licence_number} not found.", {"licence": [message]}
    if licence is AMBIGUOUS:
        message = ambiguous_message("Licence", line.licence_number)
        return AMBIGUOUS_IDENTIFIER, message, {"company": [message]}
    assert isinstance(licence, ImportLicence)
    refusal = shipment_refusal(
        licence=licence,
        chip_id=None if line.chip_code is None else chips[line.chip_code],
        quantity=line.quantity,
        remaining=remaining[licence.pk],
        on=on,
    )
    if refusal is not None:
        return refusal.code, refusal.message, refusal.fields or None
    if (licence.company_id, line.declaration_number) in taken:
        return "duplicate_declaration", f"Declaration {line.declaration_number} already exists.", None
    return None


def _write_shipments(shipments: list[Shipment], deltas: dict[int, dict[str, int]], recorded_by: str) -> None:
    """Insert the accepted shipments with their history and first customs events; move the counters."""
    if not shipments:
        return
    _add_to_counters(deltas)
    # One INSERT for the shipments (their ids come back), one bulk write for their history rows.
    shipments = Shipment.objects.bulk_create(shipments)
    history = [_history_row(shipment) for shipment in shipments]
    _record_history(history, history_type="+", change_reason="batch declaration")
    events: list[tuple[Any, ...]] = []
    for shipment in shipments:
        company_id, at = shipment.company_id, shipment.declared_at
        events.append((company_id, shipment.pk, CustomsStatus.DECLARED, at, "", recorded_by))
        if shipment.entry_block_directive is not None:
            note = f"Entry blocked by directive {shipment.entry_block_directive.reference}"
            events.append((company_id, shipment.pk, CustomsStatus.HELD, at, note, recorded_by))
    _insert_customs_events(events)


def customs_events_ingest(
    *,
    lines: Sequence[CustomsEventLine],
    shipments: QuerySet[Shipment],
    recorded_by: str = "",
    now: dt.datetime | None = None,
) -> BatchOutcome:
    """Append many customs events at once, each under exactly ``customs_event_record``'s rules.

    ``shipments`` is what the caller may see: a shipment outside it (or outside the company a
    line names) is ``shipment_not_found``; a declaration number held by several companies the
    caller sees, with no company named, is ``ambiguous_identifier``.
    Events for the same shipment are applied in input order (each sees the status the
    previous one left). The events are inserted in bulk (``COPY`` on PostgreSQL), every
    changed shipment is updated in one statement with one history row per accepted event
    (the state that event left, as ``customs_event_record`` would have saved it), and each
    touched licence's counters move in one UPDATE.
    """
    now = now or timezone.now()
    with transaction.atomic(savepoint=False):
        locked = lock_shipment_states(shipments, {line.declaration_number for line in lines})
        plan = plan_customs_events(lines, locked, now=now, recorded_by=recorded_by, named=named_companies(lines))
        write_customs_events(plan, now=now)
        if plan.events:
            shipments_changed.send(sender=Shipment, company_ids=frozenset(plan.outcome.company_ids))
    return plan.outcome


def lock_shipment_states(shipments: QuerySet[Shipment], numbers: Collection[str]) -> dict[str, list[dict[str, Any]]]:
    """The tracked columns of the shipments declared under ``numbers``, locked, by declaration
    number (a list: several companies may each hold a number)."""
    # Plain rows, not model instances: a batch reads thousands and needs no model behaviour.
    states: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for state in (
        shipments.filter(bulk.one_of(Shipment, "declaration_number", numbers))
        .select_related(None)
        .prefetch_related(None)
        .select_for_update()
        .order_by("pk")
        .values(*_history_fields())
    ):
        states[state["declaration_number"]].append(state)
    return states


@dataclass
class CustomsEventPlan:
    """What a customs-event batch writes: decided in Python (:func:`plan_customs_events`), written in bulk."""

    outcome: BatchOutcome = field(default_factory=BatchOutcome)
    # (company id, shipment id, status, occurred_at, note, by), in the order they are appended
    events: list[tuple[Any, ...]] = field(default_factory=list)
    history: list[tuple[Any, ...]] = field(default_factory=list)  # rows of ``_history_fields``
    changed: dict[int, dict[str, Any]] = field(default_factory=dict)  # shipment id: its new state
    deltas: dict[int, dict[str, int]] = field(default_factory=dict)  # licence id: counter moves


def plan_customs_events(
    lines: Sequence[CustomsEventLine],
    locked: dict[str, list[dict[str, Any]]],
    *,
    now: dt.datetime,
    recorded_by: str,
    named: dict[str, int] | None = None,
) -> CustomsEventPlan:
    """Apply each line to its shipment's state in ``locked`` (updated in place): accepted or refused.

    ``named`` maps the company slugs the lines name to ids (:func:`named_companies`).
    """
    named = named or {}
    history_row = operator.itemgetter(*_history_fields())
    cleared, rejected, held = CustomsStatus.CLEARED, CustomsStatus.REJECTED, CustomsStatus.HELD
    plan = CustomsEventPlan()
    accepted, refused, company_ids = plan.outcome.accepted, plan.outcome.refused, plan.outcome.company_ids
    events, history, changed, deltas = plan.events, plan.history, plan.changed, plan.deltas
    for line in lines:
        number, status = line.declaration_number, line.status
        occurred_at = line.occurred_at or now
        candidates = locked.get(number, ())
        if len(candidates) == 1 and line.company is None:
            state = candidates[0]  # the common case, without the general rule's overhead
        else:
            state = pick_in_company(candidates, company=line.company, company_ids=named, company_of=_company_id)
        if state is None:
            missing = f"Shipment {number} not found."
            refused.append(batch_refusal(line.index, "shipment_not_found", missing, None, number))
            continue
        if state is AMBIGUOUS:
            message = ambiguous_message("Declaration", number)
            refused.append(batch_refusal(line.index, AMBIGUOUS_IDENTIFIER, message, {"company": [message]}, number))
            continue
        assert isinstance(state, dict)
        refusal = customs_event_refusal(
            declaration_number=number,
            current_status=state["status"],
            changed_at=state["status_changed_at"],
            status=status,
            occurred_at=occurred_at,
        )
        if refusal is not None:
            refused.append(
                batch_refusal(line.index, refusal.code, refusal.message, refusal.fields, declaration_number=number)
            )
            continue
        if status in (cleared, rejected):
            delta = deltas.setdefault(state["licence_id"], {"reserved_quantity": 0, "used_quantity": 0})
            delta["reserved_quantity"] -= state["quantity"]
            if status == cleared:
                delta["used_quantity"] += state["quantity"]
                state["cleared_at"] = occurred_at
        state["status"] = status
        state["status_changed_at"] = occurred_at
        state["held_since"] = occurred_at if status == held else None
        changed[state["id"]] = state
        history.append(history_row(state))
        events.append((state["company_id"], state["id"], status, occurred_at, line.note, recorded_by))
        company_ids.add(state["company_id"])
        accepted.append({"index": line.index, "declaration_number": number, "status": status})
    return plan


def write_customs_events(plan: CustomsEventPlan, *, now: dt.datetime) -> None:
    """Write a planned batch: the licences' counters, the shipments' states, their history, the events."""
    if not plan.events:
        return
    if plan.deltas:
        # Lock the licences in id order before moving their counters (no deadlock with a
        # shipment batch, which locks the same rows in the same order).
        list(ImportLicence.objects.filter(pk__in=plan.deltas).select_for_update().order_by("pk").values_list("pk"))
        _add_to_counters(plan.deltas)
    _update_shipment_states(list(plan.changed.values()))
    _record_history(plan.history, history_type="~", change_reason="batch customs event")
    _insert_customs_events(plan.events, recorded_at=now)


SHIPMENT_STATE_FIELDS = ("status", "status_changed_at", "held_since", "cleared_at")


def _update_shipment_states(states: list[dict[str, Any]]) -> None:
    """Write each shipment's new customs state (rows of ``_history_fields``) in one bulk update."""
    columns = ("id", *SHIPMENT_STATE_FIELDS)
    bulk.update_rows(Shipment, columns, list(map(operator.itemgetter(*columns), states)))


def _history_fields() -> tuple[str, ...]:
    """The shipment columns simple_history records (``id`` first), in its historical model's order."""
    return bulk.tracked_fields(Shipment)


def _history_row(shipment: Shipment) -> tuple[Any, ...]:
    return tuple(getattr(shipment, name) for name in _history_fields())


def _record_history(rows: list[tuple[Any, ...]], *, history_type: str, change_reason: str) -> None:
    """One simple_history row per shipment state given (rows of ``_history_fields``), for a whole batch."""
    bulk.record_history(Shipment, rows, history_type=history_type, change_reason=change_reason)


#: The columns a customs event is written with, in its stream's order (``CUSTOMS_EVENTS.fields``).
CUSTOMS_EVENT_COPY_COLUMNS = CUSTOMS_EVENTS.fields


def _insert_customs_events(events: list[tuple[Any, ...]], recorded_at: dt.datetime | None = None) -> None:
    """Append customs events given as ``(company_id, shipment_id, status, occurred_at, note, recorded_by)``.

    Each company's events are chained after its chain's head (locked here, after every other
    row the batch locks) and the whole batch is inserted at once: PostgreSQL ``COPY`` (no ids
    are needed back), ``bulk_create`` elsewhere. The hashes are those a one-by-one append of
    the same events would give (``licences.chain``).
    """
    if not events:
        return
    recorded_at = recorded_at or timezone.now()
    chain.insert_rows(
        CUSTOMS_EVENTS,
        [
            (company_id, shipment_id, status, occurred_at, note, recorded_at, recorded_by)
            for company_id, shipment_id, status, occurred_at, note, recorded_by in events
        ],
    )
