"""The hash chains (``common.chain``, ``licences.chain``) on customs events: the canonical form,
every write path, ``verify_ledger`` on clean and tampered data, the migrations' backfill and
concurrent appends on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import threading
from collections.abc import Callable
from decimal import Decimal
from io import StringIO
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import F

from common import chain as hashing
from licences import chain, services
from licences.models import (
    CUSTOMS_EVENTS,
    LICENCE_DECISIONS,
    Company,
    CustomsEvent,
    ImportLicence,
    LicenceDecision,
    Shipment,
)
from licences.services import CustomsEventLine, ShipmentLine
from quotas import services as quota_services
from quotas.models import COMMITMENT_CHANGES, CommitmentChange
from tests.factories import (
    ApprovedLicenceFactory,
    CompanyFactory,
    CustomsDirectiveFactory,
    DomesticCommitmentFactory,
    at,
)

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
GENESIS = "0" * 64


def verify() -> tuple[list[str], str | None]:
    """``verify_ledger``'s printed lines and its error (``None`` when it exits 0)."""
    out = StringIO()
    try:
        call_command("verify_ledger", stdout=out)
    except CommandError as error:
        return out.getvalue().splitlines(), str(error)
    return out.getvalue().splitlines(), None


def declare(licence: ImportLicence, number: str, quantity: int = 10, day: dt.date = dt.date(2026, 2, 1)) -> Shipment:
    return services.shipment_declare(
        company=licence.company,
        licence=licence,
        quantity=quantity,
        declared_value_usd=licence.unit_value_usd * quantity,
        port_of_entry="Shanghai Pudong",
        declaration_number=number,
        declared_at=at(day),
        recorded_by="api-key:acme",
    )


def chain_of(company: Company) -> list[tuple[int, str, str]]:
    return list(
        CustomsEvent.objects.filter(company=company)
        .order_by("chain_seq")
        .values_list("chain_seq", "prev_hash", "row_hash")
    )


@pytest.fixture
def world() -> SimpleNamespace:
    """Two companies with a roomy licence each; shipments declared through the service."""
    acme, other = CompanyFactory(slug="acme"), CompanyFactory(slug="other")
    licence = ApprovedLicenceFactory(number="LIC-1", company=acme, requested_quantity=10_000)
    other_licence = ApprovedLicenceFactory(number="LIC-2", company=other, requested_quantity=10_000)
    return SimpleNamespace(acme=acme, other=other, licence=licence, other_licence=other_licence)


# --- The canonical form --------------------------------------------------------------------------


def test_the_canonical_content_and_hash_of_a_row_are_exactly_as_documented():
    values = (
        7, 42, "held", dt.datetime(2026, 3, 1, 10, 0, tzinfo=SHANGHAI), "Blocké",
        dt.datetime(2026, 3, 1, 2, 0, 0, 5, tzinfo=dt.UTC), "api-key:customs",
    )  # fmt: skip
    content = CUSTOMS_EVENTS.content(3, values)
    assert content == (
        b'{"row":{"company_id":7,"note":"Block\\u00e9","occurred_at":"2026-03-01T02:00:00.000000+00:00",'
        b'"recorded_at":"2026-03-01T02:00:00.000005+00:00","recorded_by":"api-key:customs","shipment_id":42,'
        b'"status":"held"},"seq":3,"stream":"customs_events"}'
    )
    expected = hashlib.sha256(GENESIS.encode("ascii") + content).hexdigest()
    assert CUSTOMS_EVENTS.link(GENESIS, 3, values) == expected
    assert len(expected) == 64


