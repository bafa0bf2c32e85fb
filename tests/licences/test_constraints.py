"""Each database invariant refuses the violating write, whatever code path attempts it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from licences.models import AllocationRound, ImportLicence, Shipment
from tests.factories import (
    AllocationRoundFactory,
    ApprovedLicenceFactory,
    CompanyFactory,
    CustomsDirectiveFactory,
    DomesticChipFactory,
    DomesticCommitmentFactory,
    ForeignChipFactory,
    ImportLicenceFactory,
    QuotaPolicyFactory,
    SecurityAttestationFactory,
    ShipmentFactory,
)

pytestmark = pytest.mark.django_db


def refused(factory, **kwargs) -> bool:
    """True when the database refuses the row (the savepoint keeps the test transaction usable)."""
    try:
        with transaction.atomic():
            factory(**kwargs)
    except IntegrityError:
        return True
    return False


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [
        (ForeignChipFactory, {"code": "BAD-1", "compute_index": Decimal("0")}),
        (ForeignChipFactory, {"code": "BAD-2", "reference_unit_value_usd": Decimal("-1")}),
        (ForeignChipFactory, {"code": "BAD-3", "origin": "martian"}),
        (AllocationRoundFactory, {"name": "R1", "unit_cap": 0}),
        (AllocationRoundFactory, {"name": "R2", "value_cap_usd": Decimal("0")}),
        (AllocationRoundFactory, {"name": "R3", "opens_on": dt.date(2026, 2, 1), "closes_on": dt.date(2026, 1, 1)}),
        (AllocationRoundFactory, {"name": "R4", "unit_cap": 10, "granted_units": 11}),
        (AllocationRoundFactory, {"name": "R5", "value_cap_usd": Decimal("10"), "granted_value_usd": Decimal("11")}),
        (ImportLicenceFactory, {"requested_quantity": 0}),
        (ImportLicenceFactory, {"requested_quantity": 10, "granted_quantity": 11}),
        (ImportLicenceFactory, {"unit_value_usd": Decimal("-0.01")}),
        (ApprovedLicenceFactory, {"valid_from": dt.date(2026, 6, 1), "valid_until": dt.date(2026, 5, 31)}),
        (ApprovedLicenceFactory, {"requested_quantity": 100, "reserved_quantity": 60, "used_quantity": 41}),
        (ApprovedLicenceFactory, {"granted_quantity": 0}),
        (ApprovedLicenceFactory, {"valid_from": None}),
        (ShipmentFactory, {"quantity": 0}),
        (ShipmentFactory, {"declared_value_usd": Decimal("-1")}),
        (ShipmentFactory, {"status": Shipment.Status.CLEARED, "cleared_at": None}),
        (CustomsDirectiveFactory, {"blocked_from": dt.date(2026, 3, 2), "blocked_until": dt.date(2026, 3, 1)}),
        (QuotaPolicyFactory, {"ratio": Decimal("-0.1")}),
        (QuotaPolicyFactory, {"effective_from": dt.date(2026, 3, 2), "effective_until": dt.date(2026, 3, 1)}),
        (DomesticCommitmentFactory, {"quantity": 0}),
        (DomesticCommitmentFactory, {"quantity": 10, "delivered_quantity": 11}),
        (DomesticCommitmentFactory, {"unit_price_usd": Decimal("-1")}),
        (DomesticCommitmentFactory, {"status": "cancelled", "cancelled_on": None}),
        (
            DomesticCommitmentFactory,
            {"status": "delivered", "delivered_on": dt.date(2026, 5, 1), "delivered_quantity": 1},
        ),
        (SecurityAttestationFactory, {"evidence_reference": "", "evidence_file": ""}),
        (SecurityAttestationFactory, {"status": "accepted", "expires_on": None}),
        (SecurityAttestationFactory, {"attested_on": dt.date(2026, 5, 1), "expires_on": dt.date(2026, 4, 30)}),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else "-".join(sorted(map(str, value))),
)
def test_database_refuses_row_breaking_an_invariant(factory, kwargs):
    assert refused(factory, **kwargs)


def test_valid_rows_of_every_kind_are_accepted():
    # The factories' defaults are valid: the refusals above are caused by the one bad field.
    for factory in (ShipmentFactory, DomesticCommitmentFactory, SecurityAttestationFactory, CustomsDirectiveFactory):
        assert not refused(factory)


def test_licence_numbers_are_unique_within_a_company_only():
    first = ImportLicenceFactory(number="LIC-DUP")
    assert refused(ImportLicenceFactory, number="LIC-DUP", company=first.company)
    assert not refused(ImportLicenceFactory, number="LIC-DUP")  # another company
    assert ImportLicence.objects.filter(number="LIC-DUP").count() == 2


def test_declaration_numbers_are_unique_within_a_company_only():
    first = ShipmentFactory(declaration_number="DEC-DUP")
    assert refused(ShipmentFactory, declaration_number="DEC-DUP", licence=first.licence)
    assert not refused(ShipmentFactory, declaration_number="DEC-DUP")  # another company's licence
    assert Shipment.objects.filter(declaration_number="DEC-DUP").count() == 2


def test_commitment_for_a_foreign_chip_is_refused_by_the_database():
    assert refused(DomesticCommitmentFactory, chip=ForeignChipFactory())


def test_commitment_moved_to_a_foreign_chip_is_refused_by_the_database():
    commitment = DomesticCommitmentFactory()
    commitment.chip = ForeignChipFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        commitment.save()


def test_shipment_for_another_companys_licence_is_refused_by_the_database():
    licence = ApprovedLicenceFactory()
    assert refused(ShipmentFactory, licence=licence, company=CompanyFactory())


def test_shipment_of_another_chip_than_its_licence_is_refused_by_the_database():
    licence = ApprovedLicenceFactory()
    assert refused(ShipmentFactory, licence=licence, chip=DomesticChipFactory())


def test_licence_counter_update_past_the_grant_is_refused():
    licence = ApprovedLicenceFactory(requested_quantity=100)
    with pytest.raises(IntegrityError), transaction.atomic():
        ImportLicence.objects.filter(pk=licence.pk).update(reserved_quantity=101)


def test_round_counter_update_past_the_cap_is_refused():
    wave = AllocationRoundFactory(unit_cap=500)
    with pytest.raises(IntegrityError), transaction.atomic():
        AllocationRound.objects.filter(pk=wave.pk).update(granted_units=501)
