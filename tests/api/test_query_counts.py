"""Every list and detail endpoint runs the same number of queries for 2 rows as for 20 (no N+1)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from licences.models import Company
from tests.api.conftest import API, WebhookSubscriptionFactory, World
from tests.factories import (
    AllocationRoundFactory,
    ApprovedLicenceFactory,
    CompanyFactory,
    CustomsEventFactory,
    DomesticCommitmentFactory,
    FindingFactory,
    ForeignChipFactory,
    QuotaPolicyFactory,
    SecurityAttestationFactory,
    SecurityRequirementFactory,
    ShipmentFactory,
)

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "companies/",
    "companies/alibaba/",
    "companies/alibaba/quota/?on=2026-02-01",
    "companies/alibaba/compliance/",
    "chips/",
    "chips/H200/",
    "rounds/",
    "licences/",
    "licences/LIC-A-1/",
    "shipments/",
    "shipments/DEC-A-1/",
    "commitments/",
    "policies/",
    "security-requirements/",
    "attestations/",
    "findings/",
    "webhooks/",
]


def add_rows(world: World, count: int, start: int) -> None:
    """``count`` more of everything (for company A, and shared catalogue rows)."""
    for i in range(start, start + count):
        company = CompanyFactory(slug=f"extra-{i}")
        chip = ForeignChipFactory(code=f"X{i}")
        AllocationRoundFactory(name=f"Wave {i}", opens_on=dt.date(2026, 2, 1))
        licence = ApprovedLicenceFactory(company=world.a, chip=world.h200, round=world.wave)
        ApprovedLicenceFactory(company=company, chip=chip, round=world.wave)
        shipment = ShipmentFactory(licence=licence)
        CustomsEventFactory(shipment=shipment)
        CustomsEventFactory(shipment=world.shipment_a, status="inspecting")
        DomesticCommitmentFactory(company=world.a, chip=world.ascend)
        QuotaPolicyFactory(status="draft")
        requirement = SecurityRequirementFactory()
        SecurityAttestationFactory(company=world.a, requirement=requirement)
        FindingFactory(company=world.a, rule=f"rule-{i}", severity="warning")
        WebhookSubscriptionFactory.create(world.a, f"hook-{i}")


def count_queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{API}/{path}")
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.mark.parametrize("role", ["a", "regulator"])
def test_query_counts_do_not_grow_with_the_rows(world: World, role: str) -> None:
    client = world.client(role)
    client.get(f"{API}/chips/")  # the key's last-used write happens once, here
    add_rows(world, 2, start=0)
    few = {path: count_queries(client, path) for path in ENDPOINTS}
    add_rows(world, 18, start=2)
    many = {path: count_queries(client, path) for path in ENDPOINTS}
    assert many == few
    assert Company.objects.count() == 22
    # And the counts are small: authentication + (count + page [+ one prefetch]).
    assert max(few.values()) <= 5, few
