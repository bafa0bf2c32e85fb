"""Review finding 9 (admin privilege, API-key part) and the credentials of the four principals.

The Regulator group could mint regulator API keys (all-tenant credentials tied to no user, that
outlived the user's deactivation) and Analysts listed key names and prefixes. Now:

- a regulator key belongs to a user and stops authenticating (401) when that user is
  deactivated or leaves the Regulator group;
- only a superuser mints regulator or customs keys, in the admin or with ``issue_api_key``
  (an operator's command); the Regulator group mints and revokes company keys only;
- Analysts have no access to API keys at all.
"""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import Client

from compliance.groups import ANALYST, REGULATOR
from compliance.models import CompanyAPIKey
from tests.api.conftest import API, World, client_for
from tests.factories import issue_api_key, staff_user

pytestmark = pytest.mark.django_db

ADD = "/admin/compliance/companyapikey/add/"
LIST = "/admin/compliance/companyapikey/"


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Regulator keys die with their user's rights -----------------------------------------------


def test_a_deactivated_user_s_regulator_key_is_refused(world: World) -> None:
    officer = staff_user("officer", group=REGULATOR)
    _, key = issue_api_key(kind="regulator", user=officer, name="officer's system")
    assert client_for(key).get(f"{API}/licences/").status_code == 200
    officer.is_active = False
    officer.save()
    for method, path, body in (
        ("get", f"{API}/licences/", None),
        ("post", f"{API}/licences/LIC-A-APPLIED/approve/",
         {"granted_quantity": 400, "valid_from": "2026-02-01", "valid_until": "2026-12-31"}),
    ):  # fmt: skip
        response = getattr(client_for(key), method)(path, body, format="json")
        assert (response.status_code, response.json()["code"]) == (401, "authentication_failed")
    assert world.applied_a.__class__.objects.get(number="LIC-A-APPLIED").status == "applied"


def test_a_regulator_key_stops_when_its_user_leaves_the_regulator_group(world: World) -> None:
    officer = staff_user("officer", group=REGULATOR)
    _, key = issue_api_key(kind="regulator", user=officer)
    officer.groups.set([Group.objects.get(name=ANALYST)])
    response = client_for(key).get(f"{API}/licences/")
    assert (response.status_code, response.json()["code"]) == (401, "authentication_failed")


def test_a_superuser_s_regulator_key_works_while_the_superuser_is_active(world: World) -> None:
    root = staff_user("root", superuser=True)
    _, key = issue_api_key(kind="regulator", user=root)
    assert client_for(key).get(f"{API}/licences/").json()["count"] == 4