@pytest.mark.parametrize(
    "text", ["", 'a "quote", a \\ and a /', "\x00\x1f\n\t", "中文 é \U0001f600", "\ud800 lone", "%s %d %% {}"]
)
def test_the_template_writes_exactly_what_json_dumps_with_sorted_keys_writes(text):
    import json

    stream = hashing.Stream(name="odd %s stream", model=CustomsEvent, fields=("z", "company_id", "a", "m", "b", "d"))
    values = (
        text,
        2**63 + 5,
        None,
        Decimal("-0.50"),
        True,
        dt.datetime(2026, 1, 1, 23, 59, 59, 999999, tzinfo=SHANGHAI),
    )
    expected = json.dumps(
        {"row": dict(zip(stream.fields, map(hashing.encode, values), strict=True)), "seq": 12, "stream": stream.name},
        sort_keys=True,
        separators=(",", ":"),
    ).encode("ascii")
    assert stream.content(12, values) == expected


def test_values_are_encoded_stably_and_anything_ambiguous_is_refused():
    assert hashing.encode(Decimal("1250.50")) == "1250.5"
    assert hashing.encode(Decimal("10.00")) == hashing.encode(Decimal("1E+1")) == "10"
    assert hashing.encode(dt.date(2026, 1, 23)) == "2026-01-23"
    assert hashing.encode(Shipment.Status.HELD) == "held" and type(hashing.encode(Shipment.Status.HELD)) is str
    assert [hashing.encode(value) for value in (None, True, 0, "")] == [None, True, 0, ""]
    with pytest.raises(TypeError, match="needs a time zone"):
        hashing.encode(dt.datetime(2026, 3, 1, 10, 0))
    with pytest.raises(TypeError, match="Cannot hash a float"):
        hashing.encode(1.5)


def test_the_migrations_frozen_hashing_is_the_live_one():
    values = (
        7, 42, "cleared", dt.datetime(2026, 3, 1, 10, 0, 0, 123, tzinfo=SHANGHAI), 'quote " and \\ and \u4e2d',
        dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC), "",
    )  # fmt: skip
    customs = importlib.import_module("licences.migrations.0010_customs_event_chain_backfill")
    assert customs._row_hash("a" * 64, 9, values) == CUSTOMS_EVENTS.link("a" * 64, 9, values)
    decisions = importlib.import_module("licences.migrations.0015_licence_decision_chain_backfill")
    decision = (
        7, 42, "approve", "approved", dt.date(2026, 1, 23), dt.datetime(2026, 1, 23, 4, 0, tzinfo=SHANGHAI), None,
        "regulator 中", "", True, 1000, dt.date(2026, 1, 23), dt.date(2026, 12, 31), 0,
    )  # fmt: skip
    assert (LICENCE_DECISIONS.name, LICENCE_DECISIONS.fields) == (decisions.STREAM, decisions.FIELDS)
    assert decisions._row_hash("b" * 64, 3, decision) == LICENCE_DECISIONS.link("b" * 64, 3, decision)
    changes = importlib.import_module("quotas.migrations.0007_commitment_change_chain_backfill")
    change = (
        7, 9, "deliver", "delivered", dt.date(2026, 4, 1), dt.datetime(2026, 4, 1, tzinfo=dt.UTC), 5, "officer",
        "1,000 delivered", 1000, 1000, Decimal("12000.50"),
    )  # fmt: skip
    assert (COMMITMENT_CHANGES.name, COMMITMENT_CHANGES.fields) == (changes.STREAM, changes.FIELDS)
    assert changes._row_hash(GENESIS, 4, change) == COMMITMENT_CHANGES.link(GENESIS, 4, change)
    ledgers = importlib.import_module("compliance.migrations.0015_ledgers_backfill")
    from compliance.models import ATTESTATION_REVIEWS, FINDING_TRANSITIONS

    review = (3, 5, "accepted", dt.date(2027, 1, 1), "ok", dt.datetime(2026, 3, 1, tzinfo=SHANGHAI), "reg")
    transition = (3, 8, "resolved", "resolved", "high", dt.datetime(2026, 3, 1, tzinfo=dt.UTC), "", "fixed")
    assert (ATTESTATION_REVIEWS.name, ATTESTATION_REVIEWS.fields) == ledgers.REVIEWS
    assert (FINDING_TRANSITIONS.name, FINDING_TRANSITIONS.fields) == ledgers.TRANSITIONS
    assert ledgers._row_hash(*ledgers.REVIEWS, GENESIS, 1, review) == ATTESTATION_REVIEWS.link(GENESIS, 1, review)
    assert ledgers._row_hash(*ledgers.TRANSITIONS, GENESIS, 2, transition) == FINDING_TRANSITIONS.link(
        GENESIS, 2, transition
    )


