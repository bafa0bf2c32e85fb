"""Quota positions: the docs/domain.md worked example on every basis, and the as-of boundaries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from licences.models import Shipment
from licences.services import (
    CustomsEventLine,
    customs_event_record,
    customs_events_ingest,
    licence_expire,
    licence_reinstate,
    licence_revoke,
    licence_suspend,
    shipment_declare,
)
from quotas.models import DomesticCommitment, QuotaPolicy
from quotas.selectors import end_of_day, policy_in_force, quota_position, quota_positions, shipments_cleared_as_of
from quotas.services import commitment_cancel, commitment_contract, commitment_deliver
from tests.factories import ApprovedLicenceFactory, CompanyFactory, DomesticCommitmentFactory, ShipmentFactory, at
from tests.quotas.conftest import FEB_1, make_policy

pytestmark = pytest.mark.django_db
D = Decimal
Basis = QuotaPolicy.Basis
ACTIVE = QuotaPolicy.Status.ACTIVE


def test_worked_example_by_units_is_short_by_twenty_thousand_chips(worked_example):
    make_policy(status=ACTIVE, ratio=D("0.3000"), basis=Basis.UNITS)
    position = quota_position(company=worked_example["company"], on=FEB_1)
    assert position.has_policy
    assert position.policy.basis == "units"
    assert position.policy.ratio == D("0.3000")
    assert position.imported == D("200000")
    assert position.required == D("60000")
    assert position.committed == D("40000")  # the 10,000 pledged do not count
    assert position.shortfall == D("20000")
    assert position.coverage == D("0.6667")
    assert str(position.required) == "60000"
    assert str(position.shortfall) == "20000"


def test_worked_example_by_compute_needs_360000_h20_equivalents(worked_example):
    make_policy(status=ACTIVE, ratio=D("0.3000"), basis=Basis.COMPUTE)
    position = quota_position(company=worked_example["company"], on=FEB_1)
    assert position.imported == D("1200000")  # 200,000 x 6.0
    assert position.required == D("360000")
    assert position.committed == D("40000")  # 40,000 x 1.0
    assert position.shortfall == D("320000")
    assert position.coverage == D("0.1111")


def test_a_catalogue_read_by_the_caller_gives_the_same_compute_weights_without_a_query(
    worked_example, h200, ascend, django_assert_num_queries
):
    """The API's quota report reads the chip catalogue once and hands it over; fractional
    compute indices must weigh exactly as the database's scaled weights do."""
    from licences.models import ChipModel

    ChipModel.objects.filter(pk=h200.pk).update(compute_index=D("6.125"))
    ChipModel.objects.filter(pk=ascend.pk).update(compute_index=D("0.875"))
    make_policy(status=ACTIVE, ratio=D("0.3000"), basis=Basis.COMPUTE)
    company = worked_example["company"]
    from_database = quota_position(company=company, on=FEB_1)
    chips = list(ChipModel.objects.all())
    with django_assert_num_queries(2):  # policy in force; imports and commitments: no chip query
        handed_over = quota_position(company=company, on=FEB_1, chips=chips)
    assert handed_over == from_database
    assert (handed_over.imported, handed_over.committed) == (D("1225000.000"), D("35000.000"))


def test_worked_example_by_value_uses_licence_and_contract_unit_values(worked_example):
    make_policy(status=ACTIVE, ratio=D("0.3000"), basis=Basis.VALUE)
    position = quota_position(company=worked_example["company"], on=FEB_1)
    assert position.imported == D("6400000000")  # 200,000 x USD 32,000
    assert position.required == D("1920000000")
    assert position.committed == D("480000000")  # 40,000 x USD 12,000
    assert position.shortfall == D("1440000000")
    assert position.coverage == D("0.2500")


def test_worked_example_counting_pledges_too_is_short_by_ten_thousand(worked_example):
    make_policy(status=ACTIVE, counts_pledged=True)
    position = quota_position(company=worked_example["company"], on=FEB_1)
    assert (position.committed, position.shortfall, position.coverage) == (D("50000"), D("10000"), D("0.8333"))


