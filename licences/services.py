"""Every write with a business rule on licences, shipments and customs.

Counters that must never run past a limit (a round's cap, a licence's grant) move only
through conditional ``UPDATE ... WHERE counter + n <= limit`` statements inside a
transaction, backed by check constraints: correct under concurrency on PostgreSQL and
on SQLite alike, with no read-modify-write window.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from licences.errors import Conflict, DomainError
from licences.models import (
    AllocationRound,
    ChipModel,
    Company,
    CustomsDirective,
    CustomsEvent,
    ImportLicence,
    Shipment,
)

LicenceStatus = ImportLicence.Status
CustomsStatus = Shipment.Status

# Licence transitions, written once: which status each decision may start from.
LICENCE_TRANSITIONS: dict[str, set[str]] = {
    "approve": {LicenceStatus.APPLIED},
    "reject": {LicenceStatus.APPLIED},
    "suspend": {LicenceStatus.APPROVED},
    "reinstate": {LicenceStatus.SUSPENDED},
    "revoke": {LicenceStatus.APPROVED, LicenceStatus.SUSPENDED},
    "expire": {LicenceStatus.APPROVED, LicenceStatus.SUSPENDED},
}

# Customs transitions: cleared and rejected are final.
CUSTOMS_TRANSITIONS: dict[str, set[str]] = {
    CustomsStatus.DECLARED: {
        CustomsStatus.INSPECTING,
        CustomsStatus.HELD,
        CustomsStatus.CLEARED,
        CustomsStatus.REJECTED,
    },
    CustomsStatus.INSPECTING: {CustomsStatus.HELD, CustomsStatus.CLEARED, CustomsStatus.REJECTED},
    CustomsStatus.HELD: {CustomsStatus.INSPECTING, CustomsStatus.CLEARED, CustomsStatus.REJECTED},
    CustomsStatus.CLEARED: set(),
    CustomsStatus.REJECTED: set(),
}


def _locked_licence(licence: ImportLicence) -> ImportLicence:
    return ImportLicence.objects.select_for_update().get(pk=licence.pk)


def _check_transition(licence: ImportLicence, action: str) -> None:
    if licence.status not in LICENCE_TRANSITIONS[action]:
        allowed = ", ".join(sorted(LICENCE_TRANSITIONS[action]))
        raise Conflict(
            f"Licence {licence.number} is {licence.status}; it can be {action}d only when {allowed}.",
            code="invalid_transition",
        )


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(
            "A reason is required for this decision.", code="reason_required", fields={"reason": ["required"]}
        )
    return reason


@transaction.atomic
def licence_apply(
    *,
    company: Company,
    chip: ChipModel,
    round: AllocationRound,
    requested_quantity: int,
    unit_value_usd: Decimal | None = None,
    number: str | None = None,
    applied_at: dt.datetime | None = None,
) -> ImportLicence:
    """Record a company's application for an import licence (status ``applied``)."""
    if chip.origin != ChipModel.Origin.FOREIGN:
        raise DomainError(
            f"{chip.code} is a domestic chip; import licences are for foreign chips.", code="chip_not_foreign"
        )
    if requested_quantity <= 0:
        raise DomainError("The requested quantity must be positive.", code="invalid_quantity")
    applied_at = applied_at or timezone.now()
    number = number or f"LIC-{timezone.localdate(applied_at):%Y}-{chip.code}-{uuid.uuid4().hex[:8].upper()}"
    try:
        # The unique constraint decides, so two racing applications cannot both win.
        with transaction.atomic():
            return ImportLicence.objects.create(
                number=number,
                company=company,
                chip=chip,
                round=round,
                requested_quantity=requested_quantity,
                unit_value_usd=chip.reference_unit_value_usd if unit_value_usd is None else unit_value_usd,
                applied_at=applied_at,
            )
    except IntegrityError as error:
        if ImportLicence.objects.filter(number=number).exists():
            raise Conflict(f"A licence numbered {number} already exists.", code="duplicate_number") from error
        raise


