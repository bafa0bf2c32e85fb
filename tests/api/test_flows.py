"""Happy paths end to end, idempotency, throttling, API keys and the OpenAPI schema."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
import yaml
from django.core.management import call_command
from django.utils import timezone

from compliance.models import CompanyAPIKey, IdempotencyRecord
from licences.models import Shipment
from quotas.models import DomesticCommitment
from tests.api.conftest import API, World, client_for
from tests.factories import FindingFactory, QuotaPolicyFactory

pytestmark = pytest.mark.django_db


def test_a_licence_from_application_to_cleared_shipment(world: World) -> None:
    company, regulator = world.client("a"), world.client("regulator")
    applied = company.post(
        f"{API}/licences/", {"chip": "H200", "round": world.wave.pk, "requested_quantity": 200, "number": "LIC-A-2"}
    )
    assert applied.status_code == 201
    assert (applied.json()["company"], applied.json()["status"], applied.json()["unit_value_usd"]) == (
        "alibaba", "applied", "32000.00",
    )  # fmt: skip
    approved = regulator.post(
        f"{API}/licences/LIC-A-2/approve/",
        {"granted_quantity": 150, "valid_from": "2026-02-01", "valid_until": "2026-12-31"},
    ).json()
    assert (approved["status"], approved["granted_quantity"], approved["remaining_quantity"]) == ("approved", 150, 150)
    wave = regulator.get(f"{API}/rounds/{world.wave.pk}/").json()
    # The world's two licences of 1,000 (written by the factory, counted in the round) and this 150.
    assert (wave["granted_units"], wave["remaining_units"], wave["granted_value_usd"]) == (
        2_150, 397_850, "68800000.00",
    )  # fmt: skip

    declared = company.post(
        f"{API}/shipments/",
        {
            "declaration_number": "DEC-A-2", "licence": "LIC-A-2", "quantity": 60, "declared_value_usd": "1920000.00",
            "port_of_entry": "Shenzhen", "declared_at": "2026-03-01T09:00:00+08:00",
        },
    )  # fmt: skip
    assert declared.status_code == 201
    assert (declared.json()["status"], declared.json()["company"]) == ("declared", "alibaba")
    cleared = world.client("customs").post(
        f"{API}/shipments/DEC-A-2/events/", {"status": "cleared", "occurred_at": "2026-03-02T09:00:00+08:00"}
    )
    assert cleared.status_code == 201
    assert [event["status"] for event in cleared.json()["events"]] == ["declared", "cleared"]
    assert cleared.json()["events"][1]["recorded_by"] == "api-key:customs"
    licence = company.get(f"{API}/licences/LIC-A-2/").json()
    assert (licence["reserved_quantity"], licence["used_quantity"], licence["remaining_quantity"]) == (0, 60, 90)


def test_rejection_releases_the_reserved_quantity(world: World) -> None:
    response = world.client("customs").post(f"{API}/shipments/DEC-A-1/events/", {"status": "rejected"})
    assert response.json()["status"] == "rejected"
    world.licence_a.refresh_from_db()
    assert (world.licence_a.reserved_quantity, world.licence_a.used_quantity) == (0, 0)


def test_the_quota_position_and_what_if(world: World) -> None:
    QuotaPolicyFactory(name="In force", status="active", ratio="0.3000", effective_from=dt.date(2026, 1, 1))
    DomesticCommitment.objects.filter(pk=world.commitment_a.pk).update(status="contracted", contracted_on="2026-01-20")
    client = world.client("a")
    position = client.get(f"{API}/companies/alibaba/quota/?on=2026-02-01").json()
    # 1000 H200 licensed x 0.3 = 300 required; 1000 Ascend contracted.
    assert (position["imported"], position["required"], position["committed"], position["shortfall"]) == (
        "1000", "300", "1000", "0",
    )  # fmt: skip
    assert position["coverage"] == "3.3333"
    assert position["headroom"] == [{"chip": "H200", "units": 2333}]
    study = client.post(
        f"{API}/companies/alibaba/quota/what-if/",
        {"on": "2026-02-01", "imports": [{"chip": "H200", "quantity": 3000}]},
    ).json()
    assert (study["required"], study["shortfall"], study["is_short"]) == ("1200", "200", True)
    assert DomesticCommitment.objects.count() == 2  # a study writes nothing


def test_policy_impact_for_the_regulator(world: World) -> None:
    body = world.client("regulator").get(f"{API}/policies/{world.policy.pk}/impact/?on=2026-02-01").json()
    assert [row["company"] for row in body] == ["alibaba", "tencent"]
    assert [row["proposed"]["shortfall"] for row in body] == ["300", "300"]


def test_company_compliance_status_follows_the_worst_active_finding(world: World) -> None:
    client = world.client("a")
    body = client.get(f"{API}/companies/alibaba/compliance/").json()
    assert (body["status"], body["high"], [f["id"] for f in body["findings"]]) == (
        "non_compliant", 1, [world.finding_a.pk],
    )  # fmt: skip
    client_reg = world.client("regulator")
    client_reg.post(f"{API}/findings/{world.finding_a.pk}/resolve/", {"note": "fixed"})
    FindingFactory(company=world.a, rule="licence_expiring", severity="warning")
    assert client.get(f"{API}/companies/alibaba/compliance/").json()["status"] == "at_risk"


def test_staff_session_uses_the_browsable_api(world: World) -> None:
    from rest_framework.test import APIClient

    from compliance.groups import ANALYST
    from tests.factories import staff_user

    staff = staff_user("analyst", group=ANALYST)
    client = APIClient()
    client.force_login(staff)
    response = client.get(f"{API}/licences/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"LIC-B-1" in response.content


# --- Idempotency -------------------------------------------------------------------------------

DECLARE = {
    "declaration_number": "DEC-IDEM",
    "licence": "LIC-A-1",
    "quantity": 10,
    "declared_value_usd": "320000.00",
    "port_of_entry": "Shanghai",
    "declared_at": "2026-03-01T10:00:00+08:00",
}


def test_a_retry_with_the_same_key_and_body_replays_the_first_answer(world: World) -> None:
    client = world.client("a")
    first = client.post(f"{API}/shipments/", DECLARE, HTTP_IDEMPOTENCY_KEY="retry-1")
    second = client.post(f"{API}/shipments/", DECLARE, HTTP_IDEMPOTENCY_KEY="retry-1")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Shipment.objects.filter(declaration_number="DEC-IDEM").count() == 1
    world.licence_a.refresh_from_db()
    assert world.licence_a.reserved_quantity == 110  # reserved once, not twice


def test_the_same_key_with_another_body_is_a_422(world: World) -> None:
    client = world.client("a")
    client.post(f"{API}/shipments/", DECLARE, HTTP_IDEMPOTENCY_KEY="retry-2")
    response = client.post(f"{API}/shipments/", {**DECLARE, "quantity": 11}, HTTP_IDEMPOTENCY_KEY="retry-2")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Shipment.objects.filter(declaration_number="DEC-IDEM").get().quantity == 10


def test_a_refused_request_does_not_burn_its_idempotency_key(world: World) -> None:
    client = world.client("a")
    refused = client.post(f"{API}/shipments/", {**DECLARE, "quantity": 5000}, HTTP_IDEMPOTENCY_KEY="retry-3")
    assert refused.json()["code"] == "licence_exhausted"
    assert IdempotencyRecord.objects.count() == 0
    assert client.post(f"{API}/shipments/", DECLARE, HTTP_IDEMPOTENCY_KEY="retry-3").status_code == 201


def test_idempotency_keys_belong_to_one_api_key(world: World) -> None:
    body = {"name": "hook", "url": "https://hooks.example.com/x", "secret": "x" * 20}
    assert world.client("a").post(f"{API}/webhooks/", body, HTTP_IDEMPOTENCY_KEY="same").status_code == 201
    response = world.client("b").post(f"{API}/webhooks/", body, HTTP_IDEMPOTENCY_KEY="same")
    assert (response.status_code, response.json()["company"]) == (201, "tencent")


def test_an_overlong_idempotency_key_is_refused(world: World) -> None:
    response = world.client("a").post(f"{API}/shipments/", DECLARE, HTTP_IDEMPOTENCY_KEY="k" * 201)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_idempotency_key")
    assert not Shipment.objects.filter(declaration_number="DEC-IDEM").exists()


# --- Throttling -----------------------------------------------------------------------------------


def test_a_key_over_its_rate_gets_429_with_retry_after(world: World, settings) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "3/minute"}}
    client_a, client_b = world.client("a"), world.client("b")
    with time_machine.travel(dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC), tick=False):
        assert [client_a.get(f"{API}/chips/").status_code for _ in range(3)] == [200, 200, 200]
        throttled = client_a.get(f"{API}/chips/")
        assert throttled.status_code == 429
        assert throttled.json()["code"] == "throttled"
        assert throttled["Retry-After"] == "60"
        assert client_b.get(f"{API}/chips/").status_code == 200  # B has its own budget
    with time_machine.travel(dt.datetime(2026, 3, 1, 10, 1, 1, tzinfo=dt.UTC), tick=False):
        assert client_a.get(f"{API}/chips/").status_code == 200


# --- API keys ---------------------------------------------------------------------------------


def test_issue_api_key_prints_a_working_company_key_once(world: World) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("issue_api_key", "--company", "alibaba", "--name", "SAP bridge", stdout=out, stderr=err)
    key = out.getvalue().strip()
    api_key = CompanyAPIKey.objects.get(name="SAP bridge")
    assert (api_key.company, api_key.kind, api_key.user) == (world.a, "company", None)
    assert key not in api_key.hashed_key and api_key.prefix in err.getvalue()
    assert client_for(key).get(f"{API}/licences/").json()["count"] == 2


def test_issue_api_key_for_the_regulator(world: World) -> None:
    from compliance.groups import REGULATOR
    from tests.factories import staff_user

    officer = staff_user("mofcom-officer", group=REGULATOR)
    out = io.StringIO()
    call_command(
        "issue_api_key", "--regulator", "--user", "mofcom-officer", "--name", "MOFCOM", stdout=out, stderr=io.StringIO()
    )
    assert CompanyAPIKey.objects.get(name="MOFCOM").user == officer
    assert client_for(out.getvalue().strip()).get(f"{API}/licences/").json()["count"] == 4


def test_last_used_at_is_written_at_most_once_a_minute(world: World) -> None:
    client = world.client("a")
    start = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        client.get(f"{API}/chips/")
    key = CompanyAPIKey.objects.get(company=world.a)
    assert key.last_used_at == start
    with time_machine.travel(start + dt.timedelta(seconds=59), tick=False):
        client.get(f"{API}/chips/")
    key.refresh_from_db()
    assert key.last_used_at == start
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        client.get(f"{API}/chips/")
    key.refresh_from_db()
    assert key.last_used_at == start + dt.timedelta(seconds=61)
    assert timezone.is_aware(key.last_used_at)


# --- Schema and docs ----------------------------------------------------------------------------


def test_the_openapi_schema_validates_with_no_warnings(tmp_path) -> None:
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": schema["components"]["securitySchemes"]["ApiKeyAuth"]["description"],
    }
    approve = schema["paths"]["/api/v1/licences/{number}/approve/"]["post"]
    assert set(approve["responses"]) >= {"200", "400", "401", "403", "404", "409", "422", "429"}
    assert schema["components"]["schemas"]["ErrorEnvelope"]["required"] == ["code", "detail", "errors"]


def test_the_docs_are_served_offline(client) -> None:
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert b"swagger-ui" in page.content
    assert b"//cdn" not in page.content.replace(b"https://cdn", b"//cdn")
    assert client.get("/api/schema/").status_code == 200
