"""Bulk ingestion: ``POST /shipments/batch/`` and ``POST /customs-events/batch/``.

The world (tests/api/conftest.py): LIC-A-1 grants Alibaba 1,000 H200 valid 2026-01-23 to
2026-12-31, with DEC-A-1 (100 units) reserved on it, so 900 remain; LIC-B-1 is Tencent's.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.exceptions import ValidationError

from api.batch import item_validator
from api.v1.licences import CustomsEventBatchItemSerializer, ShipmentBatchItemSerializer
from common.api.parsers import MAX_JSON_BODY_BYTES
from compliance.models import IngestionBatch
from licences.models import CustomsEvent, ImportLicence, Shipment
from tests.api.conftest import API, World, client_for, issue_key
from tests.factories import ApprovedLicenceFactory, CompanyFactory, CustomsDirectiveFactory

SHIPMENTS = f"{API}/shipments/batch/"
EVENTS = f"{API}/customs-events/batch/"


@pytest.fixture(autouse=True)
def _no_recheck_enqueued(monkeypatch) -> None:
    """Writes enqueue compliance re-checks on commit; none may reach the shared broker."""
    monkeypatch.setattr("compliance.signals.enqueue_recheck", lambda company_id: None)


@pytest.fixture
def rechecks(world: World, monkeypatch) -> list[int]:
    """The companies whose re-check the test's writes enqueued (from after the world was built)."""
    enqueued: list[int] = []
    monkeypatch.setattr("compliance.signals.enqueue_recheck", enqueued.append)
    return enqueued


def declaration(number: str, licence: str = "LIC-A-1", quantity: int = 10, **extra: Any) -> dict[str, Any]:
    return {
        "declaration_number": number,
        "licence": licence,
        "quantity": quantity,
        "declared_value_usd": f"{quantity * 32000}.00",
        "port_of_entry": "Shanghai Pudong",
        "declared_at": "2026-03-02T10:00:00+08:00",
        **extra,
    }


def event(number: str, status: str, occurred_at: str = "2026-03-05T10:00:00+08:00", **extra: Any) -> dict[str, Any]:
    return {"declaration_number": number, "status": status, "occurred_at": occurred_at, **extra}


def post(client, path: str, batch_id: str, items: list[Any]):
    return client.post(path, {"batch_id": batch_id, "items": items}, format="json")


def codes(body: dict[str, Any]) -> dict[int, str]:
    return {refusal["index"]: refusal["code"] for refusal in body["refused"]}


def counters(number: str) -> tuple[int, int]:
    licence = ImportLicence.objects.get(number=number)
    return licence.reserved_quantity, licence.used_quantity


# --- Shipments ----------------------------------------------------------------------------------