def test_exactly_at_the_ratio_is_no_shortfall_and_full_coverage(alibaba, h200, ascend):
    ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=200_000)
    DomesticCommitmentFactory(company=alibaba, chip=ascend, quantity=60_000)
    make_policy(status=ACTIVE)
    position = quota_position(company=alibaba, on=FEB_1)
    assert (position.required, position.committed, position.shortfall, position.coverage) == (
        D("60000"),
        D("60000"),
        D("0"),
        D("1.0000"),
    )
    assert position.headroom(h200) == 0
    assert not position.is_short


def test_one_chip_short_is_a_shortfall_of_one_and_never_full_coverage(alibaba, h200, ascend):
    ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=200_000)
    DomesticCommitmentFactory(company=alibaba, chip=ascend, quantity=59_999)
    make_policy(status=ACTIVE)
    position = quota_position(company=alibaba, on=FEB_1)
    assert position.shortfall == D("1")
    assert position.coverage == D("0.9999")  # 0.99998 would round to 1: clamped below while short
    assert position.is_short


def test_a_fraction_of_a_chip_short_rounds_up_to_a_whole_chip(alibaba, h200, ascend):
    ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=7)
    DomesticCommitmentFactory(company=alibaba, chip=ascend, quantity=2)
    make_policy(status=ACTIVE)
    position = quota_position(company=alibaba, on=FEB_1)
    assert position.required == D("2.1")
    assert position.shortfall == D("1")
    assert position.coverage == D("0.9524")


def test_nothing_imported_means_nothing_required_and_full_coverage(alibaba):
    make_policy(status=ACTIVE)
    position = quota_position(company=alibaba, on=FEB_1)
    assert (position.imported, position.required, position.shortfall, position.coverage) == (
        D("0"),
        D("0"),
        D("0"),
        D("1"),
    )


def test_before_any_policy_the_position_says_no_policy_rather_than_failing(worked_example):
    make_policy(status=ACTIVE, effective_from=dt.date(2026, 3, 1))
    position = quota_position(company=worked_example["company"], on=FEB_1)
    assert not position.has_policy
    assert position.policy is None
    assert (position.required, position.shortfall, position.coverage) == (D("0"), D("0"), D("1"))
    assert position.headroom(worked_example["licence"].chip) is None


def test_drafts_are_never_in_force_but_can_be_studied_explicitly(worked_example):
    draft = make_policy(ratio=D("0.4000"))
    assert policy_in_force(FEB_1) is None
    position = quota_position(company=worked_example["company"], on=FEB_1, policy=draft)
    assert (position.required, position.shortfall) == (D("80000"), D("40000"))
    assert position.policy.status == "draft"


def test_the_policy_in_force_is_read_from_its_window_inclusive_at_both_ends():
    closed = make_policy(status=ACTIVE, effective_from=dt.date(2026, 3, 1), effective_until=dt.date(2026, 3, 31))
    make_policy(status=QuotaPolicy.Status.DRAFT, effective_from=dt.date(2026, 4, 1))  # never in force
    assert [policy_in_force(dt.date(2026, 3, day)) for day in (1, 31)] == [closed, closed]
    assert policy_in_force(dt.date(2026, 2, 28)) is None
    assert policy_in_force(dt.date(2026, 4, 1)) is None
    later = make_policy(status=ACTIVE, effective_from=dt.date(2026, 4, 1), version=2)  # open-ended
    assert policy_in_force(dt.date(2099, 12, 31)) == later
    assert policy_in_force(dt.date(2026, 3, 31)) == closed


