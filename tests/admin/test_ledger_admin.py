"""The decision ledger in the admin (issue 14): decisions take an optional ``effective_on``, refused
as a message with nothing changed when it is in the future or late without a reason; the ledger
is shown read-only, and nobody adds, edits or deletes a row (superusers included)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse

from licences.models import ImportLicence, LicenceDecision
from quotas.models import CommitmentChange
from tests.admin.test_decisions import APPROVAL, DSK, decide_url, licence, messages_of, wave

pytestmark = pytest.mark.django_db

# The demo day is 28 November 2026 (tests/conftest.py).
APPROVE_DSK = {**APPROVAL, "granted_quantity": "10000"}


def dsk_state() -> tuple:
    found = licence(DSK)
    return found.status, wave().granted_units, list(found.decisions.values_list("kind", flat=True))


@pytest.mark.parametrize(
    ("extra", "refusal"),
    [
        ({"effective_on": "2026-11-29"}, "cannot take effect in the future"),
        ({"effective_on": "2026-11-23"}, "is a late entry and needs a reason"),
        ({"effective_on": "2026-11-21", "reason": "Paper"}, "was applied for on 2026-11-22"),
    ],
)
def test_a_refused_effective_on_is_a_message_and_nothing_changes(demo, regulator_client, extra, refusal):
    before = dsk_state()
    response = regulator_client.post(decide_url("licences_importlicence", licence(DSK).pk, "approve"), {
        **APPROVE_DSK, **extra,
    })  # fmt: skip
    assert response.status_code == 200
    assert refusal in response.content.decode()
    assert dsk_state() == before == ("applied", 328_000, ["apply"])


def test_a_late_approval_with_a_reason_is_recorded_by_the_signed_in_user(demo, regulator, regulator_client):
    url = decide_url("licences_importlicence", licence(DSK).pk, "approve")
    response = regulator_client.post(url, {**APPROVE_DSK, "effective_on": "2026-11-23", "reason": "Paper licence"})
    assert response.status_code == 302, messages_of(response)
    row = licence(DSK).decisions.get(kind="approve")
    assert (row.effective_on, row.late_entry, row.reason, row.recorded_by, row.actor) == (
        dt.date(2026, 11, 23), True, "Paper licence", regulator, "regulator",
    )  # fmt: skip


def test_an_admin_action_on_several_licences_takes_one_effective_on(demo, regulator_client):
    approved = ImportLicence.objects.filter(status="approved").exclude(number__startswith="LIC-2026-DSK")
    numbers = sorted(approved.values_list("number", flat=True)[:2])
    response = regulator_client.post(
        reverse("admin:licences_importlicence_changelist"),
        {
            "action": "decide_suspend",
            ACTION_CHECKBOX_NAME: [str(licence(number).pk) for number in numbers],
            "confirm": "yes",
            "reason": "Audit",
            "effective_on": "2026-11-27",
        },
    )
    assert response.status_code == 302
    for number in numbers:
        row = licence(number).decisions.order_by("pk").last()
        assert (row.kind, row.effective_on, row.late_entry) == ("suspend", dt.date(2026, 11, 27), False)


def test_the_ledger_is_shown_read_only_and_never_written_in_the_admin(demo, regulator_client, django_user_model):
    page = regulator_client.get(reverse("admin:licences_importlicence_change", args=[licence(DSK).pk]))
    assert page.status_code == 200
    assert "Licence decisions" in page.content.decode()
    row = LicenceDecision.objects.filter(licence__number=DSK).first()
    superuser = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    root = Client()
    root.force_login(superuser)
    for client in (regulator_client, root):
        assert client.get(reverse("admin:licences_licencedecision_changelist")).status_code == 200
        assert client.get(reverse("admin:licences_licencedecision_add")).status_code == 403
        delete = reverse("admin:licences_licencedecision_delete", args=[row.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
        change = reverse("admin:licences_licencedecision_change", args=[row.pk])
        assert client.post(change, {"reason": "rewritten"}).status_code == 403
        assert client.get(reverse("admin:quotas_commitmentchange_changelist")).status_code == 200
        assert client.get(reverse("admin:quotas_commitmentchange_add")).status_code == 403
    assert LicenceDecision.objects.get(pk=row.pk).reason == row.reason
    assert CommitmentChange.objects.count() == 12  # the demo's commitments, as their dates imply


def test_a_shipments_history_page_lists_its_customs_events_which_write_no_history_rows(demo, analyst_client):
    # The customs events are the shipment's customs history (no shipment history row repeats
    # them): the history page shows its one "+" row and then every event, oldest first.
    from licences.models import Shipment
    from licences.services import customs_event_record

    shipment = Shipment.objects.filter(status="declared").order_by("pk").first()
    customs_event_record(shipment=shipment, status="inspecting", note="x-ray", recorded_by="customs officer 7")
    customs_event_record(shipment=shipment, status="cleared", recorded_by="customs officer 7")
    response = analyst_client.get(reverse("admin:licences_shipment_history", args=[shipment.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    events = page[page.index('id="customs-events"') :]
    rows = events.split("<tr>")[2:]
    cells = [[cell.split("</td>")[0].strip() for cell in row.split("<td>")[1:]] for row in rows]
    assert [(row[0], row[3], row[4]) for row in cells] == [
        ("Declared", shipment.events.first().recorded_by, ""),
        ("Inspecting", "customs officer 7", "x-ray"),
        ("Cleared", "customs officer 7", ""),
    ]
    assert list(shipment.history.values_list("history_type", flat=True)) == ["+"]