def test_a_mixed_shipment_batch_accepts_exactly_the_valid_items_and_refuses_each_with_its_code(
    world: World, rechecks: list[int]
) -> None:
    CustomsDirectiveFactory(
        reference="GACC-HOLD", chip=world.h200, blocked_from=dt.date(2026, 4, 1), blocked_until=dt.date(2026, 4, 30)
    )
    items = [
        declaration("DEC-N-1", quantity=100),  # 0 accepted
        declaration("DEC-N-X1", licence="LIC-NOPE"),  # 1 unknown licence
        declaration("DEC-N-X2", licence="LIC-B-1"),  # 2 Tencent's licence, invisible to Alibaba
        declaration("DEC-N-X3", licence="LIC-A-APPLIED"),  # 3 not approved
        declaration("DEC-N-X4", declared_at="2025-06-01T10:00:00+08:00"),  # 4 outside the validity window
        declaration("DEC-N-X5", chip="ASCEND-910B"),  # 5 the licence is for H200
        declaration("DEC-N-X6", quantity=5000),  # 6 more than remains
        declaration("DEC-A-1"),  # 7 already declared
        declaration("DEC-N-1"),  # 8 declared earlier in this batch
        declaration("DEC-N-X9", quantity=0),  # 9 invalid field
        "not an object",  # 10
        declaration("DEC-N-X11", colour="red"),  # 11 unknown field
        declaration("DEC-N-X12", chip="NO-SUCH-CHIP"),  # 12 unknown chip
        declaration("DEC-N-2", quantity=50, chip="H200"),  # 13 accepted
        declaration("DEC-N-3", quantity=20, declared_at="2026-04-02T10:00:00+08:00"),  # 14 accepted, held
    ]
    response = post(world.client("a"), SHIPMENTS, "batch-1", items)

    assert response.status_code == 207, response.content
    body = response.json()
    assert body["batch_id"] == "batch-1"
    assert body["counts"] == {"received": 15, "accepted": 3, "refused": 12}
    assert body["accepted"] == [
        {"index": 0, "declaration_number": "DEC-N-1", "licence": "LIC-A-1", "quantity": 100, "status": "declared",
         "entry_block_directive": None},
        {"index": 13, "declaration_number": "DEC-N-2", "licence": "LIC-A-1", "quantity": 50, "status": "declared",
         "entry_block_directive": None},
        {"index": 14, "declaration_number": "DEC-N-3", "licence": "LIC-A-1", "quantity": 20, "status": "held",
         "entry_block_directive": "GACC-HOLD"},
    ]  # fmt: skip
    assert codes(body) == {
        1: "licence_not_found",
        2: "licence_not_found",
        3: "licence_not_valid",
        4: "licence_not_valid",
        5: "chip_mismatch",
        6: "licence_exhausted",
        7: "duplicate_declaration",
        8: "duplicate_declaration",
        9: "validation_error",
        10: "validation_error",
        11: "validation_error",
        12: "validation_error",
    }
    refused = {refusal["index"]: refusal for refusal in body["refused"]}
    # Another company's licence reads exactly like one that does not exist.
    assert refused[1]["detail"] == "Licence LIC-NOPE not found."
    assert refused[2]["detail"] == "Licence LIC-B-1 not found."
    assert refused[2]["errors"] == {"licence": ["Object with number=LIC-B-1 does not exist."]}
    assert refused[6]["detail"] == "Licence LIC-A-1 has 800 units remaining; 5,000 declared."
    assert refused[9]["errors"] == {"quantity": ["Ensure this value is greater than or equal to 1."]}
    assert refused[10]["errors"] == {"non_field_errors": ["Expected an object."]}
    assert refused[11]["errors"] == {"colour": ["Unknown or read-only field."]}
    assert refused[8]["declaration_number"] == "DEC-N-1" and refused[10]["declaration_number"] is None

    # Written: the three accepted shipments, their events and history; nothing for the refused.
    assert set(Shipment.objects.values_list("declaration_number", flat=True)) == {
        "DEC-A-1", "DEC-B-1", "DEC-N-1", "DEC-N-2", "DEC-N-3",
    }  # fmt: skip
    assert counters("LIC-A-1") == (100 + 170, 0)
    assert counters("LIC-B-1") == (100, 0)
    held = Shipment.objects.get(declaration_number="DEC-N-3")
    assert (held.status, held.entry_block_directive.reference, held.company) == ("held", "GACC-HOLD", world.a)
    assert held.held_since == held.declared_at
    assert list(CustomsEvent.objects.filter(shipment__declaration_number__startswith="DEC-N").values_list(
        "shipment__declaration_number", "status", "recorded_by"
    ).order_by("shipment__declaration_number", "id")) == [
        ("DEC-N-1", "declared", "api-key:alibaba procurement"),
        ("DEC-N-2", "declared", "api-key:alibaba procurement"),
        ("DEC-N-3", "declared", "api-key:alibaba procurement"),
        ("DEC-N-3", "held", "api-key:alibaba procurement"),
    ]  # fmt: skip
    assert Shipment.history.filter(declaration_number__startswith="DEC-N", history_type="+").count() == 3
    # One re-check for the one company touched, for the whole batch.
    assert rechecks == [world.a.pk]


