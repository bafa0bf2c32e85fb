"""A bad-input catalogue per write endpoint: each answer's status and code, and nothing written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models

from compliance.models import Finding, SecurityAttestation, SecurityRequirement, WebhookSubscription
from licences import services
from licences.models import AllocationRound, ChipModel, Company, CustomsEvent, ImportLicence, Shipment
from quotas.models import DomesticCommitment, QuotaPolicy
from tests.api.conftest import API, World
from tests.factories import AllocationRoundFactory, QuotaPolicyFactory
from tests.security.test_permission_matrix import CASES

pytestmark = pytest.mark.django_db

LEDGER: list[type[models.Model]] = [
    Company, ChipModel, AllocationRound, ImportLicence, Shipment, CustomsEvent, DomesticCommitment,
    QuotaPolicy, SecurityRequirement, SecurityAttestation, Finding, WebhookSubscription,
]  # fmt: skip


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every business table, to prove a refused request changed nothing."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in LEDGER}


# Batches have their own parser, limits and bad-input catalogue (tests/api/test_batch.py).
WRITES = [case for case in CASES if case.method in ("post", "patch") and case.action != "batch"]


def author(world: World, case) -> Any:
    """A client allowed to call the case's action (its bad bodies must reach validation)."""
    return world.client({"own": "a"}.get(case.author, case.author))


