"""``POST /api/v1/licences/backfill/`` (issue 14): the regulator's back-entry of paper-era licences
through the API, beside ``manage.py backfill_licences``. JSON rows or an uploaded CSV/JSON file;
a dry run writes nothing; any bad row refuses every row with row-numbered codes; never a 500."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import pytest
import time_machine
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from licences.models import AllocationRound, ImportLicence, LicenceDecision
from quotas.selectors import licences_in_force
from tests.api.conftest import API, World
from tests.api.test_bad_input import snapshot

pytestmark = pytest.mark.django_db
D = dt.date
URL = f"{API}/licences/backfill/"
NOW = timezone.make_aware(dt.datetime(2026, 4, 1, 12))

P1 = {
    "company": "alibaba", "chip": "H200", "round": "Wave 1", "number": "LIC-P1", "requested_quantity": 1000,
    "applied_on": "2026-01-10", "approved_on": "2026-01-23", "granted_quantity": 800,
    "valid_from": "2026-01-23", "valid_until": "2026-12-31",
}  # fmt: skip
P2 = {
    "company": "tencent", "chip": "H200", "round": "Wave 1", "number": "LIC-P2", "requested_quantity": 500,
    "applied_on": "2026-01-12", "approved_on": "2026-01-25", "granted_quantity": 500,
    "valid_from": "2026-01-25", "valid_until": "2026-12-31", "suspended_on": "2026-02-01", "suspend_reason": "Audit",
    "reinstated_on": "2026-02-10", "revoked_on": "2026-03-01", "revoke_reason": "Diversion",
}  # fmt: skip
P1_DECISIONS = ["apply 2026-01-10", "approve 2026-01-23 800 units 2026-01-23..2026-12-31"]
P2_DECISIONS = [
    "apply 2026-01-12", "approve 2026-01-25 500 units 2026-01-25..2026-12-31",
    "suspend 2026-02-01", "reinstate 2026-02-10", "revoke 2026-03-01",
]  # fmt: skip
REPORT = {
    "licences": 2,
    "decisions": 7,
    "rows": [
        {"row": 1, "company": "alibaba", "number": "LIC-P1", "decisions": P1_DECISIONS},
        {"row": 2, "company": "tencent", "number": "LIC-P2", "decisions": P2_DECISIONS},
    ],
}


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


def everything() -> dict[str, Any]:
    """Every business row, the decision ledger and the round's counters: what a refused call must not change."""
    return {
        **snapshot(),
        "LicenceDecision": list(LicenceDecision.objects.order_by("pk").values()),
        "rounds": list(AllocationRound.objects.order_by("pk").values("granted_units", "granted_value_usd")),
    }


def csv_file(rows: list[dict[str, Any]], name: str = "paper.csv") -> SimpleUploadedFile:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(dict.fromkeys(key for row in rows for key in row)))
    writer.writeheader()
    writer.writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode(), content_type="text/csv")


