"""The licence decision ledger (issue 14): one row per decision, in the decision's transaction;
``effective_on`` validated with stable codes and nothing written on a refusal; append-only; the
backfill of licences recorded before the ledger."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import get_user_model
from django.utils import timezone

from common.errors import DomainError
from licences import services
from licences.models import AllocationRound, ImportLicence, LicenceDecision
from tests.factories import AllocationRoundFactory, ApprovedLicenceFactory, CompanyFactory, ForeignChipFactory

pytestmark = pytest.mark.django_db
D = Decimal
TODAY = dt.date(2026, 3, 10)


def moment(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


@pytest.fixture
def today():
    """The clock stands at 10:00 on 10 March 2026 in Shanghai."""
    with time_machine.travel(moment(TODAY), tick=False):
        yield TODAY


@pytest.fixture
def regulator(db):
    return get_user_model().objects.create_user(username="li.wei", password="x")


@pytest.fixture
def applied(today):
    return services.licence_apply(
        company=CompanyFactory(slug="alibaba"),
        chip=ForeignChipFactory(),
        round=AllocationRoundFactory(unit_cap=400_000, value_cap_usd=D("10000000000")),
        requested_quantity=1_000,
        unit_value_usd=D("30000"),
        number="LIC-L-1",
        applied_at=moment(dt.date(2026, 1, 10)),
    )


def approve(licence, **kwargs):
    return services.licence_approve(
        licence=licence,
        granted_quantity=kwargs.pop("granted_quantity", 800),
        valid_from=dt.date(2026, 1, 23),
        valid_until=dt.date(2026, 12, 31),
        **kwargs,
    )


def ledger(licence: ImportLicence) -> list[tuple]:
    return list(
        LicenceDecision.objects.filter(licence=licence)
        .order_by("effective_on", "pk")
        .values_list("kind", "status", "effective_on", "late_entry", "granted_quantity")
    )


def snapshot(licence: ImportLicence) -> tuple:
    """Everything a refused decision must leave as it was."""
    row = ImportLicence.objects.get(pk=licence.pk)
    wave = AllocationRound.objects.get(pk=row.round_id)
    return (
        row.status, row.granted_quantity, row.status_reason, row.approved_at, row.suspended_at,
        wave.granted_units, wave.granted_value_usd, ledger(row),
    )  # fmt: skip


# --- One row per decision -------------------------------------------------------------------------


def test_every_decision_writes_exactly_one_row_with_the_licence_as_it_now_stands(applied, regulator):
    assert ledger(applied) == [("apply", "applied", dt.date(2026, 1, 10), False, 0)]
    licence = approve(applied, recorded_by=regulator, effective_on=dt.date(2026, 3, 9))
    licence = services.licence_suspend(licence=licence, reason="Audit", effective_on=TODAY, actor="api-key:reg")
    licence = services.licence_reinstate(licence=licence, reason="Audit passed")
    licence = services.licence_revoke(licence=licence, reason="Diversion")
    assert ledger(licence) == [
        ("apply", "applied", dt.date(2026, 1, 10), False, 0),
        ("approve", "approved", dt.date(2026, 3, 9), False, 800),
        ("suspend", "suspended", TODAY, False, 800),
        ("reinstate", "approved", TODAY, False, 800),
        ("revoke", "revoked", TODAY, False, 800),
        # A revocation releases the unused remainder to the round: a second row (issue 14).
        ("release", "revoked", TODAY, False, 800),
    ]
    rows = list(licence.decisions.order_by("pk"))
    approval = rows[1]
    assert (approval.recorded_by, approval.actor, approval.recorded_at) == (regulator, "li.wei", moment(TODAY))
    assert (approval.valid_from, approval.valid_until) == (dt.date(2026, 1, 23), dt.date(2026, 12, 31))
    assert (rows[2].actor, rows[2].recorded_by, rows[2].reason) == ("api-key:reg", None, "Audit")
    assert rows[3].reason == "Audit passed"
    # The licence row says what the ledger says.
    assert licence.status == rows[-1].status == ImportLicence.Status.REVOKED


def test_reject_and_expire_write_their_rows(applied, today):
    other = ApprovedLicenceFactory(number="LIC-L-2", valid_until=dt.date(2026, 3, 1))
    services.licence_reject(licence=applied, reason="Security procedures not shown")
    services.licence_expire(licence=other)
    assert ledger(applied)[-1] == ("reject", "rejected", TODAY, False, 0)
    assert ledger(other)[-2:] == [
        ("expire", "expired", TODAY, False, other.granted_quantity),
        ("release", "expired", TODAY, False, other.granted_quantity),
    ]


def test_a_refused_transition_writes_no_row(applied):
    with pytest.raises(DomainError) as refused:
        services.licence_suspend(licence=applied, reason="Not yet approved")
    assert refused.value.code == "invalid_transition"
    assert ledger(applied) == [("apply", "applied", dt.date(2026, 1, 10), False, 0)]


# --- effective_on: validated, nothing written on a refusal ----------------------------------------


@pytest.mark.parametrize(
    ("effective_on", "reason", "code"),
    [
        (dt.date(2026, 3, 11), "", "future_effective_date"),  # tomorrow in Shanghai
        (dt.date(2026, 3, 6), "", "late_entry_reason_required"),  # 4 days back, no reason
        (dt.date(2026, 3, 6), "   ", "late_entry_reason_required"),  # a blank reason is none
        (dt.date(2026, 1, 9), "Paper decision", "effective_before_application"),  # applied on 10 January
    ],
)
def test_approval_effective_on_is_refused_with_a_stable_code_and_nothing_changes(applied, effective_on, reason, code):
    before = snapshot(applied)
    with pytest.raises(DomainError) as refused:
        approve(applied, effective_on=effective_on, reason=reason)
    assert refused.value.code == code
    assert refused.value.status_code == 400
    assert list(refused.value.fields) == (["reason"] if code == "late_entry_reason_required" else ["effective_on"])
    assert snapshot(applied) == before


def test_three_days_back_is_not_late_and_four_with_a_reason_is_a_late_entry(applied, today):
    licence = approve(applied, effective_on=dt.date(2026, 3, 7))  # three days back: on time, no reason needed
    assert ledger(licence)[-1] == ("approve", "approved", dt.date(2026, 3, 7), False, 800)
    licence = services.licence_suspend(licence=licence, reason="Found on file", effective_on=dt.date(2026, 3, 7))
    assert ledger(licence)[-1][3] is False
    other = ApprovedLicenceFactory(number="LIC-L-3")
    services.licence_suspend(licence=other, reason="Paper suspension of 6 March", effective_on=dt.date(2026, 3, 6))
    row = other.decisions.get(kind="suspend")
    assert (row.effective_on, row.late_entry, row.reason) == (dt.date(2026, 3, 6), True, "Paper suspension of 6 March")


def test_the_late_entry_threshold_is_a_setting(applied, settings):
    settings.LICENCE_LATE_ENTRY_DAYS = 0
    with time_machine.travel(moment(TODAY), tick=False), pytest.raises(DomainError) as refused:
        approve(applied, effective_on=dt.date(2026, 3, 9))
    assert refused.value.code == "late_entry_reason_required"


def test_a_decision_cannot_take_effect_before_the_latest_one(applied, today):
    licence = approve(applied, effective_on=dt.date(2026, 3, 8))
    before = snapshot(licence)
    with pytest.raises(DomainError) as refused:
        services.licence_suspend(licence=licence, reason="Back-dated", effective_on=dt.date(2026, 3, 7))
    assert (refused.value.code, refused.value.status_code) == ("effective_before_last_decision", 409)
    assert snapshot(licence) == before
    # The same day as the latest is fine: the later recording wins.
    services.licence_suspend(licence=licence, reason="Same day", effective_on=dt.date(2026, 3, 8))
    assert ledger(licence)[-1] == ("suspend", "suspended", dt.date(2026, 3, 8), False, 800)


def test_a_late_expiry_needs_a_reason_too(today):
    licence = ApprovedLicenceFactory(number="LIC-L-4", valid_until=dt.date(2026, 2, 28))
    with pytest.raises(DomainError) as refused:
        services.licence_expire(licence=licence, effective_on=dt.date(2026, 3, 1))
    assert refused.value.code == "late_entry_reason_required"
    services.licence_expire(licence=licence, effective_on=dt.date(2026, 3, 1), reason="Validity ended 28 February")
    assert ledger(licence)[-2:] == [
        ("expire", "expired", dt.date(2026, 3, 1), True, 1000),
        ("release", "expired", dt.date(2026, 3, 1), True, 1000),
    ]


# --- Append-only -------------------------------------------------------------------------------------


def test_a_recorded_row_is_never_changed_or_deleted_through_the_model(applied):
    row = applied.decisions.get()
    row.reason = "rewritten"
    with pytest.raises(TypeError, match="append-only"):
        row.save()
    with pytest.raises(TypeError, match="append-only"):
        row.delete()
    assert applied.decisions.get().reason == ""


# --- Licences written without the services, and the backfill -----------------------------------------


def test_the_backfill_writes_the_rows_the_timestamps_imply(db):
    suspended = ApprovedLicenceFactory(
        number="LIC-B-1", status="suspended", suspended_at=moment(dt.date(2026, 4, 1)), status_reason="Audit"
    )
    revoked = ApprovedLicenceFactory(
        number="LIC-B-2",
        status="revoked",
        suspended_at=moment(dt.date(2026, 4, 1)),
        revoked_at=moment(dt.date(2026, 5, 2)),
        status_reason="Diversion",
    )
    expected = {licence.pk: ledger(licence) for licence in (suspended, revoked)}
    assert expected[revoked.pk] == [
        ("apply", "applied", dt.date(2026, 1, 10), False, 0),
        ("approve", "approved", dt.date(2026, 1, 23), False, 1000),
        ("suspend", "suspended", dt.date(2026, 4, 1), False, 1000),
        ("revoke", "revoked", dt.date(2026, 5, 2), False, 1000),
    ]
    LicenceDecision.objects.all().delete()  # as before the ledger existed (a queryset, not a row)
    migration = importlib.import_module("licences.migrations.0008_backfill_licence_decisions")
    migration.backfill(apps, None)
    assert {licence.pk: ledger(licence) for licence in (suspended, revoked)} == expected
    last = revoked.decisions.order_by("effective_on", "pk").last()
    assert (last.reason, last.recorded_at, last.actor) == (
        "Diversion", moment(dt.date(2026, 5, 2)), "migration: backfilled from the licence's timestamps",
    )  # fmt: skip
    migration.backfill(apps, None)  # again: nothing more
    assert LicenceDecision.objects.count() == 7
