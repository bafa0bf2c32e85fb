"""The commitment change ledger (issue 14): rows written by each commitment service, a ledger
that runs forward, the backfill, and positions as known now through the ledger equal to the
positions read from the commitments' dates."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import get_user_model
from django.utils import timezone
from hypothesis import given
from hypothesis.extra.django import TestCase

from common.errors import DomainError
from licences.models import Shipment
from quotas.models import CommitmentChange, DomesticCommitment
from quotas.selectors import quota_positions
from quotas.services import commitment_cancel, commitment_contract, commitment_deliver, commitment_record
from tests.factories import CustomsEventFactory, DomesticCommitmentFactory
from tests.quotas.test_properties import EXAMPLES, build, worlds

D = Decimal


def moment(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def changes(commitment: DomesticCommitment) -> list[tuple]:
    return list(
        CommitmentChange.objects.filter(commitment=commitment)
        .order_by("effective_on", "pk")
        .values_list("kind", "status", "effective_on", "quantity", "delivered_quantity", "note")
    )


@pytest.fixture
def record(alibaba, ascend):
    def record(**terms) -> DomesticCommitment:
        return commitment_record(
            company=alibaba, chip=ascend, quantity=terms.pop("quantity", 1_000), unit_price=D("85200.00"),
            currency="CNY", unit_price_usd=D("12000.00"), pledged_on=terms.pop("pledged_on", dt.date(2026, 2, 1)),
            **terms,
        )  # fmt: skip

    return record


@pytest.mark.django_db
def test_each_commitment_service_writes_its_change_rows(record):
    user = get_user_model().objects.create_user(username="procurement")
    with time_machine.travel(moment(dt.date(2026, 3, 10)), tick=False):
        pledged = record(recorded_by=user)
        contracted = record(status="contracted", contracted_on=dt.date(2026, 2, 3), contract_reference="HW-1")
    assert changes(pledged) == [("pledge", "pledged", dt.date(2026, 2, 1), 1000, 0, "")]
    # Recorded already contracted: two facts, two rows.
    assert changes(contracted) == [
        ("pledge", "pledged", dt.date(2026, 2, 1), 1000, 0, ""),
        ("contract", "contracted", dt.date(2026, 2, 3), 1000, 0, "HW-1"),
    ]
    first = pledged.changes.get()
    assert (first.recorded_at, first.recorded_by, first.actor, first.unit_price_usd) == (
        moment(dt.date(2026, 3, 10)), user, "procurement", D("12000.00"),
    )  # fmt: skip

    commitment_contract(commitment=pledged, on=dt.date(2026, 2, 5), contract_reference="HW-2", actor="api-key:ali")
    commitment_deliver(commitment=pledged, quantity=400, on=dt.date(2026, 3, 1))
    commitment_deliver(commitment=pledged, quantity=600, on=dt.date(2026, 3, 2))
    commitment_cancel(commitment=contracted, on=dt.date(2026, 3, 3), reason="Order withdrawn")
    assert changes(pledged) == [
        ("pledge", "pledged", dt.date(2026, 2, 1), 1000, 0, ""),
        ("contract", "contracted", dt.date(2026, 2, 5), 1000, 0, "HW-2"),
        ("deliver", "contracted", dt.date(2026, 3, 1), 1000, 400, "400 delivered"),
        ("deliver", "delivered", dt.date(2026, 3, 2), 1000, 1000, "600 delivered"),
    ]
    assert changes(contracted)[-1] == ("cancel", "cancelled", dt.date(2026, 3, 3), 1000, 0, "Order withdrawn")
    assert pledged.changes.get(kind="contract").actor == "api-key:ali"


@pytest.mark.django_db
def test_a_change_dated_before_the_latest_is_refused_and_writes_nothing(record):
    commitment = record(status="contracted", contracted_on=dt.date(2026, 2, 3), contract_reference="HW-1")
    commitment_deliver(commitment=commitment, quantity=100, on=dt.date(2026, 3, 1))
    before = changes(commitment)
    for attempt in (
        lambda: commitment_deliver(commitment=commitment, quantity=100, on=dt.date(2026, 2, 20)),
        lambda: commitment_cancel(commitment=commitment, on=dt.date(2026, 2, 25), reason="Back-dated"),
    ):
        with pytest.raises(DomainError) as refused:
            attempt()
        assert refused.value.code == "invalid_date"
    commitment.refresh_from_db()
    assert (commitment.status, commitment.delivered_quantity, changes(commitment)) == ("contracted", 100, before)


@pytest.mark.django_db
def test_a_recorded_change_is_never_changed_or_deleted_through_the_model(record):
    row = record().changes.get()
    row.quantity = 1
    with pytest.raises(TypeError, match="append-only"):
        row.save()
    with pytest.raises(TypeError, match="append-only"):
        row.delete()


@pytest.mark.django_db
def test_the_backfill_writes_the_rows_the_dates_imply(alibaba, ascend):
    partly = DomesticCommitmentFactory(company=alibaba, chip=ascend, delivered_quantity=300, contract_reference="C-1")
    done = DomesticCommitmentFactory(
        company=alibaba, chip=ascend, status="delivered", delivered_on=dt.date(2026, 4, 1), delivered_quantity=1000
    )
    dropped = DomesticCommitmentFactory(
        company=alibaba, chip=ascend, status="cancelled", contracted_on=None, cancelled_on=dt.date(2026, 2, 1)
    )
    expected = {commitment.pk: changes(commitment) for commitment in (partly, done, dropped)}
    assert expected[partly.pk] == [
        ("pledge", "pledged", dt.date(2026, 1, 15), 1000, 0, ""),
        ("contract", "contracted", dt.date(2026, 1, 20), 1000, 300, "C-1"),
    ]
    assert expected[done.pk][-1] == ("deliver", "delivered", dt.date(2026, 4, 1), 1000, 1000, "")
    assert expected[dropped.pk][-1] == ("cancel", "cancelled", dt.date(2026, 2, 1), 1000, 0, "")
    CommitmentChange.objects.all().delete()  # as before the ledger existed
    importlib.import_module("quotas.migrations.0005_backfill_commitment_changes").backfill(apps, None)
    assert {commitment.pk: changes(commitment) for commitment in (partly, done, dropped)} == expected
    assert CommitmentChange.objects.count() == 7


class LedgerPathProperties(TestCase):
    """On random worlds, positions as known at a moment after every record equal the present ones:
    commitments read from the change ledger agree with their dates, clearances read from the
    customs events agree with the counters, and the policy history with the policy."""

    @EXAMPLES
    @given(world=worlds)
    def test_as_known_after_everything_equals_the_present(self, world):
        with time_machine.travel(moment(dt.date(2026, 1, 1)), tick=False):
            _, _, policy = build(world)
        # The property world's cleared shipments have no customs events: give each its clearance.
        for shipment in Shipment.objects.filter(status="cleared"):
            with time_machine.travel(shipment.cleared_at, tick=False):
                CustomsEventFactory(shipment=shipment, status="cleared", occurred_at=shipment.cleared_at)
        later = moment(dt.date(2027, 1, 1))
        now = quota_positions(on=world["on"], policy=policy)
        known = quota_positions(on=world["on"], policy=policy, as_known_at=later)
        assert [(p.company.id, p.imported, p.committed, p.shortfall, p.coverage) for p in known] == [
            (p.company.id, p.imported, p.committed, p.shortfall, p.coverage) for p in now
        ]
