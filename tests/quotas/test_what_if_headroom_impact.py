"""What-if positions, headroom for a foreign chip, and a draft policy's impact on every company."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from common.errors import DomainError
from licences.models import Shipment
from quotas.models import DomesticCommitment, QuotaPolicy
from quotas.selectors import headroom, policy_impact, quota_position, what_if
from tests.factories import ApprovedLicenceFactory, CompanyFactory, DomesticCommitmentFactory
from tests.quotas.conftest import FEB_1, make_policy

pytestmark = pytest.mark.django_db
D = Decimal
Basis = QuotaPolicy.Basis
ACTIVE = QuotaPolicy.Status.ACTIVE


def test_what_if_more_commitments_closes_the_worked_example_gap(worked_example):
    make_policy(status=ACTIVE)
    position = what_if(company=worked_example["company"], on=FEB_1, commitments=[("ASCEND-910B", 20_000)])
    assert (position.committed, position.shortfall, position.coverage) == (D("60000"), D("0"), D("1.0000"))


def test_what_if_more_imports_raises_the_requirement(worked_example, h200):
    make_policy(status=ACTIVE)
    position = what_if(company=worked_example["company"], on=FEB_1, imports=[(h200, 1_000)])
    assert (position.imported, position.required, position.shortfall) == (D("201000"), D("60300"), D("20300"))


def test_what_if_on_value_basis_weighs_new_rows_at_catalogue_unit_values(worked_example, h20):
    make_policy(status=ACTIVE, basis=Basis.VALUE)
    position = what_if(
        company=worked_example["company"],
        on=FEB_1,
        imports=[("H20", 100)],  # USD 12,500.00 each
        commitments=[("ASCEND-910B", 1_000)],  # USD 12,000.00 each
    )
    assert position.imported == D("6401250000")
    assert position.required == D("1920375000")
    assert position.committed == D("492000000")
    assert position.shortfall == D("1428375000")


def test_what_if_on_compute_basis_weighs_by_compute_index(worked_example):
    make_policy(status=ACTIVE, basis=Basis.COMPUTE)
    position = what_if(company=worked_example["company"], on=FEB_1, imports=[("H200", 10)], commitments=[])
    assert (position.imported, position.required) == (D("1200060"), D("360018"))


def test_what_if_writes_nothing(worked_example, django_assert_num_queries):
    make_policy(status=ACTIVE)
    before = (DomesticCommitment.objects.count(), Shipment.objects.count())
    with django_assert_num_queries(3):  # chips, policy in force, imports and commitments
        what_if(company=worked_example["company"], on=FEB_1, imports=[("H200", 5)], commitments=[("ASCEND-910B", 5)])
    assert (DomesticCommitment.objects.count(), Shipment.objects.count()) == before


@pytest.mark.parametrize(
    ("imports", "commitments", "code"),
    [
        ([("B300", 1)], [], "unknown_chip"),
        ([], [("NOPE", 1)], "unknown_chip"),
        ([], [("H200", 1)], "commitment_chip_not_domestic"),
        ([("ASCEND-910B", 1)], [], "import_chip_not_foreign"),
        ([("H200", -5)], [], "invalid_quantity"),
        ([("H200", 0)], [], "invalid_quantity"),
        ([], [("ASCEND-910B", 1.5)], "invalid_quantity"),
        ([("H200", True)], [], "invalid_quantity"),
    ],
)
def test_what_if_refuses_bad_input_with_a_stable_code(worked_example, imports, commitments, code):
    make_policy(status=ACTIVE)
    with pytest.raises(DomainError) as refused:
        what_if(company=worked_example["company"], on=FEB_1, imports=imports, commitments=commitments)
    assert refused.value.code == code
    assert refused.value.status_code == 400


def test_what_if_before_any_policy_is_a_position_without_policy(worked_example):
    position = what_if(company=worked_example["company"], on=FEB_1, imports=[("H200", 5)])
    assert not position.has_policy
    assert position.shortfall == D("0")


def test_headroom_is_zero_when_short(worked_example, h200):
    make_policy(status=ACTIVE)
    assert headroom(quota_position(company=worked_example["company"], on=FEB_1), h200) == 0


def test_headroom_in_units_is_the_slack_over_the_ratio(alibaba, h200, ascend):
    ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=200_000)
    DomesticCommitmentFactory(company=alibaba, chip=ascend, quantity=66_000)
    make_policy(status=ACTIVE)
    position = quota_position(company=alibaba, on=FEB_1)
    assert headroom(position, h200) == 20_000  # 6,000 spare / 0.3
    # Importing exactly the headroom keeps the company covered; one more makes it short.
    assert what_if(company=alibaba, on=FEB_1, imports=[(h200, 20_000)]).shortfall == D("0")
    assert what_if(company=alibaba, on=FEB_1, imports=[(h200, 20_001)]).shortfall == D("1")


def test_headroom_in_compute_divides_by_the_chip_compute_index(alibaba, h200, h20, ascend):
    ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=10_000)  # 60,000 compute
    DomesticCommitmentFactory(company=alibaba, chip=ascend, quantity=20_000)  # 20,000 compute
    make_policy(status=ACTIVE, basis=Basis.COMPUTE)
    position = quota_position(company=alibaba, on=FEB_1)
    assert position.required == D("18000")
    # 2,000 spare compute / 0.3 = 6,666.67 compute = 1,111 H200 (6.0) or 6,666 H20 (1.0).
    assert headroom(position, h200) == 1_111
    assert headroom(position, h20) == 6_666


def test_headroom_is_unlimited_with_a_zero_ratio_or_no_policy(alibaba, h200):
    make_policy(status=ACTIVE, ratio=D("0"))
    assert headroom(quota_position(company=alibaba, on=FEB_1), h200) is None
    assert headroom(quota_position(company=alibaba, on=dt.date(2025, 1, 1)), h200) is None


def test_headroom_refuses_a_domestic_chip(alibaba, ascend):
    make_policy(status=ACTIVE)
    with pytest.raises(DomainError) as refused:
        headroom(quota_position(company=alibaba, on=FEB_1), ascend)
    assert refused.value.code == "import_chip_not_foreign"


def test_policy_impact_of_a_higher_ratio_lists_the_largest_rise_first(worked_example, h200, ascend):
    make_policy(status=ACTIVE)  # 30 % by units
    tencent = CompanyFactory(slug="tencent", name="Tencent")
    ApprovedLicenceFactory(company=tencent, chip=h200, requested_quantity=100_000)
    DomesticCommitmentFactory(company=tencent, chip=ascend, quantity=35_000)
    CompanyFactory(slug="deepseek", name="DeepSeek")
    draft = make_policy(ratio=D("0.4000"))
    rows = policy_impact(draft=draft, on=FEB_1)
    assert [
        (r.company.slug, r.current.shortfall, r.proposed.shortfall, r.shortfall_change, r.newly_short) for r in rows
    ] == [
        ("alibaba", D("20000"), D("40000"), D("20000"), False),
        ("tencent", D("0"), D("5000"), D("5000"), True),
        ("deepseek", D("0"), D("0"), D("0"), False),
    ]
    assert rows[1].coverage_change == D("0.8750") - D("1.1667")


def test_policy_impact_across_bases_sorts_by_fall_in_coverage(worked_example, h200, ascend):
    make_policy(status=ACTIVE)
    tencent = CompanyFactory(slug="tencent", name="Tencent")
    ApprovedLicenceFactory(company=tencent, chip=h200, requested_quantity=1_000)
    DomesticCommitmentFactory(company=tencent, chip=ascend, quantity=1_000)
    draft = make_policy(ratio=D("0.4000"), basis=Basis.COMPUTE)
    rows = policy_impact(draft=draft, on=FEB_1)
    assert [(r.company.slug, r.proposed.shortfall, r.shortfall_change, r.coverage_change) for r in rows] == [
        ("tencent", D("1400"), None, D("0.4167") - D("3.3333")),
        ("alibaba", D("440000"), None, D("0.0833") - D("0.6667")),
    ]


def test_policy_impact_with_no_policy_in_force_compares_against_nothing_required(worked_example):
    draft = make_policy(ratio=D("0.3000"))
    (row,) = policy_impact(draft=draft, on=FEB_1)
    assert not row.current.has_policy
    assert (row.proposed.shortfall, row.shortfall_change, row.newly_short) == (D("20000"), D("20000"), True)


def test_policy_impact_runs_in_constant_queries(worked_example, django_assert_num_queries):
    make_policy(status=ACTIVE)
    draft = make_policy(ratio=D("0.4000"), basis=Basis.COMPUTE)
    # Policy in force, companies, imports and commitments (one query) under each, the chip weights once.
    with django_assert_num_queries(5):
        policy_impact(draft=draft, on=FEB_1)
