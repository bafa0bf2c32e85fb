"""The change rows a commitment's date columns imply, for code that writes commitments without
the services: bulk loaders (the benchmark world, the demo world) and test fixtures.

The same rows as migration ``quotas.0005`` backfilled for the commitments recorded before the
ledger existed: a pledge, then a contract, a delivery completing it and a cancellation for each
of ``contracted_on``, ``delivered_on`` and ``cancelled_on`` that is set, each effective on that
date. A partial delivery's date is not in the columns: its quantity rides on the contract row.
Each row is recorded at ``recorded_at`` (default: the start of its effective day in the
service time zone, as if recorded the day it happened).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from licences import chain
from quotas.models import CommitmentChange, DomesticCommitment

_STAGES = (
    (CommitmentChange.Kind.PLEDGE, DomesticCommitment.Status.PLEDGED, "pledged_on"),
    (CommitmentChange.Kind.CONTRACT, DomesticCommitment.Status.CONTRACTED, "contracted_on"),
    (CommitmentChange.Kind.DELIVER, DomesticCommitment.Status.DELIVERED, "delivered_on"),
    (CommitmentChange.Kind.CANCEL, DomesticCommitment.Status.CANCELLED, "cancelled_on"),
)
IMPLIED_ACTOR = "implied by the commitment's dates"


def changes_implied_by(
    commitment: DomesticCommitment, recorded_at: dt.datetime | None = None
) -> list[CommitmentChange]:
    """The unsaved ledger rows ``commitment``'s dates imply (it must have a primary key)."""
    zone = timezone.get_default_timezone()
    rows = []
    for kind, status, column in _STAGES:
        day: dt.date | None = getattr(commitment, column)
        if day is None:
            continue
        if kind == CommitmentChange.Kind.DELIVER:
            delivered = commitment.quantity
        elif kind == CommitmentChange.Kind.PLEDGE or commitment.status == DomesticCommitment.Status.DELIVERED:
            delivered = 0
        else:
            delivered = commitment.delivered_quantity
        rows.append(
            CommitmentChange(
                commitment_id=commitment.pk,
                company_id=commitment.company_id,
                kind=kind,
                status=status,
                effective_on=day,
                recorded_at=recorded_at or dt.datetime.combine(day, dt.time.min, tzinfo=zone),
                actor=IMPLIED_ACTOR,
                note=commitment.contract_reference if kind == CommitmentChange.Kind.CONTRACT else "",
                quantity=commitment.quantity,
                delivered_quantity=delivered,
                unit_price_usd=commitment.unit_price_usd,
            )
        )
    return rows


def record_implied_changes(commitments: Iterable[DomesticCommitment], recorded_at: dt.datetime | None = None) -> int:
    """Append the rows :func:`changes_implied_by` gives for each commitment (saved already) to
    their companies' chains, in bulk; their count."""
    rows = [row for commitment in commitments for row in changes_implied_by(commitment, recorded_at)]
    with transaction.atomic():
        return chain.insert_objects(rows)
