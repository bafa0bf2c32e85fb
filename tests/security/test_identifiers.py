"""Finding 5 of issue 12: cross-tenant identifier oracle and squatting.

Licence and declaration numbers were unique across all companies, and the refusal said so:
company B (Tencent) could learn that company A (Alibaba) holds a number (409
``duplicate_number`` for A's number, 201 for a free one), and could block A by registering
A's next number first. Numbers are now unique within a company: the first tests reproduce
the attack and show it fails. The rest pin how principals that see many companies address a
number held by several (``?company=`` in URLs, a ``company`` field in bodies and batch items,
``ambiguous_identifier`` when it is needed and missing). See docs/identifiers.md.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from licences.models import CustomsEvent, ImportLicence, Shipment
from tests.api.conftest import API, World
from tests.factories import ApprovedLicenceFactory, ShipmentFactory

pytestmark = pytest.mark.django_db

DECLARE = {
    "quantity": 10,
    "declared_value_usd": "320000.00",
    "port_of_entry": "Shanghai",
    "declared_at": "2026-03-01T10:00:00+08:00",
}


def customs_client(world: World) -> APIClient:
    """Whoever records customs events (the customs principal where it exists, else the regulator)."""
    return world.client("customs" if "customs" in world.keys else "regulator")


def apply(world: World, role: str, number: str, **extra: Any):
    body = {"chip": "H200", "round": world.wave.pk, "requested_quantity": 100, "number": number, **extra}
    return world.client(role).post(f"{API}/licences/", body, format="json")


def declare(world: World, role: str, number: str, licence: str, **extra: Any):
    body = {**DECLARE, "declaration_number": number, "licence": licence, **extra}
    return world.client(role).post(f"{API}/shipments/", body, format="json")


@pytest.fixture
def shared(world: World) -> World:
    """A and B each hold an approved licence LIC-SHARED and a declared shipment DEC-SHARED under it."""
    for company in (world.a, world.b):
        licence = ApprovedLicenceFactory(
            number="LIC-SHARED", company=company, chip=world.h200, round=world.wave, requested_quantity=500
        )
        ShipmentFactory(declaration_number="DEC-SHARED", licence=licence, quantity=10)
        ImportLicence.objects.filter(pk=licence.pk).update(reserved_quantity=10)
    return world


# --- The oracle and the squatting, reproduced --------------------------------------------------------


def test_b_cannot_learn_that_a_holds_a_licence_number(world: World) -> None:
    # Before: 409 duplicate_number "A licence numbered LIC-A-1 already exists." for A's number only.
    taken_by_a = apply(world, "b", "LIC-A-1")
    free = apply(world, "b", "LIC-NOBODY-HOLDS")
    assert (taken_by_a.status_code, free.status_code) == (201, 201)
    assert taken_by_a.json()["company"] == "tencent"
    assert sorted(ImportLicence.objects.filter(number="LIC-A-1").values_list("company__slug", flat=True)) == [
        "alibaba",
        "tencent",
    ]


def test_b_cannot_learn_that_a_holds_a_declaration_number(world: World) -> None:
    # Before: 409 duplicate_declaration "Declaration DEC-A-1 already exists." for A's number only.
    taken_by_a = declare(world, "b", "DEC-A-1", "LIC-B-1")
    free = declare(world, "b", "DEC-NOBODY-HOLDS", "LIC-B-1")
    assert (taken_by_a.status_code, free.status_code) == (201, 201)
    assert Shipment.objects.get(declaration_number="DEC-A-1", company=world.b).quantity == 10
    assert Shipment.objects.get(declaration_number="DEC-A-1", company=world.a).licence == world.licence_a


def test_b_cannot_learn_a_declaration_number_through_a_batch(world: World) -> None:
    items = [{**DECLARE, "declaration_number": "DEC-A-1", "licence": "LIC-B-1"}]
    response = world.client("b").post(f"{API}/shipments/batch/", {"batch_id": "probe", "items": items}, format="json")
    assert response.status_code == 207
    assert (response.json()["counts"]["accepted"], response.json()["refused"]) == (1, [])


def test_b_cannot_squat_a_future_licence_number_of_a(world: World) -> None:
    assert apply(world, "b", "LIC-A-2027-001").status_code == 201  # B registers it first
    response = apply(world, "a", "LIC-A-2027-001")
    assert response.status_code == 201, response.content
    assert (response.json()["number"], response.json()["company"]) == ("LIC-A-2027-001", "alibaba")


def test_b_cannot_squat_a_future_declaration_number_of_a(world: World) -> None:
    assert declare(world, "b", "DEC-A-2", "LIC-B-1").status_code == 201
    response = declare(world, "a", "DEC-A-2", "LIC-A-1")
    assert response.status_code == 201, response.content
    assert response.json()["company"] == "alibaba"


def test_a_company_still_cannot_reuse_its_own_numbers(world: World) -> None:
    refused = apply(world, "a", "LIC-A-1")
    assert (refused.status_code, refused.json()["code"]) == (409, "duplicate_number")
    refused = declare(world, "a", "DEC-A-1", "LIC-A-1")
    assert (refused.status_code, refused.json()["code"]) == (409, "duplicate_declaration")


def test_the_database_allows_a_number_once_per_company(world: World) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        ImportLicence.objects.create(
            number="LIC-A-1", company=world.a, chip=world.h200, round=world.wave, requested_quantity=1,
            unit_value_usd=1, applied_at=world.licence_a.applied_at,
        )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        ShipmentFactory(declaration_number="DEC-A-1", licence=world.licence_a)


def test_the_shipment_matches_licence_trigger_survives_the_migration(world: World) -> None:
    # Migration 0005 rebuilds the tables on SQLite and re-creates the trigger of 0002.
    with pytest.raises(IntegrityError), transaction.atomic():
        ShipmentFactory(declaration_number="DEC-MISMATCH", licence=world.licence_a, company=world.b)


# --- Addressing a number held by several companies -------------------------------------------------


def test_the_regulator_is_told_to_name_the_company_of_an_ambiguous_licence(shared: World) -> None:
    response = shared.client("regulator").get(f"{API}/licences/LIC-SHARED/")
    body = response.json()
    assert (response.status_code, body["code"]) == (400, "ambiguous_identifier")
    assert "company" in body["detail"]
    assert list(body["errors"]) == ["company"]


@pytest.mark.parametrize("company", ["alibaba", "tencent"])
def test_the_regulator_addresses_a_licence_with_the_company_parameter(shared: World, company: str) -> None:
    response = shared.client("regulator").get(f"{API}/licences/LIC-SHARED/?company={company}")
    assert response.status_code == 200
    assert (response.json()["number"], response.json()["company"]) == ("LIC-SHARED", company)


@pytest.mark.parametrize("company", ["nobody", "Not A Slug", "x" * 65])
def test_an_unknown_company_parameter_is_not_found(shared: World, company: str) -> None:
    response = shared.client("regulator").get(f"{API}/licences/LIC-SHARED/?company={company}")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_a_nul_in_the_company_parameter_is_a_validation_error(shared: World) -> None:
    response = shared.client("regulator").get(f"{API}/licences/LIC-SHARED/?company=%00")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_a_decision_on_an_ambiguous_licence_needs_the_company(shared: World) -> None:
    client = shared.client("regulator")
    refused = client.post(f"{API}/licences/LIC-SHARED/suspend/", {"reason": "audit"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (400, "ambiguous_identifier")
    assert set(ImportLicence.objects.filter(number="LIC-SHARED").values_list("status", flat=True)) == {"approved"}
    done = client.post(f"{API}/licences/LIC-SHARED/suspend/?company=tencent", {"reason": "audit"}, format="json")
    assert (done.status_code, done.json()["company"], done.json()["status"]) == (200, "tencent", "suspended")
    assert dict(ImportLicence.objects.filter(number="LIC-SHARED").values_list("company__slug", "status")) == {
        "alibaba": "approved",
        "tencent": "suspended",
    }


def test_a_company_key_finds_its_own_number_and_never_another_company_s(shared: World) -> None:
    client = shared.client("a")
    own = client.get(f"{API}/licences/LIC-SHARED/")
    assert (own.status_code, own.json()["company"]) == (200, "alibaba")
    assert client.get(f"{API}/licences/LIC-SHARED/?company=alibaba").status_code == 200
    other = client.get(f"{API}/licences/LIC-SHARED/?company=tencent")
    unknown = client.get(f"{API}/licences/LIC-NOWHERE/")
    assert (other.status_code, other.json()) == (unknown.status_code, unknown.json()) == (404, other.json())
    assert other.json()["code"] == "not_found"
    assert client.get(f"{API}/shipments/DEC-SHARED/?company=tencent").status_code == 404
    assert client.get(f"{API}/shipments/DEC-B-1/").status_code == 404


def test_shipment_detail_and_events_address_the_company(shared: World) -> None:
    regulator = shared.client("regulator")
    assert regulator.get(f"{API}/shipments/DEC-SHARED/").json()["code"] == "ambiguous_identifier"
    assert regulator.get(f"{API}/shipments/DEC-SHARED/?company=tencent").json()["company"] == "tencent"
    client = customs_client(shared)
    body = {"status": "inspecting", "occurred_at": "2026-03-02T10:00:00+08:00"}
    events = CustomsEvent.objects.count()
    refused = client.post(f"{API}/shipments/DEC-SHARED/events/", body, format="json")
    assert (refused.status_code, refused.json()["code"]) == (400, "ambiguous_identifier")
    assert CustomsEvent.objects.count() == events
    done = client.post(f"{API}/shipments/DEC-SHARED/events/?company=alibaba", body, format="json")
    assert (done.status_code, done.json()["company"], done.json()["status"]) == (201, "alibaba", "inspecting")
    assert dict(Shipment.objects.filter(declaration_number="DEC-SHARED").values_list("company__slug", "status")) == {
        "alibaba": "inspecting",
        "tencent": "declared",
    }


def test_a_company_key_naming_another_company_in_a_body_finds_nothing(shared: World) -> None:
    response = declare(shared, "a", "DEC-A-9", "LIC-SHARED", company="tencent")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert response.json()["errors"]["licence"] == ["Object with number=LIC-SHARED does not exist."]
    assert not Shipment.objects.filter(declaration_number="DEC-A-9").exists()


def test_customs_event_batch_items_name_the_company(shared: World) -> None:
    items = [
        {"declaration_number": "DEC-SHARED", "status": "inspecting", "occurred_at": "2026-03-02T10:00:00+08:00"},
        {"declaration_number": "DEC-SHARED", "company": "tencent", "status": "held",
         "occurred_at": "2026-03-02T10:00:00+08:00"},
        {"declaration_number": "DEC-SHARED", "company": "nobody", "status": "held",
         "occurred_at": "2026-03-02T10:00:00+08:00"},
        {"declaration_number": "DEC-A-1", "status": "inspecting", "occurred_at": "2026-03-02T10:00:00+08:00"},
    ]  # fmt: skip
    response = customs_client(shared).post(
        f"{API}/customs-events/batch/", {"batch_id": "c-1", "items": items}, format="json"
    )
    assert response.status_code == 207, response.content
    body = response.json()
    assert [(item["index"], item["status"]) for item in body["accepted"]] == [(1, "held"), (3, "inspecting")]
    assert [(item["index"], item["code"]) for item in body["refused"]] == [
        (0, "ambiguous_identifier"),
        (2, "shipment_not_found"),
    ]
    assert "company" in body["refused"][0]["detail"]
    assert dict(Shipment.objects.filter(declaration_number="DEC-SHARED").values_list("company__slug", "status")) == {
        "alibaba": "declared",
        "tencent": "held",
    }


def test_a_company_batch_naming_another_company_finds_nothing(shared: World) -> None:
    items = [{**DECLARE, "declaration_number": "DEC-A-9", "licence": "LIC-SHARED", "company": "tencent"}]
    response = shared.client("a").post(f"{API}/shipments/batch/", {"batch_id": "a-1", "items": items}, format="json")
    assert [item["code"] for item in response.json()["refused"]] == ["licence_not_found"]
    assert not Shipment.objects.filter(declaration_number="DEC-A-9").exists()


def test_lists_filter_a_shared_number_by_company(shared: World) -> None:
    client = shared.client("regulator")
    both = client.get(f"{API}/licences/?page_size=200").json()["results"]
    assert sorted(row["company"] for row in both if row["number"] == "LIC-SHARED") == ["alibaba", "tencent"]
    one = client.get(f"{API}/shipments/?company=tencent").json()["results"]
    assert sorted(row["declaration_number"] for row in one) == ["DEC-B-1", "DEC-SHARED"]


def test_the_admin_finds_and_links_both_records_of_a_shared_number(shared: World, admin_client) -> None:
    page = admin_client.get("/admin/licences/importlicence/?q=LIC-SHARED")
    assert page.status_code == 200
    for licence in ImportLicence.objects.filter(number="LIC-SHARED"):
        link = f"/admin/licences/importlicence/{licence.pk}/change/"
        assert link in page.content.decode()
        assert admin_client.get(link).status_code == 200
    page = admin_client.get("/admin/licences/shipment/?q=DEC-SHARED")
    shipments = Shipment.objects.filter(declaration_number="DEC-SHARED")
    assert all(f"/admin/licences/shipment/{shipment.pk}/change/" in page.content.decode() for shipment in shipments)
