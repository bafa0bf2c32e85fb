"""Every admin changelist, add form and change form opens for a superuser on the demo world."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db

OUR_APPS = {"licences", "quotas", "compliance"}


@pytest.fixture
def demo_admin(client, django_user_model, demo_day):
    call_command("load_demo", verbosity=0)
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def registered_models():
    return sorted(
        (model._meta.app_label, model._meta.model_name)
        for model in admin.site._registry
        if model._meta.app_label in OUR_APPS
    )


def test_every_domain_model_is_registered():
    assert set(registered_models()) >= {
        ("licences", "company"),
        ("licences", "chipmodel"),
        ("licences", "allocationround"),
        ("licences", "importlicence"),
        ("licences", "shipment"),
        ("licences", "customsevent"),
        ("licences", "customsdirective"),
        ("quotas", "quotapolicy"),
        ("quotas", "domesticcommitment"),
        ("compliance", "securityrequirement"),
        ("compliance", "securityattestation"),
        ("compliance", "finding"),
    }


@pytest.mark.parametrize(("app_label", "model_name"), registered_models())
def test_changelist_add_change_and_history_pages_open(demo_admin, app_label, model_name):
    changelist = demo_admin.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert changelist.status_code == 200
    model = next(m for m in admin.site._registry if (m._meta.app_label, m._meta.model_name) == (app_label, model_name))
    model_admin = admin.site._registry[model]
    request = changelist.wsgi_request
    add = demo_admin.get(reverse(f"admin:{app_label}_{model_name}_add"))
    assert add.status_code == (200 if model_admin.has_add_permission(request) else 403)
    first = model.objects.order_by("pk").first()
    if first is not None:
        change = demo_admin.get(reverse(f"admin:{app_label}_{model_name}_change", args=[first.pk]))
        assert change.status_code == 200
        history = demo_admin.get(reverse(f"admin:{app_label}_{model_name}_history", args=[first.pk]))
        assert history.status_code == 200


def test_company_page_shows_its_licences_commitments_and_attestations(demo_admin):
    from licences.models import Company

    alibaba = Company.objects.get(slug="alibaba")
    page = demo_admin.get(reverse("admin:licences_company_change", args=[alibaba.pk])).content.decode()
    assert "LIC-2026-ALI-H200-001" in page
    assert "HW-ALI-2026-01" in page
    assert "recipient-security-procedures" in page


def test_admin_requires_login(client):
    response = client.get(reverse("admin:licences_importlicence_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
