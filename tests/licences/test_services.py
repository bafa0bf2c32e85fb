"""Licence decisions, shipment declarations and customs events: the rules, exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from common.errors import DomainError
from licences import services
from licences.models import AllocationRound, CustomsEvent, ImportLicence, Shipment
from tests.factories import (
    AllocationRoundFactory,
    ApprovedLicenceFactory,
    CompanyFactory,
    CustomsDirectiveFactory,
    DomesticChipFactory,
    ForeignChipFactory,
    ImportLicenceFactory,
    at,
)

pytestmark = pytest.mark.django_db

S = Shipment.Status


def approve(licence, quantity, **kwargs):
    return services.licence_approve(
        licence=licence,
        granted_quantity=quantity,
        valid_from=kwargs.pop("valid_from", dt.date(2026, 1, 23)),
        valid_until=kwargs.pop("valid_until", dt.date(2026, 12, 31)),
        **kwargs,
    )


def declare(licence, quantity, number="DEC-1", day=dt.date(2026, 2, 1), company=None):
    return services.shipment_declare(
        company=company or licence.company,
        licence=licence,
        quantity=quantity,
        declared_value_usd=licence.unit_value_usd * quantity,
        port_of_entry="Shanghai Pudong",
        declaration_number=number,
        declared_at=at(day),
    )


def test_apply_then_approve_draws_the_grant_from_the_round():
    wave = AllocationRoundFactory(unit_cap=400_000, value_cap_usd=Decimal("10000000000"))
    licence = services.licence_apply(
        company=CompanyFactory(),
        chip=ForeignChipFactory(),
        round=wave,
        requested_quantity=200_000,
        unit_value_usd=Decimal("30000"),
        number="LIC-A",
    )
    assert licence.status == ImportLicence.Status.APPLIED
    approve(licence, 150_000)
    licence.refresh_from_db()
    wave.refresh_from_db()
    assert (licence.status, licence.granted_quantity) == ("approved", 150_000)
    assert (wave.granted_units, wave.granted_value_usd) == (150_000, Decimal("4500000000.00"))


def test_apply_for_a_domestic_chip_is_refused():
    with pytest.raises(DomainError) as refusal:
        services.licence_apply(
            company=CompanyFactory(), chip=DomesticChipFactory(), round=AllocationRoundFactory(), requested_quantity=5
        )
    assert refusal.value.code == "chip_not_foreign"


def test_approval_past_the_unit_cap_is_refused_and_changes_nothing():
    wave = AllocationRoundFactory(unit_cap=1000, value_cap_usd=Decimal("1000000000"))
    approve(ImportLicenceFactory(round=wave, requested_quantity=600), 600)
    late = ImportLicenceFactory(round=wave, requested_quantity=500)
    with pytest.raises(DomainError) as refusal:
        approve(late, 401)
    assert (refusal.value.code, refusal.value.status_code) == ("round_cap_exceeded", 409)
    late.refresh_from_db()
    wave.refresh_from_db()
    assert (late.status, late.granted_quantity, wave.granted_units) == ("applied", 0, 600)
    approve(late, 400)  # exactly at the cap is allowed
    wave.refresh_from_db()
    assert wave.granted_units == 1000


def test_approval_past_the_value_cap_is_refused():
    wave = AllocationRoundFactory(unit_cap=1_000_000, value_cap_usd=Decimal("1000000.00"))
    licence = ImportLicenceFactory(round=wave, requested_quantity=100, unit_value_usd=Decimal("10000.01"))
    with pytest.raises(DomainError) as refusal:
        approve(licence, 100)
    assert refusal.value.code == "round_cap_exceeded"
    assert AllocationRound.objects.get(pk=wave.pk).granted_value_usd == Decimal("0")


@pytest.mark.parametrize("quantity", [0, 1001])
def test_grant_outside_one_to_requested_is_refused(quantity):
    with pytest.raises(DomainError) as refusal:
        approve(ImportLicenceFactory(requested_quantity=1000), quantity)
    assert refusal.value.code == "invalid_quantity"


def test_licence_transitions_follow_the_table():
    licence = approve(ImportLicenceFactory(), 1000)
    services.licence_suspend(licence=licence, reason="audit")
    with pytest.raises(DomainError) as refusal:
        services.licence_suspend(licence=licence, reason="again")
    assert refusal.value.code == "invalid_transition"
    services.licence_reinstate(licence=licence, reason="audit passed")
    services.licence_revoke(licence=licence, reason="breach")
    licence.refresh_from_db()
    assert licence.status == "revoked" and licence.revoked_at is not None
    with pytest.raises(DomainError):
        services.licence_reinstate(licence=licence, reason="no")


def test_decisions_need_a_reason():
    licence = approve(ImportLicenceFactory(), 1000)
    with pytest.raises(DomainError) as refusal:
        services.licence_suspend(licence=licence, reason="  ")
    assert refusal.value.code == "reason_required"


def test_declaration_reserves_and_clearing_moves_to_used():
    licence = ApprovedLicenceFactory(requested_quantity=1000)
    shipment = declare(licence, 600)
    licence.refresh_from_db()
    assert (licence.reserved_quantity, licence.used_quantity, licence.remaining_quantity) == (600, 0, 400)
    services.customs_event_record(shipment=shipment, status=S.INSPECTING, occurred_at=at(dt.date(2026, 2, 2)))
    services.customs_event_record(shipment=shipment, status=S.CLEARED, occurred_at=at(dt.date(2026, 2, 3)))
    licence.refresh_from_db()
    shipment.refresh_from_db()
    assert (licence.reserved_quantity, licence.used_quantity) == (0, 600)
    assert shipment.cleared_at == at(dt.date(2026, 2, 3))
    assert list(shipment.events.values_list("status", flat=True)) == ["declared", "inspecting", "cleared"]


def test_rejection_releases_the_reserved_quantity():
    licence = ApprovedLicenceFactory(requested_quantity=1000)
    shipment = declare(licence, 1000)
    services.customs_event_record(shipment=shipment, status=S.REJECTED, occurred_at=at(dt.date(2026, 2, 2)))
    licence.refresh_from_db()
    assert (licence.reserved_quantity, licence.used_quantity, licence.remaining_quantity) == (0, 0, 1000)


def test_declaration_beyond_the_remaining_quantity_is_refused():
    licence = ApprovedLicenceFactory(requested_quantity=1000)
    declare(licence, 999, number="DEC-A")
    with pytest.raises(DomainError) as refusal:
        declare(licence, 2, number="DEC-B")
    assert refusal.value.code == "licence_exhausted"
    assert not Shipment.objects.filter(declaration_number="DEC-B").exists()
    declare(licence, 1, number="DEC-C")  # the last unit fits exactly


@pytest.mark.parametrize(
    ("day", "accepted"),
    [
        (dt.date(2026, 1, 22), False),
        (dt.date(2026, 1, 23), True),
        (dt.date(2026, 12, 31), True),
        (dt.date(2027, 1, 1), False),
    ],
)
def test_declaration_only_inside_the_validity_window(day, accepted):
    licence = ApprovedLicenceFactory()
    if accepted:
        assert declare(licence, 1, day=day).status == S.DECLARED
    else:
        with pytest.raises(DomainError) as refusal:
            declare(licence, 1, day=day)
        assert refusal.value.code == "licence_not_valid"


def test_declaration_against_a_suspended_licence_is_refused():
    licence = ApprovedLicenceFactory()
    services.licence_suspend(licence=licence, reason="audit")
    with pytest.raises(DomainError) as refusal:
        declare(licence, 1)
    assert refusal.value.code == "licence_not_valid"


def test_declaration_against_another_companys_licence_is_refused_as_not_found():
    with pytest.raises(DomainError) as refusal:
        declare(ApprovedLicenceFactory(), 1, company=CompanyFactory())
    assert (refusal.value.code, refusal.value.status_code) == ("licence_not_found", 404)


def test_declaration_during_an_entry_block_is_recorded_as_held():
    licence = ApprovedLicenceFactory()
    directive = CustomsDirectiveFactory(
        chip=licence.chip, blocked_from=dt.date(2026, 2, 1), blocked_until=dt.date(2026, 2, 10)
    )
    held = declare(licence, 10, number="DEC-HELD", day=dt.date(2026, 2, 10))
    free = declare(licence, 10, number="DEC-FREE", day=dt.date(2026, 2, 11))
    assert (held.status, held.entry_block_directive, held.held_since) == (S.HELD, directive, at(dt.date(2026, 2, 10)))
    assert list(held.events.values_list("status", flat=True)) == ["declared", "held"]
    assert (free.status, free.entry_block_directive) == (S.DECLARED, None)


@pytest.mark.parametrize(
    ("path", "refused_status"),
    [
        ([S.CLEARED], S.INSPECTING),
        ([S.REJECTED], S.CLEARED),
        ([S.INSPECTING], S.DECLARED),
        ([S.HELD], S.DECLARED),
    ],
)
def test_customs_transitions_outside_the_table_are_refused(path, refused_status):
    shipment = declare(ApprovedLicenceFactory(), 5)
    for step, status in enumerate(path, start=2):
        services.customs_event_record(shipment=shipment, status=status, occurred_at=at(dt.date(2026, 2, step)))
    with pytest.raises(DomainError) as refusal:
        services.customs_event_record(shipment=shipment, status=refused_status, occurred_at=at(dt.date(2026, 3, 1)))
    assert refusal.value.code == "invalid_transition"
    assert CustomsEvent.objects.filter(shipment=shipment).count() == 1 + len(path)


def test_customs_event_dated_before_the_previous_one_is_refused():
    shipment = declare(ApprovedLicenceFactory(), 5, day=dt.date(2026, 2, 5))
    with pytest.raises(DomainError) as refusal:
        services.customs_event_record(shipment=shipment, status=S.CLEARED, occurred_at=at(dt.date(2026, 2, 4)))
    assert refusal.value.code == "event_out_of_order"
    shipment.refresh_from_db()
    assert shipment.status == S.DECLARED


def test_a_customs_event_is_the_shipments_customs_history_and_writes_no_history_row():
    # The events are the shipment's append-only, hash-chained customs history; a shipment
    # history row per event would record the same fact twice. The declaration keeps its "+".
    shipment = declare(ApprovedLicenceFactory(), 5)
    services.customs_event_record(shipment=shipment, status=S.HELD, occurred_at=at(dt.date(2026, 2, 2)))
    event = services.customs_event_record(shipment=shipment, status=S.CLEARED, occurred_at=at(dt.date(2026, 2, 3)))
    assert list(shipment.history.order_by("history_id").values_list("history_type", "status")) == [("+", "declared")]
    # Only the event's own write skips the history: the instance it returns is saved as usual.
    event.shipment.port_of_entry = "Shanghai Pudong"
    event.shipment.save()
    assert list(shipment.history.values_list("history_type", "port_of_entry").order_by("history_id"))[1:] == [
        ("~", "Shanghai Pudong")
    ]
    assert list(shipment.events.order_by("id").values_list("status", flat=True)) == ["declared", "held", "cleared"]
    shipment.refresh_from_db()
    assert (shipment.status, shipment.cleared_at, shipment.held_since) == (S.CLEARED, at(dt.date(2026, 2, 3)), None)


def test_leaving_hold_clears_held_since():
    shipment = declare(ApprovedLicenceFactory(), 5)
    services.customs_event_record(shipment=shipment, status=S.HELD, occurred_at=at(dt.date(2026, 2, 2)))
    shipment.refresh_from_db()
    assert shipment.held_since == at(dt.date(2026, 2, 2))
    services.customs_event_record(shipment=shipment, status=S.INSPECTING, occurred_at=at(dt.date(2026, 2, 9)))
    shipment.refresh_from_db()
    assert shipment.held_since is None


def test_duplicate_declaration_number_is_a_conflict_and_reserves_nothing():
    first = ApprovedLicenceFactory(requested_quantity=1000)
    other = ApprovedLicenceFactory(requested_quantity=1000, company=first.company)
    declare(first, 10, number="DEC-SAME")
    with pytest.raises(DomainError) as refusal:
        declare(other, 20, number="DEC-SAME")
    assert (refusal.value.code, refusal.value.status_code) == ("duplicate_declaration", 409)
    other.refresh_from_db()
    assert other.reserved_quantity == 0


def test_another_company_may_declare_the_same_number():
    first = ApprovedLicenceFactory(requested_quantity=1000)
    other = ApprovedLicenceFactory(requested_quantity=1000)
    declare(first, 10, number="DEC-SAME")
    declare(other, 20, number="DEC-SAME")
    assert sorted(Shipment.objects.filter(declaration_number="DEC-SAME").values_list("company_id", "quantity")) == [
        (first.company_id, 10),
        (other.company_id, 20),
    ]


def test_duplicate_licence_number_is_a_conflict():
    licence = ImportLicenceFactory(number="LIC-SAME")
    with pytest.raises(DomainError) as refusal:
        services.licence_apply(
            company=licence.company, chip=licence.chip, round=licence.round, requested_quantity=5, number="LIC-SAME"
        )
    assert refusal.value.code == "duplicate_number"
    assert ImportLicence.objects.filter(number="LIC-SAME").count() == 1
