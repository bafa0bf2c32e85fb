"""Quota positions: the DOMAIN.md worked example on every basis, and the as-of boundaries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from licences.services import licence_expire, licence_reinstate, licence_revoke, licence_suspend
from quotas.models import DomesticCommitment, QuotaPolicy
from quotas.selectors import end_of_day, policy_in_force, quota_position, quota_positions
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
