"""The permission matrix: every endpoint and action of ``/api/v1/`` x every principal.

Principals (columns, in this order):

- ``anonymous``: no credentials;
- ``own``: company A's key on A's records; ``other``: company B's key on A's records;
- ``regulator``: a regulator key (of a Regulator-group user); ``customs``: a customs key;
- ``reg_session``: a Regulator-group staff session; ``analyst``: an Analyst-group staff session;
  ``superuser``: a superuser session; ``staff``: a staff session in no group;
- ``dead_key``: a regulator key whose user has been deactivated.

Every expected status is written out by hand, per case, from the domain's "who asserts what"
table (``docs/principals.md``), not derived from ``api.permissions.MATRIX``: the
test checks the table, it does not restate it. ``test_every_route_is_in_the_matrix_and_here``
checks no endpoint or action is missing from the table or from this walk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from api.permissions import MATRIX, resource_of
from api.urls import router
from compliance.groups import ANALYST, REGULATOR
from licences import services
from tests.api.conftest import API, World, client_for
from tests.factories import CustomsDirectiveFactory, issue_api_key, staff_user

pytestmark = pytest.mark.django_db

ROLES = (
    "anonymous", "own", "other", "regulator", "customs",
    "reg_session", "analyst", "superuser", "staff", "dead_key",
)  # fmt: skip


@dataclass(frozen=True)
class Case:
    name: str
    resource: str  # the router basename (the matrix's resource)
    action: str
    method: str
    path: Callable[[World], str]
    expected: tuple[int, ...]  # one status per role, in ROLES order
    body: Callable[[World], Any] | None = None
    setup: Callable[[World], None] | None = None
    #: A principal allowed to call it (the bad-input tests send their bodies as this one).
    author: str = "regulator"


def _evidence_file_a(w: World) -> None:
    w.attestation_a.evidence_file.save("audit.pdf", ContentFile(b"%PDF-1.7\n"), save=True)


def _suspend_a(w: World) -> None:
    services.licence_suspend(licence=w.licence_a, reason="audit")


def _contract_a(w: World) -> None:
    w.commitment_a.status = "contracted"
    w.commitment_a.contracted_on = w.commitment_a.pledged_on
    w.commitment_a.save()


DECLARATION = {
    "declaration_number": "DEC-NEW", "licence": "LIC-A-1", "quantity": 10,
    "declared_value_usd": "320000.00", "port_of_entry": "Shanghai", "declared_at": "2026-03-01T10:00:00+08:00",
}  # fmt: skip
EVENT = {"status": "inspecting", "occurred_at": "2026-02-02T10:00:00+08:00"}
BACKFILL_ROW = {
    "company": "alibaba", "chip": "H200", "round": "Wave 1", "number": "LIC-PAPER-1", "requested_quantity": 100,
    "applied_on": "2026-01-10", "approved_on": "2026-01-23", "granted_quantity": 100,
    "valid_from": "2026-01-23", "valid_until": "2026-12-31",
}  # fmt: skip

#                    anon  own  other reg  cust regS anal sup  staff dead
CASES = [
    Case("api root", "api-root", "list", "get", lambda w: f"{API}/",
         (401, 200, 200, 200, 200, 200, 200, 200, 403, 401)),
    # Companies
    Case("companies list", "company", "list", "get", lambda w: f"{API}/companies/",
         (401, 200, 200, 200, 403, 200, 200, 200, 403, 401)),
    Case("company detail", "company", "retrieve", "get", lambda w: f"{API}/companies/alibaba/",
         (401, 200, 404, 200, 403, 200, 200, 200, 403, 401)),
    Case("company create", "company", "create", "post", lambda w: f"{API}/companies/",
         (401, 403, 403, 201, 403, 201, 403, 201, 403, 401),
         body=lambda w: {"slug": "bytedance", "name": "ByteDance"}),
    Case("company quota", "company-quota", "quota", "get", lambda w: f"{API}/companies/alibaba/quota/?on=2026-02-01",
         (401, 200, 404, 200, 403, 200, 200, 200, 403, 401)),
    Case("company what-if", "company-quota", "what_if", "post", lambda w: f"{API}/companies/alibaba/quota/what-if/",
         (401, 200, 404, 200, 403, 200, 200, 200, 403, 401),
         body=lambda w: {"on": "2026-02-01", "imports": [{"chip": "H200", "quantity": 10}]}),
    Case("company compliance", "company-compliance", "compliance", "get",
         lambda w: f"{API}/companies/alibaba/compliance/",
         (401, 200, 404, 200, 403, 200, 200, 200, 403, 401)),
    # Chip catalogue
    Case("chips list", "chip", "list", "get", lambda w: f"{API}/chips/",
         (401, 200, 200, 200, 200, 200, 200, 200, 403, 401)),
    Case("chip detail", "chip", "retrieve", "get", lambda w: f"{API}/chips/H200/",
         (401, 200, 200, 200, 200, 200, 200, 200, 403, 401)),
    Case("chip create", "chip", "create", "post", lambda w: f"{API}/chips/",
         (401, 403, 403, 201, 403, 201, 403, 201, 403, 401),
         body=lambda w: {
             "code": "H20", "name": "NVIDIA H20", "vendor": "NVIDIA", "origin": "foreign",
             "export_controlled": True, "compute_index": "1.000", "reference_unit_value_usd": "12500.00",
         }),
    # Rounds
    Case("rounds list", "round", "list", "get", lambda w: f"{API}/rounds/",
         (401, 200, 200, 200, 403, 200, 200, 200, 403, 401)),
    Case("round detail", "round", "retrieve", "get", lambda w: f"{API}/rounds/{w.wave.pk}/",
         (401, 200, 200, 200, 403, 200, 200, 200, 403, 401)),
    Case("round create", "round", "create", "post", lambda w: f"{API}/rounds/",
         (401, 403, 403, 201, 403, 201, 403, 201, 403, 401),
         body=lambda w: {
             "name": "Wave 2", "unit_cap": 100000, "value_cap_usd": "3000000000.00",
             "opens_on": "2026-07-01", "closes_on": "2026-12-31",
         }),
    # Licences: the company applies, the regulator decides
    Case("licences list", "licence", "list", "get", lambda w: f"{API}/licences/",
         (401, 200, 200, 200, 403, 200, 200, 200, 403, 401)),
    Case("licence detail", "licence", "retrieve", "get", lambda w: f"{API}/licences/LIC-A-1/",
         (401, 200, 404, 200, 403, 200, 200, 200, 403, 401)),
    Case("licence decisions", "licence", "decisions", "get", lambda w: f"{API}/licences/LIC-A-1/decisions/",
         (401, 200, 404, 200, 403, 200, 200, 200, 403, 401)),
    Case("licence apply", "licence", "create", "post", lambda w: f"{API}/licences/",
         (401, 201, 400, 403, 403, 403, 403, 403, 403, 401),
         body=lambda w: {"company": "alibaba", "chip": "H200", "round": w.wave.pk, "requested_quantity": 100},
         author="own"),
    Case("licence approve", "licence", "approve", "post", lambda w: f"{API}/licences/LIC-A-APPLIED/approve/",
         (401, 403, 403, 200, 403, 200, 403, 200, 403, 401),
         body=lambda w: {"granted_quantity": 400, "valid_from": "2026-02-01", "valid_until": "2026-12-31"}),
    Case("licence reject", "licence", "reject", "post", lambda w: f"{API}/licences/LIC-A-APPLIED/reject/",
         (401, 403, 403, 200, 403, 200, 403, 200, 403, 401),
         body=lambda w: {"reason": "incomplete"}),
    Case("licence suspend", "licence", "suspend", "post", lambda w: f"{API}/licences/LIC-A-1/suspend/",
         (401, 403, 403, 200, 403, 200, 403, 200, 403, 401),
         body=lambda w: {"reason": "audit"}),
    Case("licence reinstate", "licence", "reinstate", "post", lambda w: f"{API}/licences/LIC-A-1/reinstate/",
         (401, 403, 403, 200, 403, 200, 403, 200, 403, 401),
         body=lambda w: {"reason": "audit passed"}, setup=_suspend_a),
    Case("licence revoke", "licence", "revoke", "post", lambda w: f"{API}/licences/LIC-A-1/revoke/",
         (401, 403, 403, 200, 403, 200, 403, 200, 403, 401),
         body=lambda w: {"reason": "diversion"}),
    Case("licence backfill", "licence", "backfill", "post", lambda w: f"{API}/licences/backfill/",
         (401, 403, 403, 201, 403, 201, 403, 201, 403, 401),
         body=lambda w: {"rows": [BACKFILL_ROW]}),
    # Shipments: the company declares, customs records the border's outcomes
    Case("shipments list", "shipment", "list", "get", lambda w: f"{API}/shipments/",
         (401, 200, 200, 200, 200, 200, 200, 200, 403, 401)),
    Case("shipment detail", "shipment", "retrieve", "get", lambda w: f"{API}/shipments/DEC-A-1/",
         (401, 200, 404, 200, 200, 200, 200, 200, 403, 401)),
    Case("shipment declare", "shipment", "create", "post", lambda w: f"{API}/shipments/",
         (401, 201, 400, 403, 403, 403, 403, 403, 403, 401),
         body=lambda w: DECLARATION, author="own"),
    Case("shipments batch", "shipment", "batch", "post", lambda w: f"{API}/shipments/batch/",
         (401, 207, 207, 403, 403, 403, 403, 403, 403, 401),
         body=lambda w: {"batch_id": "m-1", "items": [{**DECLARATION, "declaration_number": "DEC-BATCH"}]},
         author="own"),
    Case("shipment event", "shipment", "events", "post", lambda w: f"{API}/shipments/DEC-A-1/events/",
         (401, 403, 403, 403, 201, 403, 403, 403, 403, 401),
         body=lambda w: EVENT, author="customs"),
    Case("customs events batch", "customs-event", "batch", "post", lambda w: f"{API}/customs-events/batch/",
         (401, 403, 403, 403, 207, 403, 403, 403, 403, 401),
         body=lambda w: {"batch_id": "m-2", "items": [{**EVENT, "declaration_number": "DEC-A-1"}]},
         author="customs"),
    # Entry-block directives: customs issues and lifts them
    Case("directives list", "customs-directive", "list", "get", lambda w: f"{API}/customs-directives/",
         (401, 200, 200, 200, 200, 200, 200, 200, 403, 401)),
    Case("directive detail", "customs-directive", "retrieve", "get",
         lambda w: f"{API}/customs-directives/GACC-IN-FORCE/",
         (401, 200, 200, 200, 200, 200, 200, 200, 403, 401)),
    Case("directive issue", "customs-directive", "create", "post", lambda w: f"{API}/customs-directives/",
         (401, 403, 403, 403, 201, 403, 403, 403, 403, 401),
         body=lambda w: {"reference": "GACC-NEW", "chip": "H200", "blocked_from": "2026-02-01"},
         author="customs"),
    Case("directive lift", "customs-directive", "lift", "post",
         lambda w: f"{API}/customs-directives/GACC-IN-FORCE/lift/",
         (401, 403, 403, 403, 200, 403, 403, 403, 403, 401),
         body=lambda w: {"reason": "licences granted"}, author="customs"),
    # Domestic commitments: the company's own assertions
    Case("commitments list", "commitment", "list", "get", lambda w: f"{API}/commitments/",
         (401, 200, 200, 200, 403, 200, 200, 200, 403, 401)),
    Case("commitment detail", "commitment", "retrieve", "get", lambda w: f"{API}/commitments/{w.commitment_a.pk}/",
         (401, 200, 404, 200, 403, 200, 200, 200, 403, 401)),
    Case("commitment changes", "commitment", "changes", "get",
         lambda w: f"{API}/commitments/{w.commitment_a.pk}/changes/",
         (401, 200, 404, 200, 403, 200, 200, 200, 403, 401)),
    Case("commitment record", "commitment", "create", "post", lambda w: f"{API}/commitments/",
         (401, 201, 400, 403, 403, 403, 403, 403, 403, 401),
         body=lambda w: {
             "company": "alibaba", "chip": "ASCEND-910B", "quantity": 500, "unit_price": "12000.00",
             "unit_price_usd": "12000.00",
             "pledged_on": "2026-02-01",
         }, author="own"),
    Case("commitment contract", "commitment", "contract", "post",
         lambda w: f"{API}/commitments/{w.commitment_a.pk}/contract/",
         (401, 200, 404, 403, 403, 403, 403, 403, 403, 401),
         body=lambda w: {"on": "2026-02-01", "contract_reference": "HW-2026-7"}, author="own"),
    Case("commitment deliver", "commitment", "deliver", "post",
         lambda w: f"{API}/commitments/{w.commitment_a.pk}/deliver/",
         (401, 200, 404, 403, 403, 403, 403, 403, 403, 401),
         body=lambda w: {"on": "2026-03-01", "quantity": 100}, setup=_contract_a, author="own"),
    Case("commitment cancel", "commitment", "cancel", "post",
         lambda w: f"{API}/commitments/{w.commitment_a.pk}/cancel/",
         (401, 200, 404, 403, 403, 403, 403, 403, 403, 401),
         body=lambda w: {"on": "2026-03-01", "reason": "budget"}, author="own"),
    # Quota policies
    Case("policies list", "policy", "list", "get", lambda w: f"{API}/policies/",
         (401, 200, 200, 200, 403, 200, 200, 200, 403, 401)),
    Case("policy detail", "policy", "retrieve", "get", lambda w: f"{API}/policies/{w.policy.pk}/",
         (401, 200, 200, 200, 403, 200, 200, 200, 403, 401)),
    Case("policy create", "policy", "create", "post", lambda w: f"{API}/policies/",
         (401, 403, 403, 201, 403, 201, 403, 201, 403, 401),
         body=lambda w: {"name": "Rule 2", "ratio": "0.3000", "effective_from": "2027-01-01"}),
    Case("policy activate", "policy", "activate", "post", lambda w: f"{API}/policies/{w.policy.pk}/activate/",
         (401, 403, 403, 200, 403, 200, 403, 200, 403, 401)),
    Case("policy impact", "policy", "impact", "get", lambda w: f"{API}/policies/{w.policy.pk}/impact/?on=2026-02-01",
         (401, 403, 403, 200, 403, 200, 200, 200, 403, 401)),
    # US security conditions
    Case("requirements list", "security-requirement", "list", "get", lambda w: f"{API}/security-requirements/",
         (401, 200, 200, 200, 403, 200, 200, 200, 403, 401)),
    Case("requirement detail", "security-requirement", "retrieve", "get",
         lambda w: f"{API}/security-requirements/end-user-verification/",
         (401, 200, 200, 200, 403, 200, 200, 200, 403, 401)),
    Case("requirement create", "security-requirement", "create", "post", lambda w: f"{API}/security-requirements/",
         (401, 403, 403, 201, 403, 201, 403, 201, 403, 401),
         body=lambda w: {"code": "no-military-use", "title": "No military end use"}),
    Case("attestations list", "attestation", "list", "get", lambda w: f"{API}/attestations/",
         (401, 200, 200, 200, 403, 200, 200, 200, 403, 401)),
    Case("attestation detail", "attestation", "retrieve", "get",
         lambda w: f"{API}/attestations/{w.attestation_a.pk}/",
         (401, 200, 404, 200, 403, 200, 200, 200, 403, 401)),
    Case("attestation submit", "attestation", "create", "post", lambda w: f"{API}/attestations/",
         (401, 201, 400, 403, 403, 403, 403, 403, 403, 401),
         body=lambda w: {
             "company": "alibaba", "requirement": "end-user-verification", "attested_on": "2026-02-01",
             "evidence_reference": "AUDIT-7",
         }, author="own"),
    Case("attestation evidence", "attestation", "evidence", "get",
         lambda w: f"{API}/attestations/{w.attestation_a.pk}/evidence/",
         (401, 200, 404, 200, 403, 200, 200, 200, 403, 401), setup=_evidence_file_a),
    Case("attestation reviews", "attestation", "reviews", "get",
         lambda w: f"{API}/attestations/{w.attestation_a.pk}/reviews/",
         (401, 200, 404, 200, 403, 200, 200, 200, 403, 401)),
    Case("attestation review", "attestation", "review", "post",
         lambda w: f"{API}/attestations/{w.attestation_a.pk}/review/",
         (401, 403, 403, 200, 403, 200, 403, 200, 403, 401),
         body=lambda w: {"decision": "accept"}),
    # Findings
    Case("findings list", "finding", "list", "get", lambda w: f"{API}/findings/",
         (401, 200, 200, 200, 403, 200, 200, 200, 403, 401)),
    Case("finding detail", "finding", "retrieve", "get", lambda w: f"{API}/findings/{w.finding_a.pk}/",
         (401, 200, 404, 200, 403, 200, 200, 200, 403, 401)),
    Case("finding transitions", "finding", "transitions", "get",
         lambda w: f"{API}/findings/{w.finding_a.pk}/transitions/",
         (401, 200, 404, 200, 403, 200, 200, 200, 403, 401)),
    Case("finding acknowledge", "finding", "acknowledge", "post",
         lambda w: f"{API}/findings/{w.finding_a.pk}/acknowledge/",
         (401, 200, 404, 403, 403, 403, 403, 403, 403, 401),
         body=lambda w: {}, author="own"),
    Case("finding resolve", "finding", "resolve", "post", lambda w: f"{API}/findings/{w.finding_a.pk}/resolve/",
         (401, 403, 403, 200, 403, 200, 403, 200, 403, 401),
         body=lambda w: {"note": "fixed"}),
    # Webhooks: a company its own, the regulator any; analysts and customs none
    Case("webhooks list", "webhook", "list", "get", lambda w: f"{API}/webhooks/",
         (401, 200, 200, 200, 403, 200, 403, 200, 403, 401)),
    Case("webhook detail", "webhook", "retrieve", "get", lambda w: f"{API}/webhooks/{w.webhook_a.pk}/",
         (401, 200, 404, 200, 403, 200, 403, 200, 403, 401)),
    Case("webhook create", "webhook", "create", "post", lambda w: f"{API}/webhooks/",
         (401, 201, 201, 201, 403, 201, 403, 201, 403, 401),
         body=lambda w: {"name": "alerts", "url": "https://hooks.example.com/x", "secret": "x" * 20}),
    Case("webhook update", "webhook", "partial_update", "patch", lambda w: f"{API}/webhooks/{w.webhook_a.pk}/",
         (401, 200, 404, 200, 403, 200, 403, 200, 403, 401),
         body=lambda w: {"name": "renamed"}),
    Case("webhook delete", "webhook", "destroy", "delete", lambda w: f"{API}/webhooks/{w.webhook_a.pk}/",
         (401, 204, 404, 204, 403, 204, 403, 204, 403, 401)),
]  # fmt: skip

CODES = {400: "validation_error", 403: "permission_denied", 404: "not_found"}


def principal_client(world: World, role: str) -> APIClient:
    """A client acting as ``role`` (see the module docstring)."""
    if role in ("anonymous", "regulator", "customs"):
        return world.client(role)
    if role in ("own", "other"):
        return world.client({"own": "a", "other": "b"}[role])
    if role == "dead_key":
        officer = staff_user("departed-officer", group=REGULATOR)
        _, key = issue_api_key(kind="regulator", user=officer, name="departed")
        officer.is_active = False
        officer.save()
        return client_for(key)
    user = {
        "reg_session": lambda: staff_user("officer", group=REGULATOR),
        "analyst": lambda: staff_user("analyst", group=ANALYST),
        "superuser": lambda: staff_user("root", superuser=True),
        "staff": lambda: staff_user("clerk"),
    }[role]()
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def matrix_world(world: World) -> World:
    CustomsDirectiveFactory(reference="GACC-IN-FORCE", chip=world.h200, blocked_from="2026-01-01", blocked_until=None)
    return world


def expected_code(case: Case, role: str, status: int) -> str:
    if status == 401:
        return "authentication_failed" if role == "dead_key" else "not_authenticated"
    if status == 403 and role in ("own", "other") and case.action in ("events", "batch") and case.author == "customs":
        return "customs_outcome_forbidden"
    return CODES[status]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_status_for_each_principal(matrix_world: World, case: Case, role: str) -> None:
    world = matrix_world
    if case.setup is not None:
        case.setup(world)
    client = principal_client(world, role)
    body = case.body(world) if case.body else None
    response = getattr(client, case.method)(case.path(world), body, format="json")
    expected = dict(zip(ROLES, case.expected, strict=True))[role]
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()) == {"code", "detail", "errors"}
        assert response.json()["code"] == expected_code(case, role, expected)


def _routes() -> set[tuple[str, str]]:
    """Every (basename, action) the router serves."""
    served = {("api-root", "list")}
    for _prefix, viewset, basename in router.registry:
        for route in router.get_routes(viewset):
            for method, action in route.mapping.items():
                if hasattr(viewset, action) and method in viewset.http_method_names:
                    served.add((basename, action))
    return served


def test_every_route_is_in_the_matrix_and_here() -> None:
    served = _routes()
    # PUT is not served (http_method_names); ``update`` is therefore no route of its own.
    served.discard(("webhook", "update"))
    assert served == set(MATRIX)
    assert {(case.resource, case.action) for case in CASES} == served
    assert len(CASES) == len(served)


def test_the_matrix_names_only_the_four_principals() -> None:
    assert set().union(*MATRIX.values()) == {"regulator", "analyst", "customs", "company"}


def test_resource_of_the_api_root() -> None:
    from rest_framework.routers import APIRootView

    assert resource_of(APIRootView()) == "api-root"