def test_a_retired_policy_still_governs_the_dates_of_its_window(worked_example):
    old = make_policy(status=QuotaPolicy.Status.RETIRED, effective_until=dt.date(2026, 2, 28))
    new = make_policy(status=ACTIVE, ratio=D("0.5000"), effective_from=dt.date(2026, 3, 1))
    assert policy_in_force(dt.date(2026, 2, 28)) == old
    assert policy_in_force(dt.date(2026, 3, 1)) == new
    company = worked_example["company"]
    assert quota_position(company=company, on=dt.date(2026, 2, 28)).shortfall == D("20000")
    assert quota_position(company=company, on=dt.date(2026, 3, 1)).shortfall == D("60000")


def test_cancelled_commitment_counts_until_the_day_it_is_cancelled(worked_example):
    make_policy(status=ACTIVE)
    commitment_cancel(commitment=worked_example["contracted"], on=dt.date(2026, 3, 1), reason="Supplier failed")
    company = worked_example["company"]
    assert quota_position(company=company, on=dt.date(2026, 2, 28)).committed == D("40000")
    assert quota_position(company=company, on=dt.date(2026, 3, 1)).committed == D("0")
    assert quota_position(company=company, on=dt.date(2026, 3, 1)).shortfall == D("60000")


def test_pledge_contracted_later_counts_only_from_its_contract_date(worked_example):
    make_policy(status=ACTIVE)
    commitment_contract(commitment=worked_example["pledged"], on=dt.date(2026, 3, 1), contract_reference="HW-001")
    company = worked_example["company"]
    assert quota_position(company=company, on=dt.date(2026, 2, 28)).committed == D("40000")
    assert quota_position(company=company, on=dt.date(2026, 3, 1)).committed == D("50000")


def test_commitment_counts_only_from_its_pledge_date(alibaba, h200, ascend):
    ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=100)
    DomesticCommitmentFactory(
        company=alibaba, chip=ascend, quantity=30, pledged_on=dt.date(2026, 2, 10), contracted_on=dt.date(2026, 2, 10)
    )
    make_policy(status=ACTIVE)
    assert quota_position(company=alibaba, on=dt.date(2026, 2, 9)).committed == D("0")
    assert quota_position(company=alibaba, on=dt.date(2026, 2, 10)).committed == D("30")


def test_policy_counting_only_deliveries_sees_a_commitment_once_fully_delivered(worked_example):
    make_policy(status=ACTIVE, counts_contracted=False, counts_delivered=True)
    contracted = worked_example["contracted"]
    commitment_deliver(commitment=contracted, quantity=15_000, on=dt.date(2026, 3, 1))
    commitment_deliver(commitment=contracted, quantity=25_000, on=dt.date(2026, 4, 1))
    company = worked_example["company"]
    assert quota_position(company=company, on=dt.date(2026, 3, 31)).committed == D("0")
    assert quota_position(company=company, on=dt.date(2026, 4, 1)).committed == D("40000")


def test_suspended_licence_stops_counting_from_the_day_of_suspension(worked_example):
    make_policy(status=ACTIVE)
    licence_suspend(licence=worked_example["licence"], reason="Audit", at=at(dt.date(2026, 4, 1), hour=9))
    company = worked_example["company"]
    assert quota_position(company=company, on=dt.date(2026, 3, 31)).imported == D("200000")
    assert quota_position(company=company, on=dt.date(2026, 4, 1)).imported == D("0")
    assert quota_position(company=company, on=dt.date(2026, 4, 1)).shortfall == D("0")


def test_reinstated_licence_counts_again(worked_example):
    make_policy(status=ACTIVE)
    licence = licence_suspend(licence=worked_example["licence"], reason="Audit", at=at(dt.date(2026, 4, 1)))
    licence_reinstate(licence=licence, reason="Audit passed", at=at(dt.date(2026, 4, 10)))
    assert quota_position(company=worked_example["company"], on=dt.date(2026, 4, 20)).imported == D("200000")