# --- Every write path chains ----------------------------------------------------------------------


def test_every_write_path_appends_to_its_company_s_chain_and_verify_ledger_passes(world):
    CustomsDirectiveFactory(chip=world.licence.chip, blocked_from=dt.date(2026, 3, 1), blocked_until=None)
    first = declare(world.licence, "DEC-1")  # single path: one event (bulk_create)
    services.customs_event_record(shipment=first, status="inspecting", occurred_at=at(dt.date(2026, 2, 2)))
    declare(world.other_licence, "DEC-X")
    outcome = services.shipments_ingest(
        lines=[
            ShipmentLine(0, "DEC-2", "LIC-1", 5, Decimal("1000"), "Shanghai", declared_at=at(dt.date(2026, 2, 3))),
            # Declared during the entry block: held, with a second event.
            ShipmentLine(1, "DEC-3", "LIC-1", 5, Decimal("1000"), "Shanghai", declared_at=at(dt.date(2026, 3, 2))),
        ],
        licences=ImportLicence.objects.all(),
    )
    assert len(outcome.accepted) == 2
    outcome = services.customs_events_ingest(
        lines=[
            CustomsEventLine(0, "DEC-1", "cleared", at(dt.date(2026, 3, 5))),
            CustomsEventLine(1, "DEC-X", "rejected", at(dt.date(2026, 3, 5))),
            CustomsEventLine(2, "DEC-2", "inspecting", at(dt.date(2026, 3, 6))),
        ],
        shipments=Shipment.objects.all(),
    )
    assert len(outcome.accepted) == 3
    # acme: declared, inspecting, declared, declared, held, cleared, inspecting; other: declared, rejected.
    acme = chain_of(world.acme)
    assert [seq for seq, _, _ in acme] == [1, 2, 3, 4, 5, 6, 7]
    assert acme[0][1] == GENESIS and all(acme[i][1] == acme[i - 1][2] for i in range(1, 7))
    assert [seq for seq, _, _ in chain_of(world.other)] == [1, 2]
    assert set(CustomsEvent.objects.values_list("company_id", "shipment__company_id").distinct()) == {
        (world.acme.pk, world.acme.pk),
        (world.other.pk, world.other.pk),
    }
    heads = chain.heads_of(CUSTOMS_EVENTS)
    assert heads == {world.acme.pk: (7, acme[-1][2]), world.other.pk: (2, chain_of(world.other)[-1][2])}
    lines, error = verify()
    assert error is None
    assert lines == [
        "attestation_reviews (compliance.AttestationReview): 0 rows in 0 chains: ok",
        "commitment_changes (quotas.CommitmentChange): 0 rows in 0 chains: ok",
        "customs_events (licences.CustomsEvent): 9 rows in 2 chains: ok",
        "finding_transitions (compliance.FindingTransition): 0 rows in 0 chains: ok",
        "licence_decisions (licences.LicenceDecision): 4 rows in 2 chains: ok",  # each licence applied, approved
    ]


def test_a_recorded_event_is_never_saved_again(world):
    event = CustomsEvent.objects.get(shipment=declare(world.licence, "DEC-1"))
    event.note = "edited"
    with pytest.raises(chain.AppendOnlyError):
        event.save()
    assert CustomsEvent.objects.get(pk=event.pk).note == ""


