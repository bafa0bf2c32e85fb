"""Domestic commitments are each company's assertions (``/api/v1/commitments/`` with its key): the
admin views and exports them, and takes no decision on them (contract, deliver, cancel)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from quotas.models import DomesticCommitment

pytestmark = pytest.mark.django_db


def commitment(reference: str) -> DomesticCommitment:
    return DomesticCommitment.objects.get(contract_reference=reference)


def decide(client, record: DomesticCommitment, decision: str, data: dict):
    return client.post(reverse("admin:quotas_domesticcommitment_decide", args=[record.pk, decision]), data)


@pytest.mark.parametrize(
    ("decision", "data"),
    [
        ("contract", {"on": "2026-11-20", "contract_reference": "HW-ALI-2026-02"}),
        ("deliver", {"quantity": "5000", "on": "2026-11-01"}),
        ("cancel", {"on": "2026-11-20", "reason": "Supplier withdrew"}),
    ],
)
def test_the_regulator_takes_no_decision_on_a_companys_commitment(demo, regulator_client, decision, data):
    order = commitment("HW-ALI-2026-01")
    assert decide(regulator_client, order, decision, data).status_code == 403
    order.refresh_from_db()
    assert (order.status, order.delivered_quantity, order.cancelled_on) == ("contracted", 15_000, None)


def test_the_change_page_is_a_view_with_no_decision(demo, regulator_client):
    order = commitment("HW-ALI-2026-01")
    page = regulator_client.get(reverse("admin:quotas_domesticcommitment_change", args=[order.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    for field in ("status", "delivered_quantity", "quantity", "contract_reference"):
        assert f'name="{field}"' not in content
    assert "decide/" not in content


def test_analyst_cannot_force_a_commitment_decision(demo, analyst_client):
    order = commitment("HW-ALI-2026-01")
    response = decide(analyst_client, order, "deliver", {"quantity": "1", "on": "2026-11-01"})
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.delivered_quantity == 15_000