@transaction.atomic
def licence_approve(
    *,
    licence: ImportLicence,
    granted_quantity: int,
    valid_from: dt.date,
    valid_until: dt.date,
    at: dt.datetime | None = None,
) -> ImportLicence:
    """Approve an application, drawing its grant from the round's unit and value caps.

    Refused with ``round_cap_exceeded`` if the grant would push the round past either cap.
    """
    licence = _locked_licence(licence)
    _check_transition(licence, "approve")
    if not 0 < granted_quantity <= licence.requested_quantity:
        raise DomainError(
            f"The granted quantity must be between 1 and the requested {licence.requested_quantity}.",
            code="invalid_quantity",
            fields={"granted_quantity": ["out of range"]},
        )
    if valid_from > valid_until:
        raise DomainError("valid_from must not be after valid_until.", code="invalid_window")
    value = licence.unit_value_usd * granted_quantity
    drawn = AllocationRound.objects.filter(
        pk=licence.round_id,
        granted_units__lte=F("unit_cap") - granted_quantity,
        granted_value_usd__lte=F("value_cap_usd") - value,
    ).update(granted_units=F("granted_units") + granted_quantity, granted_value_usd=F("granted_value_usd") + value)
    if not drawn:
        wave = AllocationRound.objects.get(pk=licence.round_id)
        raise Conflict(
            f"Granting {granted_quantity:,} units (USD {value:,}) would exceed {wave.name}'s cap: "
            f"{wave.granted_units:,} of {wave.unit_cap:,} units and USD {wave.granted_value_usd:,} "
            f"of {wave.value_cap_usd:,} already granted.",
            code="round_cap_exceeded",
        )
    licence.status = LicenceStatus.APPROVED
    licence.granted_quantity = granted_quantity
    licence.valid_from = valid_from
    licence.valid_until = valid_until
    licence.approved_at = at or timezone.now()
    licence.status_reason = ""
    licence.save()
    return licence


@transaction.atomic
def licence_reject(*, licence: ImportLicence, reason: str, at: dt.datetime | None = None) -> ImportLicence:
    """Reject an application."""
    licence = _locked_licence(licence)
    _check_transition(licence, "reject")
    licence.status = LicenceStatus.REJECTED
    licence.status_reason = _require_reason(reason)
    licence.rejected_at = at or timezone.now()
    licence.save()
    return licence


@transaction.atomic
def licence_suspend(*, licence: ImportLicence, reason: str, at: dt.datetime | None = None) -> ImportLicence:
    """Suspend an approved licence: no new shipments may be declared against it."""
    licence = _locked_licence(licence)
    _check_transition(licence, "suspend")
    licence.status = LicenceStatus.SUSPENDED
    licence.status_reason = _require_reason(reason)
    licence.suspended_at = at or timezone.now()
    licence.save()
    return licence


@transaction.atomic
def licence_reinstate(*, licence: ImportLicence, reason: str, at: dt.datetime | None = None) -> ImportLicence:
    """Lift a suspension."""
    licence = _locked_licence(licence)
    _check_transition(licence, "reinstate")
    licence.status = LicenceStatus.APPROVED
    licence.status_reason = _require_reason(reason)
    licence.suspended_at = None
    licence.save()
    return licence


@transaction.atomic
def licence_revoke(*, licence: ImportLicence, reason: str, at: dt.datetime | None = None) -> ImportLicence:
    """Revoke a licence for good. Its grant stays counted against the round (it was allocated)."""
    licence = _locked_licence(licence)
    _check_transition(licence, "revoke")
    licence.status = LicenceStatus.REVOKED
    licence.status_reason = _require_reason(reason)
    licence.revoked_at = at or timezone.now()
    licence.save()
    return licence


@transaction.atomic
def licence_expire(*, licence: ImportLicence, at: dt.datetime | None = None) -> ImportLicence:
    """Mark a licence whose validity window has passed as expired."""
    licence = _locked_licence(licence)
    _check_transition(licence, "expire")
    licence.status = LicenceStatus.EXPIRED
    licence.expired_at = at or timezone.now()
    licence.save()
    return licence


def directive_in_force(*, chip: ChipModel | int, on: dt.date) -> CustomsDirective | None:
    """The entry-block directive covering ``chip`` on ``on``, if any."""
    return (
        CustomsDirective.objects.filter(chip=chip, blocked_from__lte=on)
        .filter(Q(blocked_until__isnull=True) | Q(blocked_until__gte=on))
        .order_by("blocked_from")
        .first()
    )