def test_the_batch_path_gives_the_hashes_the_single_path_gives_for_the_same_events(world):
    first, second = declare(world.licence, "DEC-1"), declare(world.licence, "DEC-2")
    declare(world.other_licence, "DEC-X")
    events = [
        (first, "inspecting", at(dt.date(2026, 2, 2)), ""),
        (second, "held", at(dt.date(2026, 2, 2), 13), "Seal broken"),
        (first, "cleared", at(dt.date(2026, 2, 3)), ""),
        (second, "inspecting", at(dt.date(2026, 2, 4)), "Released for inspection: 检查"),
    ]

    def chains() -> list[tuple]:
        return list(
            CustomsEvent.objects.order_by("company_id", "chain_seq").values_list(
                "company_id", "chain_seq", "shipment_id", "status", "recorded_at", "prev_hash", "row_hash"
            )
        )

    with time_machine.travel(dt.datetime(2026, 2, 5, 9, 30, 0, 250, tzinfo=SHANGHAI), tick=False):
        savepoint = transaction.savepoint()
        for shipment, status, occurred_at, note in events:
            services.customs_event_record(
                shipment=shipment, status=status, occurred_at=occurred_at, note=note, recorded_by="api-key:customs"
            )
        single = chains()
        transaction.savepoint_rollback(savepoint)
        assert len(chains()) == 3
        services.customs_events_ingest(
            lines=[
                CustomsEventLine(index, shipment.declaration_number, status, occurred_at, note, company="acme")
                for index, (shipment, status, occurred_at, note) in enumerate(events)
            ],
            shipments=Shipment.objects.all(),
            recorded_by="api-key:customs",
        )
        batch = chains()
    assert len(single) == 7
    assert batch == single
    assert verify()[1] is None


# --- Tampering is detected ------------------------------------------------------------------------


def _events_of_acme(world) -> list[CustomsEvent]:
    """Six events in acme's chain: three shipments declared, then inspected."""
    shipments = [declare(world.licence, f"DEC-{number}") for number in range(1, 4)]
    for shipment in shipments:
        services.customs_event_record(shipment=shipment, status="inspecting", occurred_at=at(dt.date(2026, 2, 2)))
    declare(world.other_licence, "DEC-X")
    return list(CustomsEvent.objects.filter(company=world.acme).order_by("chain_seq"))


def _table() -> str:
    return connection.ops.quote_name(CustomsEvent._meta.db_table)


def test_an_event_edited_with_raw_sql_is_named_by_verify_ledger(world):
    events = _events_of_acme(world)
    assert verify()[1] is None
    target = events[3]  # seq 4: DEC-1's inspection
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_table()} SET status = %s WHERE id = %s", ["cleared", target.pk])
    lines, error = verify()
    where = f"chain company_id={world.acme.pk}: row pk={target.pk} (seq 4)"
    assert error == (
        f"1 broken chain(s); the first: customs_events (licences.CustomsEvent), {where}: "
        "its content does not give its row_hash: the row was changed"
    )
    assert lines[2] == "customs_events (licences.CustomsEvent): 7 rows in 2 chains: BROKEN in 1 chain(s)"


def test_an_edited_time_or_a_recomputed_row_hash_alone_is_detected_too(world):
    events = _events_of_acme(world)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table()} SET occurred_at = %s WHERE id = %s", [at(dt.date(2026, 1, 30)), events[1].pk]
        )
    assert f"row pk={events[1].pk} (seq 2): its content does not give its row_hash" in verify()[1]
    # The forger recomputes the edited row's own hash: the next row no longer links to it.
    values = CustomsEvent.objects.filter(pk=events[1].pk).values_list(*CUSTOMS_EVENTS.fields).get()
    forged = CUSTOMS_EVENTS.link(events[1].prev_hash, 2, values)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_table()} SET row_hash = %s WHERE id = %s", [forged, events[1].pk])
    assert f"row pk={events[2].pk} (seq 3): prev_hash is not the previous row's hash" in verify()[1]