def test_the_database_refuses_a_key_whose_owner_does_not_match_its_kind(world: World) -> None:
    officer = staff_user("officer", group=REGULATOR)
    for fields in (
        {"kind": "regulator"},  # no user
        {"kind": "regulator", "user": officer, "company": world.a},
        {"kind": "customs", "company": world.a},
        {"kind": "customs", "user": officer},
        {"kind": "company"},  # no company
        {"kind": "company", "company": world.a, "user": officer},
        {"kind": "sorcerer", "company": world.a},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            CompanyAPIKey.objects.create_key(name="bad", **fields)
    # A user-less regulator key may exist only revoked (legacy keys, revoked by migration 0010).
    CompanyAPIKey.objects.create_key(name="legacy", kind="regulator", revoked=True)


# --- issue_api_key -----------------------------------------------------------------------------------


def test_issue_a_customs_key(world: World) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("issue_api_key", "--customs", "--name", "GACC Shanghai", stdout=out, stderr=err)
    api_key = CompanyAPIKey.objects.get(name="GACC Shanghai")
    assert (api_key.kind, api_key.company, api_key.user) == ("customs", None, None)
    assert "the customs authority" in err.getvalue()
    customs = client_for(out.getvalue().strip())
    assert customs.get(f"{API}/shipments/").json()["count"] == 2
    assert customs.get(f"{API}/licences/").status_code == 403


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--regulator", "--name", "x"], "--regulator requires --user"),
        (["--regulator", "--user", "nobody", "--name", "x"], "No user 'nobody'"),
        (["--regulator", "--user", "analyst", "--name", "x"], "not an active superuser or member of the Regulator"),
        (["--regulator", "--user", "departed", "--name", "x"], "not an active superuser or member of the Regulator"),
        (["--regulator", "--user", "clerk", "--name", "x"], "not an active superuser or member of the Regulator"),
        (["--customs", "--user", "officer", "--name", "x"], "--user goes with --regulator only"),
        (["--company", "alibaba", "--user", "officer", "--name", "x"], "--user goes with --regulator only"),
    ],
)
def test_issue_api_key_refuses_a_regulator_key_without_an_eligible_user(world: World, args, message) -> None:
    staff_user("analyst", group=ANALYST)
    staff_user("officer", group=REGULATOR)
    staff_user("departed", group=REGULATOR, active=False)
    staff_user("clerk")
    with pytest.raises(CommandError, match=message):
        call_command("issue_api_key", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert not CompanyAPIKey.objects.filter(name="x").exists()


# --- The admin ------------------------------------------------------------------------------------


def test_an_analyst_cannot_list_api_keys(world: World) -> None:
    client = admin_client(staff_user("analyst", group=ANALYST))
    response = client.get(LIST)
    assert response.status_code == 403
    assert b"alibaba procurement" not in response.content
    assert client.get(f"{LIST}{CompanyAPIKey.objects.get(company=world.a).pk}/change/").status_code == 403
    index = client.get("/admin/").content
    assert b"companyapikey" not in index


def test_the_regulator_group_mints_company_keys_only(world: World) -> None:
    officer = staff_user("officer", group=REGULATOR)
    client = admin_client(officer)
    form = client.get(ADD)
    assert form.status_code == 200
    assert b'name="kind"' not in form.content and b'name="user"' not in form.content
    # Posting a kind and a user anyway: the fields are not the form's, a company key or nothing.
    refused = client.post(ADD, {"name": "sneaky", "kind": "regulator", "user": officer.pk})
    assert refused.status_code == 200  # the form again, with its error
    assert not CompanyAPIKey.objects.filter(name="sneaky").exists()
    created = client.post(ADD, {"name": "bytedance bridge", "company": world.a.pk})
    assert created.status_code == 302
    key = CompanyAPIKey.objects.get(name="bytedance bridge")
    assert (key.kind, key.company, key.user) == ("company", world.a, None)


def test_the_regulator_group_cannot_change_or_revoke_a_regulator_or_customs_key(world: World) -> None:
    root = staff_user("root", superuser=True)
    regulator_key, _ = issue_api_key(kind="regulator", user=root, name="root's key")
    customs_key, _ = issue_api_key(kind="customs", name="GACC")
    client = admin_client(staff_user("officer", group=REGULATOR))
    for api_key in (regulator_key, customs_key):
        page = client.get(f"{LIST}{api_key.pk}/change/")
        assert page.status_code == 200 and b'name="revoked"' not in page.content  # read-only view
        client.post(f"{LIST}{api_key.pk}/change/", {"name": "renamed", "revoked": "on"})
        api_key.refresh_from_db()
        assert (api_key.name, api_key.revoked) != ("renamed", True)
    company_key = CompanyAPIKey.objects.get(company=world.a)
    response = client.post(f"{LIST}{company_key.pk}/change/", {"name": "alibaba procurement", "company": world.a.pk,
                                                              "revoked": "on"})  # fmt: skip
    assert response.status_code == 302
    company_key.refresh_from_db()
    assert company_key.revoked


def test_a_superuser_mints_regulator_keys_for_eligible_users_and_customs_keys(world: World) -> None:
    root = staff_user("root", superuser=True)
    officer = staff_user("officer", group=REGULATOR)
    analyst = staff_user("analyst", group=ANALYST)
    client = admin_client(root)
    refused = client.post(ADD, {"name": "analyst key", "kind": "regulator", "user": analyst.pk})
    assert refused.status_code == 200
    assert b"Select a valid choice" in refused.content  # only eligible users are offered
    refused = client.post(ADD, {"name": "no owner", "kind": "regulator"})
    assert b"A regulator key belongs to a user" in refused.content
    refused = client.post(ADD, {"name": "customs of alibaba", "kind": "customs", "company": world.a.pk})
    assert b"A customs key belongs to no company" in refused.content
    assert client.post(ADD, {"name": "officer key", "kind": "regulator", "user": officer.pk}).status_code == 302
    assert client.post(ADD, {"name": "GACC", "kind": "customs"}).status_code == 302
    assert dict(CompanyAPIKey.objects.filter(name__in=["officer key", "GACC"]).values_list("name", "kind")) == {
        "officer key": "regulator",
        "GACC": "customs",
    }
    assert CompanyAPIKey.objects.get(name="officer key").user == officer