@transaction.atomic
def shipment_declare(
    *,
    company: Company,
    licence: ImportLicence,
    quantity: int,
    declared_value_usd: Decimal,
    port_of_entry: str,
    declaration_number: str,
    chip: ChipModel | None = None,
    declared_at: dt.datetime | None = None,
    recorded_by: str = "",
) -> Shipment:
    """Declare a shipment against a licence, reserving its quantity.

    Refused unless the licence is the company's, for the same chip, approved, valid on the
    declaration date and has enough remaining quantity. A chip under an entry directive on
    that date is recorded as held.
    """
    declared_at = declared_at or timezone.now()
    on = timezone.localdate(declared_at)
    licence = _locked_licence(licence)
    if licence.company_id != company.pk:
        raise DomainError(
            f"Licence {licence.number} does not belong to {company.slug}.", code="licence_not_found", status_code=404
        )
    if chip is not None and chip.pk != licence.chip_id:
        raise DomainError(f"Licence {licence.number} is for another chip model.", code="chip_mismatch")
    if quantity <= 0:
        raise DomainError(
            "The quantity must be positive.", code="invalid_quantity", fields={"quantity": ["must be positive"]}
        )
    if declared_value_usd < 0:
        raise DomainError("The declared value must not be negative.", code="invalid_value")
    if licence.status != LicenceStatus.APPROVED:
        raise Conflict(f"Licence {licence.number} is {licence.status}, not approved.", code="licence_not_valid")
    if not (licence.valid_from <= on <= licence.valid_until):
        raise Conflict(
            f"Licence {licence.number} is valid {licence.valid_from} to {licence.valid_until}, not on {on}.",
            code="licence_not_valid",
        )
    reserved = ImportLicence.objects.filter(
        pk=licence.pk, granted_quantity__gte=F("reserved_quantity") + F("used_quantity") + quantity
    ).update(reserved_quantity=F("reserved_quantity") + quantity)
    if not reserved:
        raise Conflict(
            f"Licence {licence.number} has {licence.remaining_quantity:,} units remaining; {quantity:,} declared.",
            code="licence_exhausted",
        )
    directive = directive_in_force(chip=licence.chip_id, on=on)
    try:
        # The unique declaration number decides between racing declarations.
        with transaction.atomic():
            shipment = Shipment.objects.create(
                declaration_number=declaration_number,
                company=company,
                licence=licence,
                chip_id=licence.chip_id,
                quantity=quantity,
                declared_value_usd=declared_value_usd,
                port_of_entry=port_of_entry,
                status=CustomsStatus.HELD if directive else CustomsStatus.DECLARED,
                declared_at=declared_at,
                status_changed_at=declared_at,
                held_since=declared_at if directive else None,
                entry_block_directive=directive,
            )
    except IntegrityError as error:
        if Shipment.objects.filter(declaration_number=declaration_number).exists():
            raise Conflict(f"Declaration {declaration_number} already exists.", code="duplicate_declaration") from error
        raise
    events = [
        CustomsEvent(shipment=shipment, status=CustomsStatus.DECLARED, occurred_at=declared_at, recorded_by=recorded_by)
    ]
    if directive:
        events.append(
            CustomsEvent(
                shipment=shipment,
                status=CustomsStatus.HELD,
                occurred_at=declared_at,
                note=f"Entry blocked by directive {directive.reference}",
                recorded_by=recorded_by,
            )
        )
    CustomsEvent.objects.bulk_create(events)
    return shipment


@transaction.atomic
def customs_event_record(
    *,
    shipment: Shipment,
    status: str,
    occurred_at: dt.datetime | None = None,
    note: str = "",
    recorded_by: str = "",
) -> CustomsEvent:
    """Append a customs event and move the shipment (and its licence's counters) with it.

    Clearing turns reserved quantity into used quantity; rejection releases it.
    """
    occurred_at = occurred_at or timezone.now()
    shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
    if status not in CUSTOMS_TRANSITIONS:
        raise DomainError(f"Unknown customs status {status!r}.", code="invalid_status", fields={"status": ["unknown"]})
    if status not in CUSTOMS_TRANSITIONS[shipment.status]:
        raise Conflict(
            f"Shipment {shipment.declaration_number} is {shipment.status}; it cannot become {status}.",
            code="invalid_transition",
        )
    if occurred_at < shipment.status_changed_at:
        raise DomainError(
            f"The event is dated {occurred_at.isoformat()}, before the previous one "
            f"({shipment.status_changed_at.isoformat()}).",
            code="event_out_of_order",
        )
    if status in (CustomsStatus.CLEARED, CustomsStatus.REJECTED):
        counters = {"reserved_quantity": F("reserved_quantity") - shipment.quantity}
        if status == CustomsStatus.CLEARED:
            counters["used_quantity"] = F("used_quantity") + shipment.quantity
        ImportLicence.objects.filter(pk=shipment.licence_id).update(**counters)
    shipment.status = status
    shipment.status_changed_at = occurred_at
    shipment.held_since = occurred_at if status == CustomsStatus.HELD else None
    if status == CustomsStatus.CLEARED:
        shipment.cleared_at = occurred_at
    shipment.save()
    return CustomsEvent.objects.create(
        shipment=shipment, status=status, occurred_at=occurred_at, note=note, recorded_by=recorded_by
    )