def test_a_row_deleted_in_the_middle_is_detected(world):
    events = _events_of_acme(world)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_table()} WHERE id = %s", [events[2].pk])
    _lines, error = verify()
    assert error == (
        f"1 broken chain(s); the first: customs_events (licences.CustomsEvent), chain company_id={world.acme.pk}: "
        f"row pk={events[3].pk} (seq 4): seq 4 follows seq 2: a row is missing or was inserted"
    )


def test_the_last_row_deleted_or_every_row_deleted_is_detected_by_the_head(world):
    events = _events_of_acme(world)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_table()} WHERE id = %s", [events[-1].pk])
    assert verify()[1] == (
        f"1 broken chain(s); the first: customs_events (licences.CustomsEvent), chain company_id={world.acme.pk}: "
        "seq 6: the chain ends at seq 5 but its head is seq 6"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_table()} WHERE company_id = %s", [world.acme.pk])
    assert verify()[1] == (
        f"1 broken chain(s); the first: customs_events (licences.CustomsEvent), chain company_id={world.acme.pk}: "
        "seq 1: its head is seq 6 but it has no row"
    )


def test_a_small_chunk_size_reads_the_same_chains(world):
    _events_of_acme(world)
    out = StringIO()
    call_command("verify_ledger", "--chunk-size", "2", stdout=out)
    assert "customs_events (licences.CustomsEvent): 7 rows in 2 chains: ok" in out.getvalue().splitlines()
    with pytest.raises(CommandError, match="--chunk-size must be at least 1"):
        call_command("verify_ledger", "--chunk-size", "0", stdout=StringIO())


def test_print_heads_prints_every_head_and_one_anchor_over_them(world):
    _events_of_acme(world)
    out = StringIO()
    call_command("verify_ledger", "--print-heads", stdout=out)
    lines = out.getvalue().splitlines()
    heads = [
        (stream.name, key, seq, head)
        for stream in (CUSTOMS_EVENTS, LICENCE_DECISIONS)
        for key, (seq, head) in sorted(chain.heads_of(stream).items())
    ]
    assert lines[5:] == [
        *(f"head {stream} {key} {seq} {head}" for stream, key, seq, head in heads),
        f"anchor {chain.anchor(heads)}",
    ]
    assert [line.split()[1:4:2] for line in lines[5:9]] == [
        ["customs_events", "6"], ["customs_events", "1"], ["licence_decisions", "2"], ["licence_decisions", "2"],
    ]  # fmt: skip


# --- The migrations' backfill ---------------------------------------------------------------------


def test_the_backfill_migration_rebuilds_exactly_the_chains_the_service_appended(world):
    _events_of_acme(world)
    appended = list(CustomsEvent.objects.order_by("pk").values_list("company_id", "chain_seq", "prev_hash", "row_hash"))
    heads = chain.heads_of(CUSTOMS_EVENTS)
    # As before the migrations: no company, no position, no hashes, no heads (the positions
    # moved out of the way, the columns being required now).
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_table()} SET chain_seq = chain_seq + 1000, prev_hash = '', row_hash = ''")
    chain.LedgerHead.objects.filter(stream=CUSTOMS_EVENTS.name).delete()
    backfill = importlib.import_module("licences.migrations.0010_customs_event_chain_backfill")
    backfill.chain_events(apps, SimpleNamespace(connection=connection))
    assert (
        list(CustomsEvent.objects.order_by("pk").values_list("company_id", "chain_seq", "prev_hash", "row_hash"))
        == appended
    )
    assert chain.heads_of(CUSTOMS_EVENTS) == heads
    assert verify()[1] is None


# --- Licence decisions and commitment changes ------------------------------------------------------

MARCH_2 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)


def ledger_chain(model: type, company: Company, *values: str) -> list[tuple]:
    return list(model.objects.filter(company=company).order_by("chain_seq").values_list("chain_seq", *values))


