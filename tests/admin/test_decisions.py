"""Decisions in the admin: through the services, confirmed first, refusals shown as messages,
and only for the "Regulator" group (the analyst sees no button and a forced POST changes nothing)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse

from compliance.models import Finding, SecurityAttestation
from licences.models import AllocationRound, Company, ImportLicence
from quotas.models import QuotaPolicy
from tests.factories import FindingFactory

pytestmark = pytest.mark.django_db

DSK = "LIC-2026-DSK-H200-001"
TEN = "LIC-2026-TEN-H200-001"
ALI = "LIC-2026-ALI-H200-001"
CAP_REFUSAL = "would exceed Wave 1, January 2026&#x27;s cap"


def licence(number: str) -> ImportLicence:
    return ImportLicence.objects.get(number=number)


def wave() -> AllocationRound:
    return AllocationRound.objects.get(name="Wave 1, January 2026")


def decide_url(model: str, pk: int, decision: str) -> str:
    return reverse(f"admin:{model}_decide", args=[pk, decision])


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


APPROVAL = {"granted_quantity": "", "valid_from": "2026-11-30", "valid_until": "2026-12-31"}


# --- Licences: one at a time, from the change page --------------------------------------------


def test_approve_form_offers_the_requested_quantity_and_the_round_end(demo, regulator_client):
    page = regulator_client.get(decide_url("licences_importlicence", licence(DSK).pk, "approve")).content.decode()
    assert 'name="granted_quantity" value="10000"' in page
    assert 'name="valid_until" value="2026-12-31"' in page
    assert "Confirm: approve" in page


def test_regulator_approves_deepseek_and_the_round_draws_10000_units(demo, regulator_client):
    url = decide_url("licences_importlicence", licence(DSK).pk, "approve")
    response = regulator_client.post(url, {**APPROVAL, "granted_quantity": "10000"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:licences_importlicence_change", args=[licence(DSK).pk])
    approved = licence(DSK)
    assert (approved.status, approved.granted_quantity) == ("approved", 10_000)
    assert (approved.valid_from, approved.valid_until) == (dt.date(2026, 11, 30), dt.date(2026, 12, 31))
    assert wave().granted_units == 338_000
    assert messages_of(response) == [f"{DSK}: approved."]


def test_tencent_cap_breaking_approval_is_refused_with_a_message_and_nothing_changes(demo, regulator_client):
    url = decide_url("licences_importlicence", licence(TEN).pk, "approve")
    response = regulator_client.post(url, {**APPROVAL, "granted_quantity": "80000"})
    assert response.status_code == 200  # the form again, with the refusal above it
    page = response.content.decode()
    assert f"{TEN}: refused. Granting 80,000 units (USD 2,400,000,000.00) {CAP_REFUSAL}" in page
    assert 'class="error"' in page
    assert "Traceback" not in page
    assert licence(TEN).status == "applied"
    assert (wave().granted_units, wave().granted_value_usd) == (328_000, 9_336_000_000)


def test_granting_more_than_requested_is_refused_by_the_service(demo, regulator_client):
    url = decide_url("licences_importlicence", licence(DSK).pk, "approve")
    page = regulator_client.post(url, {**APPROVAL, "granted_quantity": "10001"}).content.decode()
    assert "must be between 1 and the requested 10000" in page
    assert licence(DSK).status == "applied"


def test_a_validity_ending_before_it_starts_is_a_form_error(demo, regulator_client):
    url = decide_url("licences_importlicence", licence(DSK).pk, "approve")
    page = regulator_client.post(url, {**APPROVAL, "valid_until": "2026-11-01"}).content.decode()
    assert "The validity must not end before it starts." in page
    assert licence(DSK).status == "applied"


@pytest.mark.parametrize(
    ("number", "decision", "status"),
    [(ALI, "suspend", "suspended"), (ALI, "revoke", "revoked"), (TEN, "reject", "rejected")],
)
def test_decisions_with_a_reason_record_it(demo, regulator_client, number, decision, status):
    url = decide_url("licences_importlicence", licence(number).pk, decision)
    response = regulator_client.post(url, {"reason": "End-user checks failed."})
    assert response.status_code == 302
    assert (licence(number).status, licence(number).status_reason) == (status, "End-user checks failed.")


def test_reinstating_a_suspended_licence(demo, regulator_client):
    suspended = licence("LIC-2026-DSK-H20-001")
    response = regulator_client.post(
        decide_url("licences_importlicence", suspended.pk, "reinstate"), {"reason": "Verified."}
    )
    assert response.status_code == 302
    assert licence("LIC-2026-DSK-H20-001").status == "approved"


def test_a_decision_without_its_reason_is_not_taken(demo, regulator_client):
    response = regulator_client.post(decide_url("licences_importlicence", licence(ALI).pk, "suspend"), {"reason": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert licence(ALI).status == "approved"


def test_a_decision_from_the_wrong_state_is_refused_as_a_message(demo, regulator_client):
    response = regulator_client.post(
        decide_url("licences_importlicence", licence(ALI).pk, "reinstate"), {"reason": "x"}
    )
    assert f"{ALI}: refused. Licence {ALI} is approved; it can be reinstated only when suspended." in [
        str(message) for message in response.context["messages"]
    ]
    assert licence(ALI).status == "approved"


def test_change_page_shows_only_the_decisions_the_state_allows(demo, regulator_client):
    applied = regulator_client.get(reverse("admin:licences_importlicence_change", args=[licence(DSK).pk]))
    page = applied.content.decode()
    assert "decision-approve" in page and "decision-reject" in page
    assert "decision-suspend" not in page
    approved = regulator_client.get(reverse("admin:licences_importlicence_change", args=[licence(ALI).pk]))
    assert "decision-suspend" in approved.content.decode() and "decision-approve" not in approved.content.decode()


# --- Licences: several at once, from the change list -----------------------------------------


def test_bulk_approval_confirms_first_then_approves_deepseek_and_refuses_tencent(demo, regulator_client):
    changelist = reverse("admin:licences_importlicence_changelist")
    selected = [licence(DSK).pk, licence(TEN).pk]
    confirm = regulator_client.post(changelist, {"action": "decide_approve", ACTION_CHECKBOX_NAME: selected})
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "Approve these 2 import licences" in page and DSK in page and TEN in page
    assert licence(DSK).status == "applied"  # nothing happens before the confirmation

    done = regulator_client.post(
        changelist, {"action": "decide_approve", ACTION_CHECKBOX_NAME: selected, "confirm": "yes", **APPROVAL}
    )
    assert done.status_code == 302
    assert (licence(DSK).status, licence(DSK).granted_quantity) == ("approved", 10_000)
    assert licence(TEN).status == "applied"
    shown = messages_of(done)
    assert f"{DSK}: approved." in shown
    assert any(m.startswith(f"{TEN}: refused. Granting 80,000 units") for m in shown)


# --- Attestations and findings -----------------------------------------------------------------


def submitted_attestation() -> SecurityAttestation:
    return SecurityAttestation.objects.get(company__slug="deepseek", status="submitted")


def test_accepting_an_attestation_with_an_expiry(demo, regulator_client, regulator):
    attestation = submitted_attestation()
    url = decide_url("compliance_securityattestation", attestation.pk, "accept")
    response = regulator_client.post(url, {"expires_on": "2027-06-30", "note": "Checked the audit report."})
    assert response.status_code == 302
    attestation.refresh_from_db()
    assert (attestation.status, attestation.expires_on, attestation.reviewed_by) == (
        "accepted",
        dt.date(2027, 6, 30),
        regulator,
    )


def test_rejecting_an_attestation_needs_a_reason(demo, regulator_client):
    attestation = submitted_attestation()
    url = decide_url("compliance_securityattestation", attestation.pk, "reject")
    assert regulator_client.post(url, {"reason": ""}).status_code == 200
    assert regulator_client.post(url, {"reason": "Evidence unreadable."}).status_code == 302
    attestation.refresh_from_db()
    assert (attestation.status, attestation.review_note) == ("rejected", "Evidence unreadable.")


def test_resolving_a_finding_and_acknowledging_is_the_companys(demo, regulator_client, regulator):
    finding = FindingFactory(company=Company.objects.get(slug="alibaba"))
    ack = regulator_client.post(decide_url("compliance_finding", finding.pk, "acknowledge"), {"note": ""})
    assert ack.status_code == 403  # the company acknowledges its own findings, through the API
    finding.refresh_from_db()
    assert (finding.status, finding.acknowledged_by) == ("open", None)
    resolve = regulator_client.post(
        decide_url("compliance_finding", finding.pk, "resolve"), {"reason": "Contract for 20,000 Ascend signed."}
    )
    assert resolve.status_code == 302
    finding.refresh_from_db()
    assert (finding.status, finding.resolution_note) == ("resolved", "Contract for 20,000 Ascend signed.")


def test_resolving_a_resolved_finding_is_refused_as_a_message(demo, regulator_client):
    finding = FindingFactory(company=Company.objects.get(slug="alibaba"))
    url = decide_url("compliance_finding", finding.pk, "resolve")
    regulator_client.post(url, {"reason": "Done."})
    again = regulator_client.post(url, {"reason": "Done twice."})
    assert "refused. This finding is already resolved." in again.content.decode()
    finding.refresh_from_db()
    assert finding.resolution_note == "Done."


def test_bulk_resolve_from_the_findings_list(demo, regulator_client):
    alibaba = Company.objects.get(slug="alibaba")
    findings = [FindingFactory(company=alibaba, rule=f"rule_{n}") for n in range(3)]
    response = regulator_client.post(
        reverse("admin:compliance_finding_changelist"),
        {
            "action": "decide_resolve",
            ACTION_CHECKBOX_NAME: [f.pk for f in findings],
            "confirm": "yes",
            "reason": "Reviewed.",
        },
    )
    assert response.status_code == 302
    assert set(Finding.objects.filter(pk__in=[f.pk for f in findings]).values_list("status", flat=True)) == {"resolved"}


# --- Policies ---------------------------------------------------------------------------------


def test_putting_an_overlapping_draft_in_force_is_refused_then_allowed_after_retiring(demo, regulator_client):
    draft = QuotaPolicy.objects.get(status="draft")
    active = QuotaPolicy.objects.get(status="active")
    refused = regulator_client.post(decide_url("quotas_quotapolicy", draft.pk, "activate"), {})
    assert refused.status_code == 200
    assert "refused." in refused.content.decode()
    draft.refresh_from_db()
    assert draft.status == "draft"
    retired = regulator_client.post(decide_url("quotas_quotapolicy", active.pk, "retire"), {"last_day": "2026-12-31"})
    assert retired.status_code == 302
    assert regulator_client.post(decide_url("quotas_quotapolicy", draft.pk, "activate"), {}).status_code == 302
    draft.refresh_from_db()
    assert draft.status == "active"


# --- The compliance check --------------------------------------------------------------------


def test_running_the_compliance_check_for_selected_companies(demo, regulator_client):
    alibaba = Company.objects.get(slug="alibaba")
    response = regulator_client.post(
        reverse("admin:licences_company_changelist"),
        {"action": "run_compliance_check", ACTION_CHECKBOX_NAME: [alibaba.pk]},
    )
    assert response.status_code == 302
    assert messages_of(response)[0].startswith("Compliance check done. 1 company swept:")
    assert Finding.objects.filter(company=alibaba, rule="quota_shortfall", status="open").count() == 1
    assert not Finding.objects.exclude(company=alibaba).exists()


# --- The analyst: read-only ------------------------------------------------------------------


def test_analyst_sees_no_decision_buttons_anywhere(demo, analyst_client, regulator_client):
    FindingFactory(company=Company.objects.get(slug="alibaba"))
    pages = [
        reverse("admin:licences_importlicence_change", args=[licence(DSK).pk]),
        reverse("admin:compliance_finding_change", args=[Finding.objects.get().pk]),
        reverse("admin:compliance_securityattestation_change", args=[submitted_attestation().pk]),
        reverse("cockpit:company", args=["deepseek"]),
        reverse("cockpit:company", args=["alibaba"]),
    ]
    for url in pages:
        assert "decision-button" not in analyst_client.get(url).content.decode(), url
        assert "decision-button" in regulator_client.get(url).content.decode(), url
    assert "run-check" not in analyst_client.get(reverse("cockpit:company", args=["alibaba"])).content.decode()


def test_analyst_change_lists_offer_export_but_no_decision(demo, analyst_client):
    for model in ("licences_importlicence", "compliance_finding", "licences_company"):
        page = analyst_client.get(reverse(f"admin:{model}_changelist")).content.decode()
        assert 'value="decide_' not in page
        assert 'value="run_compliance_check"' not in page
        assert 'value="delete_selected"' not in page
    page = analyst_client.get(reverse("admin:licences_importlicence_changelist")).content.decode()
    assert 'value="export_admin_action"' in page


def test_analyst_forced_decision_post_is_refused_and_nothing_changes(demo, analyst_client):
    url = decide_url("licences_importlicence", licence(DSK).pk, "approve")
    assert analyst_client.get(url).status_code == 403
    assert analyst_client.post(url, {**APPROVAL, "granted_quantity": "10000"}).status_code == 403
    assert licence(DSK).status == "applied"
    assert wave().granted_units == 328_000


def test_analyst_forced_action_post_changes_nothing(demo, analyst_client):
    response = analyst_client.post(
        reverse("admin:licences_importlicence_changelist"),
        {"action": "decide_approve", ACTION_CHECKBOX_NAME: [licence(DSK).pk], "confirm": "yes", **APPROVAL},
    )
    assert response.status_code in (200, 302, 403)
    assert licence(DSK).status == "applied"
    check = analyst_client.post(
        reverse("admin:licences_company_changelist"),
        {"action": "run_compliance_check", ACTION_CHECKBOX_NAME: [Company.objects.get(slug="alibaba").pk]},
    )
    assert check.status_code in (200, 302, 403)
    assert not Finding.objects.exists()


def test_analyst_forced_edit_of_a_licence_is_refused(demo, analyst_client):
    url = reverse("admin:licences_importlicence_change", args=[licence(DSK).pk])
    response = analyst_client.post(url, {"number": DSK, "requested_quantity": "99999"})
    assert response.status_code == 403
    assert licence(DSK).requested_quantity == 10_000


def test_history_cannot_be_reverted_around_the_services(demo, regulator_client):
    approved = licence(ALI)
    first_version = approved.history.earliest()
    url = reverse("admin:licences_importlicence_simple_history", args=[approved.pk, first_version.history_id])
    assert regulator_client.get(url).status_code == 200
    assert regulator_client.post(url, {"number": ALI}).status_code == 403
    assert licence(ALI).status == "approved"
