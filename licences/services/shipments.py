"""Single shipments, customs events and entry-block directives (customs acts)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext

from common.errors import Conflict, DomainError
from licences.models import (
    ChipModel,
    Company,
    CustomsDirective,
    CustomsEvent,
    ImportLicence,
    Shipment,
)
from licences.services.licences import (
    LicenceStatus,
    _locked_licence,
)

CustomsStatus = Shipment.Status

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
            gettext("Licence %(number)s does not belong to %(slug)s.")
            % {"number": licence.number, "slug": company.slug},
            code="licence_not_found",
            status_code=404,
        )
    if quantity <= 0:
        raise DomainError(
            gettext("The quantity must be positive."),
            code="invalid_quantity",
            fields={"quantity": ["must be positive"]},
        )
    if declared_value_usd < 0:
        raise DomainError(gettext("The declared value must not be negative."), code="invalid_value")
    refusal = shipment_refusal(
        licence=licence,
        chip_id=None if chip is None else chip.pk,
        quantity=quantity,
        remaining=licence.remaining_quantity,
        on=on,
    )
    if refusal is not None:
        raise refusal
    # Locked above, so this cannot fail on a race; the constraint backs it regardless.
    reserved = ImportLicence.objects.filter(
        pk=licence.pk, granted_quantity__gte=F("reserved_quantity") + F("used_quantity") + quantity
    ).update(reserved_quantity=F("reserved_quantity") + quantity)
    if not reserved:
        raise Conflict(
            gettext("Licence %(number)s has %(remaining_quantity)s units remaining; %(quantity)s declared.")
            % {
                "number": licence.number,
                "remaining_quantity": f"{licence.remaining_quantity:,}",
                "quantity": f"{quantity:,}",
            },
            code="licence_exhausted",
        )
    directive = directive_in_force(chip=licence.chip_id, on=on)
    try:
        # The declaration number, unique per company, decides between racing declarations.
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
        if Shipment.objects.filter(company=company, declaration_number=declaration_number).exists():
            raise Conflict(
                gettext("Declaration %(declaration_number)s already exists.")
                % {"declaration_number": declaration_number},
                code="duplicate_declaration",
            ) from error
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


def shipment_refusal(
    *, licence: ImportLicence, chip_id: int | None, quantity: int, remaining: int, on: dt.date
) -> DomainError | None:
    """Why ``quantity`` units may not be declared against ``licence`` on ``on``; ``None`` if they may.

    The declaration rules, written once for ``shipment_declare`` and the batch: the same chip,
    an approved licence, inside its validity window, with ``remaining`` units left.
    """
    if chip_id is not None and chip_id != licence.chip_id:
        return DomainError(
            gettext("Licence %(number)s is for another chip model.") % {"number": licence.number}, code="chip_mismatch"
        )
    if licence.status != LicenceStatus.APPROVED:
        return Conflict(
            gettext("Licence %(number)s is %(status)s, not approved.")
            % {"number": licence.number, "status": licence.status},
            code="licence_not_valid",
        )
    valid_from, valid_until = licence.valid_from, licence.valid_until
    if valid_from is None or valid_until is None or not (valid_from <= on <= valid_until):
        return Conflict(
            gettext("Licence %(number)s is valid %(valid_from)s to %(valid_until)s, not on %(on)s.")
            % {
                "number": licence.number,
                "valid_from": licence.valid_from,
                "valid_until": licence.valid_until,
                "on": on,
            },
            code="licence_not_valid",
        )
    if remaining < quantity:
        return Conflict(
            gettext("Licence %(number)s has %(remaining)s units remaining; %(quantity)s declared.")
            % {"number": licence.number, "remaining": f"{remaining:,}", "quantity": f"{quantity:,}"},
            code="licence_exhausted",
        )
    return None


def customs_event_refusal(
    *, declaration_number: str, current_status: str, changed_at: dt.datetime, status: str, occurred_at: dt.datetime
) -> DomainError | None:
    """Why a shipment in ``current_status`` (since ``changed_at``) may not take this event; ``None`` if it may.

    The customs-event rules, written once for ``customs_event_record`` and the batch.
    """
    if status not in CUSTOMS_TRANSITIONS:
        return DomainError(
            gettext("Unknown customs status %(status)s.") % {"status": f"{status!r}"},
            code="invalid_status",
            fields={"status": ["unknown"]},
        )
    if status not in CUSTOMS_TRANSITIONS[current_status]:
        return Conflict(
            gettext("Shipment %(declaration_number)s is %(current_status)s; it cannot become %(status)s.")
            % {"declaration_number": declaration_number, "current_status": current_status, "status": status},
            code="invalid_transition",
        )
    if occurred_at < changed_at:
        return DomainError(
            gettext("The event is dated %(isoformat)s, before the previous one (%(isoformat2)s).")
            % {"isoformat": occurred_at.isoformat(), "isoformat2": changed_at.isoformat()},
            code="event_out_of_order",
        )
    return None


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
    refusal = customs_event_refusal(
        declaration_number=shipment.declaration_number,
        current_status=shipment.status,
        changed_at=shipment.status_changed_at,
        status=status,
        occurred_at=occurred_at,
    )
    if refusal is not None:
        raise refusal
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
    # The event is the shipment's customs history (append-only, hash-chained): no shipment
    # history row records the same change again.
    shipment.skip_history_when_saving = True  # type: ignore[attr-defined]
    try:
        shipment.save()
    finally:  # the instance goes out with the event: a later save of it is recorded as usual
        del shipment.skip_history_when_saving  # type: ignore[attr-defined]
    return CustomsEvent.objects.create(
        shipment=shipment, status=status, occurred_at=occurred_at, note=note, recorded_by=recorded_by
    )


# --- Entry-block directives: customs acts ------------------------------------------------------
#
# A directive is issued and lifted by the customs authority (``docs/principals.md``); each
# records who did it. Lifting ends the block on the day it is lifted (``blocked_until`` = that
# day: a declaration dated that day is still held, one dated the next day is not). Shipments
# already held under it stay held until customs releases them with a customs event.


@transaction.atomic
def directive_issue(
    *,
    reference: str,
    chip: ChipModel,
    blocked_from: dt.date,
    blocked_until: dt.date | None = None,
    reason: str = "",
    issued_by: str = "",
) -> CustomsDirective:
    """Block ``chip`` from entry between two dates (``blocked_until`` open-ended)."""
    if blocked_until is not None and blocked_until < blocked_from:
        raise DomainError(
            gettext("blocked_until must not be before blocked_from."),
            code="invalid_window",
            fields={"blocked_until": ["Must not be before blocked_from."]},
        )
    if CustomsDirective.objects.filter(reference=reference).exists():
        raise Conflict(
            gettext("A directive %(reference)s already exists.") % {"reference": reference}, code="duplicate_reference"
        )
    try:
        with transaction.atomic():
            return CustomsDirective.objects.create(
                reference=reference,
                chip=chip,
                blocked_from=blocked_from,
                blocked_until=blocked_until,
                reason=reason,
                issued_by=issued_by,
            )
    except IntegrityError as error:  # a concurrent issue of the same reference
        raise Conflict(
            gettext("A directive %(reference)s already exists.") % {"reference": reference}, code="duplicate_reference"
        ) from error


@transaction.atomic
def directive_lift(
    *, directive: CustomsDirective, reason: str, lifted_by: str, at: dt.datetime | None = None
) -> CustomsDirective:
    """Lift an entry block in force: it ends on the day of the lift; who and why are recorded."""
    at = at or timezone.now()
    today = timezone.localdate(at)
    directive = CustomsDirective.objects.select_for_update().get(pk=directive.pk)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(gettext("A reason is required."), code="reason_required", fields={"reason": ["Required."]})
    if directive.lifted_at is not None:
        raise Conflict(
            gettext("Directive %(reference)s was lifted at %(isoformat)s by %(lifted_by)s.")
            % {
                "reference": directive.reference,
                "isoformat": directive.lifted_at.isoformat(),
                "lifted_by": directive.lifted_by,
            },
            code="directive_already_lifted",
        )
    if directive.blocked_from > today or (directive.blocked_until is not None and directive.blocked_until < today):
        raise Conflict(
            gettext("Directive %(reference)s is not in force today (%(isoformat)s): there is no block to lift.")
            % {"reference": directive.reference, "isoformat": today.isoformat()},
            code="directive_not_in_force",
        )
    directive.blocked_until = today
    directive.lifted_at = at
    directive.lifted_by = lifted_by[:150]
    directive.lift_reason = reason
    directive.save(update_fields=["blocked_until", "lifted_at", "lifted_by", "lift_reason"])
    return directive
