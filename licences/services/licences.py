"""Licence lifecycle: apply, approve, and the regulator's decisions (reject, suspend, reinstate,
revoke, expire), each a transition checked against ``LICENCE_TRANSITIONS``.

Every one writes exactly one row of the licence's decision ledger (a revocation or expiry
with unused grant a second, its ``release``)
(:class:`~licences.models.LicenceDecision`) in its transaction, after the licence row, with
the licence's status and grant as they now stand. A decision takes effect on
``effective_on`` (valid time; default: the day it is recorded, in the service time zone) and
is recorded at ``at`` (transaction time; default: now. Only code replaying history, the demo
world and tests, passes ``at``: the API and the admin never do). ``effective_on`` is refused
after the recording day (``future_effective_date``), before the application
(``effective_before_application``) and before the licence's latest ledger row
(``effective_before_last_decision``: the ledger of one licence runs forward); more than
``LICENCE_LATE_ENTRY_DAYS`` before the recording day it is a late entry, refused without a
reason (``late_entry_reason_required``) and marked ``late_entry``.

A revocation or an expiry releases the licence's unused remainder (granted less used less
reserved: shipments in flight keep their reservation, nothing is cancelled) back to its round,
as a second ledger row of kind ``release`` recording the quantity (:func:`release_remainder`).

Each ledger row is appended to its company's hash chain (``licences.chain``, stream
``licence_decisions``) in the same transaction; the chain's head is locked last, after the
licence and the round, so appending adds no deadlock.

Counters that must never run past a limit (a round's cap, a licence's grant) move only
through conditional ``UPDATE ... WHERE counter + n <= limit`` statements inside a
transaction, backed by check constraints: correct under concurrency on PostgreSQL and
on SQLite alike, with no read-modify-write window.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from common.errors import Conflict, DomainError
from licences.models import (
    AllocationRound,
    ChipModel,
    Company,
    ImportLicence,
    LicenceDecision,
)
from licences.services.decision_rows import effective_day, local_day, record_decision
from licences.services.rounds import round_release

LicenceStatus = ImportLicence.Status
DecisionKind = LicenceDecision.Kind

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
            gettext("Licence %(number)s is %(status)s; it can be %(action)sd only when %(allowed)s.")
            % {"number": licence.number, "status": licence.status, "action": action, "allowed": allowed},
            code="invalid_transition",
        )


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(
            gettext("A reason is required for this decision."), code="reason_required", fields={"reason": ["required"]}
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
    recorded_at: dt.datetime | None = None,
    recorded_by: AbstractBaseUser | None = None,
    actor: str = "",
) -> ImportLicence:
    """Record a company's application for an import licence (status ``applied``).

    ``applied_at`` (default now) is when it was applied for: its ledger row takes effect on
    that day and is recorded at ``recorded_at`` (default ``applied_at``; the back-entry of a
    paper-era licence records it now).
    """
    if chip.origin != ChipModel.Origin.FOREIGN:
        raise DomainError(
            gettext("%(code)s is a domestic chip; import licences are for foreign chips.") % {"code": chip.code},
            code="chip_not_foreign",
        )
    if requested_quantity <= 0:
        raise DomainError(gettext("The requested quantity must be positive."), code="invalid_quantity")
    applied_at = applied_at or timezone.now()
    number = number or f"LIC-{timezone.localdate(applied_at):%Y}-{chip.code}-{uuid.uuid4().hex[:8].upper()}"
    try:
        # The unique constraint decides, so two racing applications cannot both win.
        with transaction.atomic():
            licence = ImportLicence.objects.create(
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
            raise Conflict(
                gettext("A licence numbered %(number)s already exists.") % {"number": number}, code="duplicate_number"
            ) from error
        raise
    record_decision(
        licence,
        kind=DecisionKind.APPLY,
        effective_on=local_day(applied_at),
        recorded_at=recorded_at or applied_at,
        recorded_by=recorded_by,
        actor=actor,
    )
    return licence


@transaction.atomic
def licence_approve(
    *,
    licence: ImportLicence,
    granted_quantity: int,
    valid_from: dt.date,
    valid_until: dt.date,
    effective_on: dt.date | None = None,
    reason: str = "",
    recorded_by: AbstractBaseUser | None = None,
    actor: str = "",
    at: dt.datetime | None = None,
) -> ImportLicence:
    """Approve an application, drawing its grant from the round's unit and value caps.

    Refused with ``round_cap_exceeded`` if the grant would push the round past either cap.
    ``reason`` is needed only for a late entry (see the module docstring).
    """
    recorded_at = at or timezone.now()
    licence = _locked_licence(licence)
    _check_transition(licence, "approve")
    if not 0 < granted_quantity <= licence.requested_quantity:
        raise DomainError(
            gettext("The granted quantity must be between 1 and the requested %(requested_quantity)s.")
            % {"requested_quantity": licence.requested_quantity},
            code="invalid_quantity",
            fields={"granted_quantity": ["out of range"]},
        )
    if valid_from > valid_until:
        raise DomainError(gettext("valid_from must not be after valid_until."), code="invalid_window")
    day, late = effective_day(licence, effective_on=effective_on, reason=reason, recorded_at=recorded_at)
    value = licence.unit_value_usd * granted_quantity
    drawn = AllocationRound.objects.filter(
        pk=licence.round_id,
        granted_units__lte=F("unit_cap") - granted_quantity,
        granted_value_usd__lte=F("value_cap_usd") - value,
    ).update(granted_units=F("granted_units") + granted_quantity, granted_value_usd=F("granted_value_usd") + value)
    if not drawn:
        wave = AllocationRound.objects.get(pk=licence.round_id)
        raise Conflict(
            gettext(
                "Granting %(granted_quantity)s units (USD %(value)s) would exceed %(name)s's "
                "cap: %(granted_units)s of %(unit_cap)s units and USD %(granted_value_usd)s of "
                "%(value_cap_usd)s already granted."
            )
            % {
                "granted_quantity": f"{granted_quantity:,}",
                "value": f"{value:,}",
                "name": wave.name,
                "granted_units": f"{wave.granted_units:,}",
                "unit_cap": f"{wave.unit_cap:,}",
                "granted_value_usd": f"{wave.granted_value_usd:,}",
                "value_cap_usd": f"{wave.value_cap_usd:,}",
            },
            code="round_cap_exceeded",
        )
    licence.status = LicenceStatus.APPROVED
    licence.granted_quantity = granted_quantity
    licence.valid_from = valid_from
    licence.valid_until = valid_until
    licence.approved_at = recorded_at
    licence.status_reason = ""
    licence.save()
    record_decision(
        licence,
        kind=DecisionKind.APPROVE,
        effective_on=day,
        recorded_at=recorded_at,
        late_entry=late,
        reason=reason,
        recorded_by=recorded_by,
        actor=actor,
    )
    return licence


def _decide(
    licence: ImportLicence,
    *,
    action: str,
    kind: str,
    status: str,
    reason: str,
    effective_on: dt.date | None,
    recorded_by: AbstractBaseUser | None,
    actor: str,
    at: dt.datetime | None,
    stamp: str | None = None,
    clear: str | None = None,
    reason_required: bool = True,
    release: bool = False,
) -> ImportLicence:
    """Move a locked licence to ``status`` if the transition table allows ``action``, recording
    the reason (as the licence's ``status_reason`` when the decision needs one), the decision's
    timestamp and its ledger row."""
    recorded_at = at or timezone.now()
    licence = _locked_licence(licence)
    _check_transition(licence, action)
    reason = _require_reason(reason) if reason_required else (reason or "").strip()
    day, late = effective_day(licence, effective_on=effective_on, reason=reason, recorded_at=recorded_at)
    # The round moves before any ledger row is appended: a chain's head is locked last.
    released = _release_to_round(licence) if release else 0
    licence.status = status
    if reason_required:
        licence.status_reason = reason
    if stamp:
        setattr(licence, stamp, recorded_at)
    if clear:
        setattr(licence, clear, None)
    licence.save()
    record_decision(
        licence,
        kind=kind,
        effective_on=day,
        recorded_at=recorded_at,
        late_entry=late,
        reason=reason,
        recorded_by=recorded_by,
        actor=actor,
    )
    if released:
        _record_release(
            licence, released, effective_on=day, recorded_at=recorded_at, late_entry=late, recorded_by=recorded_by,
            actor=actor,
        )  # fmt: skip
    return licence


def release_remainder(
    licence: ImportLicence,
    *,
    effective_on: dt.date,
    recorded_at: dt.datetime,
    late_entry: bool = False,
    recorded_by: AbstractBaseUser | None = None,
    actor: str = "",
) -> LicenceDecision | None:
    """Return a revoked or expired licence's unused remainder to its round (call inside its
    transaction, the licence locked): the round's totals go down and a ``release`` ledger row
    records the quantity. ``None`` when nothing is left (used and reserved take the whole grant).

    The remainder is granted less used less reserved: a shipment in flight keeps its
    reservation (it may still clear) and nothing is cancelled.
    """
    remainder = _release_to_round(licence)
    if not remainder:
        return None
    return _record_release(
        licence, remainder, effective_on=effective_on, recorded_at=recorded_at, late_entry=late_entry,
        recorded_by=recorded_by, actor=actor,
    )  # fmt: skip


def _release_to_round(licence: ImportLicence) -> int:
    """Return the licence's unused remainder (granted less used less reserved) to its round; the units returned."""
    remainder = licence.granted_quantity - licence.used_quantity - licence.reserved_quantity
    if remainder <= 0:
        return 0
    round_release({licence.round_id: (remainder, licence.unit_value_usd * remainder)})
    return remainder


