"""Domestic commitments move through quotas.services from the admin: contract, deliver, cancel."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from quotas.models import DomesticCommitment

pytestmark = pytest.mark.django_db


def commitment(reference: str = "", **filters) -> DomesticCommitment:
    if reference:
        filters["contract_reference"] = reference
    return DomesticCommitment.objects.get(**filters)


def decide(client, record: DomesticCommitment, decision: str, data: dict):
    url = reverse("admin:quotas_domesticcommitment_decide", args=[record.pk, decision])
    return client.post(url, data)


def test_contracting_alibabas_pledge(demo, regulator_client):
    pledge = commitment(company__slug="alibaba", status="pledged")
    response = decide(
        regulator_client, pledge, "contract", {"on": "2026-11-20", "contract_reference": "HW-ALI-2026-02"}
    )
    assert response.status_code == 302
    pledge.refresh_from_db()
    assert (pledge.status, pledge.contracted_on, pledge.contract_reference) == (
        "contracted",
        dt.date(2026, 11, 20),
        "HW-ALI-2026-02",
    )


def test_partial_then_completing_delivery(demo, regulator_client):
    order = commitment("HW-ALI-2026-01")
    assert (order.quantity, order.delivered_quantity) == (40_000, 15_000)
    decide(regulator_client, order, "deliver", {"quantity": "5000", "on": "2026-11-01"})
    order.refresh_from_db()
    assert (order.status, order.delivered_quantity) == ("contracted", 20_000)
    decide(regulator_client, order, "deliver", {"quantity": "20000", "on": "2026-11-02"})
    order.refresh_from_db()
    assert (order.status, order.delivered_quantity, order.delivered_on) == ("delivered", 40_000, dt.date(2026, 11, 2))


def test_over_delivery_is_refused_with_a_message_and_nothing_changes(demo, regulator_client):
    order = commitment("HW-ALI-2026-01")
    response = decide(regulator_client, order, "deliver", {"quantity": "25001", "on": "2026-11-01"})
    assert response.status_code == 200
    messages = [str(message) for message in get_messages(response.wsgi_request)]
    assert len(messages) == 1 and messages[0].startswith(f"{order}: refused.")
    order.refresh_from_db()
    assert order.delivered_quantity == 15_000


def test_cancelling_needs_a_reason(demo, regulator_client):
    pledge = commitment(company__slug="alibaba", status="pledged")
    decide(regulator_client, pledge, "cancel", {"on": "2026-11-20", "reason": ""})
    pledge.refresh_from_db()
    assert pledge.status == "pledged"
    decide(regulator_client, pledge, "cancel", {"on": "2026-11-20", "reason": "Supplier withdrew"})
    pledge.refresh_from_db()
    assert (pledge.status, pledge.cancelled_on) == ("cancelled", dt.date(2026, 11, 20))


def test_status_fields_are_read_only_in_the_change_form(demo, regulator_client):
    order = commitment("HW-ALI-2026-01")
    page = regulator_client.get(reverse("admin:quotas_domesticcommitment_change", args=[order.pk])).content.decode()
    assert 'name="status"' not in page
    assert 'name="delivered_quantity"' not in page
    # A contracted order offers delivery and cancellation, not contracting again.
    assert "decide/deliver/" in page and "decide/cancel/" in page
    assert "decide/contract/" not in page


def test_analyst_cannot_force_a_commitment_decision(demo, analyst_client):
    order = commitment("HW-ALI-2026-01")
    response = decide(analyst_client, order, "deliver", {"quantity": "1", "on": "2026-11-01"})
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.delivered_quantity == 15_000