def refused(response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.content
    return response.json()


# --- Dry run ------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["query", "body"])
def test_a_dry_run_reports_exact_counts_and_writes_nothing(world: World, how: str) -> None:
    before = everything()
    client = world.client("regulator")
    if how == "query":
        response = client.post(f"{URL}?dry_run=true", {"rows": [P1, P2]}, format="json")
    else:
        response = client.post(URL, {"rows": [P1, P2], "dry_run": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"dry_run": True, **REPORT}
    assert everything() == before


def test_a_dry_run_upload_writes_nothing(world: World) -> None:
    before = everything()
    response = world.client("regulator").post(URL, {"file": csv_file([P1, P2]), "dry_run": "true"}, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json() == {"dry_run": True, **REPORT}
    assert everything() == before


# --- Writing ------------------------------------------------------------------------------------


def assert_written_with_real_dates(world: World) -> None:
    p1 = ImportLicence.objects.get(company=world.a, number="LIC-P1")
    p2 = ImportLicence.objects.get(company=world.b, number="LIC-P2")
    assert (p1.status, p1.granted_quantity, p2.status, p2.granted_quantity) == ("approved", 800, "revoked", 500)
    assert list(p2.decisions.order_by("pk").values_list("kind", "effective_on", "late_entry", "released_quantity")) == [
        ("apply", D(2026, 1, 12), False, 0),
        ("approve", D(2026, 1, 25), True, 0),
        ("suspend", D(2026, 2, 1), True, 0),
        ("reinstate", D(2026, 2, 10), True, 0),
        ("revoke", D(2026, 3, 1), True, 0),
        ("release", D(2026, 3, 1), True, 500),
    ]
    # Recorded now, by the regulator's key, whatever day they took effect.
    decisions = LicenceDecision.objects.filter(licence__in=[p1, p2])
    assert set(decisions.values_list("recorded_at", flat=True)) == {NOW}
    assert set(decisions.values_list("actor", flat=True)) == {"back-entry: api-key:regulator"}
    # The round's counters are the services': the world's two approved licences (2 x 1,000),
    # then 800 + 500 granted here and 500 released by the revocation.
    world.wave.refresh_from_db()
    assert (world.wave.granted_units, world.wave.granted_value_usd) == (2_800, 2_800 * Decimal("32000.00"))

    # In force on the back dates: P1 from 23 January; P2 from 25 January, not while suspended,
    # not after its revocation (the fixture's LIC-A-1 and LIC-B-1 are in force from 23 January).
    def in_force(day: dt.date) -> list[str]:
        return sorted(licences_in_force(day).filter(number__startswith="LIC-P").values_list("number", flat=True))

    assert in_force(D(2026, 1, 22)) == []
    assert in_force(D(2026, 1, 23)) == ["LIC-P1"]
    assert in_force(D(2026, 1, 25)) == ["LIC-P1", "LIC-P2"]
    assert in_force(D(2026, 2, 5)) == ["LIC-P1"]
    assert in_force(D(2026, 2, 10)) == ["LIC-P1", "LIC-P2"]
    assert in_force(D(2026, 3, 1)) == ["LIC-P1"]


def test_json_rows_create_the_licences_with_their_real_decision_dates(world: World) -> None:
    response = world.client("regulator").post(URL, {"rows": [P1, P2]}, format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {"dry_run": False, **REPORT}
    assert_written_with_real_dates(world)


def test_positions_count_a_back_entered_licence_on_its_back_date_as_known_after_the_entry(world: World) -> None:
    assert world.client("regulator").post(URL, {"rows": [P1]}, format="json").status_code == 201
    p1 = ImportLicence.objects.get(number="LIC-P1")
    assert p1 in licences_in_force(D(2026, 1, 23)) and p1 not in licences_in_force(D(2026, 1, 22))
    # Transaction time: as known before the back-entry was recorded, it was not in force on 23 January.
    assert p1 not in licences_in_force(D(2026, 1, 23), as_known_at=NOW - dt.timedelta(seconds=1))
    assert p1 in licences_in_force(D(2026, 1, 23), as_known_at=NOW)


@pytest.mark.parametrize("form", ["csv", "json", "json-object"])
def test_an_uploaded_file_creates_the_licences(world: World, form: str) -> None:
    if form == "csv":
        upload = csv_file([P1, P2])
    else:
        data = [P1, P2] if form == "json" else {"licences": [P1, P2]}
        upload = SimpleUploadedFile("paper.json", json.dumps(data).encode(), content_type="application/json")
    response = world.client("regulator").post(URL, {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json() == {"dry_run": False, **REPORT}
    assert_written_with_real_dates(world)


def test_a_csv_with_a_byte_order_mark_is_read(world: World) -> None:
    upload = csv_file([P1])
    upload = SimpleUploadedFile("paper.csv", b"\xef\xbb\xbf" + upload.read(), content_type="text/csv")
    response = world.client("regulator").post(URL, {"file": upload}, format="multipart")
    assert (response.status_code, response.json()["licences"]) == (201, 1)


# --- All or nothing -----------------------------------------------------------------------------


def test_an_invalid_row_anywhere_refuses_every_row_with_exact_codes_and_rows(world: World) -> None:
    before = everything()
    rows = [
        P1,
        P2,
        {**P1, "number": "LIC-P3", "chip": "B200", "applied_on": "2026-13-01"},
        {**P1, "number": "LIC-P4", "requested_quantity": "ten", "colour": "red"},
        {**P1},  # LIC-P1 again
        {**P1, "number": "LIC P5", "unit_value_usd": "NaN", "approved_on": ""},
    ]
    body = refused(world.client("regulator").post(URL, {"rows": rows}, format="json"))
    assert body["code"] == "backfill_invalid"
    assert body["detail"] == "8 error(s) in the back-entry file; nothing was written."
    assert [(e["row"], e["field"], e["code"]) for e in body["rows"]] == [
        (3, "applied_on", "invalid_date"),
        (3, "chip", "unknown_chip"),
        (4, "colour", "unknown_column"),
        (4, "requested_quantity", "invalid_quantity"),
        (5, None, "duplicate_number"),
        (6, "number", "invalid_number"),
        (6, "unit_value_usd", "invalid_amount"),
        (6, None, "incomplete_approval"),
    ]
    assert body["rows"][1]["message"] == "no chip 'B200'"
    assert body["errors"]["row 3"] == [
        "invalid_date: applied_on is not a date (YYYY-MM-DD) between 1990-01-01 and 2200-12-31: '2026-13-01'",
        "unknown_chip: no chip 'B200'",
    ]
    assert everything() == before


def test_a_row_a_service_refuses_rolls_back_the_rows_before_it(world: World) -> None:
    # The world's two approved licences hold 2,000 units of the round: 1,000 are left.
    AllocationRound.objects.filter(pk=world.wave.pk).update(unit_cap=3_000)
    before = everything()
    too_big = {**P2, "number": "LIC-P9", "requested_quantity": 900, "granted_quantity": 900}  # 800 + 900 > 1,000
    body = refused(world.client("regulator").post(URL, {"rows": [P1, too_big]}, format="json"))
    assert body["code"] == "backfill_invalid"
    assert [(e["row"], e["field"], e["code"]) for e in body["rows"]] == [(2, None, "round_cap_exceeded")]
    assert everything() == before


def test_posting_the_same_rows_again_creates_nothing(world: World) -> None:
    client = world.client("regulator")
    assert client.post(URL, {"rows": [P1, P2]}, format="json").status_code == 201
    before = everything()
    body = refused(client.post(URL, {"rows": [P1, P2]}, format="json"))
    assert [(e["row"], e["code"], e["message"]) for e in body["rows"]] == [
        (1, "duplicate_number", "alibaba already has a licence LIC-P1"),
        (2, "duplicate_number", "tencent already has a licence LIC-P2"),
    ]
    assert everything() == before


def test_an_idempotency_key_replays_the_first_answer(world: World) -> None:
    client = world.client("regulator")
    first = client.post(URL, {"rows": [P1]}, format="json", HTTP_IDEMPOTENCY_KEY="paper-2026-q1")
    assert first.status_code == 201
    before = everything()
    again = client.post(URL, {"rows": [P1]}, format="json", HTTP_IDEMPOTENCY_KEY="paper-2026-q1")
    assert (again.status_code, again.json(), again["Idempotent-Replayed"]) == (201, first.json(), "true")
    assert everything() == before
    other = client.post(URL, {"rows": [P2]}, format="json", HTTP_IDEMPOTENCY_KEY="paper-2026-q1")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert ImportLicence.objects.filter(number="LIC-P1").count() == 1


# --- Malformed input: 4xx with a code, never a 500 --------------------------------------------


def upload(name: str, content: bytes, content_type: str = "text/csv") -> dict[str, Any]:
    return {"file": SimpleUploadedFile(name, content, content_type=content_type)}


@pytest.mark.parametrize(
    ("send", "status", "code"),
    [
        (lambda c: c.post(URL, '{"rows": [', content_type="application/json"), 400, "parse_error"),
        (lambda c: c.post(URL, {"rows": "all"}, format="json"), 400, "validation_error"),
        (lambda c: c.post(URL, {"rows": []}, format="json"), 400, "validation_error"),
        (lambda c: c.post(URL, {"rows": [1, "x"]}, format="json"), 400, "validation_error"),
        (lambda c: c.post(URL, {"rows": [P1], "dry_run": "maybe"}, format="json"), 400, "validation_error"),
        (lambda c: c.post(URL, {"rows": [P1], "extra": 1}, format="json"), 400, "validation_error"),
        (lambda c: c.post(URL, [P1], format="json"), 400, "validation_error"),
        (lambda c: c.post(f"{URL}?dry_run=maybe", {"rows": [P1]}, format="json"), 400, "validation_error"),
        (lambda c: c.post(URL, "company,chip\nalibaba,H200\n", content_type="text/csv"), 415, "unsupported_media_type"),
        (lambda c: c.post(URL, {}, format="multipart"), 400, "validation_error"),
        (lambda c: c.post(URL, upload("paper.json", b'[{"company": '), format="multipart"), 400, "backfill_bad_file"),
        (lambda c: c.post(URL, upload("paper.json", b'{"rows": []}'), format="multipart"), 400, "backfill_bad_file"),
        (lambda c: c.post(URL, upload("paper.json", b"[" * 100_000), format="multipart"), 400, "backfill_bad_file"),
        (lambda c: c.post(URL, upload("paper.json", b"[]"), format="multipart"), 400, "backfill_bad_file"),
        (lambda c: c.post(URL, upload("paper.csv", b"\xff\xfe\x00c"), format="multipart"), 400, "backfill_bad_file"),
        (lambda c: c.post(URL, upload("paper.csv", b"company,chip\n"), format="multipart"), 400, "backfill_bad_file"),
        (lambda c: c.post(URL, upload("paper.xlsx", b"PK\x03\x04"), format="multipart"), 400, "backfill_bad_file"),
        (lambda c: c.post(URL, upload("paper.csv", b'company\n"' + b"x" * 200_000 + b'"\n'), format="multipart"),
         400, "backfill_bad_file"),
    ],
    ids=[
        "malformed json", "rows not a list", "no rows", "rows not objects", "bad dry_run", "unknown field",
        "a list body", "bad dry_run query", "csv as body", "no file", "malformed json file", "json file wrong shape",
        "json file nested too deeply", "empty json file", "csv not utf-8", "csv header only", "not csv or json",
        "csv field over the csv module's limit",
    ],
)  # fmt: skip
def test_malformed_input_is_a_4xx_with_a_code_and_writes_nothing(world: World, send, status: int, code: str) -> None:
    before = everything()
    client = world.client("regulator")
    client.raise_request_exception = False
    body = refused(send(client), status)
    assert (set(body) >= {"code", "detail", "errors"}, body["code"]) == (True, code)
    assert everything() == before


def test_a_csv_line_with_more_values_than_columns_is_a_row_error(world: World) -> None:
    text = csv_file([P1]).read().decode().rstrip("\r\n") + ",surplus\r\n"
    body = refused(world.client("regulator").post(URL, upload("paper.csv", text.encode()), format="multipart"))
    assert [(e["row"], e["field"], e["code"]) for e in body["rows"]] == [(1, None, "unknown_column")]


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"number": "LIC-\x00"}, "number", "invalid_value"),
        ({"number": "x" * 65}, "number", "invalid_number"),
        # Numbers the API could not address afterwards: a path separator, a collection's own path.
        ({"number": "LIC/2019/7"}, "number", "invalid_number"),
        ({"number": "backfill"}, "number", "invalid_number"),
        ({"company": {"slug": "alibaba"}}, "company", "invalid_value"),
        ({"requested_quantity": 10**13}, "requested_quantity", "invalid_quantity"),
        ({"requested_quantity": 1.5}, "requested_quantity", "invalid_quantity"),
        ({"unit_value_usd": "1e400"}, "unit_value_usd", "invalid_amount"),
        ({"unit_value_usd": "-1"}, "unit_value_usd", "invalid_amount"),
        ({"unit_value_usd": "0.001"}, "unit_value_usd", "invalid_amount"),
        ({"valid_until": "0001-01-01"}, "valid_until", "invalid_date"),
        (
            {
                "applied_on": "2026-04-02",
                **dict.fromkeys(["approved_on", "granted_quantity", "valid_from", "valid_until"]),
            },
            "applied_on",
            "future_effective_date",
        ),
        ({"reason": "x" * 2001}, "reason", "invalid_value"),
        ({"applied_on": None}, "applied_on", "missing_field"),
    ],
)
def test_hostile_values_are_row_errors(world: World, change: dict[str, Any], field: str, code: str) -> None:
    before = everything()
    body = refused(world.client("regulator").post(URL, {"rows": [{**P1, **change}]}, format="json"))
    assert [(e["row"], e["field"], e["code"]) for e in body["rows"]] == [(1, field, code)]
    assert everything() == before


# --- Size limits --------------------------------------------------------------------------------


def test_a_json_body_over_the_cap_is_a_413(world: World, settings) -> None:
    settings.API_BACKFILL_MAX_BYTES = 1024
    body = refused(world.client("regulator").post(URL, {"rows": [P1] * 10}, format="json"), 413)
    assert body["code"] == "request_too_large"


def test_a_file_over_the_cap_is_a_413(world: World, settings) -> None:
    settings.API_BACKFILL_MAX_BYTES = 1024
    big = csv_file([{**P1, "number": f"LIC-{n}"} for n in range(20)])
    body = refused(world.client("regulator").post(URL, {"file": big}, format="multipart"), 413)
    assert body["code"] == "request_too_large"


def test_a_multipart_request_over_its_cap_is_a_413(world: World, settings) -> None:
    settings.API_MULTIPART_MAX_BYTES = 1024
    big = csv_file([{**P1, "number": f"LIC-{n}"} for n in range(20)])
    body = refused(world.client("regulator").post(URL, {"file": big}, format="multipart"), 413)
    assert body["code"] == "request_too_large"


@pytest.mark.parametrize("form", ["json", "file"])
def test_more_rows_than_allowed_is_a_413(world: World, settings, form: str) -> None:
    settings.API_BACKFILL_MAX_ROWS = 2
    rows = [{**P1, "number": f"LIC-{n}"} for n in range(3)]
    client = world.client("regulator")
    if form == "json":
        response = client.post(URL, {"rows": rows}, format="json")
    else:
        response = client.post(URL, {"file": csv_file(rows)}, format="multipart")
    body = refused(response, 413)
    assert (body["code"], body["detail"]) == (
        "backfill_too_many_rows",
        "3 rows: at most 2 per request (larger loads: manage.py backfill_licences).",
    )
    assert ImportLicence.objects.filter(number__startswith="LIC-0").count() == 0


# --- Who may, and the schema ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["a", "customs", "anonymous"])
def test_only_the_regulator_may_back_enter(world: World, role: str) -> None:
    before = everything()
    response = world.client(role).post(URL, {"rows": [P1]}, format="json")
    assert response.status_code == (401 if role == "anonymous" else 403)
    assert everything() == before


def test_the_schema_documents_the_endpoint(tmp_path) -> None:
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    operation = yaml.safe_load(target.read_text())["paths"]["/api/v1/licences/backfill/"]["post"]
    assert operation["operationId"] == "licences_backfill"
    assert set(operation["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert {"200", "201", "400", "413"} <= set(operation["responses"])
    assert operation["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BackfillRefusal"
    }
    assert [parameter["name"] for parameter in operation["parameters"]] == ["Accept-Language", "dry_run"]