def _record_release(
    licence: ImportLicence,
    remainder: int,
    *,
    effective_on: dt.date,
    recorded_at: dt.datetime,
    late_entry: bool,
    recorded_by: AbstractBaseUser | None,
    actor: str,
) -> LicenceDecision:
    """The ``release`` ledger row of ``remainder`` units returned to the licence's round."""
    return record_decision(
        licence,
        kind=DecisionKind.RELEASE,
        effective_on=effective_on,
        recorded_at=recorded_at,
        late_entry=late_entry,
        reason=f"Unused remainder of {remainder:,} units returned to the round.",
        recorded_by=recorded_by,
        actor=actor,
        released_quantity=remainder,
    )


@transaction.atomic
def licence_reject(
    *,
    licence: ImportLicence,
    reason: str,
    effective_on: dt.date | None = None,
    recorded_by: AbstractBaseUser | None = None,
    actor: str = "",
    at: dt.datetime | None = None,
) -> ImportLicence:
    """Reject an application."""
    return _decide(
        licence, action="reject", kind=DecisionKind.REJECT, status=LicenceStatus.REJECTED, reason=reason,
        effective_on=effective_on, recorded_by=recorded_by, actor=actor, at=at, stamp="rejected_at",
    )  # fmt: skip


@transaction.atomic
def licence_suspend(
    *,
    licence: ImportLicence,
    reason: str,
    effective_on: dt.date | None = None,
    recorded_by: AbstractBaseUser | None = None,
    actor: str = "",
    at: dt.datetime | None = None,
) -> ImportLicence:
    """Suspend an approved licence: no new shipments may be declared against it, and it does not
    count in quota positions from ``effective_on`` until reinstated (the ledger keeps the window)."""
    return _decide(
        licence, action="suspend", kind=DecisionKind.SUSPEND, status=LicenceStatus.SUSPENDED, reason=reason,
        effective_on=effective_on, recorded_by=recorded_by, actor=actor, at=at, stamp="suspended_at",
    )  # fmt: skip


