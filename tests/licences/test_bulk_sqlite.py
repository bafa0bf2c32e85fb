"""The bulk helpers' SQLite fast paths write exactly the rows Django's and simple_history's bulk methods write.

Each test runs the same input twice, once through the fast path (one ``executemany``) and
once through the generic one (``bulk.generic_paths()``: ``bulk_update``, ``bulk_create``,
``bulk_history_create``), each in a savepoint rolled back after reading every table it
touches, and compares the stored rows as SQLite holds them (ids included: the rollback
also rewinds the tables' id sequences).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, models, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from simple_history.models import HistoricalRecords

from common import bulk, sqlite_rows
from compliance.models import Finding
from licences import chain
from licences.models import Company, CustomsEvent, ImportLicence, LedgerHead, Shipment
from licences.services import CustomsEventLine, customs_events_ingest
from licences.services.ingestion import _insert_customs_events, _record_history
from licences.services.ingestion_customs_events import _update_shipment_states
from tests.factories import ApprovedLicenceFactory, CompanyFactory, FindingFactory, ShipmentFactory, staff_user

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite fast paths"),
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=SHANGHAI)
NOW = dt.datetime(2026, 3, 3, 8, 0, 0, 654321, tzinfo=dt.UTC)


def table_rows(*models_: type[models.Model]) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row of each model's table, by rowid, each value as SQLite holds it (``quote()``: its
    storage class shows, ``'2026-03-02 01:30:15'`` text apart from ``12`` integer or ``12.0`` real)."""
    rows = {}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in models_:
            table = quote(model._meta.db_table)
            cursor.execute(f"PRAGMA table_info({table})")
            values = ", ".join(f"quote({quote(column)})" for _, column, *_ in cursor.fetchall())
            cursor.execute(f"SELECT {values} FROM {table} ORDER BY rowid")
            rows[model._meta.db_table] = cursor.fetchall()
    return rows


def written(action: Callable[[], Any], *models_: type[models.Model]) -> tuple[dict[str, list[tuple[Any, ...]]], int]:
    """The tables after ``action`` (rolled back afterwards) and how many ``executemany`` it ran."""
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            action()
        rows = table_rows(*models_)
        transaction.set_rollback(True)
    return rows, sum(" times: " in query["sql"] for query in queries.captured_queries)


def both_ways(action: Callable[[], Any], *models_: type[models.Model]) -> dict[str, list[tuple[Any, ...]]]:
    """Run ``action`` through the fast and the generic paths at the same instant; assert they write the
    same rows; those rows."""
    before = table_rows(*models_)
    with time_machine.travel(NOW, tick=False):
        fast, fast_many = written(action, *models_)
        with bulk.generic_paths():
            generic, generic_many = written(action, *models_)
    for table in fast:
        for index, (ours, theirs) in enumerate(zip(fast[table], generic[table], strict=True)):
            assert ours == theirs, (table, index)
    assert fast != before
    assert table_rows(*models_) == before  # both rolled back
    assert (fast_many > 0, generic_many) == (True, 0)  # the fast path ran, then the generic one
    return fast


@pytest.fixture
def shipments() -> list[Shipment]:
    licence = ApprovedLicenceFactory(number="LIC-FAST", requested_quantity=10_000)
    shipments = [
        ShipmentFactory(declaration_number=f"DEC-FAST-{index}", licence=licence, company=licence.company, quantity=10)
        for index in range(6)
    ]
    ImportLicence.objects.filter(pk=licence.pk).update(reserved_quantity=60)  # what declaring them reserved
    return shipments


def state_rows(shipments: list[Shipment]) -> list[tuple[Any, ...]]:
    """New customs states (``id`` first): times in another zone, a None, a microsecond."""
    return [
        (shipment.pk, status, T0 + dt.timedelta(minutes=index), held, cleared)
        for index, (shipment, status, held, cleared) in enumerate(
            zip(
                shipments,
                ["inspecting", "held", "cleared", "rejected", "held", "inspecting"],
                [None, T0, None, None, T0.astimezone(dt.UTC), None],
                [None, None, T0 + dt.timedelta(hours=1), None, None, None],
                strict=False,
            )
        )
    ]