def _refused(world: World, client, method: str, path: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    before = snapshot()
    response = getattr(client, method)(path, *args, **kwargs)
    assert 400 <= response.status_code < 500, response.content
    assert snapshot() == before
    return {"status": response.status_code, **response.json()}


# --- Every write endpoint: the generic bad inputs ------------------------------------------------------


@pytest.mark.parametrize("case", WRITES, ids=lambda case: case.name)
def test_malformed_json_is_a_400_parse_error(world: World, case) -> None:
    client = author(world, case)
    error = _refused(world, client, case.method, case.path(world), '{"quantity": ', content_type="application/json")
    assert (error["status"], error["code"]) == (400, "parse_error")


@pytest.mark.parametrize("case", WRITES, ids=lambda case: case.name)
def test_an_unknown_field_is_refused_by_name(world: World, case) -> None:
    body = {**(case.body(world) if case.body else {}), "is_admin": True}
    error = _refused(world, author(world, case), case.method, case.path(world), body, format="json")
    assert (error["status"], error["code"]) == (400, "validation_error")
    assert error["errors"]["is_admin"] == ["Unknown or read-only field."]


@pytest.mark.parametrize("case", WRITES, ids=lambda case: case.name)
def test_a_json_array_instead_of_an_object_is_a_validation_error(world: World, case) -> None:
    error = _refused(world, author(world, case), case.method, case.path(world), [1, 2], format="json")
    assert (error["status"], error["code"]) == (400, "validation_error")


@pytest.mark.parametrize(
    # The back-entry has a cap of its own, API_BACKFILL_MAX_BYTES (tests/api/test_backfill.py).
    "case",
    [case for case in WRITES if case.action != "backfill"],
    ids=lambda case: case.name,
)
def test_an_oversized_body_is_a_413(world: World, case) -> None:
    body = '{"note": "' + "x" * 300_000 + '"}'
    error = _refused(world, author(world, case), case.method, case.path(world), body, content_type="application/json")
    assert (error["status"], error["code"]) == (413, "request_too_large")


@pytest.mark.parametrize("case", WRITES[:3], ids=lambda case: case.name)
def test_a_non_json_content_type_is_a_415(world: World, case) -> None:
    error = _refused(world, author(world, case), case.method, case.path(world), "a=1", content_type="text/plain")
    assert (error["status"], error["code"]) == (415, "unsupported_media_type")


def test_json_nested_too_deeply_is_a_parse_error_not_a_500(world: World) -> None:
    body = "[" * 100_000 + "]" * 100_000
    error = _refused(world, world.client("a"), "post", f"{API}/licences/", body, content_type="application/json")
    assert (error["status"], error["code"]) == (400, "parse_error")


# --- Endpoint by endpoint --------------------------------------------------------------------------------

APPLY = {"chip": "H200", "round": None, "requested_quantity": 100}


def apply_body(world: World, **changes: Any) -> dict[str, Any]:
    return {**APPLY, "round": world.wave.pk, **changes}


@pytest.mark.parametrize(
    ("changes", "status", "code", "field"),
    [
        ({"requested_quantity": "ten"}, 400, "validation_error", "requested_quantity"),
        ({"requested_quantity": 10**13}, 400, "validation_error", "requested_quantity"),
        ({"requested_quantity": 0}, 400, "validation_error", "requested_quantity"),
        ({"requested_quantity": -5}, 400, "validation_error", "requested_quantity"),
        ({"requested_quantity": 1.5}, 400, "validation_error", "requested_quantity"),
        ({"requested_quantity": None}, 400, "validation_error", "requested_quantity"),
        ({"chip": "NOPE"}, 400, "validation_error", "chip"),
        ({"chip": ["H200"]}, 400, "validation_error", "chip"),
        ({"round": "first"}, 400, "validation_error", "round"),
        ({"round": 10**30}, 400, "validation_error", "round"),
        ({"unit_value_usd": "NaN"}, 400, "validation_error", "unit_value_usd"),
        ({"unit_value_usd": "-1.00"}, 400, "validation_error", "unit_value_usd"),
        ({"unit_value_usd": "1e400"}, 400, "validation_error", "unit_value_usd"),
        ({"number": "LIC A 1"}, 400, "validation_error", "number"),
        ({"company": "tencent"}, 400, "validation_error", "company"),
        ({"chip": "ASCEND-910B"}, 400, "chip_not_foreign", None),
        ({"number": "LIC-A-1"}, 409, "duplicate_number", None),  # its own: B's number is free to it
    ],
)
def test_licence_application_refusals(world: World, changes, status, code, field) -> None:
    error = _refused(world, world.client("a"), "post", f"{API}/licences/", apply_body(world, **changes), format="json")
    assert (error["status"], error["code"]) == (status, code)
    if field:
        assert list(error["errors"]) == [field]


def test_licence_application_with_no_fields_names_every_missing_one(world: World) -> None:
    error = _refused(world, world.client("a"), "post", f"{API}/licences/", {}, format="json")
    assert error["code"] == "validation_error"
    assert set(error["errors"]) == {"chip", "round", "requested_quantity"}


def test_the_regulator_does_not_apply_for_a_company(world: World) -> None:
    body = {**apply_body(world), "company": "alibaba"}
    error = _refused(world, world.client("regulator"), "post", f"{API}/licences/", body, format="json")
    assert (error["status"], error["code"]) == (403, "permission_denied")


APPROVE = {"granted_quantity": 400, "valid_from": "2026-02-01", "valid_until": "2026-12-31"}


@pytest.mark.parametrize(
    ("number", "changes", "status", "code"),
    [
        ("LIC-A-APPLIED", {"granted_quantity": 501}, 400, "invalid_quantity"),
        ("LIC-A-APPLIED", {"granted_quantity": 10**13}, 400, "validation_error"),
        ("LIC-A-APPLIED", {"valid_from": "2027-01-01"}, 400, "invalid_window"),
        ("LIC-A-APPLIED", {"valid_from": "2026-13-01"}, 400, "validation_error"),
        ("LIC-A-APPLIED", {"valid_until": "9999-12-31"}, 400, "validation_error"),
        ("LIC-A-1", {}, 409, "invalid_transition"),
        ("NO-SUCH-LICENCE", {}, 404, "not_found"),
    ],
)
def test_approval_refusals(world: World, number, changes, status, code) -> None:
    path = f"{API}/licences/{number}/approve/"
    error = _refused(world, world.client("regulator"), "post", path, {**APPROVE, **changes}, format="json")
    assert (error["status"], error["code"]) == (status, code)


def test_approval_past_the_round_cap_is_refused_and_the_round_is_untouched(world: World) -> None:
    small = AllocationRoundFactory(name="Small wave", unit_cap=300)
    ImportLicence.objects.filter(number="LIC-A-APPLIED").update(round=small)
    path = f"{API}/licences/LIC-A-APPLIED/approve/"
    error = _refused(world, world.client("regulator"), "post", path, APPROVE, format="json")
    assert (error["status"], error["code"]) == (409, "round_cap_exceeded")
    small.refresh_from_db()
    assert small.granted_units == 0


@pytest.mark.parametrize("action", ["suspend", "revoke", "reject", "reinstate"])
@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": None}, {"reason": "x" * 2001}])
def test_decisions_need_a_reason(world: World, action: str, body) -> None:
    path = f"{API}/licences/LIC-A-1/{action}/"
    error = _refused(world, world.client("regulator"), "post", path, body, format="json")
    assert (error["status"], error["code"]) == (400, "validation_error")
    assert list(error["errors"]) == ["reason"]


DECLARE = {
    "declaration_number": "DEC-NEW",
    "licence": "LIC-A-1",
    "quantity": 10,
    "declared_value_usd": "320000.00",
    "port_of_entry": "Shanghai",
    "declared_at": "2026-03-01T10:00:00+08:00",
}


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"quantity": 901}, 409, "licence_exhausted"),  # 1000 granted, 100 reserved
        ({"quantity": 10**13}, 400, "validation_error"),
        ({"quantity": "many"}, 400, "validation_error"),
        ({"licence": "LIC-A-APPLIED"}, 409, "licence_not_valid"),
        ({"declared_at": "2025-06-01T10:00:00+08:00"}, 409, "licence_not_valid"),
        ({"declared_at": "2027-06-01T10:00:00+08:00"}, 400, "future_event_time"),
        ({"declared_at": "2026-03-01T10:00:00"}, 400, "naive_datetime"),
        ({"declared_at": "yesterday"}, 400, "validation_error"),
        ({"chip": "ASCEND-910B"}, 400, "chip_mismatch"),
        ({"declaration_number": "DEC-A-1"}, 409, "duplicate_declaration"),  # its own: B's is free to it
        ({"licence": "LIC-B-1"}, 400, "validation_error"),
        ({"declared_value_usd": "-1"}, 400, "validation_error"),
        ({"declared_value_usd": "Infinity"}, 400, "validation_error"),
        ({"port_of_entry": "x" * 101}, 400, "validation_error"),
        ({"port_of_entry": "Shang\x00hai"}, 400, "validation_error"),
    ],
)
def test_declaration_refusals(world: World, changes, status, code) -> None:
    error = _refused(world, world.client("a"), "post", f"{API}/shipments/", {**DECLARE, **changes}, format="json")
    assert (error["status"], error["code"]) == (status, code)


