"""Entry-block directives are customs acts: ``/api/v1/customs-directives/`` (list, issue, lift).

Issuing and lifting record who did it (``issued_by``, ``lifted_by`` with the principal's label,
``lifted_at``); only a customs key may do either. Lifting ends the block on the day of the lift.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from licences.models import CustomsDirective, Shipment
from tests.api.conftest import API, World
from tests.factories import CustomsDirectiveFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def block(world: World) -> CustomsDirective:
    return CustomsDirectiveFactory(
        reference="GACC-2026-017", chip=world.h200, blocked_from="2026-01-01", blocked_until=None
    )


def declare(world: World, number: str, at: str) -> dict:
    response = world.client("a").post(
        f"{API}/shipments/",
        {
            "declaration_number": number, "licence": "LIC-A-1", "quantity": 10,
            "declared_value_usd": "320000.00", "port_of_entry": "Shanghai", "declared_at": at,
        },
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    return response.json()


def test_customs_issues_a_directive_recorded_with_who_did_it(world: World) -> None:
    response = world.client("customs").post(
        f"{API}/customs-directives/",
        {"reference": "GACC-2026-020", "chip": "H200", "blocked_from": "2026-04-01", "reason": "pending review"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json() == {
        "reference": "GACC-2026-020", "chip": "H200", "blocked_from": "2026-04-01", "blocked_until": None,
        "reason": "pending review", "issued_by": "api-key:customs", "lifted_at": None, "lifted_by": "",
        "lift_reason": "",
    }  # fmt: skip
    assert CustomsDirective.objects.get(reference="GACC-2026-020").issued_by == "api-key:customs"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"reference": "GACC-2026-017", "chip": "H200", "blocked_from": "2026-04-01"}, 409, "duplicate_reference"),
        ({"reference": "X-1", "chip": "H200", "blocked_from": "2026-04-01", "blocked_until": "2026-03-01"},
         400, "invalid_window"),
        ({"reference": "X-2", "chip": "NOPE", "blocked_from": "2026-04-01"}, 400, "validation_error"),
        ({"reference": "X 3", "chip": "H200", "blocked_from": "2026-04-01"}, 400, "validation_error"),
        ({"reference": "X-4", "chip": "H200"}, 400, "validation_error"),
        ({"reference": "X-5", "chip": "H200", "blocked_from": "2026-04-01", "lifted_by": "me"},
         400, "validation_error"),
    ],
)  # fmt: skip
def test_a_bad_directive_is_refused_and_nothing_written(
    world: World, block: CustomsDirective, body: dict, status: int, code: str
) -> None:
    response = world.client("customs").post(f"{API}/customs-directives/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert list(CustomsDirective.objects.values_list("reference", flat=True)) == ["GACC-2026-017"]


def test_customs_lifts_a_block_recorded_with_who_and_why_and_it_ends_that_day(
    world: World, block: CustomsDirective
) -> None:
    held = declare(world, "DEC-A-H", "2026-03-01T09:00:00+08:00")
    assert held["status"] == "held"
    with time_machine.travel(NOW, tick=False):
        response = world.client("customs").post(
            f"{API}/customs-directives/GACC-2026-017/lift/", {"reason": "licences granted"}, format="json"
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["lifted_by"], body["lift_reason"], body["blocked_until"]) == (
        "api-key:customs", "licences granted", "2026-03-10",
    )  # fmt: skip
    block.refresh_from_db()
    assert block.lifted_at == NOW
    # The lift does not release what it held: that is a customs event of its own.
    assert Shipment.objects.get(declaration_number="DEC-A-H").status == "held"
    assert declare(world, "DEC-A-LATER", "2026-03-11T09:00:00+08:00")["status"] == "declared"
    history = list(block.history.order_by("history_id").values_list("lifted_by", flat=True))
    assert history == ["", "api-key:customs"]


@pytest.mark.parametrize("role", ["a", "b", "regulator"])
def test_nobody_but_customs_lifts_a_block(world: World, block: CustomsDirective, role: str) -> None:
    response = world.client(role).post(f"{API}/customs-directives/GACC-2026-017/lift/", {"reason": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    block.refresh_from_db()
    assert (block.blocked_until, block.lifted_at, block.lifted_by) == (None, None, "")


def test_a_lift_twice_or_of_a_block_not_in_force_is_a_conflict(world: World, block: CustomsDirective) -> None:
    CustomsDirectiveFactory(reference="OLD", chip=world.h200, blocked_from="2025-01-01", blocked_until="2025-02-01")
    future = timezone.localdate() + dt.timedelta(days=30)
    CustomsDirectiveFactory(reference="LATER", chip=world.h200, blocked_from=future, blocked_until=None)
    customs = world.client("customs")
    assert customs.post(f"{API}/customs-directives/GACC-2026-017/lift/", {"reason": "ok"}).status_code == 200
    for reference, code in (
        ("GACC-2026-017", "directive_already_lifted"),
        ("OLD", "directive_not_in_force"),
        ("LATER", "directive_not_in_force"),
    ):
        response = customs.post(f"{API}/customs-directives/{reference}/lift/", {"reason": "again"})
        assert (response.status_code, response.json()["code"]) == (409, code), reference
    assert customs.post(f"{API}/customs-directives/GACC-2026-017/lift/", {"reason": ""}).status_code == 400
    assert customs.post(f"{API}/customs-directives/NOPE/lift/", {"reason": "x"}).status_code == 404


def test_directives_are_listed_and_filtered_for_every_principal(world: World, block: CustomsDirective) -> None:
    CustomsDirectiveFactory(
        reference="ASCEND-BLOCK", chip=world.ascend, blocked_from="2025-01-01", blocked_until="2025-02-01"
    )
    for role in ("a", "regulator", "customs"):
        client = world.client(role)
        assert [row["reference"] for row in client.get(f"{API}/customs-directives/").json()["results"]] == [
            "GACC-2026-017", "ASCEND-BLOCK",
        ]  # fmt: skip
        in_force = client.get(f"{API}/customs-directives/?in_force_on=2026-03-01").json()["results"]
        assert [row["reference"] for row in in_force] == ["GACC-2026-017"]
        by_chip = client.get(f"{API}/customs-directives/?chip=ASCEND-910B").json()["results"]
        assert [row["reference"] for row in by_chip] == ["ASCEND-BLOCK"]
