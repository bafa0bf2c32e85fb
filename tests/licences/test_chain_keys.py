"""A ledger row's chain key is a copy of its parent's company, checked by ``verify_ledger``.

The five ledgers keep the foreign key to their parent (the shipment, the licence, the
commitment, the attestation, the finding) but none on the copied company: the bulk writers
would pay a lookup and a row lock per row for it. ``licences.chain.key_mismatches`` checks
the copy instead, so a row put in the wrong company's chain, or in the chain of a company
that does not exist, is named as a break.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.db import connection, transaction

from common.chain import streams
from licences import chain
from licences.models import CUSTOMS_EVENTS, CustomsEvent, ImportLicence
from tests.factories import ApprovedLicenceFactory, CompanyFactory, at
from tests.licences.test_chain import declare, verify

pytestmark = pytest.mark.django_db

PARENTS = {
    "attestation_reviews": ("attestation_id", "compliance_securityattestation"),
    "commitment_changes": ("commitment_id", "quotas_domesticcommitment"),
    "customs_events": ("shipment_id", "licences_shipment"),
    "finding_transitions": ("finding_id", "compliance_finding"),
    "licence_decisions": ("licence_id", "licences_importlicence"),
}


@pytest.fixture
def world() -> SimpleNamespace:
    acme, other = CompanyFactory(slug="acme"), CompanyFactory(slug="other")
    licence: ImportLicence = ApprovedLicenceFactory(number="LIC-1", company=acme, requested_quantity=10_000)
    other_licence = ApprovedLicenceFactory(number="LIC-2", company=other, requested_quantity=10_000)
    shipment, other_shipment = declare(licence, "DEC-1"), declare(other_licence, "DEC-X")
    return SimpleNamespace(acme=acme, other=other, licence=licence, shipment=shipment, other_shipment=other_shipment)


def append_event(company_id: int, shipment_id: int) -> CustomsEvent:
    """An event appended through the chain's own bulk path, correctly hashed, with the key given."""
    when = at(dt.date(2026, 2, 2))
    with transaction.atomic():
        chain.insert_rows(CUSTOMS_EVENTS, [(company_id, shipment_id, "inspecting", when, "", when, "api-key:x")])
    return CustomsEvent.objects.order_by("-pk").first()


def test_every_stream_names_its_parent_foreign_key():
    declared = {stream.name: stream.parent for stream in streams()}
    assert declared == {name: parent for name, (parent, _table) in PARENTS.items()}
    for stream in streams():
        field = stream.model._meta.get_field(stream.parent.removesuffix("_id"))
        assert field.many_to_one and field.db_constraint
        assert field.related_model._meta.db_table == PARENTS[stream.name][1]
        assert stream.model._meta.get_field(stream.key.removesuffix("_id")).db_constraint is False


@pytest.mark.postgres
def test_on_postgresql_each_ledger_table_has_its_parent_s_foreign_key_and_none_on_the_company():
    with connection.cursor() as cursor:
        for stream in streams():
            cursor.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' AND conrelid = %s::regclass "
                "AND pg_get_constraintdef(oid) NOT LIKE '%%auth_user%%' ORDER BY 1",
                [stream.model._meta.db_table],
            )
            parent, table = PARENTS[stream.name]
            assert [row[0] for row in cursor.fetchall()] == [
                f"FOREIGN KEY ({parent}) REFERENCES {table}(id) DEFERRABLE INITIALLY DEFERRED"
            ]


def test_a_row_in_another_company_s_chain_is_named_by_verify_ledger(world):
    assert verify()[1] is None
    stray = append_event(world.other.pk, world.shipment.pk)  # acme's shipment, other's chain
    assert stray.chain_seq == 2  # after DEC-X's declaration: a valid link, only the key check can see it
    lines, error = verify()
    assert error == (
        f"1 broken chain(s); the first: customs_events (licences.CustomsEvent), chain company_id={world.other.pk}: "
        f"row pk={stray.pk} (seq 2): its company_id is not its parent's "
        f"(shipment_id={world.shipment.pk} has company_id={world.acme.pk})"
    )
    assert lines[2] == "customs_events (licences.CustomsEvent): 3 rows in 2 chains: BROKEN in 1 chain(s)"


def test_a_row_keyed_to_a_company_that_does_not_exist_is_written_and_named(world):
    missing = world.other.pk + 1000
    stray = append_event(missing, world.shipment.pk)
    error = verify()[1]
    assert error == (
        f"1 broken chain(s); the first: customs_events (licences.CustomsEvent), chain company_id={missing}: "
        f"row pk={stray.pk} (seq 1): its company_id is not its parent's "
        f"(shipment_id={world.shipment.pk} has company_id={world.acme.pk})"
    )


def test_a_chain_broken_twice_is_reported_once_at_its_first_break(world):
    declare(world.licence, "DEC-2")  # acme: seq 1 DEC-1 declared, seq 2 DEC-2 declared
    stray = append_event(world.acme.pk, world.other_shipment.pk)  # seq 3: other's shipment in acme's chain
    declare(world.licence, "DEC-3")  # seq 4
    assert stray.chain_seq == 3

    def edit(seq: int) -> None:
        row = CustomsEvent.objects.get(company=world.acme, chain_seq=seq)
        table = connection.ops.quote_name(CustomsEvent._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET note = %s WHERE id = %s", ["edited", row.pk])

    edit(4)  # after the stray: the stray is the first break
    report = chain.verify(CUSTOMS_EVENTS)
    assert [(found.key, found.seq, found.pk) for found in report.breaks] == [(world.acme.pk, 3, stray.pk)]
    assert report.breaks[0].reason.startswith("its company_id is not its parent's")
    edit(2)  # before it: the edit is
    report = chain.verify(CUSTOMS_EVENTS)
    assert [(found.key, found.seq) for found in report.breaks] == [(world.acme.pk, 2)]
    assert report.breaks[0].reason == "its content does not give its row_hash: the row was changed"
