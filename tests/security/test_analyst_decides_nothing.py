"""Review finding 1 (critical): a read-only Analyst took regulator decisions through the API.

Any staff session used to be "the regulator" in ``/api/v1/``: logged in as ``analyst`` (with
the CSRF token), ``POST /licences/<number>/approve/`` answered 200, a finding was resolved and
a regulator-wide webhook created. A staff session now acts with its user's rights: an Analyst
reads everything and decides nothing, exactly as in the admin.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from compliance.groups import ANALYST, REGULATOR
from compliance.models import Finding, SecurityAttestation, SecurityRequirement, WebhookSubscription
from licences import services
from licences.models import AllocationRound, ChipModel, Company, ImportLicence
from quotas.models import QuotaPolicy
from tests.api.conftest import API, World
from tests.factories import staff_user

pytestmark = pytest.mark.django_db

LEDGER = [
    Company, ChipModel, AllocationRound, ImportLicence, QuotaPolicy, SecurityRequirement,
    SecurityAttestation, Finding, WebhookSubscription,
]  # fmt: skip


def snapshot() -> dict[str, list[dict[str, Any]]]:
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in LEDGER}


def session(user: Any) -> APIClient:
    """A browser-like session: CSRF enforced, the token sent as the admin's JavaScript would."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/admin/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    client.credentials(HTTP_X_CSRFTOKEN=token)
    return client


DECISIONS = [
    ("licence approve", "licences/LIC-A-APPLIED/approve/",
     {"granted_quantity": 400, "valid_from": "2026-02-01", "valid_until": "2026-12-31"}),
    ("licence reject", "licences/LIC-A-APPLIED/reject/", {"reason": "incomplete"}),
    ("licence suspend", "licences/LIC-A-1/suspend/", {"reason": "audit"}),
    ("licence reinstate", "licences/LIC-B-1/reinstate/", {"reason": "audit passed"}),
    ("licence revoke", "licences/LIC-A-1/revoke/", {"reason": "diversion"}),
    ("finding resolve", "findings/{finding}/resolve/", {"note": "fixed"}),
    ("attestation review", "attestations/{attestation}/review/", {"decision": "accept"}),
    ("webhook create", "webhooks/", {"name": "all findings", "url": "https://hooks.example.com/x", "secret": "x" * 20}),
    ("policy create", "policies/", {"name": "Rule 2", "ratio": "0.3000", "effective_from": "2027-01-01"}),
    ("policy activate", "policies/{policy}/activate/", {}),
    ("company create", "companies/", {"slug": "bytedance", "name": "ByteDance"}),
    ("requirement create", "security-requirements/", {"code": "no-military-use", "title": "No military end use"}),
]  # fmt: skip


def _path(world: World, template: str) -> str:
    return f"{API}/" + template.format(
        finding=world.finding_a.pk, attestation=world.attestation_a.pk, policy=world.policy.pk
    )


@pytest.mark.parametrize(("name", "template", "body"), DECISIONS, ids=[d[0] for d in DECISIONS])
def test_an_analyst_session_takes_no_decision(world: World, name: str, template: str, body: dict) -> None:
    services.licence_suspend(licence=world.licence_b, reason="audit")
    client = session(staff_user("analyst", group=ANALYST))
    before = snapshot()
    response = client.post(_path(world, template), body, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert snapshot() == before


@pytest.mark.parametrize(("name", "template", "body"), DECISIONS, ids=[d[0] for d in DECISIONS])
def test_a_regulator_session_with_the_same_csrf_takes_them(world: World, name: str, template: str, body: dict) -> None:
    services.licence_suspend(licence=world.licence_b, reason="audit")
    client = session(staff_user("officer", group=REGULATOR))
    response = client.post(_path(world, template), body, format="json")
    assert response.status_code in (200, 201), response.content


def test_an_analyst_reads_everything(world: World) -> None:
    client = session(staff_user("analyst", group=ANALYST))
    for resource, count in (("licences", 4), ("shipments", 2), ("findings", 2), ("commitments", 2)):
        assert client.get(f"{API}/{resource}/").json()["count"] == count, resource
    assert client.get(f"{API}/policies/{world.policy.pk}/impact/?on=2026-02-01").status_code == 200


def test_the_regulator_wide_webhook_the_analyst_created_is_not_there(world: World) -> None:
    client = session(staff_user("analyst", group=ANALYST))
    response = client.post(
        f"{API}/webhooks/", {"name": "spy", "url": "https://hooks.example.com/spy", "secret": "x" * 20}, format="json"
    )
    assert response.status_code == 403
    assert not WebhookSubscription.objects.filter(company__isnull=True).exists()
    assert client.get(f"{API}/webhooks/").status_code == 403  # as in the admin: no view on subscriptions


def test_a_staff_user_in_no_group_has_no_rights_and_the_admin_agrees(world: World) -> None:
    clerk = staff_user("clerk")
    client = session(clerk)
    response = client.get(f"{API}/licences/")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert client.get("/admin/licences/importlicence/").status_code == 403


def test_an_analyst_refused_in_the_admin_is_refused_in_the_api(world: World) -> None:
    client = session(staff_user("analyst", group=ANALYST))
    admin = client.post(f"/admin/licences/importlicence/{world.applied_a.pk}/decide/approve/", {})
    api = client.post(f"{API}/licences/LIC-A-APPLIED/approve/", DECISIONS[0][2], format="json")
    assert (admin.status_code, api.status_code) == (403, 403)
    assert ImportLicence.objects.get(number="LIC-A-APPLIED").status == "applied"


def test_a_deactivated_regulator_session_is_anonymous(world: World) -> None:
    officer = staff_user("officer", group=REGULATOR)
    client = session(officer)
    officer.is_active = False
    officer.save()
    assert client.get(f"{API}/licences/").status_code == 401
    response = client.post(f"{API}/licences/LIC-A-1/suspend/", {"reason": "audit"}, format="json")
    assert response.status_code == 401
    assert ImportLicence.objects.get(number="LIC-A-1").status == "approved"