def test_update_rows_writes_what_bulk_update_writes(shipments: list[Shipment]) -> None:
    columns = ("id", "status", "status_changed_at", "held_since", "cleared_at")
    rows = both_ways(lambda: bulk.update_rows(Shipment, columns, state_rows(shipments)), Shipment)
    assert len(rows[Shipment._meta.db_table]) == 6
    # Through the service's own helper too, whose rows come from dicts.
    states = [dict(zip(columns, row, strict=True)) for row in state_rows(shipments)]
    both_ways(lambda: _update_shipment_states(states), Shipment)


def test_record_history_writes_what_bulk_history_create_writes(shipments: list[Shipment]) -> None:
    fields = bulk.tracked_fields(Shipment)
    moved = {"status": "held", "held_since": T0, "status_changed_at": T0}
    history = [
        tuple(moved.get(name, value) for name, value in zip(fields, row, strict=True))
        for row in Shipment.objects.order_by("pk").values_list(*fields)
    ]
    for history_type in ("~", "+"):
        both_ways(
            lambda history_type=history_type: _record_history(
                history, history_type=history_type, change_reason="fast path test"
            ),
            Shipment.history.model,
        )
    _record_history(history, history_type="~", change_reason="fast path test")
    recorded = Shipment.history.filter(history_change_reason="fast path test")
    assert recorded.count() == 6
    assert {(row.history_type, row.status, row.held_since) for row in recorded} == {("~", "held", T0)}
    # Decimals, dates, booleans: a licence's history, dated explicitly.
    licence_rows = [list(row) for row in ImportLicence.objects.values_list(*bulk.tracked_fields(ImportLicence))]
    both_ways(
        lambda: bulk.record_history(ImportLicence, licence_rows, history_type="~", change_reason="x", date=T0),
        ImportLicence.history.model,
    )


def test_record_history_records_the_requests_user_as_simple_history_does(shipments: list[Shipment]) -> None:
    user = staff_user("fast-path-officer")
    request = RequestFactory().post("/")
    request.user = user
    HistoricalRecords.context.request = request
    try:
        rows = both_ways(
            lambda: _record_history([Shipment.objects.values_list(*bulk.tracked_fields(Shipment)).first()],
                                    history_type="~", change_reason="by a person"),
            Shipment.history.model,
        )  # fmt: skip
    finally:
        del HistoricalRecords.context.request
    assert str(user.pk) in rows[Shipment.history.model._meta.db_table][-1]


def test_create_with_history_writes_what_bulk_create_with_history_writes_and_sets_the_ids() -> None:
    company = CompanyFactory()
    FindingFactory(company=company, fingerprint="before")  # ids do not start at one

    def build() -> list[Finding]:
        findings = [
            Finding(rule="r", severity="high", company=company, subject=f"s{index}", fingerprint=f"f{index}",
                    summary="Summary ✓", details={"n": index, "when": "2026"}, first_seen_at=T0, last_seen_at=T0,
                    resolution_note="")
            for index in range(5)
        ]  # fmt: skip
        findings[2]._change_reason = "its own reason"  # type: ignore[attr-defined]
        findings[3].details = {}
        return findings

    ids: dict[str, list[int]] = {}

    def create() -> None:
        findings = bulk.create_with_history(build(), change_reason="Opened", date=T0)
        assert all(not finding._state.adding and finding._state.db == "default" for finding in findings)
        ids["fast" if bulk._sqlite_fast_paths else "generic"] = [finding.pk for finding in findings]
        assert Finding.objects.filter(pk__in=[f.pk for f in findings]).count() == 5

    rows = both_ways(create, Finding, Finding.history.model)
    assert ids["fast"] == ids["generic"] == [int(row[0]) for row in rows[Finding._meta.db_table][-5:]]
    findings = bulk.create_with_history(build(), change_reason="Opened", date=T0)
    history = Finding.history.filter(id__in=[finding.pk for finding in findings]).order_by("history_id")
    assert [(row.history_type, row.history_change_reason, row.history_date) for row in history] == [
        ("+", "its own reason" if index == 2 else "Opened", T0) for index in range(5)
    ]