def test_revoked_and_expired_licences_stop_counting_from_that_day(alibaba, h200):
    make_policy(status=ACTIVE)
    revoked = ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=1_000)
    expired = ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=300)
    licence_revoke(licence=revoked, reason="Diversion", at=at(dt.date(2026, 5, 1)))
    licence_expire(licence=expired, at=at(dt.date(2026, 6, 1)))
    assert quota_position(company=alibaba, on=dt.date(2026, 4, 30)).imported == D("1300")
    assert quota_position(company=alibaba, on=dt.date(2026, 5, 1)).imported == D("300")
    assert quota_position(company=alibaba, on=dt.date(2026, 6, 1)).imported == D("0")


def test_licence_counts_from_its_approval_day_in_shanghai_time(alibaba, h200):
    make_policy(status=ACTIVE)
    # 23:59 on 23 January in Shanghai is 15:59 UTC: it is a 23 January approval.
    ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=100, approved_at=at(dt.date(2026, 1, 23), 23))
    # 00:30 on 24 January in Shanghai is still 23 January in UTC: it is a 24 January approval.
    late = timezone.make_aware(dt.datetime(2026, 1, 24, 0, 30))
    assert late.astimezone(dt.UTC).date() == dt.date(2026, 1, 23)
    ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=10, approved_at=late)
    assert quota_position(company=alibaba, on=dt.date(2026, 1, 22)).imported == D("0")
    assert quota_position(company=alibaba, on=dt.date(2026, 1, 23)).imported == D("100")
    assert quota_position(company=alibaba, on=dt.date(2026, 1, 24)).imported == D("110")


def test_end_of_day_is_midnight_following_in_shanghai():
    assert end_of_day(dt.date(2026, 1, 23)).astimezone(dt.UTC) == dt.datetime(2026, 1, 23, 16, 0, tzinfo=dt.UTC)


def test_cleared_measure_counts_shipments_cleared_by_the_date(alibaba, h200, ascend):
    make_policy(status=ACTIVE, measured_on=QuotaPolicy.MeasuredOn.CLEARED)
    licence = ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=200_000)
    ShipmentFactory(licence=licence, quantity=50_000, status="cleared", cleared_at=at(dt.date(2026, 2, 12), 23))
    ShipmentFactory(licence=licence, quantity=20_000, status="cleared", cleared_at=at(dt.date(2026, 2, 20)))
    ShipmentFactory(licence=licence, quantity=7_000, status="held")  # never cleared: never counted
    DomesticCommitmentFactory(company=alibaba, chip=ascend, quantity=10_000)
    assert quota_position(company=alibaba, on=dt.date(2026, 2, 11)).imported == D("0")
    position = quota_position(company=alibaba, on=dt.date(2026, 2, 12))
    assert (position.imported, position.required, position.shortfall) == (D("50000"), D("15000"), D("5000"))
    position = quota_position(company=alibaba, on=dt.date(2026, 2, 20))
    assert (position.imported, position.required, position.shortfall) == (D("70000"), D("21000"), D("11000"))


def test_cleared_measure_on_value_basis_weighs_shipments_by_their_licence_unit_value(alibaba, h200):
    make_policy(status=ACTIVE, measured_on=QuotaPolicy.MeasuredOn.CLEARED, basis=Basis.VALUE, ratio=D("0.2500"))
    licence = ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=1_000, unit_value_usd=D("31999.99"))
    ShipmentFactory(licence=licence, quantity=3, status="cleared", cleared_at=at(dt.date(2026, 2, 1)))
    position = quota_position(company=alibaba, on=FEB_1)
    assert position.imported == D("95999.97")
    assert position.required == D("23999.9925")
    assert position.shortfall == D("24000.00")  # rounded up to the cent