def test_items_on_one_licence_apply_in_order_so_a_later_smaller_one_may_still_fit(world: World) -> None:
    items = [
        declaration("DEC-O-1", quantity=500),
        declaration("DEC-O-2", quantity=500),  # 400 remain: refused
        declaration("DEC-O-3", quantity=400),  # fits exactly
        declaration("DEC-O-4", quantity=1),  # nothing remains
    ]
    body = post(world.client("a"), SHIPMENTS, "order", items).json()
    assert [item["index"] for item in body["accepted"]] == [0, 2]
    assert codes(body) == {1: "licence_exhausted", 3: "licence_exhausted"}
    assert body["refused"][0]["detail"] == "Licence LIC-A-1 has 400 units remaining; 500 declared."
    assert counters("LIC-A-1") == (1000, 0)


def test_the_regulator_declares_nothing_the_company_declares_its_own(world: World, rechecks: list[int]) -> None:
    items = [declaration("DEC-R-1", licence="LIC-A-1"), declaration("DEC-R-2", licence="LIC-B-1", quantity=20)]
    refused = post(world.client("regulator"), SHIPMENTS, "regulator-1", items)
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    assert not Shipment.objects.filter(declaration_number__startswith="DEC-R").exists()
    body = post(world.client("b"), SHIPMENTS, "tencent-1", items).json()
    assert body["counts"] == {"received": 2, "accepted": 1, "refused": 1}
    assert codes(body) == {0: "licence_not_found"}
    assert Shipment.objects.get(declaration_number="DEC-R-2").company == world.b
    assert rechecks == [world.b.pk]


def test_a_replayed_batch_answers_identically_and_writes_nothing(world: World) -> None:
    client = world.client("a")
    items = [declaration("DEC-P-1", quantity=100), declaration("DEC-P-2", quantity=5000)]
    first = post(client, SHIPMENTS, "replay-me", items)
    shipments, events, history = Shipment.objects.count(), CustomsEvent.objects.count(), Shipment.history.count()

    # The same batch with its keys in another order is the same batch.
    reordered = [dict(reversed(list(item.items()))) for item in items]
    again = post(client, SHIPMENTS, "replay-me", reordered)

    assert (first.status_code, again.status_code) == (207, 207)
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (Shipment.objects.count(), CustomsEvent.objects.count(), Shipment.history.count()) == (
        shipments, events, history,
    )  # fmt: skip
    assert counters("LIC-A-1") == (200, 0)
    assert IngestionBatch.objects.get(batch_id="replay-me").accepted == 1