def test_a_suspended_licence_takes_no_declaration(world: World) -> None:
    services.licence_suspend(licence=world.licence_a, reason="audit")
    error = _refused(world, world.client("a"), "post", f"{API}/shipments/", DECLARE, format="json")
    assert (error["status"], error["code"]) == (409, "licence_not_valid")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"status": "teleported"}, 400, "validation_error"),
        ({"status": "declared", "occurred_at": "2026-02-02T10:00:00+08:00"}, 409, "invalid_transition"),
        ({"status": "cleared", "occurred_at": "2026-01-01T10:00:00+08:00"}, 400, "event_out_of_order"),
        ({}, 400, "validation_error"),
    ],
)
def test_customs_event_refusals(world: World, body, status, code) -> None:
    error = _refused(world, world.client("customs"), "post", f"{API}/shipments/DEC-A-1/events/", body, format="json")
    assert (error["status"], error["code"]) == (status, code)


def test_no_event_after_a_final_status(world: World) -> None:
    services.customs_event_record(shipment=world.shipment_a, status="rejected")
    body = {"status": "cleared"}
    error = _refused(world, world.client("customs"), "post", f"{API}/shipments/DEC-A-1/events/", body, format="json")
    assert (error["status"], error["code"]) == (409, "invalid_transition")


COMMITMENT = {
    "chip": "ASCEND-910B",
    "quantity": 500,
    "unit_price": "12000.00",
    "unit_price_usd": "12000.00",
    "pledged_on": "2026-02-01",
}


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"chip": "H200"}, 400, "commitment_chip_not_domestic"),
        ({"currency": "US"}, 400, "validation_error"),
        ({"status": "contracted"}, 400, "invalid_date"),
        ({"status": "delivered"}, 400, "validation_error"),
        ({"quantity": 10**12 + 1}, 400, "validation_error"),
        ({"unit_price": "12000.001"}, 400, "validation_error"),
        ({"pledged_on": "0001-01-01"}, 400, "validation_error"),
    ],
)
def test_commitment_refusals(world: World, changes, status, code) -> None:
    body = {**COMMITMENT, **changes}
    error = _refused(world, world.client("a"), "post", f"{API}/commitments/", body, format="json")
    assert (error["status"], error["code"]) == (status, code)


