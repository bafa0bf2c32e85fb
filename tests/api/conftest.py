"""Fixtures for the API tests: two companies (A = Alibaba, B = Tencent), their records, keys."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from compliance.models import CompanyAPIKey, Finding, WebhookSubscription
from licences.models import ChipModel, Company, CustomsEvent, ImportLicence
from tests.factories import (
    AllocationRoundFactory,
    ApprovedLicenceFactory,
    CompanyFactory,
    CustomsEventFactory,
    DomesticChipFactory,
    DomesticCommitmentFactory,
    FindingFactory,
    ForeignChipFactory,
    QuotaPolicyFactory,
    SecurityAttestationFactory,
    SecurityRequirementFactory,
    ShipmentFactory,
    at,
    issue_api_key,
)

D = Decimal
API = "/api/v1"


def issue_key(*, company: Company | None = None, name: str = "test key", kind: str | None = None) -> str:
    """A fresh API key; returns the secret. A company's, or without a company a regulator key
    (of a new Regulator-group user), or ``kind="customs"``."""
    kind = kind or (CompanyAPIKey.Kind.COMPANY if company is not None else CompanyAPIKey.Kind.REGULATOR)
    _, key = issue_api_key(kind=kind, company=company, name=name)
    return key


def client_for(key: str | None) -> APIClient:
    client = APIClient()
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


class WebhookSubscriptionFactory:
    """Plain helper (tests/factories.py has no webhook factory)."""

    @staticmethod
    def create(company: Company | None, name: str) -> WebhookSubscription:
        return WebhookSubscription.objects.create(
            company=company, name=name, url=f"https://hooks.example.com/{name}", secret="s" * 32
        )


@dataclass
class World:
    """One of everything for A and for B, plus shared catalogue data."""

    a: Company
    b: Company
    h200: ChipModel
    ascend: ChipModel
    wave: Any
    licence_a: Any
    licence_b: Any
    applied_a: Any
    applied_b: Any
    shipment_a: Any
    shipment_b: Any
    commitment_a: Any
    commitment_b: Any
    policy: Any
    requirement: Any
    attestation_a: Any
    attestation_b: Any
    finding_a: Finding
    finding_b: Finding
    webhook_a: WebhookSubscription
    webhook_b: WebhookSubscription
    keys: dict[str, str | None] = field(default_factory=dict)

    def client(self, role: str) -> APIClient:
        return client_for(self.keys[role])


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    """Throttle counters live in the cache: every test starts with a full budget."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(db) -> World:
    a = CompanyFactory(slug="alibaba", name="Alibaba")
    b = CompanyFactory(slug="tencent", name="Tencent")
    h200 = ForeignChipFactory()
    ascend = DomesticChipFactory()
    wave = AllocationRoundFactory()
    licence_a = ApprovedLicenceFactory(number="LIC-A-1", company=a, chip=h200, round=wave, requested_quantity=1000)
    licence_b = ApprovedLicenceFactory(number="LIC-B-1", company=b, chip=h200, round=wave, requested_quantity=1000)
    applied_a = ImportLicence.objects.create(
        number="LIC-A-APPLIED", company=a, chip=h200, round=wave, requested_quantity=500,
        unit_value_usd=D("32000.00"), applied_at=at(dt.date(2026, 1, 12)),
    )  # fmt: skip
    applied_b = ImportLicence.objects.create(
        number="LIC-B-APPLIED", company=b, chip=h200, round=wave, requested_quantity=500,
        unit_value_usd=D("32000.00"), applied_at=at(dt.date(2026, 1, 12)),
    )  # fmt: skip
    shipment_a = ShipmentFactory(declaration_number="DEC-A-1", licence=licence_a)
    shipment_b = ShipmentFactory(declaration_number="DEC-B-1", licence=licence_b)
    for shipment in (shipment_a, shipment_b):
        CustomsEventFactory(shipment=shipment)
        # The factory writes the shipment directly: reserve its quantity as shipment_declare would.
        ImportLicence.objects.filter(pk=shipment.licence_id).update(reserved_quantity=shipment.quantity)
    requirement = SecurityRequirementFactory(code="end-user-verification")
    world = World(
        a=a,
        b=b,
        h200=h200,
        ascend=ascend,
        wave=wave,
        licence_a=licence_a,
        licence_b=licence_b,
        applied_a=applied_a,
        applied_b=applied_b,
        shipment_a=shipment_a,
        shipment_b=shipment_b,
        commitment_a=DomesticCommitmentFactory(company=a, chip=ascend, status="pledged", contracted_on=None),
        commitment_b=DomesticCommitmentFactory(company=b, chip=ascend, status="pledged", contracted_on=None),
        policy=QuotaPolicyFactory(name="Domestic purchase rule", status="draft"),
        requirement=requirement,
        attestation_a=SecurityAttestationFactory(
            company=a, requirement=requirement, status="submitted", expires_on=None
        ),
        attestation_b=SecurityAttestationFactory(
            company=b, requirement=requirement, status="submitted", expires_on=None
        ),
        finding_a=FindingFactory(company=a),
        finding_b=FindingFactory(company=b),
        webhook_a=WebhookSubscriptionFactory.create(a, "alibaba-hook"),
        webhook_b=WebhookSubscriptionFactory.create(b, "tencent-hook"),
    )
    world.keys = {
        "anonymous": None,
        "a": issue_key(company=a, name="alibaba procurement"),
        "b": issue_key(company=b, name="tencent procurement"),
        "regulator": issue_key(name="regulator"),
        "customs": issue_key(name="customs", kind="customs"),
    }
    assert CustomsEvent.objects.count() == 2
    return world
