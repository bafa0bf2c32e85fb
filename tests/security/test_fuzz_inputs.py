"""A hostile-input corpus thrown at every write endpoint and every integer query parameter.

Finding 6 of issue 12 found four 500s that a schema-driven fuzzer (tests/api/test_fuzz.py,
valid JSON of the documented types) could not reach: a superscript digit, a lone surrogate,
a NUL echoed into jsonb, an integer past 64 bits. This corpus is built to reach them: for
each field of each write, typed values no client should send (huge and negative integers,
other scripts' digits, lone surrogates, NUL, very long strings, wrong types, nested objects,
floats for integers, NaN and Infinity, naive and far-future date-times). Every answer must
be a 4xx with a ``code`` (a batch item: refused with a ``code``), and the ledger unchanged.

The counts are reported at the end of the run (tests/security/conftest.py):
``bad inputs tried: N, 5xx: 0``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import API, World
from tests.api.test_bad_input import snapshot

pytestmark = pytest.mark.django_db

NAN, INF = float("nan"), float("inf")
COMMON = [{"$gt": "", "nested": {"deeper": [1, {"x": None}]}}, [["nested"], [1, 2]]]
TEXT = ["\x00", "a\x00b", "\ud800", "x\udfffy", "x" * 20_000, True]
CORPUS: dict[str, list[Any]] = {
    "text": TEXT,
    "ref": [*TEXT, 10**30, "\u00b2", "\u0661", "LIC-\x00", -1],
    "id": ["\u00b2", "\u0661", 10**30, -1, 0, 1.5, 1.0, 1e308, "1e3", "1_0", True, NAN, INF, "9" * 5000],
    "int": [10**30, -(10**30), -1, "\u00b2", "\u0661\u0662", 1.5, 2.0, 1e308, NAN, INF, -INF, "NaN", True,
            "9" * 5000, "0x10", "1_000", "", None],
    "decimal": ["NaN", "Infinity", "-Infinity", NAN, INF, "1e400", "1e-400", "\u00b2", "\u0661\u0662", 10**40,
                True, "1" + "0" * 5000, "-1", "", None, "0x10"],
    "date": ["2026-13-01", "2026-02-30", "99999-01-01", "0001-01-01", "\u00b2\u2070\u00b2\u2076-01-01",
             20260101, "2026-01-01\x00", "\ud800", 1e308, True],
    "event_date": ["2199-12-31", "2027-01-01", "2026-13-01", "0001-01-01", "\u00b2\u2070\u00b2\u2076-01-01",
                   20260101, "\ud800", True],
    "event_datetime": ["2026-03-01T10:00:00", "2026-03-01 10:00", "2199-12-31T00:00:00+08:00",
                       "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00", "2026-03-01T10:00:00+99:00",
                       "2026-02-30T10:00:00Z", 1_700_000_000, 1e308, "\u00b2", "\ud800", True],
    "choice": ["\ud800", "\x00", "x" * 1000, 5, True, ""],
    "bool": ["maybe", 2, -1, 1.5, "\ud800", "\x00", ""],
    "list": [{"a": 1}, "finding.opened", [[[]]], [None], [{"chip": "\ud800", "quantity": 1}], [1] * 1000],
}  # fmt: skip
# The back-entry's cells: a blank one is "not given", so the hostile values are the others.
CORPUS["cell_int"] = [value for value in CORPUS["int"] if value not in ("", None)]
CORPUS["cell_decimal"] = [value for value in CORPUS["decimal"] if value not in ("", None)]


@dataclass(frozen=True)
class Write:
    """A write endpoint: a valid body and the kind of each field to fuzz."""

    name: str
    path: Callable[[World], str]
    body: Callable[[World], dict[str, Any]]
    fields: dict[str, str]
    role: str = "a"
    method: str = "post"
    setup: Callable[[World], None] | None = None
    batch: bool = False  # the body is one item of a batch
    rows: bool = False  # the body is one row of a back-entry ({"rows": [body]})
    created: tuple[int, ...] = (200, 201)


def _contracted(w: World) -> None:
    w.commitment_a.status = "contracted"
    w.commitment_a.contracted_on = w.commitment_a.pledged_on
    w.commitment_a.save()


def customs(world: World) -> str:
    return "customs" if "customs" in world.keys else "regulator"


DECLARATION = {
    "declaration_number": "DEC-F-1",
    "licence": "LIC-A-1",
    "quantity": 10,
    "declared_value_usd": "320000.00",
    "port_of_entry": "Shanghai",
    "declared_at": "2026-03-01T10:00:00+08:00",
}
DECLARATION_FIELDS = {
    "declaration_number": "text",
    "licence": "ref",
    "chip": "ref",
    "quantity": "int",
    "declared_value_usd": "decimal",
    "port_of_entry": "text",
    "declared_at": "event_datetime",
    "company": "ref",
}
BACKFILL_ROW = {
    "company": "alibaba", "chip": "H200", "round": "Wave 1", "number": "LIC-PAPER-1", "requested_quantity": 100,
    "applied_on": "2026-01-10", "approved_on": "2026-01-23", "granted_quantity": 100,
    "valid_from": "2026-01-23", "valid_until": "2026-12-31",
}  # fmt: skip
EVENT = {"status": "inspecting", "occurred_at": "2026-03-02T10:00:00+08:00", "note": "x"}
EVENT_FIELDS = {"status": "choice", "occurred_at": "event_datetime", "note": "text"}
COMMITMENT = {
    "chip": "ASCEND-910B",
    "quantity": 500,
    "unit_price": "12000.00",
    "unit_price_usd": "12000.00",
    "pledged_on": "2026-02-01",
}

WRITES = [
    Write("company create", lambda w: f"{API}/companies/", lambda w: {"slug": "bytedance", "name": "ByteDance"},
          {"slug": "text", "name": "text", "category": "choice", "compliance_contact_emails": "text"},
          role="regulator"),
    Write("chip create", lambda w: f"{API}/chips/", lambda w: {
              "code": "H20", "name": "NVIDIA H20", "vendor": "NVIDIA", "origin": "foreign", "export_controlled": True,
              "compute_index": "1.000", "reference_unit_value_usd": "12500.00"},
          {"code": "text", "name": "text", "vendor": "text", "origin": "choice", "export_controlled": "bool",
           "compute_index": "decimal", "reference_unit_value_usd": "decimal"}, role="regulator"),
    Write("round create", lambda w: f"{API}/rounds/", lambda w: {
              "name": "Wave 2", "unit_cap": 100000, "value_cap_usd": "3000000000.00", "opens_on": "2026-07-01",
              "closes_on": "2026-12-31"},
          {"name": "text", "unit_cap": "int", "value_cap_usd": "decimal", "opens_on": "date", "closes_on": "date"},
          role="regulator"),
    Write("licence apply", lambda w: f"{API}/licences/",
          lambda w: {"chip": "H200", "round": w.wave.pk, "requested_quantity": 100, "number": "LIC-F-1"},
          {"chip": "ref", "round": "id", "requested_quantity": "int", "unit_value_usd": "decimal", "number": "text",
           "company": "ref"}),
    Write("licence approve", lambda w: f"{API}/licences/LIC-A-APPLIED/approve/",
          lambda w: {"granted_quantity": 400, "valid_from": "2026-02-01", "valid_until": "2026-12-31"},
          {"granted_quantity": "int", "valid_from": "date", "valid_until": "date"}, role="regulator"),
    Write("licence backfill", lambda w: f"{API}/licences/backfill/", lambda w: BACKFILL_ROW,
          {"company": "ref", "chip": "ref", "round": "text", "number": "text", "requested_quantity": "cell_int",
           "unit_value_usd": "cell_decimal", "applied_on": "event_date", "approved_on": "event_date",
           "granted_quantity": "cell_int", "valid_from": "date", "valid_until": "date", "suspended_on": "event_date",
           "suspend_reason": "text", "reason": "text"}, role="regulator", rows=True),
    Write("licence suspend", lambda w: f"{API}/licences/LIC-A-1/suspend/", lambda w: {"reason": "audit"},
          {"reason": "text"}, role="regulator"),
    Write("shipment declare", lambda w: f"{API}/shipments/", lambda w: DECLARATION, DECLARATION_FIELDS),
    Write("customs event", lambda w: f"{API}/shipments/DEC-A-1/events/", lambda w: EVENT, EVENT_FIELDS,
          role="customs"),
    Write("shipment batch", lambda w: f"{API}/shipments/batch/", lambda w: DECLARATION, DECLARATION_FIELDS,
          batch=True, created=(207,)),
    Write("customs event batch", lambda w: f"{API}/customs-events/batch/",
          lambda w: {**EVENT, "declaration_number": "DEC-A-1"},
          {**EVENT_FIELDS, "declaration_number": "text", "company": "text"}, role="customs", batch=True,
          created=(207,)),
    Write("commitment record", lambda w: f"{API}/commitments/", lambda w: COMMITMENT,
          {"chip": "ref", "quantity": "int", "unit_price": "decimal", "currency": "text", "unit_price_usd": "decimal",
           "pledged_on": "event_date", "due_date": "date", "contract_reference": "text", "status": "choice",
           "contracted_on": "event_date", "company": "ref"}),
    Write("commitment contract", lambda w: f"{API}/commitments/{w.commitment_a.pk}/contract/",
          lambda w: {"on": "2026-02-01", "contract_reference": "HW-1"},
          {"on": "event_date", "contract_reference": "text"}),
    Write("commitment deliver", lambda w: f"{API}/commitments/{w.commitment_a.pk}/deliver/",
          lambda w: {"on": "2026-03-01", "quantity": 100}, {"on": "event_date", "quantity": "int"}, setup=_contracted),
    Write("commitment cancel", lambda w: f"{API}/commitments/{w.commitment_a.pk}/cancel/",
          lambda w: {"on": "2026-03-01", "reason": "budget"}, {"on": "event_date", "reason": "text"}),
    Write("policy create", lambda w: f"{API}/policies/",
          lambda w: {"name": "Rule 2", "ratio": "0.3000", "effective_from": "2027-01-01"},
          {"name": "text", "ratio": "decimal", "basis": "choice", "measured_on": "choice", "counts_pledged": "bool",
           "counts_contracted": "bool", "counts_delivered": "bool", "grace_days": "int", "effective_from": "date",
           "effective_until": "date", "notes": "text"}, role="regulator"),
    Write("policy activate", lambda w: f"{API}/policies/{w.policy.pk}/activate/", lambda w: {},
          {"stray": "text"}, role="regulator"),
    Write("what-if", lambda w: f"{API}/companies/alibaba/quota/what-if/",
          lambda w: {"on": "2026-02-01", "imports": [{"chip": "H200", "quantity": 10}]},
          {"on": "date", "imports": "list", "commitments": "list"}),
    Write("attestation submit", lambda w: f"{API}/attestations/",
          lambda w: {"requirement": "end-user-verification", "attested_on": "2026-02-01", "evidence_reference": "A-7"},
          {"requirement": "ref", "shipment": "ref", "attested_on": "event_date", "evidence_reference": "text",
           "company": "ref"}),
    Write("attestation review", lambda w: f"{API}/attestations/{w.attestation_a.pk}/review/",
          lambda w: {"decision": "accept"}, {"decision": "choice", "expires_on": "date", "note": "text"},
          role="regulator"),
    Write("finding acknowledge", lambda w: f"{API}/findings/{w.finding_a.pk}/acknowledge/", lambda w: {},
          {"note": "text"}),
    Write("finding resolve", lambda w: f"{API}/findings/{w.finding_a.pk}/resolve/", lambda w: {"note": "fixed"},
          {"note": "text"}, role="regulator"),
    Write("webhook create", lambda w: f"{API}/webhooks/",
          lambda w: {"name": "alerts", "url": "https://hooks.example.com/x", "secret": "x" * 20},
          {"name": "text", "url": "text", "secret": "text", "event_types": "list", "is_active": "bool",
           "company": "ref"}),
    Write("webhook update", lambda w: f"{API}/webhooks/{w.webhook_a.pk}/", lambda w: {"name": "renamed"},
          {"name": "text", "url": "text", "secret": "text", "event_types": "list", "is_active": "bool"},
          method="patch"),
    Write("requirement create", lambda w: f"{API}/security-requirements/",
          lambda w: {"code": "no-military-use", "title": "No military end use"},
          {"code": "text", "title": "text", "description": "text", "mandatory": "bool", "validity_days": "int",
           "scope": "choice"}, role="regulator"),
]  # fmt: skip

#: Lists whose integer (and date) query parameters are fuzzed, and the parameters.
QUERIES = [
    ("licences", ["round", "page", "page_size", "applied_after", "valid_on", "company"]),
    ("shipments", ["page", "page_size", "declared_after", "company", "status"]),
    ("commitments", ["page", "page_size", "due_before", "pledged_after"]),
    ("rounds", ["page", "opens_on_after"]),
    ("findings", ["page", "seen_after"]),
    ("companies/alibaba/quota", ["on"]),
]
QUERY_VALUES = ["99999999999999999999999", str(2**63), "-1", "1.5", "1e3", "\u00b2", "\u0661", "%00", "%ED%A0%80",
                "9" * 5000, "0x10", "2026-13-01", "2026-03-01T10:00:00+99:00", "NaN", "Infinity"]  # fmt: skip
#: Integer query parameters: a bad value is a 400, never silently ignored.
INTEGER_FILTERS = {"round"}


@dataclass
class Tally:
    tried: int = 0
    server_errors: list[str] = field(default_factory=list)
    not_refused: list[str] = field(default_factory=list)
    wrote: list[str] = field(default_factory=list)


def role_of(world: World, write: Write) -> str:
    return customs(world) if write.role == "customs" else write.role


def client_for(world: World, role: str) -> APIClient:
    client = world.client(role)
    client.raise_request_exception = False  # count a 500 instead of stopping at the first
    return client


def send(client: APIClient, write: Write, world: World, body: dict[str, Any], batch_id: str):
    if write.batch:
        body = {"batch_id": batch_id, "items": [body]}
    if write.rows:
        body = {"rows": [body]}
    raw = json.dumps(body, allow_nan=True)  # NaN and Infinity as Python's parser reads them
    return client.generic(write.method.upper(), write.path(world), raw, content_type="application/json")


def refused_with_a_code(write: Write, response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    if write.batch and response.status_code == 207:
        return body["counts"]["accepted"] == 0 and all(isinstance(item.get("code"), str) for item in body["refused"])
    return 400 <= response.status_code < 500 and isinstance(body.get("code"), str) and body["code"] != ""


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.name)
def test_the_valid_body_of_each_write_is_accepted(world: World, write: Write) -> None:
    """The bodies below are valid: whatever refuses a fuzzed one is the fuzzed value."""
    if write.setup:
        write.setup(world)
    response = send(client_for(world, role_of(world, write)), write, world, write.body(world), "valid")
    assert response.status_code in write.created, response.content
    if write.batch:
        assert response.json()["counts"]["accepted"] == 1


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.name)
def test_hostile_values_in_every_field_are_refused_with_a_code_and_write_nothing(
    world: World, write: Write, record_property
) -> None:
    if write.setup:
        write.setup(world)
    client = client_for(world, role_of(world, write))
    before = snapshot()
    tally = Tally()
    batch_ids = itertools.count()
    for name, kind in write.fields.items():
        for value in [*COMMON, *CORPUS[kind]]:
            tally.tried += 1
            label = f"{name}={value!r:.40}"
            response = send(client, write, world, {**write.body(world), name: value}, f"fuzz-{next(batch_ids)}")
            if response.status_code >= 500:
                tally.server_errors.append(label)
            elif not refused_with_a_code(write, response):
                tally.not_refused.append(f"{label} -> {response.status_code}")
            after = snapshot()
            if after != before:  # recorded, and the run goes on from the changed ledger
                tally.wrote.append(label)
                before = after
    if write.batch:
        tally.tried += _fuzz_batch_envelope(client, write, world, tally)
        if snapshot() != before:
            tally.wrote.append("batch envelope")
    record_property("bad_inputs_tried", tally.tried)
    record_property("server_errors", len(tally.server_errors))
    assert (tally.server_errors, tally.not_refused, tally.wrote) == ([], [], [])


def _fuzz_batch_envelope(client: APIClient, write: Write, world: World, tally: Tally) -> int:
    """The envelope itself: a bad batch_id or items list is a 400 that writes nothing."""
    item = write.body(world)
    envelopes = [
        {"batch_id": "\x00", "items": [item]}, {"batch_id": "\ud800", "items": [item]},
        {"batch_id": "x" * 201, "items": [item]}, {"batch_id": 10**30, "items": [item]},
        {"batch_id": {"a": 1}, "items": [item]}, {"batch_id": "e", "items": {"0": item}},
        {"batch_id": "e", "items": []}, {"batch_id": "e", "items": "all"}, {"batch_id": "e"},
        {"batch_id": "e", "items": [item], "\ud800": 1}, {"batch_id": "e", "items": [None, 5, "x", [item]]},
    ]  # fmt: skip
    for envelope in envelopes:
        raw = json.dumps(envelope)
        response = client.post(write.path(world), raw, content_type="application/json")
        label = f"envelope {raw:.60}"
        if response.status_code >= 500:
            tally.server_errors.append(label)
        elif response.status_code == 207:
            if response.json()["counts"]["accepted"] != 0:
                tally.not_refused.append(label)
        elif not (400 <= response.status_code < 500 and response.json().get("code")):
            tally.not_refused.append(f"{label} -> {response.status_code}")
    return len(envelopes)


@pytest.mark.parametrize(("path", "params"), QUERIES, ids=[path for path, _ in QUERIES])
def test_hostile_query_parameters_never_fail(world: World, path: str, params: list[str], record_property) -> None:
    client = client_for(world, "regulator")
    tally = Tally()
    for param, value in itertools.product(params, QUERY_VALUES):
        tally.tried += 1
        response = client.get(f"{API}/{path}/?{param}={value}")
        label = f"{path}?{param}={value:.30}"
        if response.status_code >= 500:
            tally.server_errors.append(label)
        elif response.status_code >= 400 and not response.json().get("code"):
            tally.not_refused.append(f"{label} -> {response.status_code} without a code")
        elif param in INTEGER_FILTERS and response.status_code != 400:
            tally.not_refused.append(f"{label} -> {response.status_code}")
    record_property("bad_inputs_tried", tally.tried)
    record_property("server_errors", len(tally.server_errors))
    assert (tally.server_errors, tally.not_refused) == ([], [])