@transaction.atomic
def licence_reinstate(
    *,
    licence: ImportLicence,
    reason: str,
    effective_on: dt.date | None = None,
    recorded_by: AbstractBaseUser | None = None,
    actor: str = "",
    at: dt.datetime | None = None,
) -> ImportLicence:
    """Lift a suspension. ``suspended_at`` is cleared; the suspension stays in the ledger, so
    positions on the days it lasted still leave the licence out."""
    return _decide(
        licence, action="reinstate", kind=DecisionKind.REINSTATE, status=LicenceStatus.APPROVED, reason=reason,
        effective_on=effective_on, recorded_by=recorded_by, actor=actor, at=at, clear="suspended_at",
    )  # fmt: skip


@transaction.atomic
def licence_revoke(
    *,
    licence: ImportLicence,
    reason: str,
    effective_on: dt.date | None = None,
    recorded_by: AbstractBaseUser | None = None,
    actor: str = "",
    at: dt.datetime | None = None,
) -> ImportLicence:
    """Revoke a licence for good. Its unused remainder returns to the round (:func:`release_remainder`)."""
    return _decide(
        licence, action="revoke", kind=DecisionKind.REVOKE, status=LicenceStatus.REVOKED, reason=reason,
        effective_on=effective_on, recorded_by=recorded_by, actor=actor, at=at, stamp="revoked_at", release=True,
    )  # fmt: skip


@transaction.atomic
def licence_expire(
    *,
    licence: ImportLicence,
    effective_on: dt.date | None = None,
    reason: str = "",
    recorded_by: AbstractBaseUser | None = None,
    actor: str = "",
    at: dt.datetime | None = None,
) -> ImportLicence:
    """Mark a licence whose validity window has passed as expired. A licence stops counting in
    quota positions after its ``valid_until`` whether or not this has run. Its unused remainder
    returns to the round. The daily job expires every licence due at once
    (:func:`licences.services.expiry.licences_expire_due`)."""
    return _decide(
        licence, action="expire", kind=DecisionKind.EXPIRE, status=LicenceStatus.EXPIRED, reason=reason,
        effective_on=effective_on, recorded_by=recorded_by, actor=actor, at=at, stamp="expired_at",
        reason_required=False, release=True,
    )  # fmt: skip