def test_positions_for_every_company_sorted_by_name_with_exact_numbers(worked_example, h200, ascend):
    make_policy(status=ACTIVE)
    tencent = CompanyFactory(slug="tencent", name="Tencent")
    bytedance = CompanyFactory(slug="bytedance", name="ByteDance")
    ApprovedLicenceFactory(company=tencent, chip=h200, requested_quantity=100_000)
    DomesticCommitmentFactory(company=tencent, chip=ascend, quantity=45_000)
    positions = quota_positions(on=FEB_1)
    assert [(p.company.slug, p.required, p.committed, p.shortfall, p.coverage) for p in positions] == [
        ("alibaba", D("60000"), D("40000"), D("20000"), D("0.6667")),
        ("bytedance", D("0"), D("0"), D("0"), D("1")),
        ("tencent", D("30000"), D("45000"), D("0"), D("1.5000")),
    ]
    assert quota_positions(on=FEB_1, companies=[bytedance])[0].company.slug == "bytedance"
    from licences.models import Company

    narrowed = quota_positions(on=FEB_1, companies=Company.objects.filter(slug__in=["tencent", "alibaba"]))
    assert [p.company.slug for p in narrowed] == ["alibaba", "tencent"]


def test_no_float_anywhere_in_a_position(worked_example):
    make_policy(status=ACTIVE, basis=Basis.COMPUTE)
    position = quota_position(company=worked_example["company"], on=FEB_1)
    for amount in (position.imported, position.required, position.committed, position.shortfall, position.coverage):
        assert type(amount) is Decimal
    assert type(position.policy.ratio) is Decimal


def test_status_is_read_from_dates_not_current_status(alibaba, h200, ascend):
    make_policy(status=ACTIVE)
    ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=100)
    DomesticCommitmentFactory(
        company=alibaba,
        chip=ascend,
        quantity=10,
        status=DomesticCommitment.Status.DELIVERED,
        contracted_on=dt.date(2026, 2, 1),
        delivered_on=dt.date(2026, 3, 1),
        delivered_quantity=10,
    )
    assert quota_position(company=alibaba, on=dt.date(2026, 1, 31)).committed == D("0")  # only pledged
    assert quota_position(company=alibaba, on=dt.date(2026, 2, 15)).committed == D("10")  # contracted
    assert quota_position(company=alibaba, on=dt.date(2026, 3, 1)).committed == D("10")  # delivered


# --- Cleared imports from the licence counters ------------------------------------------------
#
# ``imported_and_committed_totals`` reads cleared imports from ``ImportLicence.used_quantity`` less the
# shipments cleared after the as-of day. These tests move the counters through the real
# services and compare with a plain sum over the shipments cleared by the end of the day.


def cleared_by_sum(company, on: dt.date) -> int:
    """The quantity cleared by the end of ``on``, summed shipment by shipment."""
    return sum(shipment.quantity for shipment in shipments_cleared_as_of(on).filter(company=company))


def declared(company, licence, quantity: int, number: str, day: dt.date) -> Shipment:
    return shipment_declare(
        company=company,
        licence=licence,
        quantity=quantity,
        declared_value_usd=licence.unit_value_usd * quantity,
        port_of_entry="Shanghai Pudong",
        declaration_number=number,
        declared_at=at(day, 9),
    )


