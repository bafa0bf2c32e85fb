"""Quota policy and commitment services: versions, activation, immutability, transitions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from common.errors import Conflict, DomainError
from quotas.models import DomesticCommitment, QuotaPolicy
from quotas.selectors import policy_in_force
from quotas.services import (
    commitment_cancel,
    commitment_contract,
    commitment_deliver,
    commitment_record,
    policy_activate,
    policy_create,
    policy_retire,
    policy_revise,
    policy_update,
)
from tests.factories import DomesticCommitmentFactory, ForeignChipFactory
from tests.quotas.conftest import make_policy

pytestmark = pytest.mark.django_db
D = Decimal
JAN_1 = dt.date(2026, 1, 1)


def new_policy(**terms) -> QuotaPolicy:
    terms = {"name": "Domestic purchase rule", "ratio": D("0.3000"), "effective_from": JAN_1, **terms}
    return policy_create(**terms)


# --- Policies -------------------------------------------------------------------------------


def test_policy_create_makes_a_draft_and_numbers_versions_per_name():
    first = new_policy()
    second = new_policy(ratio=D("0.4000"))
    other = new_policy(name="Compute rule", basis="compute")
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert {first.status, second.status, other.status} == {"draft"}
    assert second.ratio == D("0.4000")


@pytest.mark.parametrize(
    ("terms", "code"),
    [
        ({"ratio": 0.3}, "invalid_ratio"),
        ({"ratio": D("-0.1")}, "invalid_ratio"),
        ({"ratio": D("100.0001")}, "invalid_ratio"),
        ({"ratio": D("0.12345")}, "invalid_ratio"),
        ({"basis": "weight"}, "invalid_basis"),
        ({"measured_on": "declared"}, "invalid_measured_on"),
        ({"grace_days": -1}, "invalid_grace_days"),
        ({"effective_until": dt.date(2025, 12, 31)}, "invalid_window"),
        ({"name": "  "}, "name_required"),
    ],
)
def test_policy_create_refuses_bad_terms(terms, code):
    with pytest.raises(DomainError) as refused:
        new_policy(**terms)
    assert refused.value.code == code
    assert not QuotaPolicy.objects.exists()


def test_policy_activate_puts_a_draft_in_force():
    policy = policy_activate(policy=new_policy())
    assert policy.status == "active"
    assert policy_in_force(dt.date(2026, 6, 1)) == policy


@pytest.mark.parametrize(
    ("window", "overlaps"),
    [
        ((dt.date(2026, 6, 30), None), True),  # open-ended vs open-ended
        ((dt.date(2025, 1, 1), dt.date(2026, 1, 1)), True),  # touches the first day: windows are inclusive
        ((dt.date(2025, 1, 1), dt.date(2025, 12, 31)), False),  # ends the day before
    ],
)
def test_policy_activate_refuses_a_window_overlapping_one_in_force(window, overlaps):
    policy_activate(policy=new_policy())
    effective_from, effective_until = window
    candidate = new_policy(effective_from=effective_from, effective_until=effective_until)
    if overlaps:
        with pytest.raises(Conflict) as refused:
            policy_activate(policy=candidate)
        assert (refused.value.code, refused.value.status_code) == ("policy_overlap", 409)
        candidate.refresh_from_db()
        assert candidate.status == "draft"
    else:
        assert policy_activate(policy=candidate).status == "active"


def test_replacing_a_policy_retire_the_old_then_activate_the_new_version():
    old = policy_activate(policy=new_policy())
    new = policy_revise(policy=old, ratio=D("0.4000"), effective_from=dt.date(2026, 7, 1))
    assert (new.version, new.status, new.ratio, new.basis) == (2, "draft", D("0.4000"), "units")
    with pytest.raises(Conflict):
        policy_activate(policy=new)
    policy_retire(policy=old, last_day=dt.date(2026, 6, 30))
    policy_activate(policy=new)
    assert policy_in_force(dt.date(2026, 6, 30)) == old  # still governs its window
    assert policy_in_force(dt.date(2026, 7, 1)) == new
    old.refresh_from_db()
    assert (old.status, old.ratio, old.effective_until) == ("retired", D("0.3000"), dt.date(2026, 6, 30))


def test_retired_window_still_blocks_a_new_policy_over_its_dates():
    old = policy_activate(policy=new_policy())
    policy_retire(policy=old, last_day=dt.date(2026, 6, 30))
    backdated = new_policy(effective_from=dt.date(2026, 6, 1))
    with pytest.raises(Conflict) as refused:
        policy_activate(policy=backdated)
    assert refused.value.code == "policy_overlap"


def test_policy_retire_cannot_extend_or_precede_the_window():
    policy = policy_activate(policy=new_policy(effective_until=dt.date(2026, 12, 31)))
    for last_day in (dt.date(2025, 12, 31), dt.date(2027, 1, 1)):
        with pytest.raises(DomainError) as refused:
            policy_retire(policy=policy, last_day=last_day)
        assert refused.value.code == "invalid_window"


@pytest.mark.parametrize(
    "change",
    [
        {"ratio": D("0.4000")},
        {"basis": "compute"},
        {"measured_on": "cleared"},
        {"counts_pledged": True},
        {"counts_delivered": False},
        {"effective_from": dt.date(2026, 2, 1)},
        {"effective_until": dt.date(2026, 12, 31)},
        {"grace_days": 30},
    ],
)
def test_an_active_policy_terms_are_immutable(change):
    policy = policy_activate(policy=new_policy())
    with pytest.raises(Conflict) as refused:
        policy_update(policy=policy, **change)
    assert (refused.value.code, refused.value.status_code) == ("policy_immutable", 409)
    policy.refresh_from_db()
    assert (policy.ratio, policy.basis, policy.effective_from) == (D("0.3000"), "units", JAN_1)


def test_an_active_policy_notes_may_change_and_same_values_are_not_changes():
    policy = policy_activate(policy=new_policy())
    policy = policy_update(policy=policy, notes="Clarified wording", ratio=D("0.3"), basis="units")
    assert (policy.notes, policy.ratio) == ("Clarified wording", D("0.3000"))


def test_a_draft_may_be_edited():
    policy = policy_update(policy=new_policy(), ratio=D("0.3500"), basis="value", counts_pledged=True)
    policy.refresh_from_db()
    assert (policy.ratio, policy.basis, policy.counts_pledged) == (D("0.3500"), "value", True)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("active", policy_activate),
        ("retired", policy_activate),
        ("draft", lambda policy: policy_retire(policy=policy, last_day=dt.date(2026, 6, 1))),
    ],
)
def test_policy_transitions_are_refused_out_of_order(status, action):
    policy = make_policy(status=status, effective_until=dt.date(2026, 12, 31))
    with pytest.raises(Conflict) as refused:
        if action is policy_activate:
            policy_activate(policy=policy)
        else:
            action(policy)
    assert refused.value.code == "invalid_transition"


@pytest.mark.postgres
def test_database_refuses_overlapping_policies_in_force_even_past_the_service():
    make_policy(status="active", effective_from=JAN_1)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_policy(status="active", effective_from=dt.date(2026, 6, 1), effective_until=dt.date(2026, 6, 30))
    with pytest.raises(IntegrityError), transaction.atomic():
        make_policy(status="retired", effective_from=dt.date(2025, 1, 1), effective_until=JAN_1)
    # Drafts and non-overlapping windows are fine.
    make_policy(status="draft", effective_from=JAN_1)
    make_policy(status="retired", effective_from=dt.date(2025, 1, 1), effective_until=dt.date(2025, 12, 31))
    assert QuotaPolicy.objects.count() == 3


# --- Commitments ----------------------------------------------------------------------------


def record(company, chip, **overrides) -> DomesticCommitment:
    terms = {
        "company": company,
        "chip": chip,
        "quantity": 40_000,
        "unit_price": D("86000.00"),
        "currency": "cny",
        "unit_price_usd": D("12000.00"),
        "pledged_on": dt.date(2026, 1, 15),
        **overrides,
    }
    return commitment_record(**terms)


def test_commitment_record_pledges_a_domestic_chip(alibaba, ascend):
    commitment = record(alibaba, ascend, due_date=dt.date(2026, 9, 30))
    assert (commitment.status, commitment.quantity, commitment.currency, commitment.delivered_quantity) == (
        "pledged",
        40_000,
        "CNY",
        0,
    )
    assert commitment.value_usd == D("480000000.00")


def test_commitment_record_can_start_contracted(alibaba, ascend):
    commitment = record(alibaba, ascend, status="contracted", contracted_on=dt.date(2026, 1, 20))
    assert (commitment.status, commitment.contracted_on) == ("contracted", dt.date(2026, 1, 20))


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"quantity": 0}, "invalid_quantity"),
        ({"quantity": -10}, "invalid_quantity"),
        ({"quantity": 2.5}, "invalid_quantity"),
        ({"unit_price_usd": D("-1.00")}, "invalid_price"),
        ({"unit_price_usd": 12000.0}, "invalid_price"),
        ({"currency": "dollars"}, "invalid_currency"),
        ({"status": "delivered"}, "invalid_status"),
        ({"status": "contracted"}, "invalid_date"),
        ({"status": "contracted", "contracted_on": dt.date(2026, 1, 1)}, "invalid_date"),
    ],
)
def test_commitment_record_refuses_bad_input(alibaba, ascend, overrides, code):
    with pytest.raises(DomainError) as refused:
        record(alibaba, ascend, **overrides)
    assert refused.value.code == code
    assert not DomesticCommitment.objects.exists()


def test_commitment_record_refuses_a_foreign_chip(alibaba, h200):
    with pytest.raises(DomainError) as refused:
        record(alibaba, h200)
    assert (refused.value.code, refused.value.status_code) == ("commitment_chip_not_domestic", 400)
    assert not DomesticCommitment.objects.exists()


def test_database_trigger_refuses_a_foreign_chip_commitment_written_raw(alibaba, h200, ascend):
    with pytest.raises(IntegrityError), transaction.atomic():
        DomesticCommitment.objects.create(
            company=alibaba,
            chip=h200,
            quantity=1,
            unit_price=D("1.00"),
            unit_price_usd=D("1.00"),
            pledged_on=dt.date(2026, 1, 15),
        )
    commitment = DomesticCommitmentFactory(company=alibaba, chip=ascend)
    with pytest.raises(IntegrityError), transaction.atomic():
        DomesticCommitment.objects.filter(pk=commitment.pk).update(chip=ForeignChipFactory(code="B30A"))
    assert list(DomesticCommitment.objects.values_list("chip__code", flat=True)) == ["ASCEND-910B"]


def test_commitment_lifecycle_contract_then_partial_then_complete_delivery(alibaba, ascend):
    commitment = record(alibaba, ascend)
    commitment = commitment_contract(commitment=commitment, on=dt.date(2026, 2, 1), contract_reference=" HW-2026-7 ")
    assert (commitment.status, commitment.contracted_on, commitment.contract_reference) == (
        "contracted",
        dt.date(2026, 2, 1),
        "HW-2026-7",
    )
    commitment = commitment_deliver(commitment=commitment, quantity=15_000, on=dt.date(2026, 3, 1))
    assert (commitment.status, commitment.delivered_quantity, commitment.delivered_on) == ("contracted", 15_000, None)
    with pytest.raises(Conflict) as refused:
        commitment_deliver(commitment=commitment, quantity=25_001, on=dt.date(2026, 4, 1))
    assert refused.value.code == "over_delivery"
    commitment = commitment_deliver(commitment=commitment, quantity=25_000, on=dt.date(2026, 4, 1))
    assert (commitment.status, commitment.delivered_quantity, commitment.delivered_on) == (
        "delivered",
        40_000,
        dt.date(2026, 4, 1),
    )


def test_commitment_cancel_records_the_reason_in_history(alibaba, ascend):
    commitment = commitment_cancel(commitment=record(alibaba, ascend), on=dt.date(2026, 2, 1), reason="Budget cut")
    assert (commitment.status, commitment.cancelled_on) == ("cancelled", dt.date(2026, 2, 1))
    assert commitment.history.first().history_change_reason == "Budget cut"


@pytest.mark.parametrize(
    ("start", "action", "code"),
    [
        ("pledged", "deliver", "invalid_transition"),
        ("contracted", "contract", "invalid_transition"),
        ("delivered", "cancel", "invalid_transition"),
        ("delivered", "deliver", "invalid_transition"),
        ("cancelled", "contract", "invalid_transition"),
        ("cancelled", "cancel", "invalid_transition"),
    ],
)
def test_commitment_transitions_outside_the_allowed_set_are_refused(alibaba, ascend, start, action, code):
    dates = {
        "pledged": {"contracted_on": None},
        "contracted": {},
        "delivered": {"delivered_on": dt.date(2026, 2, 1), "delivered_quantity": 1000},
        "cancelled": {"cancelled_on": dt.date(2026, 2, 1)},
    }[start]
    commitment = DomesticCommitmentFactory(company=alibaba, chip=ascend, status=start, **dates)
    on = dt.date(2026, 3, 1)
    with pytest.raises(Conflict) as refused:
        if action == "contract":
            commitment_contract(commitment=commitment, on=on, contract_reference="X")
        elif action == "deliver":
            commitment_deliver(commitment=commitment, quantity=1, on=on)
        else:
            commitment_cancel(commitment=commitment, on=on, reason="Because")
    assert (refused.value.code, refused.value.status_code) == (code, 409)
    commitment.refresh_from_db()
    assert commitment.status == start


def test_commitment_dates_cannot_run_backwards(alibaba, ascend):
    commitment = record(alibaba, ascend)
    with pytest.raises(DomainError) as refused:
        commitment_contract(commitment=commitment, on=dt.date(2026, 1, 14), contract_reference="X")
    assert refused.value.code == "invalid_date"
    with pytest.raises(DomainError) as refused:
        commitment_cancel(commitment=commitment, on=dt.date(2026, 1, 1), reason="Oops")
    assert refused.value.code == "invalid_date"