def test_the_same_batch_id_with_another_body_is_refused_and_writes_nothing(world: World) -> None:
    client = world.client("a")
    post(client, SHIPMENTS, "one-id", [declaration("DEC-Q-1")])
    response = post(client, SHIPMENTS, "one-id", [declaration("DEC-Q-2")])
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert not Shipment.objects.filter(declaration_number="DEC-Q-2").exists()
    # Batch ids belong to a key: Tencent may use the same one.
    other = post(world.client("b"), SHIPMENTS, "one-id", [declaration("DEC-Q-3", licence="LIC-B-1")])
    assert other.status_code == 207 and other.json()["counts"]["accepted"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [declaration("DEC-M-1")]}, "batch_id"),
        ({"batch_id": "m", "items": {"0": declaration("DEC-M-1")}}, "items"),
        ({"batch_id": "m", "items": []}, "items"),
        ({"batch_id": "m"}, "items"),
        ({"batch_id": 7, "items": [declaration("DEC-M-1")]}, "batch_id"),
        ({"batch_id": "m", "items": [declaration("DEC-M-1")], "extra": 1}, "extra"),
        ([declaration("DEC-M-1")], "non_field_errors"),
    ],
)
def test_a_malformed_envelope_is_a_400_and_writes_nothing(world: World, body: Any, field: str) -> None:
    response = world.client("a").post(SHIPMENTS, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["errors"]
    assert not IngestionBatch.objects.exists()
    assert not Shipment.objects.filter(declaration_number="DEC-M-1").exists()


def test_more_items_than_the_limit_is_a_400(world: World, settings) -> None:
    settings.API_BATCH_MAX_ITEMS = 3
    items = [declaration(f"DEC-L-{index}") for index in range(4)]
    response = post(world.client("a"), SHIPMENTS, "too-many", items)
    assert response.status_code == 400
    assert response.json()["errors"] == {"items": ["A batch holds 1 to 3 items; this one has 4."]}
    assert post(world.client("a"), SHIPMENTS, "just-enough", items[:3]).json()["counts"]["accepted"] == 3


def test_a_batch_body_may_exceed_the_single_write_cap(world: World) -> None:
    ApprovedLicenceFactory(number="LIC-A-BIG", company=world.a, chip=world.h200, requested_quantity=100_000)
    items = [
        declaration(f"DEC-BIG-{index:05d}", licence="LIC-A-BIG", port_of_entry="Shanghai Pudong Cargo Terminal 2")
        for index in range(1500)
    ]
    assert len(json.dumps({"batch_id": "big", "items": items})) > MAX_JSON_BODY_BYTES
    response = post(world.client("a"), SHIPMENTS, "big", items)
    assert response.status_code == 207, response.content[:300]
    assert response.json()["counts"] == {"received": 1500, "accepted": 1500, "refused": 0}
    assert counters("LIC-A-BIG") == (15_000, 0)


def validation_outcome(validate: Any, item: dict[str, Any]) -> Any:
    """What a validation function makes of an item: its values, or the error detail it raises."""
    try:
        return dict(validate(item))
    except ValidationError as error:
        return error.detail


@pytest.mark.parametrize(
    "item",
    [
        declaration("DEC-V-1"),
        declaration(" DEC-V-2 ", chip="H200", port_of_entry="  Tianjin "),
        declaration("DEC-V-3", declared_at="2026-03-02T10:00:00"),
        declaration("DEC-V-4", quantity="12", declared_value_usd=5),
        declaration("", quantity=-1, declared_value_usd="1e400", declared_at="yesterday"),
        declaration("DEC/V\x00", licence=None, chip=7),
        declaration("DEC-V-7", colour="red", quantity=0),
        {"licence": "LIC-A-1"},
        {},
    ],
)
def test_the_lean_item_validation_answers_exactly_as_the_serializer(world: World, item: dict[str, Any]) -> None:
    serializer = ShipmentBatchItemSerializer(context={})
    assert validation_outcome(item_validator(serializer), item) == validation_outcome(serializer.run_validation, item)


@pytest.mark.parametrize(
    "item",
    [
        event("DEC-V-1", "cleared"),
        event("DEC-V-2", "held", "2026-03-05T10:00:00Z", note="  kept at the port  "),
        event(" DEC-V-3 ", "inspecting", "2026-03-05T10:00:00", note=""),
        event("DEC-V-4", "inspecting", "2026-03-05 10:00:00.5+05:30", note="   "),
        event("DEC-V-5", "inspecting", "2026-03-05T10:00:00.123456-11:00", note="Zollamt München ✓"),
        event("DEC-V-6", "cleared", "20260305T100000+0800"),
        event("DEC-V-7", "cleared", "2026-03-05"),
        event("DEC-V-8", "cleared", "1989-12-31T23:00:00+00:00"),
        event("DEC-V-9", "cleared", "2200-12-31T23:30:00-05:00"),
        event("DEC-V-10", "cleared", "2200-12-31T20:00:00+00:00"),
        event("DEC-V-11", "cleared", "9999-12-31T23:59:59-14:00"),
        event("DEC-V-12", "cleared", "0001-01-01T00:00:00+14:00"),
        event("DEC-V-13", "cleared", "2026-02-30T10:00:00+08:00"),
        event("DEC-V-14", "cleared", "yesterday"),
        event("DEC-V-15", "cleared", 1741140000),
        event("DEC-V-16", "cleared", None),
        event("DEC-V-17", "Cleared"),
        event("DEC-V-18", ""),
        event("DEC-V-19", None),
        event("DEC-V-20", 3),
        event("DEC-V-21", ["cleared"]),
        event("D" * 200, "cleared", note="n" * 2000),
        event("D" * 201, "cleared", note="n" * 2001),
        event("", "cleared"),
        event("   ", "cleared"),
        event("DEC\x00V", "cleared", note="a\x00b"),
        event("DEC-\ud800", "cleared", note="\udfff"),
        event(42, "cleared", note=7.5),
        event(True, "cleared", note=False),
        event(None, "cleared", note=None),
        event("DEC-V-31", "cleared", colour="red"),
        {"status": "cleared"},
        {"declaration_number": "DEC-V-33", "status": "held"},
        {},
    ],
)
def test_the_lean_customs_event_validation_answers_exactly_as_the_serializer(
    world: World, item: dict[str, Any]
) -> None:
    serializer = CustomsEventBatchItemSerializer(context={})
    expected = validation_outcome(serializer.run_validation, item)
    lean = validation_outcome(item_validator(serializer), item)
    assert lean == expected
    if isinstance(expected, dict) and "occurred_at" in expected and not isinstance(expected["occurred_at"], list):
        # The same instant in the same zone (the request's), not merely an equal instant.
        assert str(lean["occurred_at"].tzinfo) == str(expected["occurred_at"].tzinfo)


# --- Customs events -----------------------------------------------------------------------------


def test_a_customs_event_batch_clears_and_rejects_moving_reserved_to_used_exactly(
    world: World, rechecks: list[int]
) -> None:
    client = world.client("a")
    declared = post(client, SHIPMENTS, "declare", [
        declaration("DEC-E-1", quantity=100), declaration("DEC-E-2", quantity=200), declaration("DEC-E-3", quantity=50),
    ]).json()  # fmt: skip
    assert declared["counts"]["accepted"] == 3
    assert counters("LIC-A-1") == (450, 0)
    rechecks.clear()

    items = [
        event("DEC-E-1", "inspecting", "2026-03-03T09:00:00+08:00"),  # 0
        event("DEC-E-1", "cleared", "2026-03-04T09:00:00+08:00", note="released"),  # 1
        event("DEC-E-1", "held", "2026-03-05T09:00:00+08:00"),  # 2 cleared is final
        event("DEC-E-2", "cleared", "2026-03-01T09:00:00+08:00"),  # 3 before its declaration
        event("DEC-E-2", "cleared", "2026-03-06T09:00:00+08:00"),  # 4
        event("DEC-E-3", "rejected", "2026-03-06T09:00:00+08:00"),  # 5
        event("DEC-NONE", "cleared"),  # 6
        event("DEC-NOPE", "cleared"),  # 7
        event("DEC-E-3", "teleported"),  # 8
        event("DEC-E-3", "cleared", "2026-03-07T09:00:00+08:00"),  # 9 rejected is final
    ]
    response = post(world.client("customs"), EVENTS, "events-1", items)
    assert response.status_code == 207, response.content
    body = response.json()
    assert [(item["index"], item["status"]) for item in body["accepted"]] == [
        (0, "inspecting"), (1, "cleared"), (4, "cleared"), (5, "rejected"),
    ]  # fmt: skip
    assert codes(body) == {
        2: "invalid_transition",
        3: "event_out_of_order",
        6: "shipment_not_found",
        7: "shipment_not_found",
        8: "validation_error",
        9: "invalid_transition",
    }
    assert body["refused"][0]["detail"] == "Shipment DEC-E-1 is cleared; it cannot become held."
    # reserved: 100 (DEC-A-1) + 350 declared - 300 cleared - 50 rejected; used: 300 cleared.
    assert counters("LIC-A-1") == (100, 300)
    assert counters("LIC-B-1") == (100, 0)
    assert dict(Shipment.objects.filter(declaration_number__startswith="DEC-E").values_list(
        "declaration_number", "status"
    )) == {"DEC-E-1": "cleared", "DEC-E-2": "cleared", "DEC-E-3": "rejected"}  # fmt: skip
    cleared = Shipment.objects.get(declaration_number="DEC-E-1")
    assert cleared.cleared_at == cleared.status_changed_at == dt.datetime.fromisoformat("2026-03-04T09:00:00+08:00")
    assert cleared.held_since is None
    assert list(cleared.events.values_list("status", "note")) == [
        ("declared", ""), ("inspecting", ""), ("cleared", "released"),
    ]  # fmt: skip
    # The customs events are the shipment's customs history: no shipment history row is
    # written for them, only the declaration's "+" row (docs/ledgers.md).
    assert list(
        Shipment.history.filter(declaration_number="DEC-E-1")
        .order_by("history_id")
        .values_list("history_type", "status")
    ) == [("+", "declared")]
    assert Shipment.objects.get(declaration_number="DEC-B-1").status == "declared"
    assert rechecks == [world.a.pk]


def test_a_held_event_sets_held_since_and_a_later_one_clears_it(world: World) -> None:
    body = post(world.client("customs"), EVENTS, "hold", [
        event("DEC-A-1", "held", "2026-03-03T09:00:00+08:00"),
        event("DEC-A-1", "inspecting", "2026-03-04T09:00:00+08:00"),
        event("DEC-A-1", "held", "2026-03-05T09:00:00+08:00"),
    ]).json()  # fmt: skip
    assert body["counts"]["accepted"] == 3
    shipment = Shipment.objects.get(declaration_number="DEC-A-1")
    assert (shipment.status, shipment.held_since) == ("held", dt.datetime.fromisoformat("2026-03-05T09:00:00+08:00"))
    assert counters("LIC-A-1") == (100, 0)


def test_customs_records_events_on_any_company_s_shipments_a_company_on_none(world: World) -> None:
    refused = post(world.client("a"), EVENTS, "peek", [event("DEC-B-1", "inspecting")])
    assert (refused.status_code, refused.json()["code"]) == (403, "customs_outcome_forbidden")
    accepted = post(world.client("customs"), EVENTS, "peek", [event("DEC-B-1", "inspecting")]).json()
    assert accepted["counts"] == {"received": 1, "accepted": 1, "refused": 0}
    assert Shipment.objects.get(declaration_number="DEC-B-1").status == "inspecting"
    assert CustomsEvent.objects.get(shipment__declaration_number="DEC-B-1", status="inspecting").recorded_by == (
        "api-key:customs"
    )


# --- Query counts -------------------------------------------------------------------------------


def _batch_queries(client, path: str, batch_id: str, items: list[dict[str, Any]]) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = post(client, path, batch_id, items)
    assert response.status_code == 207, response.content
    assert response.json()["counts"]["refused"] == 0, response.json()["refused"][:3]
    return len(queries)


def test_a_batch_costs_the_same_number_of_queries_whatever_its_size(world: World) -> None:
    # SQLite splits bulk inserts by its 999-parameter limit: stay under it there.
    few, many = (10, 200) if connection.vendor == "postgresql" else (5, 30)
    client, customs = world.client("a"), world.client("customs")
    for warm in (client, customs):
        warm.get(f"{API}/chips/")  # each key's last-used write happens once, here
    for size in (few, many):
        ApprovedLicenceFactory(number=f"LIC-Q-{size}", company=world.a, chip=world.h200, requested_quantity=10_000)
        ApprovedLicenceFactory(number=f"LIC-QB-{size}", company=world.a, chip=world.h200, requested_quantity=10_000)

    def shipments(size: int) -> list[dict[str, Any]]:
        return [
            declaration(f"DEC-Q{size}-{index:04d}", licence=f"LIC-Q{'B' if index % 2 else ''}-{size}")
            for index in range(size)
        ]

    def events(size: int) -> list[dict[str, Any]]:
        return [
            event(f"DEC-Q{size}-{index:04d}", status)
            for index in range(size)
            for status in (("inspecting", "cleared") if index % 2 else ("rejected",))
        ]

    declare = {size: _batch_queries(client, SHIPMENTS, f"s-{size}", shipments(size)) for size in (few, many)}
    record = {size: _batch_queries(customs, EVENTS, f"e-{size}", events(size)) for size in (few, many)}
    assert declare[few] == declare[many], declare
    assert record[few] == record[many], record
    assert Shipment.objects.filter(declaration_number__startswith="DEC-Q").count() == few + many
    assert counters(f"LIC-Q-{many}") == (0, 0) and counters(f"LIC-QB-{many}") == (0, 10 * many // 2)
    # Small and fixed: auth, claim, lookups, one write per table and two for the customs events'
    # hash chains (their heads locked and moved: licences.chain).
    assert declare[many] <= 19 and record[many] <= 19, (declare, record)


# --- Concurrency (PostgreSQL) -------------------------------------------------------------------


def _run_at_once(calls: list) -> list:
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = calls[index]()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(result is not None for result in results)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_never_overdraw_a_licence_and_accept_exactly_what_fits() -> None:
    company = CompanyFactory(slug="alibaba")
    ApprovedLicenceFactory(number="LIC-RACE", company=company, requested_quantity=1000)
    key = issue_key(company=company)
    threads, per_batch = 6, 30  # 1,800 units asked of 1,000

    def batch(thread: int):
        def call() -> dict[str, Any]:
            items = [declaration(f"DEC-RACE-{thread}-{index:03d}", licence="LIC-RACE") for index in range(per_batch)]
            response = post(client_for(key), SHIPMENTS, f"race-{thread}", items)
            assert response.status_code == 207, response.content
            return response.json()["counts"]

        return call

    results = _run_at_once([batch(thread) for thread in range(threads)])
    assert sum(counts["accepted"] for counts in results) == 100
    assert sum(counts["refused"] for counts in results) == threads * per_batch - 100
    assert counters("LIC-RACE") == (1000, 0)
    assert Shipment.objects.filter(licence__number="LIC-RACE").count() == 100


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_of_one_batch_write_it_once() -> None:
    company = CompanyFactory(slug="alibaba")
    ApprovedLicenceFactory(number="LIC-REPLAY", company=company, requested_quantity=1000)
    key = issue_key(company=company)
    items = [declaration(f"DEC-REPLAY-{index}", licence="LIC-REPLAY") for index in range(20)]

    def call() -> tuple[int, bytes]:
        response = post(client_for(key), SHIPMENTS, "same-batch", items)
        return response.status_code, response.content

    results = _run_at_once([call for _ in range(6)])
    assert Counter(status for status, _ in results) == {207: 6}
    assert len({content for _, content in results}) == 1
    assert counters("LIC-REPLAY") == (200, 0)
    assert Shipment.objects.filter(licence__number="LIC-REPLAY").count() == 20
    assert IngestionBatch.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_event_batches_clear_each_shipment_once() -> None:
    company = CompanyFactory(slug="alibaba")
    ApprovedLicenceFactory(number="LIC-EV", company=company, requested_quantity=1000, unit_value_usd=Decimal("1"))
    key, customs = issue_key(company=company), issue_key(name="customs", kind="customs")
    items = [declaration(f"DEC-EV-{index:02d}", licence="LIC-EV") for index in range(40)]
    assert post(client_for(key), SHIPMENTS, "declare", items).json()["counts"]["accepted"] == 40

    def batch(thread: int):
        def call() -> dict[str, Any]:
            clears = [event(f"DEC-EV-{index:02d}", "cleared") for index in range(40)]
            return post(client_for(customs), EVENTS, f"clear-{thread}", clears).json()

        return call

    results = _run_at_once([batch(thread) for thread in range(4)])
    assert sum(body["counts"]["accepted"] for body in results) == 40
    assert Counter(refusal["code"] for body in results for refusal in body["refused"]) == {"invalid_transition": 120}
    assert counters("LIC-EV") == (0, 400)
    assert CustomsEvent.objects.filter(shipment__licence__number="LIC-EV", status="cleared").count() == 40
