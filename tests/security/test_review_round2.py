"""Second review round: the admin and the API give each staff principal the same rights, and
the holes found trying both as an attacker and as a careless integrator.

Admin/API parity: every row says, by hand, from ``docs/domain.md`` ("Who asserts what"), which
staff principals may take one write (a Regulator-group user, an Analyst, a superuser, a staff
user in no group); the test then tries it in the admin (the add page or the decision's page:
200 or 403) and in the API with the same user's session (2xx or 403). Nothing is derived from
``compliance.groups`` or ``api.permissions``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from compliance.groups import ANALYST, REGULATOR
from compliance.models import SecurityAttestation
from licences.models import ImportLicence, Shipment
from quotas.models import DomesticCommitment
from tests.api.conftest import API, World
from tests.factories import CustomsDirectiveFactory, staff_user

pytestmark = pytest.mark.django_db

STAFF = ("reg_group", "analyst", "superuser", "staff")
DECIDERS = frozenset({"reg_group", "superuser"})
NOBODY: frozenset[str] = frozenset()


def staff_of(role: str) -> Any:
    return {
        "reg_group": lambda: staff_user("officer", group=REGULATOR),
        "analyst": lambda: staff_user("analyst", group=ANALYST),
        "superuser": lambda: staff_user("root", superuser=True),
        "staff": lambda: staff_user("clerk"),
    }[role]()


@dataclass(frozen=True)
class Row:
    name: str
    allowed: frozenset[str]  # the staff principals that may take this write, by hand
    admin: Callable[[World], str]  # a page that offers the write in the admin (GET)
    api: Callable[[World], str]  # the API route taking the same write (POST)
    body: Callable[[World], dict] = lambda w: {}


def decide(model: str, pk: Any, decision: str) -> str:
    return f"/admin/{model}/{pk}/decide/{decision}/"


ROWS = [
    # What a company asserts: nobody on staff writes it, in either place.
    Row("licence apply", NOBODY, lambda w: "/admin/licences/importlicence/add/", lambda w: f"{API}/licences/",
        lambda w: {"company": "alibaba", "chip": "H200", "round": w.wave.pk, "requested_quantity": 100}),
    Row("shipment declare", NOBODY, lambda w: "/admin/licences/shipment/add/", lambda w: f"{API}/shipments/",
        lambda w: {"declaration_number": "DEC-NEW", "licence": "LIC-A-1", "quantity": 10,
                   "declared_value_usd": "320000.00", "port_of_entry": "Shanghai"}),
    Row("commitment record", NOBODY, lambda w: "/admin/quotas/domesticcommitment/add/",
        lambda w: f"{API}/commitments/",
        lambda w: {"company": "alibaba", "chip": "ASCEND-910B", "quantity": 500, "unit_price_usd": "12000.00",
                   "pledged_on": "2026-02-01"}),
    Row("commitment contract", NOBODY, lambda w: decide("quotas/domesticcommitment", w.commitment_a.pk, "contract"),
        lambda w: f"{API}/commitments/{w.commitment_a.pk}/contract/",
        lambda w: {"on": "2026-02-01", "contract_reference": "HW-2026-7"}),
    Row("commitment cancel", NOBODY, lambda w: decide("quotas/domesticcommitment", w.commitment_a.pk, "cancel"),
        lambda w: f"{API}/commitments/{w.commitment_a.pk}/cancel/", lambda w: {"on": "2026-02-01", "reason": "x"}),
    Row("attestation submit", NOBODY, lambda w: "/admin/compliance/securityattestation/add/",
        lambda w: f"{API}/attestations/",
        lambda w: {"company": "alibaba", "requirement": "end-user-verification", "attested_on": "2026-02-01",
                   "evidence_reference": "AUDIT-7"}),
    Row("finding acknowledge", NOBODY, lambda w: decide("compliance/finding", w.finding_a.pk, "acknowledge"),
        lambda w: f"{API}/findings/{w.finding_a.pk}/acknowledge/"),
    # What customs asserts.
    Row("customs event", NOBODY, lambda w: "/admin/licences/customsevent/add/",
        lambda w: f"{API}/shipments/DEC-A-1/events/",
        lambda w: {"status": "inspecting", "occurred_at": "2026-02-02T10:00:00+08:00"}),
    Row("directive issue", NOBODY, lambda w: "/admin/licences/customsdirective/add/",
        lambda w: f"{API}/customs-directives/",
        lambda w: {"reference": "GACC-NEW", "chip": "H200", "blocked_from": "2026-02-01"}),
    # The regulator's assertions and decisions: the Regulator group and superusers.
    Row("licence approve", DECIDERS, lambda w: decide("licences/importlicence", w.applied_a.pk, "approve"),
        lambda w: f"{API}/licences/LIC-A-APPLIED/approve/",
        lambda w: {"granted_quantity": 400, "valid_from": "2026-02-01", "valid_until": "2026-12-31"}),
    Row("licence suspend", DECIDERS, lambda w: decide("licences/importlicence", w.licence_a.pk, "suspend"),
        lambda w: f"{API}/licences/LIC-A-1/suspend/", lambda w: {"reason": "audit"}),
    Row("attestation review", DECIDERS,
        lambda w: decide("compliance/securityattestation", w.attestation_a.pk, "accept"),
        lambda w: f"{API}/attestations/{w.attestation_a.pk}/review/", lambda w: {"decision": "accept"}),
    Row("finding resolve", DECIDERS, lambda w: decide("compliance/finding", w.finding_a.pk, "resolve"),
        lambda w: f"{API}/findings/{w.finding_a.pk}/resolve/", lambda w: {"note": "fixed"}),
    Row("policy activate", DECIDERS, lambda w: decide("quotas/quotapolicy", w.policy.pk, "activate"),
        lambda w: f"{API}/policies/{w.policy.pk}/activate/"),
    Row("policy create", DECIDERS, lambda w: "/admin/quotas/quotapolicy/add/", lambda w: f"{API}/policies/",
        lambda w: {"name": "Rule 2", "ratio": "0.3000", "effective_from": "2027-01-01"}),
    Row("company create", DECIDERS, lambda w: "/admin/licences/company/add/", lambda w: f"{API}/companies/",
        lambda w: {"slug": "bytedance", "name": "ByteDance"}),
    Row("round create", DECIDERS, lambda w: "/admin/licences/allocationround/add/", lambda w: f"{API}/rounds/",
        lambda w: {"name": "Wave 2", "unit_cap": 100000, "value_cap_usd": "3000000000.00",
                   "opens_on": "2026-07-01", "closes_on": "2026-12-31"}),
    Row("requirement create", DECIDERS, lambda w: "/admin/compliance/securityrequirement/add/",
        lambda w: f"{API}/security-requirements/", lambda w: {"code": "no-military-use", "title": "No military use"}),
    Row("webhook create", DECIDERS, lambda w: "/admin/compliance/webhooksubscription/add/",
        lambda w: f"{API}/webhooks/",
        lambda w: {"name": "alerts", "url": "https://hooks.example.com/x", "secret": "x" * 20}),
]  # fmt: skip


@pytest.mark.parametrize("role", STAFF)
@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_admin_and_api_agree_for_each_staff_principal(world: World, row: Row, role: str) -> None:
    user = staff_of(role)
    admin = Client()
    admin.force_login(user)
    page = admin.get(row.admin(world))
    assert page.status_code == (200 if role in row.allowed else 403), (row.name, role, "admin")

    api = APIClient()
    api.force_login(user)
    response = api.post(row.api(world), row.body(world), format="json")
    if role in row.allowed:
        assert response.status_code in (200, 201), (row.name, role, response.content)
    else:
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied"), (row.name, role)


@pytest.mark.parametrize("role", ("reg_group", "superuser"))
def test_no_staff_form_edits_what_a_company_asserted(world: World, role: str) -> None:
    """The change forms of a company's records save nothing of the company's fields (the API has no
    such route): an application's quantity, a declaration's port, a pledge, a submission."""
    admin = Client()
    admin.force_login(staff_of(role))
    admin.post(
        f"/admin/licences/importlicence/{world.applied_a.pk}/change/",
        {"number": "LIC-A-APPLIED", "requested_quantity": "1", "unit_value_usd": "1.00"},
    )
    shipment = admin.post(
        f"/admin/licences/shipment/{world.shipment_a.pk}/change/",
        {"declaration_number": "DEC-A-1", "port_of_entry": "Nowhere"},
    )
    commitment = admin.post(
        f"/admin/quotas/domesticcommitment/{world.commitment_a.pk}/change/",
        {"quantity": "1", "contract_reference": "forged"},
    )
    admin.post(
        f"/admin/compliance/securityattestation/{world.attestation_a.pk}/change/",
        {"evidence_reference": "forged", "attested_on": "2030-01-01"},
    )
    assert (shipment.status_code, commitment.status_code) == (403, 403)
    assert ImportLicence.objects.get(pk=world.applied_a.pk).requested_quantity == 500
    assert Shipment.objects.get(pk=world.shipment_a.pk).port_of_entry != "Nowhere"
    assert DomesticCommitment.objects.get(pk=world.commitment_a.pk).contract_reference != "forged"
    attestation = SecurityAttestation.objects.get(pk=world.attestation_a.pk)
    assert attestation.evidence_reference != "forged" and str(attestation.attested_on) != "2030-01-01"


def test_a_superuser_cannot_issue_or_lift_a_directive_in_the_admin(world: World) -> None:
    """In the API a superuser acts as the regulator, whom directives are refused: the admin agrees."""
    directive = CustomsDirectiveFactory(reference="GACC-IN-FORCE", chip=world.h200, blocked_until=None)
    admin = Client()
    admin.force_login(staff_of("superuser"))
    assert admin.get("/admin/licences/customsdirective/add/").status_code == 403
    post = admin.post(f"/admin/licences/customsdirective/{directive.pk}/change/", {"blocked_until": "2026-01-02"})
    assert post.status_code == 403
    directive.refresh_from_db()
    assert directive.blocked_until is None


# --- Throttling: one IPv6 host holds a whole /64 ---------------------------------------------------


def test_bad_keys_from_one_ipv6_64_share_one_failure_budget(world: World, settings) -> None:
    """Finding: the failed-key limit counted per IPv6 address; a host given a /64 (the usual
    allocation) rotates through 2^64 source addresses, each with a fresh budget, so API keys
    could be guessed without limit. Addresses in one /64 now share one budget (and one admin
    lockout: ``AXES_CLIENT_IP_CALLABLE`` is the same function)."""
    settings.API_AUTH_FAILURE_LIMIT = 3
    settings.TRUSTED_PROXIES = []

    def get(key: str, address: str):
        client = APIClient(REMOTE_ADDR=address)
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        return client.get(f"{API}/chips/")

    codes = [get(f"wrong.key{n}", f"2001:db8:1:2::{n + 1:x}").status_code for n in range(3)]
    assert codes == [401, 401, 401]
    rotated = get("wrong.key9", "2001:db8:1:2:ffff:1234:5678:9abc")
    assert (rotated.status_code, rotated.json()["code"]) == (429, "too_many_failed_authentications")
    # Another /64 is another client.
    assert get(world.keys["a"], "2001:db8:1:3::1").status_code == 200


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("2001:db8:1:2:ffff:1234:5678:9abc", "2001:db8:1:2::"),
        ("2001:db8:1:2::1", "2001:db8:1:2::"),
        ("::ffff:203.0.113.5", "203.0.113.5"),  # an IPv4 client on a dual-stack socket
        ("203.0.113.5", "203.0.113.5"),
    ],
)
def test_the_client_address_of_an_ipv6_client_is_its_64(settings, remote: str, expected: str) -> None:
    from django.test import RequestFactory

    from compliance.client_ip import client_ip

    settings.TRUSTED_PROXIES = []
    assert client_ip(RequestFactory().get("/", REMOTE_ADDR=remote)) == expected


# --- Idempotency: the query string is part of the request ---------------------------------------------


def test_an_idempotency_key_reused_for_another_company_s_shipment_is_refused(world: World) -> None:
    """Finding: the request fingerprint left out the query string, and since numbers are unique
    per company only, ``?company=`` picks the record. Customs sending "cleared" for Alibaba's
    DEC-SHARED, then (a client reusing its key) "cleared" for Tencent's, got Alibaba's answer
    replayed as a 201: Tencent's clearance was never recorded and nothing said so."""
    from licences.models import CustomsEvent
    from tests.factories import ApprovedLicenceFactory, ShipmentFactory

    for company in (world.a, world.b):
        licence = ApprovedLicenceFactory(
            number="LIC-SHARED", company=company, chip=world.h200, round=world.wave, requested_quantity=500
        )
        ShipmentFactory(declaration_number="DEC-SHARED", licence=licence, quantity=10)
        ImportLicence.objects.filter(pk=licence.pk).update(reserved_quantity=10)
    customs = world.client("customs")
    event = {"status": "inspecting", "occurred_at": "2026-02-02T10:00:00+08:00"}
    first = customs.post(
        f"{API}/shipments/DEC-SHARED/events/?company=alibaba", event, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == 201
    second = customs.post(
        f"{API}/shipments/DEC-SHARED/events/?company=tencent", event, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert (second.status_code, second.json()["code"]) == (422, "idempotency_key_reused")
    assert CustomsEvent.objects.filter(shipment__declaration_number="DEC-SHARED").count() == 1
    # The same request again is still a replay.
    again = customs.post(
        f"{API}/shipments/DEC-SHARED/events/?company=alibaba", event, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert (again.status_code, again["Idempotent-Replayed"]) == (201, "true")


# --- Webhooks: a company's receiver never becomes regulator-wide ---------------------------------------


def test_a_company_s_subscription_cannot_be_turned_into_a_regulator_wide_one(world: World) -> None:
    """Finding: the regulator could PATCH Alibaba's subscription to ``"company": null`` (or to
    Tencent), and the receiver Alibaba registered, signed with Alibaba's secret, then received
    every company's findings. A subscription's company is fixed when it is created."""
    from compliance.models import WebhookSubscription

    regulator = world.client("regulator")
    for company in (None, "tencent"):
        response = regulator.patch(f"{API}/webhooks/{world.webhook_a.pk}/", {"company": company}, format="json")
        assert (response.status_code, response.json()["code"]) == (400, "validation_error"), company
        assert list(response.json()["errors"]) == ["company"]
        assert WebhookSubscription.objects.get(pk=world.webhook_a.pk).company == world.a
    # Naming the same company, or leaving it out, is fine.
    same = regulator.patch(f"{API}/webhooks/{world.webhook_a.pk}/", {"company": "alibaba", "name": "x"}, format="json")
    assert same.status_code == 200


def test_the_admin_does_not_move_a_subscription_to_another_company(world: World) -> None:
    from compliance.models import WebhookSubscription

    admin = Client()
    admin.force_login(staff_of("reg_group"))
    page = admin.get(f"/admin/compliance/webhooksubscription/{world.webhook_a.pk}/change/")
    assert page.status_code == 200 and 'name="company"' not in page.content.decode()
    admin.post(
        f"/admin/compliance/webhooksubscription/{world.webhook_a.pk}/change/",
        {"company": "", "name": "alibaba-hook", "url": world.webhook_a.url, "event_types": "[]", "is_active": "on",
         "consecutive_failures": "0"},
    )  # fmt: skip
    assert WebhookSubscription.objects.get(pk=world.webhook_a.pk).company == world.a


# --- Deleting: no staff user erases what a company or customs asserted ------------------------------


def test_a_superuser_cannot_delete_what_a_company_or_customs_asserted(world: World) -> None:
    """Finding: the Regulator group has no delete, but a superuser (the regulator, in the API,
    which deletes nothing of these) could erase a declaration, an application, a pledge, a
    submission or an entry block from the admin, history and all."""
    directive = CustomsDirectiveFactory(reference="GACC-IN-FORCE", chip=world.h200, blocked_until=None)
    admin = Client()
    admin.force_login(staff_of("superuser"))
    records = [
        ("licences/importlicence", world.applied_a),
        ("licences/shipment", world.shipment_a),
        ("licences/customsdirective", directive),
        ("quotas/domesticcommitment", world.commitment_a),
        ("compliance/securityattestation", world.attestation_a),
    ]
    for path, record in records:
        url = f"/admin/{path}/{record.pk}/delete/"
        assert admin.get(url).status_code == 403, path
        assert admin.post(url, {"post": "yes"}).status_code == 403, path
        assert type(record).objects.filter(pk=record.pk).exists(), path


# --- Webhooks: a company cannot make the worker call its tarpit ten thousand times ---------------------


def test_a_company_s_subscriptions_are_capped(world: World, settings) -> None:
    """Finding: a company key could register any number of subscriptions; each finding is then
    delivered to each of them by the shared worker (resolving the host, a timeout of
    ``WEBHOOK_TIMEOUT_SECONDS`` each, five failures before one is disabled), so one company
    pointing thousands at a slow host starves every other company's and the regulator's
    deliveries. At most ``WEBHOOK_MAX_PER_COMPANY`` per company (regulator-wide ones excepted)."""
    from compliance.models import WebhookSubscription

    settings.COMPLIANCE = {**settings.COMPLIANCE, "WEBHOOK_MAX_PER_COMPANY": 3}
    a = world.client("a")

    def create(client, n: int):
        body = {"name": f"hook-{n}", "url": f"https://hooks.example.com/{n}", "secret": "x" * 20}
        return client.post(f"{API}/webhooks/", body, format="json")

    assert [create(a, n).status_code for n in range(2)] == [201, 201]  # with the fixture's, three
    refused = create(a, 3)
    assert (refused.status_code, refused.json()["code"]) == (400, "webhook_limit_reached")
    assert WebhookSubscription.objects.filter(company=world.a).count() == 3
    # Another company, and the regulator's regulator-wide ones, are not affected.
    assert create(world.client("b"), 9).status_code == 201
    assert create(world.client("regulator"), 10).status_code == 201
    # Deleting one makes room again.
    assert a.delete(f"{API}/webhooks/{world.webhook_a.pk}/").status_code == 204
    assert create(a, 4).status_code == 201
