"""Finding 6 of issue 12: four 500s on bad input, and ``verify_signature`` raising.

Each was rolled back (nothing written) but answered 500. Every test below sent the request
that failed, and now asserts a 4xx with a stable ``code`` and an unchanged ledger.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from compliance.models import IdempotencyRecord, IngestionBatch
from compliance.webhooks import sign, verify_signature
from licences.models import ImportLicence
from tests.api.conftest import API, World
from tests.api.test_bad_input import snapshot

pytestmark = pytest.mark.django_db


def raw_post(client, path: str, body: str, **headers: Any):
    """POST ``body`` as it is: the test client's JSON renderer cannot even encode a lone surrogate."""
    return client.post(path, body, content_type="application/json", **headers)


def customs_role(world: World) -> str:
    return "customs" if "customs" in world.keys else "regulator"


# --- "round": "²" passed isdigit() then int() failed ------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["\u00b2", "\u00b9\u00b2", "\u0661", pytest.param("9" * 5000, id="5000-digits"), "1.0", " 1", "-1", "0x1"],
)
def test_a_round_id_that_is_not_ascii_digits_is_a_validation_error(world: World, value: str) -> None:
    before = snapshot()
    body = {"chip": "H200", "round": value, "requested_quantity": 100}
    response = world.client("a").post(f"{API}/licences/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert list(response.json()["errors"]) == ["round"]
    assert snapshot() == before


# --- A lone surrogate in a batch item broke the batch fingerprint ------------------------------------


def test_a_lone_surrogate_in_a_batch_item_is_refused_item_by_item(world: World) -> None:
    before = snapshot()
    body = (
        '{"batch_id": "surrogate", "items": ['
        '{"declaration_number": "DEC-\\ud800", "status": "inspecting"},'
        '{"declaration_number": "DEC-A-1", "status": "inspecting", "note": "\\udfff"}]}'
    )
    response = raw_post(world.client(customs_role(world)), f"{API}/customs-events/batch/", body)
    assert response.status_code == 207, response.content
    refused = response.json()["refused"]
    assert [(item["index"], item["code"]) for item in refused] == [(0, "validation_error"), (1, "validation_error")]
    assert refused[0]["declaration_number"] == "DEC-\ufffd"  # echoed, made safe
    assert snapshot() == before
    replay = raw_post(world.client(customs_role(world)), f"{API}/customs-events/batch/", body)
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (207, "true")


def test_a_lone_surrogate_as_a_field_name_or_a_choice_is_refused_not_a_500(world: World) -> None:
    before = snapshot()
    response = raw_post(world.client("a"), f"{API}/licences/", '{"\\ud800": 1, "chip": "H200"}')
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert response.json()["errors"]["\ufffd"] == ["Unknown or read-only field."]
    response = raw_post(world.client(customs_role(world)), f"{API}/shipments/DEC-A-1/events/", '{"status": "\\ud800"}')
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    response = raw_post(world.client("a"), f"{API}/shipments/", '{"licence": "LIC-\\ud800"}')
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert snapshot() == before


# --- On PostgreSQL a refused item echoing a NUL broke the jsonb idempotency record ----------------------


def test_a_nul_echoed_by_a_refused_batch_item_is_stored_and_replayed(world: World) -> None:
    before = snapshot()
    body = json.dumps({"batch_id": "nul", "items": [{"declaration_number": "DEC-\x00-1", "status": "inspecting"}]})
    client = world.client(customs_role(world))
    headers = {"HTTP_IDEMPOTENCY_KEY": "nul-1"}
    response = raw_post(client, f"{API}/customs-events/batch/", body, **headers)
    assert response.status_code == 207, response.content
    refused = response.json()["refused"]
    assert [(item["code"], item["declaration_number"]) for item in refused] == [("validation_error", "DEC-\ufffd-1")]
    assert snapshot() == before
    assert IdempotencyRecord.objects.get(key="nul-1").response_status == 207  # jsonb took the answer
    assert IngestionBatch.objects.get(batch_id="nul").refused == 1
    replay = raw_post(client, f"{API}/customs-events/batch/", body, **headers)
    assert (replay.status_code, replay.json()) == (207, response.json())


def test_a_nul_in_a_shipment_batch_item_is_refused_and_stored(world: World) -> None:
    before = snapshot()
    items = [
        {"declaration_number": "DEC-\x00", "licence": "LIC-A-1", "quantity": 1, "declared_value_usd": "1",
         "port_of_entry": "Shanghai"},
        {"declaration_number": "DEC-9", "licence": "LIC-\x00", "quantity": 1, "declared_value_usd": "1",
         "port_of_entry": "Shanghai"},
    ]  # fmt: skip
    body = json.dumps({"batch_id": "nul-s", "items": items})
    response = raw_post(world.client("a"), f"{API}/shipments/batch/", body, HTTP_IDEMPOTENCY_KEY="nul-s")
    assert response.status_code == 207, response.content
    assert [item["code"] for item in response.json()["refused"]] == ["validation_error", "validation_error"]
    assert snapshot() == before
    assert IdempotencyRecord.objects.get(key="nul-s").response_status == 207


# --- On SQLite ?round=99999999999999999999999 overflowed ----------------------------------------------


@pytest.mark.parametrize("value", ["99999999999999999999999", str(2**63), "²", "\u0661", "-1", "1.5", "1e3", "%00"])
def test_an_integer_filter_out_of_range_or_not_a_number_is_a_400(world: World, value: str) -> None:
    response = world.client("regulator").get(f"{API}/licences/?round={value}")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert list(response.json()["errors"]) == ["round"]


def test_the_largest_id_filters_to_nothing(world: World) -> None:
    response = world.client("regulator").get(f"{API}/licences/?round={2**63 - 1}")
    assert (response.status_code, response.json()["count"]) == (200, 0)
    response = world.client("regulator").get(f"{API}/licences/?round={world.wave.pk}")
    assert response.json()["count"] == ImportLicence.objects.count()


@pytest.mark.parametrize(
    "value", ["99999999999999999999999", "\u00b2", "-1", "%00", pytest.param("9" * 5000, id="5000-digits")]
)
@pytest.mark.parametrize("param", ["page", "page_size"])
def test_pagination_parameters_never_fail(world: World, param: str, value: str) -> None:
    response = world.client("regulator").get(f"{API}/shipments/?{param}={value}")
    assert response.status_code in (200, 404)
    if response.status_code == 404:
        assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("value", ["99999999999999999999", "²"])
def test_an_id_in_a_path_out_of_range_is_not_found(world: World, value: str) -> None:
    for path in ("rounds", "commitments", "policies", "attestations", "findings", "webhooks"):
        response = world.client("regulator").get(f"{API}/{path}/{value}/")
        assert (response.status_code, response.json()["code"]) == (404, "not_found")


# --- verify_signature("t=²,...") raised ------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "t=²,v1=abc",
        "t=\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660,v1=abc",
        pytest.param("t=" + "9" * 5000 + ",v1=abc", id="t=5000-digits"),
        "t=99999999999999999999999,v1=abc",
        "t=1700000000,v1=é",
        "t=1700000000,v1=\ud800",
        "t=1700000000,v1=\x00",
        "",
        "garbage",
        "t=,v1=",
    ],
)
def test_a_malformed_signature_header_is_simply_invalid(header: str) -> None:
    assert verify_signature("s" * 32, header, b"{}", now=1_700_000_000) is False


def test_a_malformed_header_argument_type_is_invalid_too() -> None:
    assert verify_signature("s" * 32, None, b"{}") is False  # type: ignore[arg-type]


def test_a_good_signature_still_verifies() -> None:
    now = int(time.time())
    header = f"t={now},v1={sign('s' * 32, now, b'{}')}"
    assert verify_signature("s" * 32, header, b"{}") is True
    assert verify_signature("s" * 32, header, b"{ }") is False
