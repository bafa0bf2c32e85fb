"""The ledgers through the API: ``GET /api/v1/licences/<number>/decisions/``,
``GET /api/v1/commitments/<id>/changes/``, ``GET /api/v1/findings/<id>/transitions/`` and
``GET /api/v1/attestations/<id>/reviews/``.

A licence's decision ledger is what a regulator defends a decision with and what a company
checks its licence against (a commitment's change ledger the same for its commitment): each
row's day of effect (valid time), moment of recording
(transaction time), author, reason and place in the company's hash chain. A finding's
transitions say when it was opened, acknowledged and resolved, and by whom. Each is read as its
record is: by its company, the regulator and analysts; another company's key gets the record's
404, customs a 403.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance.models import AttestationReview, Finding, FindingTransition
from compliance.sweep import SWEEP_ACTOR, flag_finding
from licences.models import LicenceDecision
from quotas.models import CommitmentChange
from tests.api.conftest import API, World

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
URL = f"{API}/licences/LIC-A-9/decisions/"


@pytest.fixture
def ledger(world: World) -> World:
    """LIC-A-9: applied for on 1 February, approved on 15 March effective 2 February (a late
    entry: a paper licence), suspended the same day."""
    with time_machine.travel(dt.datetime(2026, 2, 1, 10, 0, tzinfo=SHANGHAI), tick=False):
        applied = world.client("a").post(
            f"{API}/licences/", {"chip": "H200", "round": world.wave.pk, "requested_quantity": 300, "number": "LIC-A-9"}
        )
        assert applied.status_code == 201, applied.content
    with time_machine.travel(dt.datetime(2026, 3, 15, 9, 30, tzinfo=SHANGHAI), tick=False):
        regulator = world.client("regulator")
        approved = regulator.post(
            f"{API}/licences/LIC-A-9/approve/",
            {
                "granted_quantity": 250, "valid_from": "2026-02-02", "valid_until": "2026-12-31",
                "effective_on": "2026-02-02", "reason": "Issued on paper on 2 February",
            },
            format="json",
        )  # fmt: skip
        assert approved.status_code == 200, approved.content
        suspended = regulator.post(f"{API}/licences/LIC-A-9/suspend/", {"reason": "Audit"}, format="json")
        assert suspended.status_code == 200, suspended.content
    return world


def test_the_company_reads_its_licences_ledger_in_the_order_recorded_with_both_times(ledger: World) -> None:
    response = ledger.client("a").get(URL)
    assert response.status_code == 200
    body = response.json()
    assert (body["number"], body["company"]) == ("LIC-A-9", "alibaba")
    rows = [
        (row["kind"], row["status"], row["effective_on"], row["recorded_at"], row["late_entry"], row["reason"],
         row["granted_quantity"], row["valid_from"], row["valid_until"])
        for row in body["decisions"]
    ]  # fmt: skip
    assert rows == [
        ("apply", "applied", "2026-02-01", "2026-02-01T10:00:00+08:00", False, "", 0, None, None),
        ("approve", "approved", "2026-02-02", "2026-03-15T09:30:00+08:00", True, "Issued on paper on 2 February",
         250, "2026-02-02", "2026-12-31"),
        ("suspend", "suspended", "2026-03-15", "2026-03-15T09:30:00+08:00", False, "Audit",
         250, "2026-02-02", "2026-12-31"),
    ]  # fmt: skip
    stored = LicenceDecision.objects.filter(licence__number="LIC-A-9").order_by("chain_seq")
    assert [(row["chain_seq"], row["row_hash"]) for row in body["decisions"]] == list(
        stored.values_list("chain_seq", "row_hash")
    )
    assert [row["actor"] for row in body["decisions"]][1:] == [stored[1].actor] * 2
    assert stored[1].actor.startswith("api-key:")


def test_the_regulator_reads_the_same_ledger(ledger: World) -> None:
    assert ledger.client("regulator").get(URL).json() == ledger.client("a").get(URL).json()


@pytest.mark.parametrize(("role", "status", "code"), [("b", 404, "not_found"), ("customs", 403, "permission_denied")])
def test_another_company_and_customs_do_not_read_it(ledger: World, role: str, status: int, code: str) -> None:
    response = ledger.client(role).get(URL)
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_reading_a_ledger_costs_the_same_queries_whatever_its_length(ledger: World) -> None:
    client = ledger.client("a")
    client.get(URL)
    with CaptureQueriesContext(connection) as short:
        client.get(URL)
    for action in ("reinstate", "suspend", "reinstate"):
        assert ledger.client("regulator").post(f"{API}/licences/LIC-A-9/{action}/", {"reason": "x"}).status_code == 200
    with CaptureQueriesContext(connection) as long:
        assert len(client.get(URL).json()["decisions"]) == 6
    assert len(long) == len(short)


# --- A finding's transitions --------------------------------------------------------------------


def test_a_findings_transitions_from_opening_to_resolution(world: World) -> None:
    with time_machine.travel(dt.datetime(2026, 3, 1, 9, 0, tzinfo=SHANGHAI), tick=False):
        flag_finding(
            company_id=world.a.pk, rule="webhook_disabled", subject="webhook:ops", severity="warning",
            summary="Alibaba's webhook ops was disabled", details={},
        )  # fmt: skip
    finding = Finding.objects.get(company=world.a, rule="webhook_disabled")
    url = f"{API}/findings/{finding.pk}/transitions/"
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI), tick=False):
        assert world.client("a").post(f"{API}/findings/{finding.pk}/acknowledge/", {"note": "on it"}).status_code == 200
    with time_machine.travel(dt.datetime(2026, 3, 3, 9, 0, tzinfo=SHANGHAI), tick=False):
        resolved = world.client("regulator").post(f"{API}/findings/{finding.pk}/resolve/", {"note": "re-enabled"})
        assert resolved.status_code == 200
    body = world.client("a").get(url).json()
    assert (body["id"], body["company"]) == (finding.pk, "alibaba")
    assert [(row["kind"], row["status"], row["severity"], row["at"], row["note"]) for row in body["transitions"]] == [
        ("opened", "open", "warning", "2026-03-01T09:00:00+08:00", ""),
        ("acknowledged", "acknowledged", "warning", "2026-03-02T09:00:00+08:00", "on it"),
        ("resolved", "resolved", "warning", "2026-03-03T09:00:00+08:00", "re-enabled"),
    ]
    stored = FindingTransition.objects.filter(finding=finding).order_by("chain_seq")
    assert [(row["by"], row["chain_seq"], row["row_hash"]) for row in body["transitions"]] == list(
        stored.values_list("by", "chain_seq", "row_hash")
    )
    assert body["transitions"][0]["by"] == SWEEP_ACTOR
    assert world.client("regulator").get(url).json() == body
    assert world.client("b").get(url).status_code == 404
    assert world.client("customs").get(url).status_code == 403


# --- A commitment's changes ---------------------------------------------------------------------


def test_a_commitments_changes_from_pledge_to_delivery(world: World) -> None:
    client = world.client("a")
    with time_machine.travel(dt.datetime(2026, 3, 10, 11, 0, tzinfo=SHANGHAI), tick=False):
        recorded = client.post(
            f"{API}/commitments/",
            {"chip": "ASCEND-910B", "quantity": 500, "unit_price": "12000.00", "unit_price_usd": "12000.00",
             "pledged_on": "2026-03-01"},
            format="json",
        )  # fmt: skip
        assert recorded.status_code == 201, recorded.content
        path = f"{API}/commitments/{recorded.json()['id']}"
        contracted = client.post(f"{path}/contract/", {"on": "2026-03-05", "contract_reference": "HW-9"}, format="json")
        assert contracted.status_code == 200, contracted.content
    with time_machine.travel(dt.datetime(2026, 4, 2, 15, 0, tzinfo=SHANGHAI), tick=False):
        delivered = client.post(f"{path}/deliver/", {"on": "2026-04-01", "quantity": 200}, format="json")
        assert delivered.status_code == 200, delivered.content
    body = client.get(f"{path}/changes/").json()
    assert (body["id"], body["company"]) == (recorded.json()["id"], "alibaba")
    assert [
        (row["kind"], row["status"], row["effective_on"], row["recorded_at"], row["quantity"],
         row["delivered_quantity"], row["unit_price_usd"])
        for row in body["changes"]
    ] == [
        ("pledge", "pledged", "2026-03-01", "2026-03-10T11:00:00+08:00", 500, 0, "12000.00"),
        ("contract", "contracted", "2026-03-05", "2026-03-10T11:00:00+08:00", 500, 0, "12000.00"),
        ("deliver", "contracted", "2026-04-01", "2026-04-02T15:00:00+08:00", 500, 200, "12000.00"),
    ]  # fmt: skip
    stored = CommitmentChange.objects.filter(commitment_id=body["id"]).order_by("chain_seq")
    assert [(row["note"], row["chain_seq"], row["row_hash"]) for row in body["changes"]] == list(
        stored.values_list("note", "chain_seq", "row_hash")
    )
    assert world.client("regulator").get(f"{path}/changes/").json() == body
    assert world.client("b").get(f"{path}/changes/").status_code == 404
    assert world.client("customs").get(f"{path}/changes/").status_code == 403


# --- An attestation's reviews -------------------------------------------------------------------


def test_an_attestations_review_ledger_is_empty_until_it_is_reviewed(world: World) -> None:
    url = f"{API}/attestations/{world.attestation_a.pk}/reviews/"
    assert world.client("a").get(url).json() == {"id": world.attestation_a.pk, "company": "alibaba", "reviews": []}
    with time_machine.travel(dt.datetime(2026, 3, 5, 16, 0, tzinfo=SHANGHAI), tick=False):
        reviewed = world.client("regulator").post(
            f"{API}/attestations/{world.attestation_a.pk}/review/",
            {"decision": "accept", "expires_on": "2027-01-31", "note": "Audit report read"},
            format="json",
        )
        assert reviewed.status_code == 200, reviewed.content
    body = world.client("a").get(url).json()
    stored = AttestationReview.objects.get(attestation=world.attestation_a)
    assert body["reviews"] == [
        {
            "decision": "accepted", "expires_on": "2027-01-31", "note": "Audit report read",
            "reviewed_at": "2026-03-05T16:00:00+08:00", "reviewed_by": stored.reviewed_by,
            "chain_seq": stored.chain_seq, "row_hash": stored.row_hash,
        }
    ]  # fmt: skip
    assert stored.reviewed_by.startswith("api-key:")
    assert world.client("regulator").get(url).json() == body
    assert world.client("b").get(url).status_code == 404
    assert world.client("customs").get(url).status_code == 403
