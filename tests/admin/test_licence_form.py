"""Adding a licence in the admin is an application through licence_apply; a decided licence is frozen."""

from __future__ import annotations

import pytest
from django.urls import reverse

from licences.models import AllocationRound, ChipModel, Company, ImportLicence

pytestmark = pytest.mark.django_db


def application(chip_code: str, number: str = "LIC-ADMIN-001") -> dict[str, str]:
    return {
        "number": number,
        "company": str(Company.objects.get(slug="deepseek").pk),
        "chip": str(ChipModel.objects.get(code=chip_code).pk),
        "round": str(AllocationRound.objects.get().pk),
        "requested_quantity": "1500",
        "unit_value_usd": "30000.00",
        "applied_at_0": "2026-11-20",
        "applied_at_1": "09:30:00",
    }


def test_adding_a_licence_records_an_application_with_history(demo, regulator_client, regulator):
    response = regulator_client.post(reverse("admin:licences_importlicence_add"), application("H200"))
    assert response.status_code == 302
    licence = ImportLicence.objects.get(number="LIC-ADMIN-001")
    assert (licence.status, licence.requested_quantity, licence.granted_quantity) == ("applied", 1500, 0)
    assert licence.history.get().history_user == regulator


def test_a_domestic_chip_cannot_be_chosen_for_an_import_licence(demo, regulator_client):
    response = regulator_client.post(reverse("admin:licences_importlicence_add"), application("ASCEND-910B"))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ImportLicence.objects.filter(number="LIC-ADMIN-001").exists()


def test_an_approved_licence_has_no_editable_terms(demo, regulator_client):
    approved = ImportLicence.objects.get(number="LIC-2026-ALI-H200-001")
    page = regulator_client.get(reverse("admin:licences_importlicence_change", args=[approved.pk])).content.decode()
    for field in ("requested_quantity", "unit_value_usd", "chip", "company"):
        assert f'name="{field}"' not in page
