"""Domestic purchase commitments: recorded (pledged or contracted), contracted, delivered,
cancelled. Transitions are written once, in ``COMMITMENT_TRANSITIONS``.

Every commitment service writes the commitment's change ledger
(:class:`~quotas.models.CommitmentChange`) in its transaction: one row per change (two when a
commitment is recorded already contracted: its pledge and its contract), effective on the date
the company gives and recorded now (``at``, for code replaying history only). A commitment's
ledger runs forward: a change dated before its latest row is refused (``invalid_date``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from common.errors import Conflict, DomainError
from licences.models import ChipModel, Company
from quotas.models import CommitmentChange, DomesticCommitment
from quotas.services.checks import _require_text

CommitmentStatus = DomesticCommitment.Status
ChangeKind = CommitmentChange.Kind

COMMITMENT_TRANSITIONS: dict[str, set[str]] = {
    CommitmentStatus.PLEDGED: {CommitmentStatus.CONTRACTED, CommitmentStatus.CANCELLED},
    CommitmentStatus.CONTRACTED: {CommitmentStatus.DELIVERED, CommitmentStatus.CANCELLED},
    CommitmentStatus.DELIVERED: set(),
    CommitmentStatus.CANCELLED: set(),
}


# --- Checks ---------------------------------------------------------------------------------


def _check_commitment_transition(commitment: DomesticCommitment, target: str) -> None:
    if target not in COMMITMENT_TRANSITIONS[commitment.status]:
        raise Conflict(
            f"Commitment {commitment.pk} is {commitment.status}; it cannot become {target}.",
            code="invalid_transition",
        )


def _check_positive_quantity(quantity: Any, field: str = "quantity") -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise DomainError(
            "The quantity must be a positive whole number of chips.",
            code="invalid_quantity",
            fields={field: ["must be a positive integer"]},
        )
    return quantity


def _check_price(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise DomainError(f"{field} must be a Decimal.", code="invalid_price", fields={field: ["must be a Decimal"]})
    value = Decimal(value)
    assert isinstance(value, Decimal)
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise DomainError(
            f"{field} must be zero or more, in cents.", code="invalid_price", fields={field: [str(value)]}
        )
    return value


# --- Commitments --------------------------------------------------------------------------------


def _locked_commitment(commitment: DomesticCommitment) -> DomesticCommitment:
    return DomesticCommitment.objects.select_for_update().get(pk=commitment.pk)


def _check_not_before(on: dt.date, earlier: dt.date | None, what: str) -> None:
    if earlier is not None and on < earlier:
        raise DomainError(f"The date {on} is before the commitment was {what} ({earlier}).", code="invalid_date")


def _check_after_last_change(commitment: DomesticCommitment, on: dt.date) -> None:
    """A commitment's ledger runs forward: no change may take effect before its latest one."""
    last = (
        CommitmentChange.objects.filter(commitment=commitment)
        .order_by("-effective_on", "-pk")
        .values_list("effective_on", flat=True)
        .first()
    )
    _check_not_before(on, last, "last changed")


def _record_change(
    commitment: DomesticCommitment,
    *,
    kind: str,
    effective_on: dt.date,
    recorded_at: dt.datetime,
    recorded_by: AbstractBaseUser | None,
    actor: str,
    note: str = "",
    status: str | None = None,
) -> CommitmentChange:
    """The ledger row of a change just applied to ``commitment`` (its terms as they now stand)."""
    return CommitmentChange.objects.create(
        commitment=commitment,
        company_id=commitment.company_id,
        kind=kind,
        status=status or commitment.status,
        effective_on=effective_on,
        recorded_at=recorded_at,
        recorded_by_id=recorded_by.pk if recorded_by is not None else None,
        actor=(actor or (recorded_by.get_username() if recorded_by is not None else ""))[:150],
        note=note,
        quantity=commitment.quantity,
        delivered_quantity=commitment.delivered_quantity if status is None else 0,
        unit_price_usd=commitment.unit_price_usd,
    )


