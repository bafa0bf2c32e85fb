"""Customs-event batches: ``customs_events_ingest`` appends many customs events at once, each
under exactly ``customs_event_record``'s rules (the shared parts are
:mod:`licences.services.ingestion`)."""

from __future__ import annotations

import datetime as dt
import operator
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from common import bulk
from licences.identifiers import AMBIGUOUS, AMBIGUOUS_IDENTIFIER, _Ambiguous, ambiguous_message, pick_in_company
from licences.models import ImportLicence, Shipment
from licences.services.ingestion import (
    BatchOutcome,
    CustomsEventLine,
    _add_to_counters,
    _company_id,
    _history_fields,
    _insert_customs_events,
    batch_refusal,
    named_companies,
)
from licences.services.shipments import CustomsStatus, customs_event_refusal
from licences.signals import shipments_changed


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
    changed shipment is updated in one statement, and each touched licence's counters move
    in one UPDATE. The events are the shipments' customs history: as ``customs_event_record``,
    no shipment history row is written for them.
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
    cleared, rejected, held = CustomsStatus.CLEARED, CustomsStatus.REJECTED, CustomsStatus.HELD
    plan = CustomsEventPlan()
    accepted, refused, company_ids = plan.outcome.accepted, plan.outcome.refused, plan.outcome.company_ids
    events, changed, deltas = plan.events, plan.changed, plan.deltas
    for line in lines:
        number, status = line.declaration_number, line.status
        occurred_at = line.occurred_at or now
        candidates = locked.get(number, ())
        state: dict[str, Any] | _Ambiguous | None
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
        events.append((state["company_id"], state["id"], status, occurred_at, line.note, recorded_by))
        company_ids.add(state["company_id"])
        accepted.append({"index": line.index, "declaration_number": number, "status": status})
    return plan


def write_customs_events(plan: CustomsEventPlan, *, now: dt.datetime) -> None:
    """Write a planned batch: the licences' counters, the shipments' states, the events."""
    if not plan.events:
        return
    if plan.deltas:
        # Lock the licences in id order before moving their counters (no deadlock with a
        # shipment batch, which locks the same rows in the same order).
        list(ImportLicence.objects.filter(pk__in=plan.deltas).select_for_update().order_by("pk").values_list("pk"))
        _add_to_counters(plan.deltas)
    _update_shipment_states(list(plan.changed.values()))
    _insert_customs_events(plan.events, recorded_at=now)


SHIPMENT_STATE_FIELDS = ("status", "status_changed_at", "held_since", "cleared_at")


def _update_shipment_states(states: list[dict[str, Any]]) -> None:
    """Write each shipment's new customs state (rows of ``_history_fields``) in one bulk update."""
    columns = ("id", *SHIPMENT_STATE_FIELDS)
    bulk.update_rows(Shipment, columns, list(map(operator.itemgetter(*columns), states)))
