"""Event time you can trust (issue 12): every time a client says something happened at.

A clearance dated 2199-12-31 never counted as imported under a policy measured on cleared
quantity (finding 2). Each client-supplied event time is now refused with 400
``future_event_time`` beyond now + ``EVENT_TIME_SKEW`` (dates: after today in the project's
time zone), and a date-time without a time zone with ``naive_datetime``. Expiry and due dates
(``valid_until``, ``due_date``, ``expires_on``) are not event times and may lie ahead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from compliance.models import SecurityAttestation
from licences.models import CustomsEvent, Shipment
from quotas.models import DomesticCommitment
from tests.api.conftest import API, World
from tests.api.test_bad_input import snapshot

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 23:58 in Shanghai: the next day there begins two minutes later, inside the skew.
NOW = dt.datetime(2026, 6, 15, 23, 58, tzinfo=SHANGHAI)
TODAY = NOW.date()


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def prepared(world: World, case: Case) -> World:
    """The world with the case's target in the state its write needs (before any snapshot)."""
    if case.setup:
        case.setup(world)
    return world


def customs_role(world: World) -> str:
    return "customs" if "customs" in world.keys else "regulator"


def _contracted(world: World) -> None:
    world.commitment_a.status = "contracted"
    world.commitment_a.contracted_on = world.commitment_a.pledged_on
    world.commitment_a.save()


@dataclass(frozen=True)
class Case:
    """A write taking one client event time: where it goes and the rest of a valid body."""

    name: str
    kind: str  # "datetime" or "date"
    field: str
    path: Callable[[World], str]
    body: Callable[[World], dict[str, Any]]
    role: Callable[[World], str] = lambda world: "a"
    setup: Callable[[World], None] | None = None
    batch: bool = False


DECLARATION = {"declaration_number": "DEC-T-1", "licence": "LIC-A-1", "quantity": 10,
               "declared_value_usd": "320000.00", "port_of_entry": "Shanghai"}  # fmt: skip
COMMITMENT = {"chip": "ASCEND-910B", "quantity": 500, "unit_price": "12000.00", "unit_price_usd": "12000.00"}

CASES = [
    Case("shipment declared_at", "datetime", "declared_at", lambda w: f"{API}/shipments/", lambda w: DECLARATION),
    Case(
        "customs event occurred_at", "datetime", "occurred_at",
        lambda w: f"{API}/shipments/DEC-A-1/events/", lambda w: {"status": "inspecting"}, role=customs_role,
    ),
    Case(
        "shipment batch declared_at", "datetime", "declared_at",
        lambda w: f"{API}/shipments/batch/", lambda w: DECLARATION, batch=True,
    ),
    Case(
        "customs event batch occurred_at", "datetime", "occurred_at", lambda w: f"{API}/customs-events/batch/",
        lambda w: {"declaration_number": "DEC-A-1", "status": "inspecting"}, role=customs_role, batch=True,
    ),
    Case("commitment pledged_on", "date", "pledged_on", lambda w: f"{API}/commitments/", lambda w: COMMITMENT),
    Case(
        "commitment contracted_on", "date", "contracted_on", lambda w: f"{API}/commitments/",
        lambda w: {**COMMITMENT, "pledged_on": "2026-02-01", "status": "contracted", "contract_reference": "HW-1"},
    ),
    Case(
        "commitment contract on", "date", "on", lambda w: f"{API}/commitments/{w.commitment_a.pk}/contract/",
        lambda w: {"contract_reference": "HW-1"},
    ),
    Case(
        "commitment deliver on", "date", "on", lambda w: f"{API}/commitments/{w.commitment_a.pk}/deliver/",
        lambda w: {"quantity": 1}, setup=_contracted,
    ),
    Case(
        "commitment cancel on", "date", "on", lambda w: f"{API}/commitments/{w.commitment_a.pk}/cancel/",
        lambda w: {"reason": "budget"},
    ),
    Case(
        "attestation attested_on", "date", "attested_on", lambda w: f"{API}/attestations/",
        lambda w: {"requirement": "end-user-verification", "evidence_reference": "audit-1"},
    ),
]  # fmt: skip

DATETIMES = [case for case in CASES if case.kind == "datetime"]
DATES = [case for case in CASES if case.kind == "date"]


def send(world: World, case: Case, value: Any, batch_id: str = "t"):
    body = {**case.body(world), case.field: value}
    if case.batch:
        body = {"batch_id": batch_id, "items": [body]}
    return world.client(case.role(world)).post(case.path(world), body, format="json")


def refusal(response) -> tuple[int, str]:
    """The status and code of a refusal: the answer's, or the one batch item's."""
    body = response.json()
    if response.status_code == 207:
        assert body["accepted"] == []
        (item,) = body["refused"]
        return 207, item["code"]
    return response.status_code, body["code"]


def accepted(response) -> bool:
    if response.status_code == 207:
        return response.json()["counts"]["accepted"] == 1
    return response.status_code in (200, 201)


@pytest.mark.parametrize("case", DATETIMES, ids=lambda case: case.name)
@pytest.mark.parametrize(
    "value",
    [
        "2026-06-15T16:04:00+00:00",  # 6 minutes ahead
        "2026-06-16T00:03:01+08:00",  # 5 minutes and a second ahead
        "2199-12-31T00:00:00+08:00",  # finding 2: a clearance that never counts
        "2027-01-01T00:00:00Z",
    ],
)
def test_an_event_time_beyond_the_skew_is_refused(prepared: World, clock, case: Case, value: str) -> None:
    before = snapshot()
    response = send(prepared, case, value)
    assert refusal(response) == (207 if case.batch else 400, "future_event_time")
    assert snapshot() == before
    if not case.batch:
        assert list(response.json()["errors"]) == [case.field]


