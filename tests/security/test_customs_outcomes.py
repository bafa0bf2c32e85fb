"""Review finding 2 (high): a company asserted its own customs outcome.

A company key could post any customs event on its own shipments: it cleared a shipment held
under an entry-block directive, and cleared 1,000 units dated 2199-12-31 so they never counted
as imported under a policy measured on cleared quantity. Customs outcomes are now the customs
authority's alone: a company key gets 403 ``customs_outcome_forbidden`` for every status,
single and batch (the whole batch is refused: nothing of it is read or written); a customs
key records them, on any company's shipments, with its label as ``recorded_by``. A release of
a held shipment is such a customs act.
"""

from __future__ import annotations

from typing import Any

import pytest

from compliance.models import IngestionBatch
from licences.models import CustomsEvent, ImportLicence, Shipment
from tests.api.conftest import API, World
from tests.factories import CustomsDirectiveFactory

pytestmark = pytest.mark.django_db

OUTCOMES = ["inspecting", "held", "cleared", "rejected"]


def state() -> tuple[list, list, list]:
    return (
        list(Shipment.objects.order_by("pk").values()),
        list(CustomsEvent.objects.order_by("pk").values()),
        list(ImportLicence.objects.order_by("pk").values("reserved_quantity", "used_quantity")),
    )


def _declare_held(world: World) -> str:
    """Company A declares H200 while an entry block is in force: the shipment is held."""
    CustomsDirectiveFactory(reference="GACC-2026-017", chip=world.h200, blocked_from="2026-01-01", blocked_until=None)
    response = world.client("a").post(
        f"{API}/shipments/",
        {
            "declaration_number": "DEC-A-HELD", "licence": "LIC-A-1", "quantity": 100,
            "declared_value_usd": "3200000.00", "port_of_entry": "Shanghai",
            "declared_at": "2026-03-01T09:00:00+08:00",
        },
        format="json",
    )  # fmt: skip
    assert (response.status_code, response.json()["status"]) == (201, "held")
    return "DEC-A-HELD"


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_a_company_key_may_not_record_any_customs_outcome(world: World, outcome: str) -> None:
    before = state()
    response = world.client("a").post(
        f"{API}/shipments/DEC-A-1/events/", {"status": outcome, "occurred_at": "2026-03-02T09:00:00+08:00"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "customs_outcome_forbidden"
    assert state() == before


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_a_company_key_may_not_record_any_customs_outcome_in_a_batch(world: World, outcome: str) -> None:
    before = state()
    response = world.client("a").post(
        f"{API}/customs-events/batch/",
        {"batch_id": f"self-{outcome}", "items": [{"declaration_number": "DEC-A-1", "status": outcome}]},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (403, "customs_outcome_forbidden")
    assert state() == before
    assert not IngestionBatch.objects.exists()


def test_a_company_cannot_clear_its_own_shipment_held_under_an_entry_block(world: World) -> None:
    number = _declare_held(world)
    before = state()
    for status in ("cleared", "inspecting"):
        response = world.client("a").post(f"{API}/shipments/{number}/events/", {"status": status})
        assert (response.status_code, response.json()["code"]) == (403, "customs_outcome_forbidden")
    assert state() == before


def test_a_company_cannot_clear_far_in_the_future_to_dodge_the_cleared_quantity(world: World) -> None:
    response = world.client("a").post(
        f"{API}/shipments/DEC-A-1/events/", {"status": "cleared", "occurred_at": "2199-12-31T00:00:00+08:00"}
    )
    assert (response.status_code, response.json()["code"]) == (403, "customs_outcome_forbidden")
    assert Shipment.objects.get(declaration_number="DEC-A-1").cleared_at is None


def test_a_company_cannot_record_outcomes_for_another_company_either_and_learns_nothing(world: World) -> None:
    mine = world.client("a").post(f"{API}/shipments/DEC-A-1/events/", {"status": "cleared"})
    theirs = world.client("a").post(f"{API}/shipments/DEC-B-1/events/", {"status": "cleared"})
    missing = world.client("a").post(f"{API}/shipments/DEC-NOPE/events/", {"status": "cleared"})
    assert mine.json() == theirs.json() == missing.json()
    assert {mine.status_code, theirs.status_code, missing.status_code} == {403}


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_a_customs_key_records_each_outcome_on_any_company_s_shipment(world: World, outcome: str) -> None:
    for number in ("DEC-A-1", "DEC-B-1"):
        response = world.client("customs").post(
            f"{API}/shipments/{number}/events/", {"status": outcome, "occurred_at": "2026-03-02T09:00:00+08:00"}
        )
        assert response.status_code == 201, response.content
        assert response.json()["status"] == outcome
        assert response.json()["events"][-1]["recorded_by"] == "api-key:customs"
    assert CustomsEvent.objects.filter(status=outcome, recorded_by="api-key:customs").count() == 2


def test_a_customs_key_records_outcomes_in_a_batch(world: World) -> None:
    items: list[dict[str, Any]] = [
        {"declaration_number": "DEC-A-1", "status": "inspecting", "occurred_at": "2026-03-02T09:00:00+08:00"},
        {"declaration_number": "DEC-A-1", "status": "held", "occurred_at": "2026-03-03T09:00:00+08:00"},
        {"declaration_number": "DEC-A-1", "status": "cleared", "occurred_at": "2026-03-04T09:00:00+08:00"},
        {"declaration_number": "DEC-B-1", "status": "rejected", "occurred_at": "2026-03-04T09:00:00+08:00"},
    ]
    response = world.client("customs").post(
        f"{API}/customs-events/batch/", {"batch_id": "border-1", "items": items}, format="json"
    )
    assert response.status_code == 207
    assert response.json()["counts"] == {"received": 4, "accepted": 4, "refused": 0}
    assert dict(Shipment.objects.values_list("declaration_number", "status")) == {
        "DEC-A-1": "cleared",
        "DEC-B-1": "rejected",
    }
    assert set(CustomsEvent.objects.exclude(status="declared").values_list("recorded_by", flat=True)) == {
        "api-key:customs"
    }


def test_the_release_of_a_held_shipment_is_a_customs_act_recorded_with_who_did_it(world: World) -> None:
    number = _declare_held(world)
    for role in ("regulator", "a"):
        assert world.client(role).post(f"{API}/shipments/{number}/events/", {"status": "cleared"}).status_code == 403
    released = world.client("customs").post(
        f"{API}/shipments/{number}/events/",
        {"status": "cleared", "occurred_at": "2026-03-05T09:00:00+08:00", "note": "released after licensing"},
    )
    assert released.status_code == 201
    event = CustomsEvent.objects.get(shipment__declaration_number=number, status="cleared")
    assert (event.recorded_by, event.note) == ("api-key:customs", "released after licensing")
    shipment = Shipment.objects.get(declaration_number=number)
    assert (shipment.status, shipment.held_since) == ("cleared", None)
