"""Review finding 9 (in part): regulators saw webhook signing secrets in plain text in the admin.

The secret is now write-only there: set on creation, rotated by typing a new one, never
rendered (not even masked), neither to the regulator nor to a view-only user.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from compliance.groups import REGULATOR, sync_groups
from compliance.models import WebhookSubscription
from tests.compliance.conftest import make_company

pytestmark = pytest.mark.django_db

SECRET = "whsec-very-secret-0123456789"


@pytest.fixture
def regulator_client(django_user_model) -> Client:
    sync_groups(group_model=Group, permission_model=Permission)
    user = django_user_model.objects.create_user("regulator", "regulator@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name=REGULATOR))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(django_user_model) -> Client:
    """A staff user who may only view webhook subscriptions."""
    user = django_user_model.objects.create_user("viewer", "viewer@example.com", "pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_webhooksubscription"))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def hook() -> WebhookSubscription:
    return WebhookSubscription.objects.create(
        company=make_company("alibaba"), name="ops", url="https://hooks.example.com/ops", secret=SECRET
    )


def form_data(**changes) -> dict:
    data = {
        "company": "",
        "name": "regulator feed",
        "url": "https://hooks.example.com/feed",
        "new_secret": "",
        "event_types": "[]",
        "language": "zh-hans",  # the form's language select always posts a value
        "is_active": "on",
        "consecutive_failures": "0",
        "disabled_reason": "",
    }
    return {**data, **changes}


def test_the_change_page_never_shows_the_secret(regulator_client, hook):
    page = regulator_client.get(reverse("admin:compliance_webhooksubscription_change", args=[hook.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert SECRET not in html
    assert 'name="secret"' not in html
    assert '<input type="password" name="new_secret"' in html  # an empty write-only field


def test_a_view_only_user_sees_no_secret_and_no_secret_field(viewer_client, hook):
    page = viewer_client.get(reverse("admin:compliance_webhooksubscription_change", args=[hook.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert SECRET not in html
    assert "new_secret" not in html and "Signing secret" not in html
    assert "https://hooks.example.com/ops" in html  # the page itself is there


def test_the_history_pages_never_show_the_secret(regulator_client, hook):
    history = regulator_client.get(reverse("admin:compliance_webhooksubscription_history", args=[hook.pk]))
    assert history.status_code == 200
    assert SECRET not in history.content.decode()
    version = hook.history.get()
    page = regulator_client.get(
        reverse("admin:compliance_webhooksubscription_simple_history", args=[hook.pk, version.history_id])
    )
    assert page.status_code == 200
    assert SECRET not in page.content.decode()


def test_saving_with_the_secret_left_blank_keeps_it(regulator_client, hook):
    url = reverse("admin:compliance_webhooksubscription_change", args=[hook.pk])
    response = regulator_client.post(
        url, form_data(company=hook.company_id, name="ops renamed", url="https://hooks.example.com/ops")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    hook.refresh_from_db()
    assert (hook.name, hook.secret) == ("ops renamed", SECRET)


def test_typing_a_new_secret_rotates_it(regulator_client, hook):
    url = reverse("admin:compliance_webhooksubscription_change", args=[hook.pk])
    response = regulator_client.post(
        url, form_data(company=hook.company_id, name="ops", url=hook.url, new_secret="rotated-secret-0123456789")
    )
    assert response.status_code == 302
    hook.refresh_from_db()
    assert hook.secret == "rotated-secret-0123456789"
    page = regulator_client.get(url)
    assert "rotated-secret-0123456789" not in page.content.decode()


def test_a_new_subscription_needs_a_secret_of_16_characters(regulator_client):
    add = reverse("admin:compliance_webhooksubscription_add")
    for secret in ("", "too-short"):
        response = regulator_client.post(add, form_data(new_secret=secret))
        assert response.status_code == 200  # the form again, with the error
        assert response.context["adminform"].form.errors["new_secret"]
        assert secret == "" or secret not in response.content.decode()  # not echoed back
    assert WebhookSubscription.objects.count() == 0
    response = regulator_client.post(add, form_data(new_secret=SECRET))
    assert response.status_code == 302
    created = WebhookSubscription.objects.get()
    assert (created.name, created.secret, created.company) == ("regulator feed", SECRET, None)


def test_the_admin_refuses_a_private_receiver_and_says_why(regulator_client):
    response = regulator_client.post(
        reverse("admin:compliance_webhooksubscription_add"),
        form_data(url="https://169.254.169.254/latest/meta-data/", new_secret=SECRET),
    )
    assert response.status_code == 200
    [message] = response.context["adminform"].form.errors["url"]
    assert message.endswith("(169.254.169.254 is a link-local address)")
    assert WebhookSubscription.objects.count() == 0