@pytest.mark.parametrize("case", DATETIMES, ids=lambda case: case.name)
@pytest.mark.parametrize("value", ["2026-06-15T10:00:00", "2026-06-15 10:00", "2026-06-15T10:00:00.123456"])
def test_an_event_time_without_a_time_zone_is_refused_not_guessed(
    prepared: World, clock, case: Case, value: str
) -> None:
    before = snapshot()
    response = send(prepared, case, value)
    assert refusal(response) == (207 if case.batch else 400, "naive_datetime")
    assert snapshot() == before


@pytest.mark.parametrize("case", DATETIMES, ids=lambda case: case.name)
@pytest.mark.parametrize("value", ["2026-06-16T00:02:59+08:00", "2026-06-15T16:03:00Z", "2026-03-01T10:00:00+08:00"])
def test_an_event_time_within_the_skew_or_past_is_accepted(prepared: World, clock, case: Case, value: str) -> None:
    response = send(prepared, case, value)
    assert accepted(response), response.content


@pytest.mark.parametrize("case", DATETIMES, ids=lambda case: case.name)
def test_the_skew_is_a_setting(prepared: World, clock, settings, case: Case) -> None:
    settings.EVENT_TIME_SKEW = 0
    response = send(prepared, case, "2026-06-15T23:58:01+08:00", batch_id="skew-0")
    assert refusal(response)[1] == "future_event_time"
    settings.EVENT_TIME_SKEW = 3600
    assert accepted(send(prepared, case, "2026-06-16T00:57:00+08:00", batch_id="skew-1h"))


@pytest.mark.parametrize("case", DATES, ids=lambda case: case.name)
@pytest.mark.parametrize("value", ["2026-06-16", "2026-12-31", "2199-12-31"])
def test_an_event_date_after_today_is_refused(prepared: World, clock, case: Case, value: str) -> None:
    before = snapshot()
    response = send(prepared, case, value)
    assert (response.status_code, response.json()["code"]) == (400, "future_event_time")
    assert list(response.json()["errors"]) == [case.field]
    assert snapshot() == before


@pytest.mark.parametrize("case", DATES, ids=lambda case: case.name)
def test_an_event_date_of_today_is_accepted(prepared: World, clock, case: Case) -> None:
    response = send(prepared, case, TODAY.isoformat())
    assert response.status_code in (200, 201), response.content


def test_today_is_the_project_time_zone_s(world: World) -> None:
    # 16:30 UTC on 15 June is already 16 June in Shanghai: 16 June is today, 17 June is not.
    with time_machine.travel(dt.datetime(2026, 6, 15, 16, 30, tzinfo=dt.UTC), tick=False):
        body = {**COMMITMENT, "pledged_on": "2026-06-16"}
        assert world.client("a").post(f"{API}/commitments/", body, format="json").status_code == 201
        body = {**COMMITMENT, "pledged_on": "2026-06-17"}
        assert world.client("a").post(f"{API}/commitments/", body, format="json").json()["code"] == "future_event_time"


def test_a_batch_reports_the_event_time_per_item(world: World, clock) -> None:
    items = [
        {"declaration_number": "DEC-A-1", "status": "inspecting", "occurred_at": "2026-06-15T10:00:00+08:00"},
        {"declaration_number": "DEC-B-1", "status": "inspecting", "occurred_at": "2199-12-31T00:00:00+08:00"},
        {"declaration_number": "DEC-B-1", "status": "inspecting", "occurred_at": "2026-06-15T10:00:00"},
    ]
    events = CustomsEvent.objects.count()
    response = world.client(customs_role(world)).post(
        f"{API}/customs-events/batch/", {"batch_id": "mixed", "items": items}, format="json"
    )
    assert response.status_code == 207, response.content
    body = response.json()
    assert [item["index"] for item in body["accepted"]] == [0]
    assert [(item["index"], item["code"], list(item["errors"])) for item in body["refused"]] == [
        (1, "future_event_time", ["occurred_at"]),
        (2, "naive_datetime", ["occurred_at"]),
    ]
    assert CustomsEvent.objects.count() == events + 1
    assert Shipment.objects.get(declaration_number="DEC-B-1").status == "declared"


def test_another_error_beside_a_future_time_is_a_validation_error(world: World, clock) -> None:
    body = {**DECLARATION, "declared_at": "2199-12-31T00:00:00+08:00", "quantity": 0}
    response = world.client("a").post(f"{API}/shipments/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert set(response.json()["errors"]) == {"declared_at", "quantity"}
    assert response.json()["errors"]["declared_at"][0].startswith("An event cannot be dated in the future")


def test_expiry_and_due_dates_may_lie_ahead(world: World, clock) -> None:
    body = {**COMMITMENT, "pledged_on": "2026-06-01", "due_date": "2027-06-30"}
    created = world.client("a").post(f"{API}/commitments/", body, format="json")
    assert created.status_code == 201, created.content
    assert DomesticCommitment.objects.get(pk=created.json()["id"]).due_date == dt.date(2027, 6, 30)
    approve = {"granted_quantity": 100, "valid_from": "2026-06-01", "valid_until": "2027-12-31"}
    approved = world.client("regulator").post(f"{API}/licences/LIC-A-APPLIED/approve/", approve, format="json")
    assert (approved.status_code, approved.json()["valid_until"]) == (200, "2027-12-31")
    review = {"decision": "accept", "expires_on": "2027-06-15"}
    path = f"{API}/attestations/{world.attestation_a.pk}/review/"
    reviewed = world.client("regulator").post(path, review, format="json")
    assert reviewed.status_code == 200, reviewed.content
    assert SecurityAttestation.objects.get(pk=world.attestation_a.pk).expires_on == dt.date(2027, 6, 15)
