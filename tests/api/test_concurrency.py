"""The licence and round invariants under concurrent API requests (PostgreSQL, real connections).

Each thread has its own database connection (Django's are per thread) and closes it at
the end. A barrier releases all requests at once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection

from licences.models import AllocationRound, ImportLicence, Shipment
from tests.api.conftest import API, client_for, issue_key
from tests.factories import (
    AllocationRoundFactory,
    ApprovedLicenceFactory,
    CompanyFactory,
    ForeignChipFactory,
    ImportLicenceFactory,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 24


@pytest.fixture(autouse=True)
def _no_recheck_enqueued(monkeypatch):
    """Writes enqueue compliance re-checks on commit; those belong to the jobs' tests, and a
    message left in the shared broker would reach another test run's worker."""
    monkeypatch.setattr("compliance.signals.enqueue_recheck", lambda company_id: None)


def run_at_once(requests: list[Callable[[], tuple[int, str]]]) -> list[tuple[int, str]]:
    """Run every request in its own thread, all released together; their (status, code)."""
    barrier = threading.Barrier(len(requests))
    results: list[tuple[int, str] | None] = [None] * len(requests)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = requests[index]()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(result is not None for result in results)
    return results  # type: ignore[return-value]


def _answer(response) -> tuple[int, str]:
    body = response.json()
    return response.status_code, body.get("code", "") if response.status_code >= 400 else ""


def test_simultaneous_declarations_never_overdraw_a_licence() -> None:
    company = CompanyFactory(slug="alibaba")
    licence = ApprovedLicenceFactory(number="LIC-RACE", company=company, requested_quantity=100)
    key = issue_key(company=company)

    def declare(index: int) -> Callable[[], tuple[int, str]]:
        def request() -> tuple[int, str]:
            body = {
                "declaration_number": f"DEC-RACE-{index:03d}", "licence": "LIC-RACE", "quantity": 10,
                "declared_value_usd": "320000.00", "port_of_entry": "Shanghai",
                "declared_at": "2026-03-01T10:00:00+08:00",
            }  # fmt: skip
            return _answer(client_for(key).post(f"{API}/shipments/", body, format="json"))

        return request

    results = run_at_once([declare(index) for index in range(THREADS)])
    assert Counter(results) == {(201, ""): 10, (409, "licence_exhausted"): THREADS - 10}
    licence.refresh_from_db()
    assert (licence.reserved_quantity, licence.used_quantity, licence.remaining_quantity) == (100, 0, 0)
    assert Shipment.objects.filter(licence=licence).count() == 10


def test_simultaneous_approvals_never_exceed_the_round_cap() -> None:
    wave = AllocationRoundFactory(name="Tight wave", unit_cap=1000, value_cap_usd=Decimal("1000000000.00"))
    chip = ForeignChipFactory()
    companies = [CompanyFactory(slug=f"company-{index}") for index in range(THREADS)]
    for index, company in enumerate(companies):
        ImportLicenceFactory(
            number=f"LIC-APP-{index:03d}", company=company, chip=chip, round=wave, requested_quantity=100
        )
    key = issue_key()

    def approve(index: int) -> Callable[[], tuple[int, str]]:
        def request() -> tuple[int, str]:
            body = {"granted_quantity": 100, "valid_from": "2026-02-01", "valid_until": "2026-12-31"}
            return _answer(client_for(key).post(f"{API}/licences/LIC-APP-{index:03d}/approve/", body, format="json"))

        return request

    results = run_at_once([approve(index) for index in range(THREADS)])
    assert Counter(results) == {(200, ""): 10, (409, "round_cap_exceeded"): THREADS - 10}
    wave.refresh_from_db()
    assert (wave.granted_units, wave.granted_value_usd) == (1000, Decimal("32000000.00"))
    assert ImportLicence.objects.filter(round=wave, status="approved").count() == 10


def test_simultaneous_retries_with_one_idempotency_key_create_one_shipment() -> None:
    company = CompanyFactory(slug="alibaba")
    ApprovedLicenceFactory(number="LIC-IDEM", company=company, requested_quantity=1000)
    key = issue_key(company=company)
    body = {
        "declaration_number": "DEC-IDEM", "licence": "LIC-IDEM", "quantity": 10,
        "declared_value_usd": "320000.00", "port_of_entry": "Shanghai", "declared_at": "2026-03-01T10:00:00+08:00",
    }  # fmt: skip
    bodies: list[dict] = []

    def retry() -> tuple[int, str]:
        response = client_for(key).post(f"{API}/shipments/", body, format="json", HTTP_IDEMPOTENCY_KEY="once")
        bodies.append(response.json())
        return _answer(response)

    results = run_at_once([retry for _ in range(8)])
    assert Counter(results) == {(201, ""): 8}
    assert all(answer == bodies[0] for answer in bodies)
    assert Shipment.objects.filter(declaration_number="DEC-IDEM").count() == 1
    assert ImportLicence.objects.get(number="LIC-IDEM").reserved_quantity == 10
    assert AllocationRound.objects.count() == 1


def test_simultaneous_subscriptions_never_exceed_a_companys_webhook_cap(settings) -> None:
    """``WEBHOOK_MAX_PER_COMPANY`` holds when a company's procurement system registers its
    receivers all at once: each request counted the subscriptions before any was saved."""
    from compliance.models import WebhookSubscription

    settings.COMPLIANCE = {**settings.COMPLIANCE, "WEBHOOK_MAX_PER_COMPANY": 3}
    company = CompanyFactory(slug="alibaba")
    key = issue_key(company=company)

    def subscribe(index: int) -> Callable[[], tuple[int, str]]:
        def request() -> tuple[int, str]:
            body = {"name": f"hook-{index}", "url": f"https://hooks.example.com/{index}", "secret": "x" * 20}
            return _answer(client_for(key).post(f"{API}/webhooks/", body, format="json"))

        return request

    results = run_at_once([subscribe(index) for index in range(8)])
    assert Counter(results) == {(201, ""): 3, (400, "webhook_limit_reached"): 5}
    assert WebhookSubscription.objects.filter(company=company).count() == 3
