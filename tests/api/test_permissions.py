"""The permission matrix: every endpoint x {anonymous, company A, company B, regulator}.

Targets belong to company A (Alibaba). B (Tencent) must get 404 for A's records (never
403: that would confirm they exist) except where the action itself is the regulator's
(403 ``permission_denied``). Lists never show another company's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from licences import services
from tests.api.conftest import API, World

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "a", "b", "regulator")


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: Callable[[World], str]
    expected: tuple[int, int, int, int]  # anonymous, A, B, regulator
    body: Callable[[World], dict[str, Any]] | None = None
    setup: Callable[[World], None] | None = None


def _suspend_a(w: World) -> None:
    services.licence_suspend(licence=w.licence_a, reason="audit")


def _contract_a(w: World) -> None:
    w.commitment_a.status = "contracted"
    w.commitment_a.contracted_on = w.commitment_a.pledged_on
    w.commitment_a.save()


READ, CATALOGUE = (401, 200, 200, 200), (401, 200, 200, 200)
OWN_DETAIL = (401, 200, 404, 200)
REGULATOR_ONLY_CREATE = (401, 403, 403, 201)
REGULATOR_ONLY_ACTION = (401, 403, 403, 200)
OWN_ACTION = (401, 200, 404, 200)
NAMED_CREATE = (401, 201, 400, 201)  # body names company A: B cannot see A

CASES = [
    # Companies
    Case("companies list", "get", lambda w: f"{API}/companies/", READ),
    Case("company detail", "get", lambda w: f"{API}/companies/alibaba/", OWN_DETAIL),
    Case(
        "company create", "post", lambda w: f"{API}/companies/", REGULATOR_ONLY_CREATE,
        body=lambda w: {"slug": "bytedance", "name": "ByteDance"},
    ),
    Case("company quota", "get", lambda w: f"{API}/companies/alibaba/quota/?on=2026-02-01", OWN_DETAIL),
    Case(
        "company what-if", "post", lambda w: f"{API}/companies/alibaba/quota/what-if/", OWN_ACTION,
        body=lambda w: {"on": "2026-02-01", "imports": [{"chip": "H200", "quantity": 10}]},
    ),
    Case("company compliance", "get", lambda w: f"{API}/companies/alibaba/compliance/", OWN_DETAIL),
    # Catalogue
    Case("chips list", "get", lambda w: f"{API}/chips/", CATALOGUE),
    Case("chip detail", "get", lambda w: f"{API}/chips/H200/", CATALOGUE),
    Case(
        "chip create", "post", lambda w: f"{API}/chips/", REGULATOR_ONLY_CREATE,
        body=lambda w: {
            "code": "H20", "name": "NVIDIA H20", "vendor": "NVIDIA", "origin": "foreign",
            "export_controlled": True, "compute_index": "1.000", "reference_unit_value_usd": "12500.00",
        },
    ),
    Case("rounds list", "get", lambda w: f"{API}/rounds/", CATALOGUE),
    Case("round detail", "get", lambda w: f"{API}/rounds/{w.wave.pk}/", CATALOGUE),
    Case(
        "round create", "post", lambda w: f"{API}/rounds/", REGULATOR_ONLY_CREATE,
        body=lambda w: {
            "name": "Wave 2", "unit_cap": 100000, "value_cap_usd": "3000000000.00",
            "opens_on": "2026-07-01", "closes_on": "2026-12-31",
        },
    ),
    # Licences
    Case("licences list", "get", lambda w: f"{API}/licences/", READ),
    Case("licence detail", "get", lambda w: f"{API}/licences/LIC-A-1/", OWN_DETAIL),
    Case(
        "licence apply", "post", lambda w: f"{API}/licences/", NAMED_CREATE,
        body=lambda w: {"company": "alibaba", "chip": "H200", "round": w.wave.pk, "requested_quantity": 100},
    ),
    Case(
        "licence approve", "post", lambda w: f"{API}/licences/LIC-A-APPLIED/approve/", REGULATOR_ONLY_ACTION,
        body=lambda w: {"granted_quantity": 400, "valid_from": "2026-02-01", "valid_until": "2026-12-31"},
    ),
    Case(
        "licence reject", "post", lambda w: f"{API}/licences/LIC-A-APPLIED/reject/", REGULATOR_ONLY_ACTION,
        body=lambda w: {"reason": "incomplete"},
    ),
    Case(
        "licence suspend", "post", lambda w: f"{API}/licences/LIC-A-1/suspend/", REGULATOR_ONLY_ACTION,
        body=lambda w: {"reason": "audit"},
    ),
    Case(
        "licence reinstate", "post", lambda w: f"{API}/licences/LIC-A-1/reinstate/", REGULATOR_ONLY_ACTION,
        body=lambda w: {"reason": "audit passed"}, setup=_suspend_a,
    ),
    Case(
        "licence revoke", "post", lambda w: f"{API}/licences/LIC-A-1/revoke/", REGULATOR_ONLY_ACTION,
        body=lambda w: {"reason": "diversion"},
    ),
    # Shipments
    Case("shipments list", "get", lambda w: f"{API}/shipments/", READ),
    Case("shipment detail", "get", lambda w: f"{API}/shipments/DEC-A-1/", OWN_DETAIL),
    Case(
        "shipment declare", "post", lambda w: f"{API}/shipments/", NAMED_CREATE,
        body=lambda w: {
            "declaration_number": "DEC-NEW", "licence": "LIC-A-1", "quantity": 10,
            "declared_value_usd": "320000.00", "port_of_entry": "Shanghai", "declared_at": "2026-03-01T10:00:00+08:00",
        },
    ),
    Case(
        "shipment event", "post", lambda w: f"{API}/shipments/DEC-A-1/events/", (401, 201, 404, 201),
        body=lambda w: {"status": "inspecting", "occurred_at": "2026-02-02T10:00:00+08:00"},
    ),
    # Commitments
    Case("commitments list", "get", lambda w: f"{API}/commitments/", READ),
    Case("commitment detail", "get", lambda w: f"{API}/commitments/{w.commitment_a.pk}/", OWN_DETAIL),
    Case(
        "commitment record", "post", lambda w: f"{API}/commitments/", NAMED_CREATE,
        body=lambda w: {
            "company": "alibaba", "chip": "ASCEND-910B", "quantity": 500, "unit_price": "12000.00",
            "unit_price_usd": "12000.00", "pledged_on": "2026-02-01",
        },
    ),
    Case(
        "commitment contract", "post", lambda w: f"{API}/commitments/{w.commitment_a.pk}/contract/", OWN_ACTION,
        body=lambda w: {"on": "2026-02-01", "contract_reference": "HW-2026-7"},
    ),
    Case(
        "commitment deliver", "post", lambda w: f"{API}/commitments/{w.commitment_a.pk}/deliver/", OWN_ACTION,
        body=lambda w: {"on": "2026-03-01", "quantity": 100}, setup=_contract_a,
    ),
    Case(
        "commitment cancel", "post", lambda w: f"{API}/commitments/{w.commitment_a.pk}/cancel/", OWN_ACTION,
        body=lambda w: {"on": "2026-03-01", "reason": "budget"},
    ),
    # Policies
    Case("policies list", "get", lambda w: f"{API}/policies/", CATALOGUE),
    Case("policy detail", "get", lambda w: f"{API}/policies/{w.policy.pk}/", CATALOGUE),
    Case(
        "policy create", "post", lambda w: f"{API}/policies/", REGULATOR_ONLY_CREATE,
        body=lambda w: {"name": "Rule 2", "ratio": "0.3000", "effective_from": "2027-01-01"},
    ),
    Case(
        "policy activate", "post", lambda w: f"{API}/policies/{w.policy.pk}/activate/", REGULATOR_ONLY_ACTION
    ),
    Case(
        "policy impact", "get", lambda w: f"{API}/policies/{w.policy.pk}/impact/?on=2026-02-01", REGULATOR_ONLY_ACTION
    ),
    # Security conditions
    Case("requirements list", "get", lambda w: f"{API}/security-requirements/", CATALOGUE),
    Case("requirement detail", "get", lambda w: f"{API}/security-requirements/end-user-verification/", CATALOGUE),
    Case(
        "requirement create", "post", lambda w: f"{API}/security-requirements/", REGULATOR_ONLY_CREATE,
        body=lambda w: {"code": "no-military-use", "title": "No military end use"},
    ),
    Case("attestations list", "get", lambda w: f"{API}/attestations/", READ),
    Case("attestation detail", "get", lambda w: f"{API}/attestations/{w.attestation_a.pk}/", OWN_DETAIL),
    Case(
        "attestation submit", "post", lambda w: f"{API}/attestations/", NAMED_CREATE,
        body=lambda w: {
            "company": "alibaba", "requirement": "end-user-verification", "attested_on": "2026-02-01",
            "evidence_reference": "AUDIT-7",
        },
    ),
    Case(
        "attestation review", "post", lambda w: f"{API}/attestations/{w.attestation_a.pk}/review/",
        REGULATOR_ONLY_ACTION, body=lambda w: {"decision": "accept"},
    ),
    # Findings
    Case("findings list", "get", lambda w: f"{API}/findings/", READ),
    Case("finding detail", "get", lambda w: f"{API}/findings/{w.finding_a.pk}/", OWN_DETAIL),
    Case(
        "finding acknowledge", "post", lambda w: f"{API}/findings/{w.finding_a.pk}/acknowledge/", OWN_ACTION,
        body=lambda w: {},
    ),
    Case(
        "finding resolve", "post", lambda w: f"{API}/findings/{w.finding_a.pk}/resolve/", REGULATOR_ONLY_ACTION,
        body=lambda w: {"note": "fixed"},
    ),
    # Webhooks
    Case("webhooks list", "get", lambda w: f"{API}/webhooks/", READ),
    Case("webhook detail", "get", lambda w: f"{API}/webhooks/{w.webhook_a.pk}/", OWN_DETAIL),
    Case(
        "webhook create", "post", lambda w: f"{API}/webhooks/", (401, 201, 201, 201),
        body=lambda w: {"name": "alerts", "url": "https://hooks.example.com/x", "secret": "x" * 20},
    ),
    Case(
        "webhook update", "patch", lambda w: f"{API}/webhooks/{w.webhook_a.pk}/", OWN_ACTION,
        body=lambda w: {"name": "renamed"},
    ),
    Case("webhook delete", "delete", lambda w: f"{API}/webhooks/{w.webhook_a.pk}/", (401, 204, 404, 204)),
]  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_status_code_for_each_role(world: World, case: Case, role: str) -> None:
    if case.setup is not None:
        case.setup(world)
    client = world.client(role)
    body = case.body(world) if case.body else None
    response = getattr(client, case.method)(case.path(world), body, format="json")
    expected = dict(zip(ROLES, case.expected, strict=True))[role]
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()) == {"code", "detail", "errors"}
        assert (
            response.json()["code"]
            == {
                400: "validation_error",
                401: "not_authenticated",
                403: "permission_denied",
                404: "not_found",
            }[expected]
        )


# --- Lists never leak -----------------------------------------------------------------------------


LISTS: dict[str, tuple[str, str, Callable[[World], tuple[Any, Any]]]] = {
    "companies": ("companies", "slug", lambda w: ("alibaba", "tencent")),
    "licences": ("licences", "number", lambda w: (("LIC-A-1", "LIC-A-APPLIED"), ("LIC-B-1", "LIC-B-APPLIED"))),
    "shipments": ("shipments", "declaration_number", lambda w: ("DEC-A-1", "DEC-B-1")),
    "commitments": ("commitments", "id", lambda w: (w.commitment_a.pk, w.commitment_b.pk)),
    "attestations": ("attestations", "id", lambda w: (w.attestation_a.pk, w.attestation_b.pk)),
    "findings": ("findings", "id", lambda w: (w.finding_a.pk, w.finding_b.pk)),
    "webhooks": ("webhooks", "id", lambda w: (w.webhook_a.pk, w.webhook_b.pk)),
}


def _as_set(value: Any) -> set:
    return set(value) if isinstance(value, tuple) else {value}


@pytest.mark.parametrize("resource", list(LISTS))
def test_lists_show_each_company_only_its_own_rows(world: World, resource: str) -> None:
    path, key, owned = LISTS[resource]
    rows_a, rows_b = (_as_set(rows) for rows in owned(world))
    for role, expected in (("a", rows_a), ("b", rows_b), ("regulator", rows_a | rows_b)):
        body = world.client(role).get(f"{API}/{path}/").json()
        assert {row[key] for row in body["results"]} == expected, role
        assert body["count"] == len(expected), role


@pytest.mark.parametrize("resource", ["licences", "shipments", "commitments", "attestations", "findings"])
def test_filtering_by_another_company_finds_nothing(world: World, resource: str) -> None:
    body = world.client("a").get(f"{API}/{resource}/?company=tencent").json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}
    body = world.client("regulator").get(f"{API}/{resource}/?company=tencent").json()
    assert body["count"] == (2 if resource == "licences" else 1)


def test_a_company_key_cannot_subscribe_a_webhook_for_another_company(world: World) -> None:
    response = world.client("a").post(
        f"{API}/webhooks/",
        {"name": "spy", "url": "https://hooks.example.com/spy", "secret": "x" * 20, "company": "tencent"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"company": ["Object with slug=tencent does not exist."]}


def test_webhook_secret_is_never_shown(world: World) -> None:
    response = world.client("a").get(f"{API}/webhooks/{world.webhook_a.pk}/")
    assert "secret" not in response.json()


def test_a_non_staff_session_is_anonymous_and_staff_act_as_regulator(world: World, django_user_model) -> None:
    from rest_framework.test import APIClient

    clerk = django_user_model.objects.create_user("clerk", password="pw-123456789")
    client = APIClient()
    client.force_login(clerk)
    assert client.get(f"{API}/licences/").status_code == 401
    staff = django_user_model.objects.create_user("officer", password="pw-123456789", is_staff=True)
    client.force_login(staff)
    body = client.get(f"{API}/licences/").json()
    assert body["count"] == 4


def test_a_wrong_or_revoked_key_is_refused(world: World) -> None:
    from compliance.models import CompanyAPIKey
    from tests.api.conftest import client_for

    assert client_for("nonsense.key").get(f"{API}/chips/").json()["code"] == "authentication_failed"
    CompanyAPIKey.objects.filter(company=world.a).update(revoked=True)
    response = world.client("a").get(f"{API}/chips/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