def test_commitment_transition_refusals(world: World) -> None:
    path = f"{API}/commitments/{world.commitment_a.pk}"
    client = world.client("a")
    error = _refused(world, client, "post", f"{path}/deliver/", {"on": "2026-03-01", "quantity": 1}, format="json")
    assert (error["status"], error["code"]) == (409, "invalid_transition")
    error = _refused(
        world, client, "post", f"{path}/contract/", {"on": "2025-01-01", "contract_reference": "X"}, format="json"
    )
    assert (error["status"], error["code"]) == (400, "invalid_date")
    client.post(f"{path}/contract/", {"on": "2026-02-01", "contract_reference": "HW-1"}, format="json")
    error = _refused(world, client, "post", f"{path}/deliver/", {"on": "2026-03-01", "quantity": 1001}, format="json")
    assert (error["status"], error["code"]) == (409, "over_delivery")


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"ratio": "101"}, 400, "validation_error"),
        ({"ratio": "0.12345"}, 400, "validation_error"),
        ({"basis": "vibes"}, 400, "validation_error"),
        ({"effective_until": "2026-12-31"}, 400, "invalid_window"),
        ({"grace_days": -1}, 400, "validation_error"),
    ],
)
def test_policy_creation_refusals(world: World, changes, status, code) -> None:
    body = {"name": "Rule 2", "ratio": "0.3000", "effective_from": "2027-01-01", **changes}
    error = _refused(world, world.client("regulator"), "post", f"{API}/policies/", body, format="json")
    assert (error["status"], error["code"]) == (status, code)


def test_activating_an_overlapping_policy_is_refused(world: World) -> None:
    QuotaPolicyFactory(name="In force", status="active", effective_from=dt.date(2026, 1, 1))
    path = f"{API}/policies/{world.policy.pk}/activate/"
    error = _refused(world, world.client("regulator"), "post", path, format="json")
    assert (error["status"], error["code"]) == (409, "policy_overlap")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"imports": [{"chip": "NOPE", "quantity": 1}]}, 400, "unknown_chip"),
        ({"imports": [{"chip": "ASCEND-910B", "quantity": 1}]}, 400, "import_chip_not_foreign"),
        ({"commitments": [{"chip": "H200", "quantity": 1}]}, 400, "commitment_chip_not_domestic"),
        ({"imports": [{"chip": "H200", "quantity": 0}]}, 400, "validation_error"),
        ({"imports": [{"chip": "H200"}] * 101}, 400, "validation_error"),
        ({"on": "31/12/2026"}, 400, "validation_error"),
    ],
)
def test_what_if_refusals(world: World, body, status, code) -> None:
    path = f"{API}/companies/alibaba/quota/what-if/"
    error = _refused(world, world.client("a"), "post", path, body, format="json")
    assert (error["status"], error["code"]) == (status, code)


def test_what_if_names_the_nested_field_at_fault(world: World) -> None:
    body = {"imports": [{"chip": "H200", "quantity": 5}, {"chip": "H200", "quantity": -5}]}
    error = _refused(world, world.client("a"), "post", f"{API}/companies/alibaba/quota/what-if/", body, format="json")
    assert list(error["errors"]) == ["imports.1.quantity"]


ATTEST = {"requirement": "end-user-verification", "attested_on": "2026-02-01"}


def test_an_attestation_needs_evidence(world: World) -> None:
    error = _refused(world, world.client("a"), "post", f"{API}/attestations/", ATTEST, format="json")
    assert (error["status"], error["code"]) == (400, "evidence_required")


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("evidence.exe", b"MZ", "application/octet-stream"),
        ("evidence.pdf", b"%PDF", "application/x-msdownload"),
        ("evidence.pdf", b"x" * (2 * 1024 * 1024 + 1), "application/pdf"),
    ],
)
def test_evidence_files_are_bounded_in_type_and_size(world: World, name, content, content_type) -> None:
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    error = _refused(
        world,
        world.client("a"),
        "post",
        f"{API}/attestations/",
        {**ATTEST, "evidence_file": upload},
        format="multipart",
    )
    assert (error["status"], error["code"]) == (400, "validation_error")
    assert list(error["errors"]) == ["evidence_file"]