def test_models_whose_rows_are_more_than_their_values_keep_the_generic_path() -> None:
    # A database default and a time filled at insert: Django's bulk_create writes these.
    assert not bulk._plain(Company)
    assert bulk._plain(Shipment) and bulk._plain(Finding) and bulk._plain(CustomsEvent)
    assert bulk._history_plain(Shipment) and bulk._history_plain(Finding)
    companies = bulk.create_with_history(
        [Company(slug="made-in-bulk", name="Made in bulk")], change_reason="bulk", date=T0
    )
    assert companies[0].pk and Company.objects.get(pk=companies[0].pk).created_at is not None
    assert Company.history.get(id=companies[0].pk).history_change_reason == "bulk"


def test_customs_events_insert_writes_what_bulk_create_writes(shipments: list[Shipment]) -> None:
    company_id = shipments[0].company_id
    events = [
        (company_id, shipment.pk, "inspecting", T0 + dt.timedelta(seconds=index), "n ✓" if index % 2 else "", "me")
        for index, shipment in enumerate(shipments)
    ]
    both_ways(lambda: _insert_customs_events(events, recorded_at=T0), CustomsEvent, LedgerHead)


def test_a_customs_event_batch_writes_the_same_rows_both_ways(shipments: list[Shipment]) -> None:
    """The whole service: shipments, their history, the events and their chain, the licence's counters."""
    numbers = [shipment.declaration_number for shipment in shipments]
    steps = [("inspecting", None), ("held", "held at the border"), ("inspecting", None), ("cleared", None)]
    lines = [
        CustomsEventLine(index, number, status, T0 + dt.timedelta(minutes=index), note or "")
        for index, (number, (status, note)) in enumerate((number, step) for step in steps for number in numbers[:4])
    ]
    lines.append(CustomsEventLine(len(lines), numbers[4], "rejected", T0, ""))
    lines.append(CustomsEventLine(len(lines), "DEC-NOWHERE", "held", T0, ""))
    outcomes = []

    def ingest() -> None:
        outcome = customs_events_ingest(lines=lines, shipments=Shipment.objects.all(), recorded_by="fast", now=T0)
        outcomes.append((len(outcome.accepted), [refusal["code"] for refusal in outcome.refused]))

    both_ways(ingest, Shipment, Shipment.history.model, CustomsEvent, LedgerHead, ImportLicence)
    assert outcomes == [(17, ["shipment_not_found"])] * 2


def test_the_fast_adaptation_agrees_with_get_db_prep_save() -> None:
    """Every concrete field the fast paths write, on values of every kind they meet (and some they do not)."""
    values: list[Any] = [
        None, 0, 7, -3, 2**40, True, "", "text ✓", "12", T0, T0.astimezone(dt.UTC), T0.replace(fold=1),
        dt.datetime(2026, 3, 2, 9, 30), dt.date(2026, 3, 2), Decimal("12.50"), 1.5, {"a": 1}, [1, 2],
    ]  # fmt: skip
    checked = 0
    chained = [stream.model for stream in chain.streams()]  # every ledger: appended by ``chain.insert_rows``
    for model in (Shipment, Shipment.history.model, Finding, Finding.history.model, ImportLicence, *chained):
        for field in model._meta.concrete_fields:
            fast = sqlite_rows.preparer(field, connection)
            for value in values:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # naive datetimes, both ways
                    try:
                        expected = field.get_db_prep_save(value, connection)
                    except Exception as error:  # noqa: BLE001 (refused both ways: the fast path must refuse it too)
                        with pytest.raises(type(error)):
                            fast(value)
                        continue
                    got = fast(value)
                assert (type(got), got) == (type(expected), expected), (model, field.name, value)
                checked += 1
    assert checked > 500


def test_the_fast_adaptation_keeps_apart_the_two_readings_of_an_ambiguous_local_time() -> None:
    """01:30 on the night New York's clocks go back happens twice: equal as datetimes, an hour apart."""
    first = dt.datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    second = first.replace(fold=1)
    assert first == second
    field = CustomsEvent._meta.get_field("occurred_at")
    prepare = sqlite_rows.preparer(field, connection)
    assert [prepare(first), prepare(second), prepare(first)] == [
        "2026-11-01 05:30:00",
        "2026-11-01 06:30:00",
        "2026-11-01 05:30:00",
    ]
    assert [prepare(first), prepare(second)] == [field.get_db_prep_save(v, connection) for v in (first, second)]
