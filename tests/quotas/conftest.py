"""Fixtures for the quota engine: the docs/domain.md world (Alibaba, H200, Ascend) and helpers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from licences.models import ChipModel, Company, ImportLicence
from quotas.models import DomesticCommitment, QuotaPolicy
from tests.factories import (
    ApprovedLicenceFactory,
    CompanyFactory,
    DomesticChipFactory,
    DomesticCommitmentFactory,
    ForeignChipFactory,
    QuotaPolicyFactory,
    at,
)

D = Decimal
FEB_1 = dt.date(2026, 2, 1)


class DraftPolicyFactory(QuotaPolicyFactory):
    """A draft: several may share a window without tripping the overlap guard."""

    status = QuotaPolicy.Status.DRAFT


@pytest.fixture
def h200(db) -> ChipModel:
    return ForeignChipFactory()  # compute 6.000, reference USD 32,000.00


@pytest.fixture
def h20(db) -> ChipModel:
    return ForeignChipFactory(
        code="H20", name="NVIDIA H20", compute_index=D("1.000"), reference_unit_value_usd=D("12500.00")
    )


@pytest.fixture
def ascend(db) -> ChipModel:
    return DomesticChipFactory()  # compute 1.000, reference USD 12,000.00


@pytest.fixture
def alibaba(db) -> Company:
    return CompanyFactory(slug="alibaba", name="Alibaba")


@pytest.fixture
def worked_example(alibaba, h200, ascend) -> dict:
    """docs/domain.md: an approved licence for 200,000 H200 (USD 32,000 each); 40,000 Ascend
    contracted (USD 12,000 each) and 10,000 more pledged."""
    licence = ApprovedLicenceFactory(
        company=alibaba, chip=h200, requested_quantity=200_000, unit_value_usd=D("32000.00")
    )
    contracted = DomesticCommitmentFactory(
        company=alibaba,
        chip=ascend,
        quantity=40_000,
        unit_price_usd=D("12000.00"),
        status=DomesticCommitment.Status.CONTRACTED,
        pledged_on=dt.date(2026, 1, 15),
        contracted_on=dt.date(2026, 1, 20),
    )
    pledged = DomesticCommitmentFactory(
        company=alibaba,
        chip=ascend,
        quantity=10_000,
        unit_price_usd=D("12000.00"),
        status=DomesticCommitment.Status.PLEDGED,
        pledged_on=dt.date(2026, 1, 25),
        contracted_on=None,
    )
    return {"company": alibaba, "licence": licence, "contracted": contracted, "pledged": pledged}


def make_policy(*, status: str = QuotaPolicy.Status.DRAFT, **terms) -> QuotaPolicy:
    """A policy row with the docs/domain.md defaults (30 % by units on licensed, contracted + delivered)."""
    return QuotaPolicyFactory(status=status, **terms)


def approved_licence(company: Company, chip: ChipModel, quantity: int, day: dt.date, **extra) -> ImportLicence:
    return ApprovedLicenceFactory(company=company, chip=chip, requested_quantity=quantity, approved_at=at(day), **extra)