def _raw_update(model: type, column: str, value: object, pk: int) -> None:
    table, column = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, pk])


def test_every_licence_decision_and_commitment_change_is_appended_to_its_company_s_chain(world):
    with time_machine.travel(MARCH_2, tick=False):
        applied = services.licence_apply(
            company=world.acme, chip=world.licence.chip, round=world.licence.round, requested_quantity=100
        )
        services.licence_approve(
            licence=applied, granted_quantity=100, valid_from=dt.date(2026, 2, 1), valid_until=dt.date(2026, 2, 28)
        )
        services.licence_suspend(licence=world.licence, reason="Audit")
        services.licence_revoke(licence=world.licence, reason="Diversion")
        commitment = DomesticCommitmentFactory(company=world.acme)  # pledge and contract, in bulk
        quota_services.commitment_deliver(commitment=commitment, quantity=1000, on=dt.date(2026, 3, 1))
    # Fixture rows (apply, approve) first, then each service's, in the order they were written.
    assert ledger_chain(LicenceDecision, world.acme, "licence__number", "kind") == [
        (1, "LIC-1", "apply"), (2, "LIC-1", "approve"), (3, applied.number, "apply"), (4, applied.number, "approve"),
        (5, "LIC-1", "suspend"), (6, "LIC-1", "revoke"), (7, "LIC-1", "release"),
    ]  # fmt: skip
    assert ledger_chain(CommitmentChange, world.acme, "kind") == [(1, "pledge"), (2, "contract"), (3, "deliver")]
    rows = LicenceDecision.objects.filter(company=world.acme).order_by("chain_seq")
    assert [row.prev_hash for row in rows] == [GENESIS, *(row.row_hash for row in rows)][:-1]
    assert chain.heads_of(LICENCE_DECISIONS) == {
        world.acme.pk: (7, rows.last().row_hash),
        world.other.pk: (2, LicenceDecision.objects.filter(company=world.other).order_by("chain_seq").last().row_hash),
    }
    assert not LicenceDecision.objects.exclude(company_id=F("licence__company_id")).exists()
    assert not CommitmentChange.objects.exclude(company_id=F("commitment__company_id")).exists()
    lines, error = verify()
    assert error is None
    assert lines[1] == "commitment_changes (quotas.CommitmentChange): 3 rows in 1 chain: ok"
    assert lines[4] == "licence_decisions (licences.LicenceDecision): 9 rows in 2 chains: ok"


def test_a_licence_decision_edited_with_raw_sql_is_named_by_verify_ledger(world):
    with time_machine.travel(MARCH_2, tick=False):
        services.licence_suspend(licence=world.licence, reason="Audit")
    target = LicenceDecision.objects.get(licence=world.licence, kind="suspend")
    assert target.chain_seq == 3
    assert verify()[1] is None
    # Back-dating the suspension by hand: the row no longer gives its hash.
    _raw_update(LicenceDecision, "effective_on", dt.date(2026, 2, 1), target.pk)
    lines, error = verify()
    assert error == (
        f"1 broken chain(s); the first: licence_decisions (licences.LicenceDecision), "
        f"chain company_id={world.acme.pk}: row pk={target.pk} (seq 3): "
        "its content does not give its row_hash: the row was changed"
    )
    assert lines[4] == "licence_decisions (licences.LicenceDecision): 5 rows in 2 chains: BROKEN in 1 chain(s)"