def test_an_evidence_file_is_accepted_and_stored(world: World) -> None:
    upload = SimpleUploadedFile("audit.pdf", b"%PDF-1.7 audit", content_type="application/pdf")
    response = world.client("a").post(f"{API}/attestations/", {**ATTEST, "evidence_file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    attestation = SecurityAttestation.objects.get(pk=response.json()["id"])
    assert attestation.evidence_file.read() == b"%PDF-1.7 audit"
    assert (attestation.company, attestation.status) == (world.a, "submitted")


def test_review_refusals(world: World) -> None:
    path = f"{API}/attestations/{world.attestation_a.pk}/review/"
    client = world.client("regulator")
    error = _refused(world, client, "post", path, {"decision": "reject"}, format="json")
    assert (error["status"], error["code"]) == (400, "reason_required")
    error = _refused(world, client, "post", path, {"decision": "maybe"}, format="json")
    assert (error["status"], error["code"]) == (400, "validation_error")
    assert client.post(path, {"decision": "accept"}, format="json").status_code == 200
    error = _refused(world, client, "post", path, {"decision": "accept"}, format="json")
    assert (error["status"], error["code"]) == (409, "invalid_transition")


def test_finding_refusals(world: World) -> None:
    path = f"{API}/findings/{world.finding_a.pk}"
    client = world.client("regulator")
    error = _refused(world, client, "post", f"{path}/resolve/", {"note": ""}, format="json")
    assert (error["status"], error["code"]) == (400, "validation_error")
    company = world.client("a")  # acknowledging is the company's
    assert company.post(f"{path}/acknowledge/", {}, format="json").status_code == 200
    error = _refused(world, company, "post", f"{path}/acknowledge/", {}, format="json")
    assert (error["status"], error["code"]) == (409, "invalid_transition")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"url": "http://hooks.example.com/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"secret": "short"}, "secret"),
        ({"event_types": ["finding.exploded"]}, "event_types.0"),
        ({"event_types": "finding.opened"}, "event_types"),
    ],
)
def test_webhook_refusals(world: World, changes, field) -> None:
    body = {"name": "alerts", "url": "https://hooks.example.com/x", "secret": "x" * 20, **changes}
    error = _refused(world, world.client("a"), "post", f"{API}/webhooks/", body, format="json")
    assert (error["status"], error["code"]) == (400, "validation_error")
    assert list(error["errors"]) == [field]


CHIP = {
    "code": "X1",
    "name": "x",
    "vendor": "x",
    "origin": "foreign",
    "compute_index": "1",
    "reference_unit_value_usd": "1",
}
ROUND = {"name": "W", "unit_cap": 10, "value_cap_usd": "10", "opens_on": "2026-04-01", "closes_on": "2026-05-01"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("companies", {"slug": "alibaba", "name": "Again"}, "slug"),
        ("companies", {"slug": "Not A Slug", "name": "X"}, "slug"),
        ("chips", {**CHIP, "code": "H200"}, "code"),
        ("chips", {**CHIP, "compute_index": "0"}, "compute_index"),
        ("chips", {**CHIP, "origin": "martian"}, "origin"),
        ("rounds", {**ROUND, "opens_on": "2026-05-01", "closes_on": "2026-04-01"}, "closes_on"),
        ("rounds", {**ROUND, "unit_cap": 0}, "unit_cap"),
        ("security-requirements", {"code": "x", "title": "x", "validity_days": 0}, "validity_days"),
    ],
)  # fmt: skip
def test_catalogue_refusals(world: World, path, body, field) -> None:
    error = _refused(world, world.client("regulator"), "post", f"{API}/{path}/", body, format="json")
    assert (error["status"], error["code"]) == (400, "validation_error")
    assert list(error["errors"]) == [field]


def test_unknown_routes_answer_the_envelope(world: World) -> None:
    response = world.client("a").get(f"{API}/licences/LIC-A-1/teleport/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert world.client("a").get(f"{API}/rounds/abc/").json()["code"] == "not_found"


def test_a_decimal_in_the_licence_representation_is_a_string(world: World) -> None:
    body = world.client("a").get(f"{API}/licences/LIC-A-1/").json()
    assert body["unit_value_usd"] == "32000.00"
    assert body["granted_value_usd"] == "32000000.00"
    assert (body["granted_quantity"], body["reserved_quantity"], body["used_quantity"], body["remaining_quantity"]) == (
        1000, 100, 0, 900,
    )  # fmt: skip
    assert Decimal(body["unit_value_usd"]) == world.licence_a.unit_value_usd
