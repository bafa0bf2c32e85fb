"""``quota_positions`` runs in the same small number of queries at 5 and at 500 companies."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from licences.models import AllocationRound, ChipModel, Company, ImportLicence, Shipment
from licences.services import record_implied_decisions
from quotas.models import DomesticCommitment, QuotaPolicy
from quotas.selectors import quota_position, quota_positions
from tests.factories import AllocationRoundFactory, at
from tests.quotas.conftest import FEB_1, make_policy

pytestmark = pytest.mark.django_db
D = Decimal


def populate(count: int, h200: ChipModel, ascend: ChipModel, wave: AllocationRound) -> None:
    """``count`` companies, each with two licences, two cleared shipments and two commitments."""
    prefix = f"n{count}"
    companies = Company.objects.bulk_create(
        Company(slug=f"{prefix}-{index}", name=f"Company {prefix} {index:04d}") for index in range(count)
    )
    licences = ImportLicence.objects.bulk_create(
        ImportLicence(
            number=f"LIC-{prefix}-{index}-{n}",
            company=company,
            chip=h200,
            round=wave,
            requested_quantity=1_000 * (n + 1),
            granted_quantity=1_000 * (n + 1),
            used_quantity=500,  # its one cleared shipment below
            unit_value_usd=D("32000.00"),
            status=ImportLicence.Status.APPROVED,
            valid_from=dt.date(2026, 1, 23),
            valid_until=dt.date(2026, 12, 31),
            applied_at=at(dt.date(2026, 1, 10)),
            approved_at=at(dt.date(2026, 1, 23)),
        )
        for index, company in enumerate(companies)
        for n in range(2)
    )
    record_implied_decisions(licences)  # written without the services: their ledger rows too
    Shipment.objects.bulk_create(
        Shipment(
            declaration_number=f"DEC-{licence.number}",
            company_id=licence.company_id,
            licence=licence,
            chip=h200,
            quantity=500,
            declared_value_usd=D("16000000.00"),
            port_of_entry="Shanghai Pudong",
            status=Shipment.Status.CLEARED,
            declared_at=at(dt.date(2026, 1, 25)),
            status_changed_at=at(dt.date(2026, 1, 26)),
            cleared_at=at(dt.date(2026, 1, 26)),
        )
        for licence in licences
    )
    DomesticCommitment.objects.bulk_create(
        DomesticCommitment(
            company=company,
            chip=ascend,
            quantity=quantity,
            unit_price=D("12000.00"),
            unit_price_usd=D("12000.00"),
            status=DomesticCommitment.Status.CONTRACTED,
            pledged_on=dt.date(2026, 1, 15),
            contracted_on=dt.date(2026, 1, 20),
        )
        for company in companies
        for quantity in (400, 300)
    )


def queries_for_positions(**kwargs) -> tuple[int, list]:
    with CaptureQueriesContext(connection) as captured:
        positions = quota_positions(on=FEB_1, **kwargs)
    return len(captured), positions


@pytest.mark.parametrize(
    ("basis", "measured_on"),
    [(basis, measured_on) for basis in QuotaPolicy.Basis.values for measured_on in QuotaPolicy.MeasuredOn.values],
)
def test_quota_positions_uses_the_same_queries_at_5_and_500_companies(h200, ascend, basis, measured_on):
    make_policy(status=QuotaPolicy.Status.ACTIVE, basis=basis, measured_on=measured_on)
    # 1,500,000 units granted in all (counted in the round): a round roomy enough.
    wave = AllocationRoundFactory(unit_cap=10**7, value_cap_usd=D("100000000000.00"))
    populate(5, h200, ascend, wave)
    small, positions = queries_for_positions()
    assert len(positions) == 5
    populate(495, h200, ascend, wave)
    large, positions = queries_for_positions()
    assert len(positions) == 500
    # Policy in force, companies, imports and commitments (one query); plus the chip weights
    # on a compute basis, or the licences' unit values when cleared shipments are valued.
    extra = basis == "compute" or (basis, measured_on) == ("value", "cleared")
    assert small == large == 3 + extra
    # Every company: 3,000 licensed or 1,000 cleared H200, 700 Ascend contracted.
    imported = {"licensed": D(3_000), "cleared": D(1_000)}[measured_on]
    weight = {"units": (D(1), D(1)), "compute": (D(6), D(1)), "value": (D(32_000), D(12_000))}[basis]
    expected = (imported * weight[0], D(700) * weight[1])
    assert {(p.imported, p.committed) for p in positions} == {expected}


def test_a_given_policy_saves_the_lookup_and_one_company_takes_one_query(h200, ascend):
    policy = make_policy(status=QuotaPolicy.Status.ACTIVE)
    populate(5, h200, ascend, AllocationRoundFactory())
    count, _ = queries_for_positions(policy=policy)
    assert count == 2  # companies; imports and commitments
    company = Company.objects.first()
    with CaptureQueriesContext(connection) as captured:
        position = quota_position(company=company, on=FEB_1, policy=policy)
    assert len(captured) == 1
    assert (position.required, position.committed, position.shortfall) == (D("900"), D("700"), D("200"))