def test_a_commitment_change_edited_with_raw_sql_is_named_by_verify_ledger(world):
    commitment = DomesticCommitmentFactory(company=world.acme)
    with time_machine.travel(MARCH_2, tick=False):
        quota_services.commitment_deliver(commitment=commitment, quantity=400, on=dt.date(2026, 3, 1))
    DomesticCommitmentFactory(company=world.other, status="pledged", contracted_on=None)
    target = CommitmentChange.objects.get(commitment=commitment, kind="deliver")
    assert target.chain_seq == 3
    assert verify()[1] is None
    # Inflating a delivery by hand: the row no longer gives its hash.
    _raw_update(CommitmentChange, "delivered_quantity", 1000, target.pk)
    lines, error = verify()
    assert error == (
        f"1 broken chain(s); the first: commitment_changes (quotas.CommitmentChange), "
        f"chain company_id={world.acme.pk}: row pk={target.pk} (seq 3): "
        "its content does not give its row_hash: the row was changed"
    )
    assert lines[1] == "commitment_changes (quotas.CommitmentChange): 4 rows in 2 chains: BROKEN in 1 chain(s)"


def test_the_bulk_path_gives_the_hashes_the_single_path_gives_for_the_same_decisions(world):
    licence = world.licence
    common = {
        "licence_id": licence.pk, "status": "suspended", "effective_on": dt.date(2026, 3, 1), "actor": "officer",
        "granted_quantity": licence.granted_quantity, "valid_from": licence.valid_from,
        "valid_until": licence.valid_until, "recorded_at": dt.datetime(2026, 3, 1, 9, 0, 0, 7, tzinfo=SHANGHAI),
    }  # fmt: skip
    rows = [LicenceDecision(kind="suspend", reason="Audit 中", **common), LicenceDecision(kind="revoke", **common)]

    def acme_chain() -> list[tuple]:
        return list(
            LicenceDecision.objects.filter(company=world.acme)
            .order_by("chain_seq")
            .values_list("chain_seq", "kind", "prev_hash", "row_hash")
        )

    savepoint = transaction.savepoint()
    for row in rows:
        LicenceDecision.objects.create(**{field: getattr(row, field) for field in LICENCE_DECISIONS.fields[1:]})
    single = acme_chain()
    transaction.savepoint_rollback(savepoint)
    assert len(acme_chain()) == 2
    assert chain.insert_objects(rows) == 2
    assert acme_chain() == single and len(single) == 4
    assert verify()[1] is None


def test_the_backfill_migrations_rebuild_exactly_the_chains_the_services_appended(world):
    with time_machine.travel(MARCH_2, tick=False):
        services.licence_suspend(licence=world.licence, reason="Audit")
        services.licence_revoke(licence=world.licence, reason="Diversion")
        commitment = DomesticCommitmentFactory(company=world.acme)
        quota_services.commitment_deliver(commitment=commitment, quantity=100, on=dt.date(2026, 3, 1))
        DomesticCommitmentFactory(company=world.other, status="pledged", contracted_on=None)
    for model, stream, module, function in (
        (LicenceDecision, LICENCE_DECISIONS, "licences.migrations.0015_licence_decision_chain_backfill",
         "chain_decisions"),
        (CommitmentChange, COMMITMENT_CHANGES, "quotas.migrations.0007_commitment_change_chain_backfill",
         "chain_changes"),
    ):  # fmt: skip
        columns = ("company_id", "chain_seq", "prev_hash", "row_hash")
        appended = list(model.objects.order_by("pk").values_list(*columns))
        heads = chain.heads_of(stream)
        assert len(heads) == 2
        # As before the migrations: no position, no hashes, no heads (the positions moved out of
        # the way, the columns being required now).
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET chain_seq = chain_seq + 1000, prev_hash = '', row_hash = ''")
        chain.LedgerHead.objects.filter(stream=stream.name).delete()
        backfill = importlib.import_module(module)
        getattr(backfill, function)(apps, SimpleNamespace(connection=connection))
        assert list(model.objects.order_by("pk").values_list(*columns)) == appended
        assert chain.heads_of(stream) == heads
    assert verify()[1] is None


# --- Concurrent appends on PostgreSQL --------------------------------------------------------------


