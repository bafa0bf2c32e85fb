"""Every licence number, declaration number and directive reference the API accepts is its
record's address afterwards (``licences.identifiers.REFERENCE``).

Before: a licence applied for as ``LIC/2026/7`` was created (201) and then answered 404 at
``/api/v1/licences/LIC/2026/7/`` and at every decision path, the ``/`` splitting the URL; a
licence numbered ``backfill`` was shadowed by ``/api/v1/licences/backfill/`` (403 to its own
company, the back-entry being the regulator's).
"""

from __future__ import annotations

import re

import pytest

from api.urls import router
from licences.identifiers import RESERVED_REFERENCES
from licences.models import CustomsDirective, ImportLicence, Shipment
from tests.api.conftest import API, World

pytestmark = pytest.mark.django_db

NOT_ADDRESSABLE = ["LIC/2026/7", "LIC.2026", "LIC 7", "-LIC", "backfill", "batch"]


def test_the_reserved_words_are_the_paths_beside_records_addressed_by_a_word() -> None:
    beside = set()
    for _prefix, viewset, _basename in router.registry:
        if not re.fullmatch(viewset.lookup_value_regex, "backfill"):
            continue  # records addressed by a numeric id: no word can shadow one
        beside |= {action.url_path for action in viewset.get_extra_actions() if not action.detail}
    assert beside == RESERVED_REFERENCES == {"backfill", "batch"}


@pytest.mark.parametrize("number", ["LIC-2026_7", "7", "A" * 64, "Backfill"])
def test_an_accepted_licence_number_is_the_licences_address(world: World, number: str) -> None:
    company, regulator = world.client("a"), world.client("regulator")
    applied = company.post(
        f"{API}/licences/", {"chip": "H200", "round": world.wave.pk, "requested_quantity": 10, "number": number}
    )
    assert applied.status_code == 201, applied.content
    assert company.get(f"{API}/licences/{number}/").json()["number"] == number
    approved = regulator.post(
        f"{API}/licences/{number}/approve/",
        {"granted_quantity": 10, "valid_from": "2026-02-01", "valid_until": "2026-12-31"},
        format="json",
    )
    assert (approved.status_code, approved.json()["status"]) == (200, "approved")


@pytest.mark.parametrize("number", NOT_ADDRESSABLE)
def test_a_licence_number_that_could_not_be_addressed_is_refused(world: World, number: str) -> None:
    before = list(ImportLicence.objects.order_by("pk").values_list("pk", "number"))
    response = world.client("a").post(
        f"{API}/licences/", {"chip": "H200", "round": world.wave.pk, "requested_quantity": 10, "number": number}
    )
    assert (response.status_code, response.json()["code"], list(response.json()["errors"])) == (
        400, "validation_error", ["number"],
    )  # fmt: skip
    assert response.json()["errors"]["number"] == [
        "1 to 64 letters, digits, '-' and '_', starting with a letter or digit; not backfill, batch."
    ]
    assert list(ImportLicence.objects.order_by("pk").values_list("pk", "number")) == before


DECLARE = {
    "licence": "LIC-A-1",
    "quantity": 10,
    "declared_value_usd": "320000.00",
    "port_of_entry": "Shanghai",
    "declared_at": "2026-03-01T10:00:00+08:00",
}


@pytest.mark.parametrize("number", NOT_ADDRESSABLE)
def test_a_declaration_number_that_could_not_be_addressed_is_refused(world: World, number: str) -> None:
    before = Shipment.objects.count()
    response = world.client("a").post(f"{API}/shipments/", {**DECLARE, "declaration_number": number}, format="json")
    assert (response.status_code, response.json()["code"], list(response.json()["errors"])) == (
        400, "validation_error", ["declaration_number"],
    )  # fmt: skip
    assert Shipment.objects.count() == before


def test_a_declaration_in_a_batch_with_a_slash_is_refused_by_item(world: World) -> None:
    response = world.client("a").post(
        f"{API}/shipments/batch/",
        {
            "batch_id": "slash-1",
            "items": [{**DECLARE, "declaration_number": "DEC-OK-1"}, {**DECLARE, "declaration_number": "DEC/2"}],
        },
        format="json",
    )
    assert response.status_code == 207, response.content
    body = response.json()
    assert [item["index"] for item in body["accepted"]] == [0]
    assert [(item["index"], item["code"]) for item in body["refused"]] == [(1, "validation_error")]
    assert world.client("a").get(f"{API}/shipments/DEC-OK-1/").status_code == 200
    assert not Shipment.objects.filter(declaration_number="DEC/2").exists()


def test_a_directive_reference_with_a_slash_is_refused(world: World) -> None:
    response = world.client("customs").post(
        f"{API}/customs-directives/",
        {"reference": "GACC/2026/20", "chip": "H200", "blocked_from": "2026-04-01"},
        format="json",
    )
    assert (response.status_code, response.json()["code"], list(response.json()["errors"])) == (
        400, "validation_error", ["reference"],
    )  # fmt: skip
    assert not CustomsDirective.objects.exists()
