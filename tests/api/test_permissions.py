"""Tenant isolation: lists, filters and lookups never show another company's rows.

B (Tencent) gets 404 for A's (Alibaba's) records, never 403 (that would confirm they exist).
Who may call which action at all is ``tests/security/test_permission_matrix.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.api.conftest import API, World

pytestmark = pytest.mark.django_db

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


def test_a_non_staff_session_is_anonymous_and_plain_staff_have_no_rights(world: World, django_user_model) -> None:
    from rest_framework.test import APIClient

    clerk = django_user_model.objects.create_user("clerk", password="pw-123456789")
    client = APIClient()
    client.force_login(clerk)
    assert client.get(f"{API}/licences/").status_code == 401
    staff = django_user_model.objects.create_user("officer", password="pw-123456789", is_staff=True)
    client.force_login(staff)
    response = client.get(f"{API}/licences/")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_a_wrong_or_revoked_key_is_refused(world: World) -> None:
    from compliance.models import CompanyAPIKey
    from tests.api.conftest import client_for

    assert client_for("nonsense.key").get(f"{API}/chips/").json()["code"] == "authentication_failed"
    CompanyAPIKey.objects.filter(company=world.a).update(revoked=True)
    response = world.client("a").get(f"{API}/chips/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