def test_cleared_imports_follow_the_counters_moved_by_the_customs_services(alibaba, h200, h20, ascend):
    make_policy(status=ACTIVE, measured_on=QuotaPolicy.MeasuredOn.CLEARED, basis=Basis.COMPUTE)
    big = ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=10_000)
    small = ApprovedLicenceFactory(company=alibaba, chip=h20, requested_quantity=5_000)
    first = declared(alibaba, big, 1_000, "DEC-C-1", dt.date(2026, 2, 2))
    second = declared(alibaba, big, 300, "DEC-C-2", dt.date(2026, 2, 2))
    declared(alibaba, small, 2_000, "DEC-C-3", dt.date(2026, 2, 2))
    rejected = declared(alibaba, small, 700, "DEC-C-4", dt.date(2026, 2, 2))
    held = declared(alibaba, big, 50, "DEC-C-5", dt.date(2026, 2, 2))
    # Cleared on 3 Feb at the last minute of the day in Shanghai, and at its first minute on 4 Feb.
    customs_event_record(
        shipment=first, status="cleared", occurred_at=at(dt.date(2026, 2, 3), 23) + dt.timedelta(minutes=59)
    )
    customs_event_record(shipment=second, status="cleared", occurred_at=at(dt.date(2026, 2, 4), 0))
    customs_event_record(shipment=rejected, status="rejected", occurred_at=at(dt.date(2026, 2, 3)))
    customs_event_record(shipment=held, status="held", occurred_at=at(dt.date(2026, 2, 3)))
    # The batch path moves the counters too.
    outcome = customs_events_ingest(
        lines=[
            CustomsEventLine(
                index=0, declaration_number="DEC-C-3", status="cleared", occurred_at=at(dt.date(2026, 2, 5))
            )
        ],
        shipments=Shipment.objects.all(),
    )
    assert outcome.refused == []
    # The licence is revoked after its shipments cleared: what cleared stays imported.
    licence_revoke(licence=big, reason="Audit finding", at=at(dt.date(2026, 2, 6)))
    big.refresh_from_db()
    small.refresh_from_db()
    assert (big.used_quantity, small.used_quantity) == (1_300, 2_000)
    expected = {
        dt.date(2026, 2, 2): (0, D("0")),
        dt.date(2026, 2, 3): (1_000, D("6000.000")),
        dt.date(2026, 2, 4): (1_300, D("7800.000")),
        dt.date(2026, 2, 5): (3_300, D("9800.000")),
        dt.date(2026, 3, 1): (3_300, D("9800.000")),
    }
    for on, (units, compute) in expected.items():
        assert cleared_by_sum(alibaba, on) == units
        position = quota_position(company=alibaba, on=on)
        assert position.imported == compute, on
        assert str(position.imported) == str(compute), on
        assert quota_positions(on=on)[0].imported == compute, on


def test_cleared_imports_as_of_a_past_date_leave_out_later_clearances_by_licence_value(alibaba, h200, h20):
    make_policy(status=ACTIVE, measured_on=QuotaPolicy.MeasuredOn.CLEARED, basis=Basis.VALUE, ratio=D("0.5000"))
    dear = ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=1_000, unit_value_usd=D("31999.99"))
    cheap = ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=1_000, unit_value_usd=D("20000.01"))
    other = CompanyFactory(slug="tencent", name="Tencent")
    theirs = ApprovedLicenceFactory(company=other, chip=h20, requested_quantity=1_000, unit_value_usd=D("12500.50"))
    ShipmentFactory(
        licence=dear, quantity=3, status="cleared", cleared_at=at(dt.date(2026, 2, 10), 23) + dt.timedelta(minutes=59)
    )
    ShipmentFactory(licence=dear, quantity=5, status="cleared", cleared_at=at(dt.date(2026, 2, 11), 0))
    ShipmentFactory(licence=cheap, quantity=7, status="cleared", cleared_at=at(dt.date(2026, 2, 12)))
    ShipmentFactory(licence=theirs, quantity=2, status="cleared", cleared_at=at(dt.date(2026, 2, 11)))
    licence_suspend(licence=cheap, reason="Paperwork", at=at(dt.date(2026, 2, 13)))
    by_day = {
        dt.date(2026, 2, 9): (D("0"), D("0")),
        dt.date(2026, 2, 10): (D("95999.97"), D("0")),
        dt.date(2026, 2, 11): (D("255999.92"), D("25001.00")),
        dt.date(2026, 2, 12): (D("395999.99"), D("25001.00")),
        dt.date(2026, 2, 14): (D("395999.99"), D("25001.00")),
    }
    for on, (alibaba_imported, tencent_imported) in by_day.items():
        positions = {position.company.slug: position for position in quota_positions(on=on)}
        assert (positions["alibaba"].imported, positions["tencent"].imported) == (alibaba_imported, tencent_imported)
        assert str(positions["alibaba"].imported) == str(alibaba_imported)
        assert quota_position(company=alibaba, on=on).imported == alibaba_imported
    position = quota_position(company=alibaba, on=dt.date(2026, 2, 11))
    assert (position.required, position.shortfall) == (D("127999.96"), D("127999.96"))
