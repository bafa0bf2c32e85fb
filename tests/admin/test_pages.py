"""Every cockpit page for the regulator, the analyst, a staff member with no group and anonymous."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PAGES = [
    reverse("admin:index"),
    reverse("cockpit:dashboard"),
    reverse("cockpit:company", args=["alibaba"]),
    reverse("cockpit:company", args=["deepseek"]) + "?import_chip=H200&import_quantity=1000",
    reverse("cockpit:policy-impact"),
]


@pytest.mark.parametrize("url", PAGES)
def test_regulator_and_analyst_open_every_page(demo, regulator_client, analyst_client, url):
    assert regulator_client.get(url).status_code == 200
    assert analyst_client.get(url).status_code == 200


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_the_login_page(demo, url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("url", PAGES[1:])
def test_staff_without_a_group_is_refused_the_cockpit(demo, django_user_model, url):
    client = Client()
    client.force_login(django_user_model.objects.create_user("nobody", "n@example.com", "pw", is_staff=True))
    assert client.get(url).status_code == 403


def test_admin_front_page_leads_to_the_dashboard(demo, analyst_client):
    page = analyst_client.get(reverse("admin:index")).content.decode()
    assert reverse("cockpit:dashboard") in page
    assert "Open the dashboard" in page


def test_unknown_company_is_404(demo, regulator_client):
    assert regulator_client.get(reverse("cockpit:company", args=["no-such-company"])).status_code == 404


def test_company_page_shows_licences_shipments_commitments_attestations_and_quota(demo, analyst_client):
    page = analyst_client.get(reverse("cockpit:company", args=["alibaba"])).content.decode()
    assert "LIC-2026-ALI-H200-001" in page
    # 200,000 granted: 120,000 cleared, 30,000 declared or held, 50,000 left.
    assert "120,000 used, 30,000 reserved, 50,000 remaining" in page
    assert "DEC-2026-000105" in page and "held 3\xa0weeks" in page
    assert "HW-ALI-2026-01" in page
    assert "Recipient security procedures" in page
    # docs/domain.md's worked example: 60,000 required, 40,000 committed, 20,000 short.
    assert "66.7 % · short 20,000 units" in page
    assert "<strong>H200</strong> 0 units" in page  # no headroom while short


def test_company_page_history_says_what_each_change_changed(demo, analyst_client):
    page = analyst_client.get(reverse("cockpit:company", args=["deepseek"])).content.decode()
    assert "Change history" in page
    assert "status: Applied &rarr; Rejected" in page  # choice labels, in the language
    assert "status: Approved &rarr; Suspended" in page


def test_company_page_history_lists_customs_events_as_shipment_changes(demo, analyst_client):
    # The customs events are the shipments' customs history (they write no shipment history
    # row): the page shows each as a change of the shipment's status, by whoever recorded it.
    from licences.models import Shipment
    from licences.services import customs_event_record

    shipment = Shipment.objects.filter(status="declared").select_related("company").order_by("pk").first()
    customs_event_record(shipment=shipment, status="inspecting", note="x-ray", recorded_by="customs officer 7")
    customs_event_record(shipment=shipment, status="cleared", recorded_by="customs officer 8")
    page = analyst_client.get(reverse("cockpit:company", args=[shipment.company.slug])).content.decode()
    history = page[page.index('id="history"') :]
    rows = [row for row in history.split("<tr>") if shipment.declaration_number in row]
    assert len(rows) >= 2
    cleared, inspecting = rows[0], rows[1]
    assert '<span translate="no">customs officer 8</span>' in cleared
    assert "status: Inspecting &rarr; Cleared</td>" in cleared
    assert '<span translate="no">customs officer 7</span>' in inspecting
    assert 'status: Declared &rarr; Inspecting (<span translate="no">x-ray</span>)' in inspecting
    assert f'Shipment <a href="{reverse("admin:licences_shipment_change", args=[shipment.pk])}" ' in cleared


def test_company_page_what_if_shows_the_hypothetical_position(demo, analyst_client):
    url = reverse("cockpit:company", args=["alibaba"])
    page = analyst_client.get(url, {"commit_chip": "ASCEND-910B", "commit_quantity": 20000}).content.decode()
    assert 'id="position-what-if"' in page
    assert "100.0 % · covered" in page


def test_company_page_what_if_refusal_is_a_form_error(demo, analyst_client):
    url = reverse("cockpit:company", args=["alibaba"])
    page = analyst_client.get(url, {"import_chip": "ASCEND-910B", "import_quantity": 5}).content.decode()
    assert 'id="position-what-if"' not in page
    assert "Select a valid choice" in page


def test_policy_impact_lists_every_company_under_the_draft_sorted_by_change(demo, analyst_client):
    page = analyst_client.get(reverse("cockpit:policy-impact")).content.decode()
    assert "Domestic purchase rule v2" in page
    rows = [name for name in ("ByteDance", "Alibaba Group", "Tencent Holdings", "DeepSeek") if name in page]
    assert len(rows) == 4
    # Different bases (units vs compute): sorted by the fall in coverage, ByteDance first.
    positions = [page.index(f">{name}</a>") for name in ("ByteDance", "Alibaba Group", "Tencent Holdings", "DeepSeek")]
    assert positions == sorted(positions)


def test_policy_impact_unknown_draft_is_refused(demo, analyst_client):
    assert analyst_client.get(reverse("cockpit:policy-impact"), {"draft": "999999"}).status_code == 403
