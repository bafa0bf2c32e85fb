"""Shipment batches: ``shipments_ingest`` declares many shipments at once, each under exactly
``shipment_declare``'s rules (the shared parts are :mod:`licences.services.ingestion`)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from common import bulk
from common.errors import Conflict
from licences.identifiers import AMBIGUOUS, AMBIGUOUS_IDENTIFIER, ambiguous_message, pick_in_company
from licences.models import ChipModel, CustomsDirective, ImportLicence, Shipment
from licences.services.ingestion import (
    BatchOutcome,
    ShipmentLine,
    _add_to_counters,
    _company_id,
    _history_row,
    _insert_customs_events,
    _record_history,
    batch_refusal,
    named_companies,
)
from licences.services.shipments import CustomsStatus, shipment_refusal
from licences.signals import shipments_changed


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
            raise Conflict(
                gettext("The batch kept colliding with concurrent declarations; retry it."), code="batch_conflict"
            )
        if outcome.company_ids:
            shipments_changed.send(sender=Shipment, company_ids=frozenset(outcome.company_ids))
    return outcome


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
    _record_history(history, history_type="+", change_reason=gettext_noop("batch declaration"))
    events: list[tuple[Any, ...]] = []
    for shipment in shipments:
        company_id, at = shipment.company_id, shipment.declared_at
        events.append((company_id, shipment.pk, CustomsStatus.DECLARED, at, "", recorded_by))
        if shipment.entry_block_directive is not None:
            note = f"Entry blocked by directive {shipment.entry_block_directive.reference}"
            events.append((company_id, shipment.pk, CustomsStatus.HELD, at, note, recorded_by))
    _insert_customs_events(events)
