"""A licence application is the company's (``POST /api/v1/licences/``): the admin files none and
edits none; it decides on them (``tests/admin/test_decisions.py``)."""

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


def test_the_regulator_cannot_file_an_application(demo, regulator_client):
    assert regulator_client.get(reverse("admin:licences_importlicence_add")).status_code == 403
    response = regulator_client.post(reverse("admin:licences_importlicence_add"), application("H200"))
    assert response.status_code == 403
    assert not ImportLicence.objects.filter(number="LIC-ADMIN-001").exists()


@pytest.mark.parametrize("number", ["LIC-2026-ALI-H200-001", None])
def test_no_licence_has_editable_terms(demo, regulator_client, number):
    licence = (
        ImportLicence.objects.get(number=number) if number else ImportLicence.objects.filter(status="applied").first()
    )
    assert licence is not None
    page = regulator_client.get(reverse("admin:licences_importlicence_change", args=[licence.pk])).content.decode()
    for field in ("requested_quantity", "unit_value_usd", "chip", "company", "number", "applied_at_0"):
        assert f'name="{field}"' not in page