def _run_at_once(calls: list[Callable[[], None]]) -> list[BaseException | None]:
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException | None] = [None] * len(calls)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            calls[index]()
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_to_one_chain_queue_and_never_fork_it(monkeypatch):
    monkeypatch.setattr("compliance.signals.enqueue_recheck", lambda company_id: None)
    acme = CompanyFactory(slug="acme")
    licence = ApprovedLicenceFactory(number="LIC-1", company=acme, requested_quantity=10_000)
    shipments = [declare(licence, f"DEC-{number}") for number in range(12)]
    rounds = 3
    for step, status in enumerate(("inspecting", "held", "cleared")[:rounds]):
        day = dt.date(2026, 2, 2 + step)
        calls: list[Callable[[], None]] = []
        for shipment in shipments[:8]:  # eight single appends at once

            def single(shipment: Shipment = shipment, status: str = status, day: dt.date = day) -> None:
                services.customs_event_record(shipment=shipment, status=status, occurred_at=at(day))

            calls.append(single)
        numbers = [shipment.declaration_number for shipment in shipments[8:]]

        def batch(numbers: list[str] = numbers, status: str = status, day: dt.date = day) -> None:
            lines = [CustomsEventLine(index, number, status, at(day)) for index, number in enumerate(numbers)]
            outcome = services.customs_events_ingest(lines=lines, shipments=Shipment.objects.all())
            assert len(outcome.accepted) == len(numbers)

        calls.append(batch)  # and a batch of four, all on acme's chain
        assert _run_at_once(calls) == [None] * len(calls)
    total = 12 + 12 * rounds
    assert list(
        CustomsEvent.objects.filter(company=acme).order_by("chain_seq").values_list("chain_seq", flat=True)
    ) == (list(range(1, total + 1)))
    assert chain.heads_of(CUSTOMS_EVENTS)[acme.pk][0] == total
    lines, error = verify()
    assert error is None
    assert f"customs_events (licences.CustomsEvent): {total} rows in 1 chain: ok" in lines


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_decisions_and_the_expiry_job_queue_on_one_chain_and_never_fork_it(monkeypatch):
    from licences.services.expiry import licences_expire_due

    monkeypatch.setattr("compliance.signals.enqueue_recheck", lambda company_id: None)
    acme = CompanyFactory(slug="acme")
    held = [ApprovedLicenceFactory(number=f"LIC-S{number}", company=acme) for number in range(8)]
    for number in range(4):
        ApprovedLicenceFactory(number=f"LIC-E{number}", company=acme, valid_until=dt.date(2026, 2, 28))
    commitments = [DomesticCommitmentFactory(company=acme) for _ in range(2)]
    calls: list[Callable[[], None]] = []
    for licence in held:  # eight single appends at once

        def suspend(licence: ImportLicence = licence) -> None:
            services.licence_suspend(licence=licence, reason="Audit", at=MARCH_2)

        calls.append(suspend)
    for commitment in commitments:

        def deliver(commitment=commitment) -> None:
            quota_services.commitment_deliver(commitment=commitment, quantity=10, on=dt.date(2026, 3, 1), at=MARCH_2)

        calls.append(deliver)

    def expire() -> None:  # and the job's bulk append: four expiries, four releases
        assert len(licences_expire_due(on=MARCH_2.date(), now=MARCH_2)) == 4

    calls.append(expire)
    assert _run_at_once(calls) == [None] * len(calls)
    total = 12 * 2 + 8 + 4 * 2
    assert [seq for (seq,) in ledger_chain(LicenceDecision, acme)] == list(range(1, total + 1))
    assert [seq for (seq,) in ledger_chain(CommitmentChange, acme)] == list(range(1, 2 * 2 + 2 + 1))
    assert chain.heads_of(LICENCE_DECISIONS)[acme.pk][0] == total
    lines, error = verify()
    assert error is None
    assert f"licence_decisions (licences.LicenceDecision): {total} rows in 1 chain: ok" in lines
    assert "commitment_changes (quotas.CommitmentChange): 6 rows in 1 chain: ok" in lines
