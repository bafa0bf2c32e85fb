"""The API side of issue 14: ``effective_on`` on licence decisions (stable codes, nothing written on
a refusal) and ``as_known_at`` on the quota endpoint, what-if and policy impact."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from compliance.models import CompanyAPIKey
from licences.models import AllocationRound, ImportLicence, LicenceDecision
from quotas.models import QuotaPolicy
from tests.api.conftest import API
from tests.factories import QuotaPolicyFactory

pytestmark = pytest.mark.django_db
D = Decimal
TODAY = dt.date(2026, 3, 10)


def moment(day: dt.date, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


@pytest.fixture
def today():
    """The clock stands still at noon on 10 March 2026 in Shanghai."""
    with time_machine.travel(moment(TODAY), tick=False):
        yield TODAY


@pytest.fixture
def in_force(world) -> QuotaPolicy:
    """An active 30 % policy recorded on 1 January (so known at every moment these tests ask about)."""
    with time_machine.travel(moment(dt.date(2026, 1, 1)), tick=False):
        return QuotaPolicyFactory(name="In force", status=QuotaPolicy.Status.ACTIVE)


def state(number: str) -> tuple:
    licence = ImportLicence.objects.get(number=number)
    wave = AllocationRound.objects.get(pk=licence.round_id)
    decisions = list(licence.decisions.values_list("kind", "effective_on"))
    return licence.status, licence.granted_quantity, wave.granted_units, wave.granted_value_usd, decisions


APPROVAL = {"granted_quantity": 400, "valid_from": "2026-01-23", "valid_until": "2026-12-31"}


@pytest.mark.parametrize(
    ("extra", "status", "code", "field"),
    [
        ({"effective_on": "2026-03-11"}, 400, "future_effective_date", "effective_on"),
        ({"effective_on": "2026-03-06"}, 400, "late_entry_reason_required", "reason"),
        ({"effective_on": "2026-03-06", "reason": " "}, 400, "late_entry_reason_required", "reason"),
        (
            {"effective_on": "2026-01-11", "reason": "Paper decision"},
            400,
            "effective_before_application",
            "effective_on",
        ),
        ({"effective_on": "11 March"}, 400, "validation_error", "effective_on"),
    ],
)
def test_a_refused_effective_on_answers_a_stable_code_and_changes_nothing(world, today, extra, status, code, field):
    before = state("LIC-A-APPLIED")
    response = world.client("regulator").post(
        f"{API}/licences/LIC-A-APPLIED/approve/?company=alibaba", {**APPROVAL, **extra}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert list(response.json()["errors"]) == [field]
    assert state("LIC-A-APPLIED") == before


def test_a_late_approval_with_a_reason_is_recorded_as_a_late_entry_by_the_keys_user(world, today):
    response = world.client("regulator").post(
        f"{API}/licences/LIC-A-APPLIED/approve/?company=alibaba",
        {**APPROVAL, "effective_on": "2026-01-23", "reason": "Paper licence of 23 January"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "approved"
    row = LicenceDecision.objects.get(licence__number="LIC-A-APPLIED", licence__company=world.a)
    key = CompanyAPIKey.objects.get(name="regulator")
    assert (row.kind, row.effective_on, row.late_entry, row.reason) == (
        "approve", dt.date(2026, 1, 23), True, "Paper licence of 23 January",
    )  # fmt: skip
    assert (row.recorded_by, row.actor, row.granted_quantity) == (key.user, "api-key:regulator", 400)
    assert row.recorded_at == moment(TODAY)


def test_a_decision_before_the_latest_one_is_a_conflict(world, today):
    client = world.client("regulator")
    url = f"{API}/licences/LIC-A-1/"
    assert (
        client.post(f"{url}suspend/", {"reason": "Audit", "effective_on": "2026-03-09"}, format="json").status_code
        == 200
    )
    before = state("LIC-A-1")
    response = client.post(f"{url}reinstate/", {"reason": "Audit passed", "effective_on": "2026-03-08"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "effective_before_last_decision")
    assert state("LIC-A-1") == before
    response = client.post(f"{url}reinstate/", {"reason": "Audit passed"}, format="json")
    assert response.status_code == 200
    assert [kind for kind, _ in state("LIC-A-1")[-1]][-2:] == ["suspend", "reinstate"]


def test_a_company_application_is_the_first_row_of_its_ledger(world, today):
    response = world.client("a").post(
        f"{API}/licences/", {"chip": "H200", "round": world.wave.pk, "requested_quantity": 10, "number": "LIC-A-N"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201
    row = LicenceDecision.objects.get(licence__number="LIC-A-N")
    assert (row.kind, row.effective_on, row.actor, row.recorded_by) == (
        "apply", TODAY, "api-key:alibaba procurement", None,
    )  # fmt: skip


# --- as_known_at ---------------------------------------------------------------------------------


@pytest.fixture
def corrected(world, in_force, today):
    """LIC-A-1 (1,000 H200, approved 23 January) suspended on 10 March with effect from 1 March."""
    response = world.client("regulator").post(
        f"{API}/licences/LIC-A-1/suspend/",
        {"reason": "Notice of 1 March received today", "effective_on": "2026-03-01"},
        format="json",
    )
    assert response.status_code == 200
    return world


def quota(client, **query) -> dict:
    response = client.get(f"{API}/companies/alibaba/quota/", query)
    assert response.status_code == 200, response.json()
    return response.json()


def test_the_quota_endpoint_answers_as_known_at_a_moment(corrected):
    client = corrected.client("a")
    before = quota(client, on="2026-03-05", as_known_at="2026-03-09T12:00:00+08:00")
    after = quota(client, on="2026-03-05", as_known_at="2026-03-10T12:00:00+08:00")  # when it was recorded
    present = quota(client, on="2026-03-05")
    assert (before["imported"], before["required"], before["shortfall"]) == ("1000", "300", "300")
    assert before["as_known_at"] == "2026-03-09T12:00:00+08:00"
    assert (after["imported"], after["required"], after["shortfall"]) == ("0", "0", "0")
    assert (present["imported"], present["as_known_at"]) == ("0", None)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("2026-03-09T12:00:00", "naive_datetime"),
        ("2099-01-01T00:00:00+08:00", "future_event_time"),
        ("yesterday", "validation_error"),
    ],
)
def test_a_bad_as_known_at_is_refused(corrected, value, code):
    client = corrected.client("a")
    response = client.get(f"{API}/companies/alibaba/quota/", {"as_known_at": value})
    assert (response.status_code, response.json()["code"], list(response.json()["errors"])) == (
        400, code, ["as_known_at"],
    )  # fmt: skip
    body = {"on": "2026-03-05", "as_known_at": value, "imports": [{"chip": "H200", "quantity": 10}]}
    response = client.post(f"{API}/companies/alibaba/quota/what-if/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, code)
    response = corrected.client("regulator").get(
        f"{API}/policies/{corrected.policy.pk}/impact/", {"as_known_at": value}
    )
    assert (response.status_code, response.json()["code"]) == (400, code)


def test_what_if_and_policy_impact_take_as_known_at(corrected):
    body = {"on": "2026-03-05", "imports": [{"chip": "H200", "quantity": 100}]}
    url = f"{API}/companies/alibaba/quota/what-if/"
    client = corrected.client("a")
    then = client.post(url, {**body, "as_known_at": "2026-03-09T12:00:00+08:00"}, format="json").json()
    now = client.post(url, body, format="json").json()
    assert (then["imported"], then["required"], then["as_known_at"]) == ("1100", "330", "2026-03-09T12:00:00+08:00")
    assert (now["imported"], now["required"], now["as_known_at"]) == ("100", "30", None)

    draft = corrected.policy  # the world's 30 % draft
    impact = f"{API}/policies/{draft.pk}/impact/"
    regulator = corrected.client("regulator")
    then = regulator.get(impact, {"on": "2026-03-05", "as_known_at": "2026-03-09T12:00:00+08:00"}).json()
    now = regulator.get(impact, {"on": "2026-03-05"}).json()
    by_company = {row["company"]: row for row in then}
    assert (by_company["alibaba"]["current"]["shortfall"], by_company["alibaba"]["proposed"]["shortfall"]) == (
        "300", "300",
    )  # fmt: skip
    assert {row["company"]: row["current"]["imported"] for row in now} == {"alibaba": "0", "tencent": "1000"}


def test_the_schema_documents_effective_on_and_as_known_at(client) -> None:
    schema = client.get("/api/schema/?format=json").json()
    approve = schema["components"]["schemas"]["ApproveRequest"]["properties"]
    reason = schema["components"]["schemas"]["ReasonRequest"]["properties"]
    assert approve["effective_on"]["format"] == reason["effective_on"]["format"] == "date"
    assert "late_entry_reason_required" in approve["effective_on"]["description"]
    quota_parameters = {
        parameter["name"]: parameter
        for parameter in schema["paths"]["/api/v1/companies/{slug}/quota/"]["get"]["parameters"]
    }
    assert quota_parameters["as_known_at"]["schema"]["format"] == "date-time"
    assert "naive_datetime" in quota_parameters["as_known_at"]["description"]
    impact = schema["paths"]["/api/v1/policies/{id}/impact/"]["get"]["parameters"]
    assert "as_known_at" in {parameter["name"] for parameter in impact}
    assert "as_known_at" in schema["components"]["schemas"]["WhatIfRequest"]["properties"]
    assert "as_known_at" in schema["components"]["schemas"]["QuotaReport"]["properties"]