@transaction.atomic
def commitment_record(
    *,
    company: Company,
    chip: ChipModel,
    quantity: int,
    unit_price: Decimal,
    currency: str,
    unit_price_usd: Decimal,
    pledged_on: dt.date,
    due_date: dt.date | None = None,
    contract_reference: str = "",
    status: str = CommitmentStatus.PLEDGED,
    contracted_on: dt.date | None = None,
    recorded_by: AbstractBaseUser | None = None,
    actor: str = "",
    at: dt.datetime | None = None,
) -> DomesticCommitment:
    """Record a company's commitment to buy domestic chips, pledged or already contracted.

    Refused with ``commitment_chip_not_domestic`` for a foreign chip (a database trigger
    refuses it too), ``invalid_quantity`` for a quantity that is not a positive integer,
    ``invalid_price`` / ``invalid_currency`` for bad prices, ``invalid_status`` for any
    starting status but pledged or contracted, and ``invalid_date`` when a contracted
    commitment has no contract date or one before the pledge.
    """
    if chip.origin != ChipModel.Origin.DOMESTIC:
        raise DomainError(
            f"{chip.code} is a foreign chip; a commitment must be to domestic chips.",
            code="commitment_chip_not_domestic",
            fields={"chip": [chip.code]},
        )
    _check_positive_quantity(quantity)
    unit_price = _check_price(unit_price, "unit_price")
    unit_price_usd = _check_price(unit_price_usd, "unit_price_usd")
    currency = (currency or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise DomainError("The currency must be a three-letter ISO code.", code="invalid_currency")
    if status not in (CommitmentStatus.PLEDGED, CommitmentStatus.CONTRACTED):
        raise DomainError(
            "A commitment is recorded as pledged or contracted.", code="invalid_status", fields={"status": [status]}
        )
    if status == CommitmentStatus.CONTRACTED:
        if contracted_on is None:
            raise DomainError("A contracted commitment needs its contract date.", code="invalid_date")
        _check_not_before(contracted_on, pledged_on, "pledged")
    elif contracted_on is not None:
        raise DomainError("A pledged commitment has no contract date yet.", code="invalid_date")
    commitment = DomesticCommitment.objects.create(
        company=company,
        chip=chip,
        quantity=quantity,
        unit_price=unit_price,
        currency=currency,
        unit_price_usd=unit_price_usd,
        status=status,
        pledged_on=pledged_on,
        contracted_on=contracted_on,
        due_date=due_date,
        contract_reference=contract_reference.strip(),
    )
    recorded_at = at or timezone.now()
    _record_change(
        commitment, kind=ChangeKind.PLEDGE, effective_on=pledged_on, status=CommitmentStatus.PLEDGED,
        recorded_at=recorded_at, recorded_by=recorded_by, actor=actor,
    )  # fmt: skip
    if contracted_on is not None:
        _record_change(
            commitment, kind=ChangeKind.CONTRACT, effective_on=contracted_on, note=commitment.contract_reference,
            recorded_at=recorded_at, recorded_by=recorded_by, actor=actor,
        )  # fmt: skip
    return commitment


@transaction.atomic
def commitment_contract(
    *,
    commitment: DomesticCommitment,
    on: dt.date,
    contract_reference: str,
    recorded_by: AbstractBaseUser | None = None,
    actor: str = "",
    at: dt.datetime | None = None,
) -> DomesticCommitment:
    """Turn a pledge into a signed contract on ``on`` (pledged -> contracted)."""
    commitment = _locked_commitment(commitment)
    _check_commitment_transition(commitment, CommitmentStatus.CONTRACTED)
    _check_not_before(on, commitment.pledged_on, "pledged")
    _check_after_last_change(commitment, on)
    commitment.status = CommitmentStatus.CONTRACTED
    commitment.contracted_on = on
    commitment.contract_reference = _require_text(contract_reference, "contract_reference")
    commitment.save()
    _record_change(
        commitment, kind=ChangeKind.CONTRACT, effective_on=on, note=commitment.contract_reference,
        recorded_at=at or timezone.now(), recorded_by=recorded_by, actor=actor,
    )  # fmt: skip
    return commitment


@transaction.atomic
def commitment_deliver(
    *,
    commitment: DomesticCommitment,
    quantity: int,
    on: dt.date,
    recorded_by: AbstractBaseUser | None = None,
    actor: str = "",
    at: dt.datetime | None = None,
) -> DomesticCommitment:
    """Record a delivery of ``quantity`` chips against a contracted commitment.

    Partial deliveries add up in ``delivered_quantity``; the delivery that completes the
    commitment makes it ``delivered`` on ``on``. Refused with ``over_delivery`` beyond the
    committed quantity and ``invalid_transition`` unless the commitment is contracted.
    """
    _check_positive_quantity(quantity)
    commitment = _locked_commitment(commitment)
    _check_commitment_transition(commitment, CommitmentStatus.DELIVERED)
    _check_not_before(on, commitment.contracted_on, "contracted")
    _check_after_last_change(commitment, on)
    delivered = commitment.delivered_quantity + quantity
    if delivered > commitment.quantity:
        raise Conflict(
            f"Commitment {commitment.pk} has {commitment.quantity - commitment.delivered_quantity:,} chips left "
            f"to deliver; {quantity:,} reported.",
            code="over_delivery",
        )
    commitment.delivered_quantity = delivered
    if delivered == commitment.quantity:
        commitment.status = CommitmentStatus.DELIVERED
        commitment.delivered_on = on
    commitment.save()
    _record_change(
        commitment, kind=ChangeKind.DELIVER, effective_on=on, note=f"{quantity:,} delivered",
        recorded_at=at or timezone.now(), recorded_by=recorded_by, actor=actor,
    )  # fmt: skip
    return commitment


@transaction.atomic
def commitment_cancel(
    *,
    commitment: DomesticCommitment,
    on: dt.date,
    reason: str,
    recorded_by: AbstractBaseUser | None = None,
    actor: str = "",
    at: dt.datetime | None = None,
) -> DomesticCommitment:
    """Cancel a pledged or contracted commitment on ``on``; the reason goes into its history.

    It stops counting from ``on``: positions on earlier dates still see it.
    """
    reason = _require_text(reason, "reason")
    commitment = _locked_commitment(commitment)
    _check_commitment_transition(commitment, CommitmentStatus.CANCELLED)
    _check_not_before(on, commitment.contracted_on or commitment.pledged_on, "last changed")
    _check_after_last_change(commitment, on)
    commitment.status = CommitmentStatus.CANCELLED
    commitment.cancelled_on = on
    commitment._change_reason = reason[:100]  # type: ignore[attr-defined] # simple_history's history_change_reason
    commitment.save()
    _record_change(
        commitment, kind=ChangeKind.CANCEL, effective_on=on, note=reason,
        recorded_at=at or timezone.now(), recorded_by=recorded_by, actor=actor,
    )  # fmt: skip
    return commitment
