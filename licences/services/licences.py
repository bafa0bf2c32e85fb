"""Licence lifecycle: apply, approve, and the regulator's decisions (reject, suspend, reinstate,
revoke, expire), each a transition checked against ``LICENCE_TRANSITIONS``.

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
from django.db.models import F
from django.utils import timezone

from common.errors import Conflict, DomainError
from licences.models import (
    AllocationRound,
    ChipModel,
    Company,
    ImportLicence,
)

LicenceStatus = ImportLicence.Status

# Licence transitions, written once: which status each decision may start from.
LICENCE_TRANSITIONS: dict[str, set[str]] = {
    "approve": {LicenceStatus.APPLIED},
    "reject": {LicenceStatus.APPLIED},
    "suspend": {LicenceStatus.APPROVED},
    "reinstate": {LicenceStatus.SUSPENDED},
    "revoke": {LicenceStatus.APPROVED, LicenceStatus.SUSPENDED},
    "expire": {LicenceStatus.APPROVED, LicenceStatus.SUSPENDED},
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
        # Numbers are unique per company: only the applicant's own licences can clash, so the
        # refusal never reveals another company's number.
        if ImportLicence.objects.filter(company=company, number=number).exists():
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


def _decide(
    licence: ImportLicence,
    *,
    action: str,
    status: str,
    reason: str | None,
    stamp: str | None = None,
    clear: str | None = None,
    at: dt.datetime | None = None,
) -> ImportLicence:
    """Move a locked licence to ``status`` if the transition table allows ``action``,
    recording the reason (when the decision needs one) and the decision's timestamp."""
    licence = _locked_licence(licence)
    _check_transition(licence, action)
    licence.status = status
    if reason is not None:
        licence.status_reason = _require_reason(reason)
    if stamp:
        setattr(licence, stamp, at or timezone.now())
    if clear:
        setattr(licence, clear, None)
    licence.save()
    return licence


@transaction.atomic
def licence_reject(*, licence: ImportLicence, reason: str, at: dt.datetime | None = None) -> ImportLicence:
    """Reject an application."""
    return _decide(licence, action="reject", status=LicenceStatus.REJECTED, reason=reason, stamp="rejected_at", at=at)


@transaction.atomic
def licence_suspend(*, licence: ImportLicence, reason: str, at: dt.datetime | None = None) -> ImportLicence:
    """Suspend an approved licence: no new shipments may be declared against it."""
    return _decide(
        licence, action="suspend", status=LicenceStatus.SUSPENDED, reason=reason, stamp="suspended_at", at=at
    )


@transaction.atomic
def licence_reinstate(*, licence: ImportLicence, reason: str, at: dt.datetime | None = None) -> ImportLicence:
    """Lift a suspension."""
    return _decide(licence, action="reinstate", status=LicenceStatus.APPROVED, reason=reason, clear="suspended_at")


@transaction.atomic
def licence_revoke(*, licence: ImportLicence, reason: str, at: dt.datetime | None = None) -> ImportLicence:
    """Revoke a licence for good. Its grant stays counted against the round (it was allocated)."""
    return _decide(licence, action="revoke", status=LicenceStatus.REVOKED, reason=reason, stamp="revoked_at", at=at)


@transaction.atomic
def licence_expire(*, licence: ImportLicence, at: dt.datetime | None = None) -> ImportLicence:
    """Mark a licence whose validity window has passed as expired."""
    return _decide(licence, action="expire", status=LicenceStatus.EXPIRED, reason=None, stamp="expired_at", at=at)
