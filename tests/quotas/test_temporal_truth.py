"""Positions from the ledgers (issue 14): valid time (what was the position on D) and transaction
time (what the service said about D when asked at K), with exact figures.

The world is docs/domain.md's worked example: a licence for 200,000 H200 (30 % by units:
60,000 required), 40,000 Ascend contracted on 20 January and 10,000 pledged on 25 January.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from compliance.models import Finding
from compliance.sweep import run_sweep
from licences.models import ImportLicence, LicenceDecision
from licences.services import (
    customs_event_record,
    licence_apply,
    licence_approve,
    licence_reinstate,
    licence_suspend,
    shipment_declare,
)
from quotas.models import QuotaPolicy
from quotas.selectors import (
    licences_in_force,
    policy_impact,
    quota_position,
    quota_positions,
    what_if,
)
from quotas.services import commitment_cancel, commitment_record, policy_activate, policy_create
from tests.factories import AllocationRoundFactory, ApprovedLicenceFactory, CompanyFactory
from tests.quotas.conftest import make_policy

pytestmark = pytest.mark.django_db
D = Decimal
ACTIVE = QuotaPolicy.Status.ACTIVE


def moment(day: dt.date, hour: int = 10) -> dt.datetime:
    """``hour`` o'clock on ``day`` in Asia/Shanghai."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def active_policy(**terms) -> QuotaPolicy:
    """The docs/domain.md policy (30 % by units), recorded on 1 January: as known at any moment
    of these tests, it is in force (positions as known at K read policies as they stood at K)."""
    with time_machine.travel(moment(dt.date(2026, 1, 1)), tick=False):
        return make_policy(status=ACTIVE, **terms)


def imported(company, on: dt.date, **kwargs) -> Decimal:
    return quota_position(company=company, on=on, **kwargs).imported


# --- Valid time: a licence counts on the days the ledger says it was in force -------------------


def test_a_back_dated_approval_counts_on_its_effective_date(alibaba, h200, ascend):
    """The issue's case: a paper licence approved on 23 January and entered on 5 March."""
    active_policy()
    with time_machine.travel(moment(dt.date(2026, 1, 10)), tick=False):
        licence = licence_apply(
            company=alibaba, chip=h200, round=AllocationRoundFactory(), requested_quantity=200_000, number="LIC-P-1"
        )
    with time_machine.travel(moment(dt.date(2026, 3, 5)), tick=False):
        licence_approve(
            licence=licence,
            granted_quantity=200_000,
            valid_from=dt.date(2026, 1, 23),
            valid_until=dt.date(2026, 12, 31),
            effective_on=dt.date(2026, 1, 23),
            reason="Paper licence issued on 23 January, entered now.",
        )
    row = LicenceDecision.objects.get(licence=licence, kind="approve")
    assert (row.effective_on, row.recorded_at, row.late_entry) == (
        dt.date(2026, 1, 23),
        moment(dt.date(2026, 3, 5)),
        True,
    )
    assert imported(alibaba, dt.date(2026, 1, 22)) == D("0")
    assert imported(alibaba, dt.date(2026, 1, 23)) == D("200000")
    assert imported(alibaba, dt.date(2026, 2, 1)) == D("200000")
    position = quota_position(company=alibaba, on=dt.date(2026, 3, 1))
    assert (position.imported, position.required, position.shortfall) == (D("200000"), D("60000"), D("60000"))


def test_a_licence_approved_on_a_later_day_than_its_window_opens_counts_from_its_approval(alibaba, h200):
    active_policy()
    with time_machine.travel(moment(dt.date(2026, 2, 10)), tick=False):
        licence = licence_apply(
            company=alibaba, chip=h200, round=AllocationRoundFactory(), requested_quantity=1_000,
            applied_at=moment(dt.date(2026, 1, 10)),
        )  # fmt: skip
        licence_approve(
            licence=licence, granted_quantity=1_000, valid_from=dt.date(2026, 1, 23), valid_until=dt.date(2026, 12, 31)
        )
    assert imported(alibaba, dt.date(2026, 2, 9)) == D("0")
    assert imported(alibaba, dt.date(2026, 2, 10)) == D("1000")


def test_a_suspension_window_is_honoured_after_reinstatement(worked_example):
    active_policy()
    company, licence = worked_example["company"], worked_example["licence"]
    licence = licence_suspend(licence=licence, reason="Audit", at=moment(dt.date(2026, 4, 1)))
    licence = licence_reinstate(licence=licence, reason="Audit passed", at=moment(dt.date(2026, 4, 10)))
    assert licence.status == ImportLicence.Status.APPROVED and licence.suspended_at is None
    expected = {
        dt.date(2026, 3, 31): D("200000"),
        dt.date(2026, 4, 1): D("0"),
        dt.date(2026, 4, 9): D("0"),
        dt.date(2026, 4, 10): D("200000"),
        dt.date(2026, 4, 20): D("200000"),
    }
    assert {on: imported(company, on) for on in expected} == expected
    # Inside the window nothing is required, so nothing is short.
    assert quota_position(company=company, on=dt.date(2026, 4, 5)).shortfall == D("0")
    assert [row.kind for row in licence.decisions.order_by("effective_on", "pk")] == [
        "apply", "approve", "suspend", "reinstate",
    ]  # fmt: skip


def test_a_licence_stops_counting_the_day_after_valid_until_before_any_job_runs(alibaba, h200):
    active_policy()
    licence = ApprovedLicenceFactory(
        company=alibaba, chip=h200, requested_quantity=7_000, valid_until=dt.date(2026, 6, 30)
    )
    assert imported(alibaba, dt.date(2026, 6, 30)) == D("7000")
    assert imported(alibaba, dt.date(2026, 7, 1)) == D("0")
    licence.refresh_from_db()
    assert licence.status == ImportLicence.Status.APPROVED  # nothing has marked it expired
    assert not licence.decisions.filter(kind="expire").exists()
    assert list(licences_in_force(dt.date(2026, 7, 1))) == []


def test_a_licence_does_not_count_before_its_window_opens(alibaba, h200):
    active_policy()
    ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=500, valid_from=dt.date(2026, 2, 1))
    assert imported(alibaba, dt.date(2026, 1, 31)) == D("0")
    assert imported(alibaba, dt.date(2026, 2, 1)) == D("500")


# --- Transaction time: as known at ------------------------------------------------------------


def test_as_known_at_before_a_back_dated_correction_gives_the_old_figure_and_after_it_the_new(worked_example):
    active_policy()
    company = worked_example["company"]
    on = dt.date(2026, 3, 5)
    with time_machine.travel(moment(dt.date(2026, 3, 10)), tick=False):
        licence_suspend(
            licence=worked_example["licence"],
            reason="End-user check failed on 1 March; the notice reached us today.",
            effective_on=dt.date(2026, 3, 1),
        )
    before = quota_position(company=company, on=on, as_known_at=moment(dt.date(2026, 3, 9)))
    after = quota_position(company=company, on=on, as_known_at=moment(dt.date(2026, 3, 11)))
    now = quota_position(company=company, on=on)
    assert (before.imported, before.required, before.committed, before.shortfall) == (
        D("200000"), D("60000"), D("40000"), D("20000"),
    )  # fmt: skip
    assert (after.imported, after.required, after.shortfall) == (D("0"), D("0"), D("0"))
    assert (now.imported, now.shortfall, now.as_known_at) == (D("0"), D("0"), None)
    assert before.as_known_at == moment(dt.date(2026, 3, 9))
    # Exactly at the moment it was recorded, it is known.
    assert imported(company, on, as_known_at=moment(dt.date(2026, 3, 10))) == D("0")


def test_as_known_at_leaves_out_a_licence_applied_for_and_approved_later(alibaba, h200):
    active_policy()
    with time_machine.travel(moment(dt.date(2026, 3, 5)), tick=False):
        licence = licence_apply(
            company=alibaba, chip=h200, round=AllocationRoundFactory(), requested_quantity=300,
            applied_at=moment(dt.date(2026, 1, 12)),
        )  # fmt: skip
        licence_approve(
            licence=licence, granted_quantity=300, valid_from=dt.date(2026, 1, 23), valid_until=dt.date(2026, 12, 31),
            effective_on=dt.date(2026, 1, 23), reason="Back-entry of a paper decision.",
        )  # fmt: skip
    on = dt.date(2026, 2, 1)
    assert imported(alibaba, on, as_known_at=moment(dt.date(2026, 3, 4))) == D("0")
    assert imported(alibaba, on, as_known_at=moment(dt.date(2026, 3, 6))) == D("300")


def test_as_known_at_reads_commitments_from_their_change_ledger(alibaba, h200, ascend):
    active_policy()
    ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=100_000)
    record = {"company": alibaba, "chip": ascend, "unit_price": D("12000.00"), "currency": "USD",
              "unit_price_usd": D("12000.00")}  # fmt: skip
    with time_machine.travel(moment(dt.date(2026, 2, 20)), tick=False):
        kept = commitment_record(
            **record, quantity=20_000, pledged_on=dt.date(2026, 2, 1), status="contracted",
            contracted_on=dt.date(2026, 2, 2),
        )  # fmt: skip
        dropped = commitment_record(
            **record, quantity=5_000, pledged_on=dt.date(2026, 2, 1), status="contracted",
            contracted_on=dt.date(2026, 2, 3),
        )  # fmt: skip
    with time_machine.travel(moment(dt.date(2026, 3, 10)), tick=False):
        commitment_cancel(commitment=dropped, on=dt.date(2026, 3, 1), reason="Order withdrawn")
    on = dt.date(2026, 3, 5)

    def committed(known: dt.datetime | None) -> Decimal:
        return quota_position(company=alibaba, on=on, as_known_at=known).committed

    assert committed(moment(dt.date(2026, 2, 19))) == D("0")  # neither recorded yet
    assert committed(moment(dt.date(2026, 2, 21))) == D("25000")  # both, the cancellation unknown
    assert committed(moment(dt.date(2026, 3, 11))) == D("20000")
    assert committed(None) == D("20000")
    assert kept.changes.count() == 2


def test_as_known_at_reads_clearances_from_the_customs_events_recorded_by_then(alibaba, h200):
    active_policy(measured_on=QuotaPolicy.MeasuredOn.CLEARED)
    licence = ApprovedLicenceFactory(company=alibaba, chip=h200, requested_quantity=1_000)
    shipment = shipment_declare(
        company=alibaba, licence=licence, quantity=400, declared_value_usd=D("12800000.00"),
        port_of_entry="Shanghai Pudong", declaration_number="DEC-K-1", declared_at=moment(dt.date(2026, 2, 1)),
    )  # fmt: skip
    with time_machine.travel(moment(dt.date(2026, 2, 10)), tick=False):
        customs_event_record(shipment=shipment, status="cleared", occurred_at=moment(dt.date(2026, 2, 3)))
    on = dt.date(2026, 2, 5)
    assert imported(alibaba, on, as_known_at=moment(dt.date(2026, 2, 9))) == D("0")
    assert imported(alibaba, on, as_known_at=moment(dt.date(2026, 2, 11))) == D("400")
    assert imported(alibaba, on) == D("400")
    assert imported(alibaba, dt.date(2026, 2, 2), as_known_at=moment(dt.date(2026, 2, 11))) == D("0")


def test_as_known_at_uses_the_policy_as_it_stood_then(worked_example):
    with time_machine.travel(moment(dt.date(2026, 1, 2)), tick=False):
        policy = policy_create(name="Rule", ratio=D("0.3000"), effective_from=dt.date(2026, 1, 1))
    with time_machine.travel(moment(dt.date(2026, 2, 15)), tick=False):
        policy_activate(policy=policy)
    company, on = worked_example["company"], dt.date(2026, 2, 10)
    before = quota_position(company=company, on=on, as_known_at=moment(dt.date(2026, 2, 14)))
    after = quota_position(company=company, on=on, as_known_at=moment(dt.date(2026, 2, 16)))
    assert (before.policy, before.required) == (None, D("0"))
    assert (after.policy.id, after.required, after.shortfall) == (policy.pk, D("60000"), D("20000"))


def test_what_if_policy_impact_and_headroom_take_as_known_at(worked_example, h200):
    active_policy()
    company = worked_example["company"]
    draft = make_policy(name="Draft 40 %", ratio=D("0.4000"))  # a draft is studied as it stands now
    with time_machine.travel(moment(dt.date(2026, 3, 10)), tick=False):
        licence_suspend(licence=worked_example["licence"], reason="Back-dated audit", effective_on=dt.date(2026, 3, 1))
    on, earlier, later = dt.date(2026, 3, 5), moment(dt.date(2026, 3, 9)), moment(dt.date(2026, 3, 11))

    study = what_if(company=company, on=on, imports=[("H200", 1_000)], as_known_at=earlier)
    assert (study.imported, study.required, study.shortfall, study.as_known_at) == (
        D("201000"), D("60300"), D("20300"), earlier,
    )  # fmt: skip
    assert what_if(company=company, on=on, imports=[("H200", 1_000)], as_known_at=later).imported == D("1000")

    (row_then,) = policy_impact(draft=draft, on=on, as_known_at=earlier)
    (row_now,) = policy_impact(draft=draft, on=on, as_known_at=later)
    assert (row_then.current.shortfall, row_then.proposed.shortfall, row_then.shortfall_change) == (
        D("20000"), D("40000"), D("20000"),
    )  # fmt: skip
    assert (row_now.current.shortfall, row_now.proposed.shortfall) == (D("0"), D("0"))

    assert quota_position(company=company, on=on, as_known_at=earlier).headroom(h200) == 0
    # 40,000 committed cover 40,000 / 0.3 = 133,333 H200 once the licence is out.
    assert quota_position(company=company, on=on, as_known_at=later).headroom(h200) == 133_333


def test_quota_positions_for_every_company_as_known_at(worked_example, h200):
    active_policy()
    tencent = CompanyFactory(slug="tencent", name="Tencent")
    ApprovedLicenceFactory(company=tencent, chip=h200, requested_quantity=20_000)
    with time_machine.travel(moment(dt.date(2026, 3, 10)), tick=False):
        licence_suspend(licence=worked_example["licence"], reason="Back-dated audit", effective_on=dt.date(2026, 3, 1))
    on = dt.date(2026, 3, 5)
    then = quota_positions(on=on, as_known_at=moment(dt.date(2026, 3, 9)))
    now = quota_positions(on=on, as_known_at=moment(dt.date(2026, 3, 11)))
    assert [(p.company.slug, p.imported, p.shortfall) for p in then] == [
        ("alibaba", D("200000"), D("20000")), ("tencent", D("20000"), D("6000")),
    ]  # fmt: skip
    assert [(p.company.slug, p.imported, p.shortfall) for p in now] == [
        ("alibaba", D("0"), D("0")), ("tencent", D("20000"), D("6000")),
    ]  # fmt: skip


# --- The sweep and the cockpit ------------------------------------------------------------------


def test_a_finding_records_the_moment_its_figures_were_computed_and_they_can_be_reproduced(worked_example):
    active_policy()
    company = worked_example["company"]
    swept_at = moment(dt.date(2026, 3, 5), 9)
    with time_machine.travel(swept_at, tick=False):
        run_sweep(company_ids=[company.pk])
    finding = Finding.objects.get(fingerprint=f"quota_shortfall:{company.pk}:company:alibaba")
    assert finding.as_known_at == swept_at
    assert (finding.details["shortfall"], finding.details["required"]) == ("20000", "60000")
    # A back-dated suspension recorded later: the present figures change, the alert's do not.
    with time_machine.travel(moment(dt.date(2026, 3, 10)), tick=False):
        licence_suspend(licence=worked_example["licence"], reason="Back-dated audit", effective_on=dt.date(2026, 3, 1))
    on = timezone.localdate(finding.as_known_at)
    again = quota_position(company=company, on=on, as_known_at=finding.as_known_at)
    assert (str(again.shortfall), str(again.required), str(again.committed), str(again.coverage)) == (
        finding.details["shortfall"], finding.details["required"], finding.details["committed"],
        finding.details["coverage"],
    )  # fmt: skip
    assert quota_position(company=company, on=on).shortfall == D("0")
    # The next sweep resolves it and says when it knew.
    resweep = moment(dt.date(2026, 3, 11), 9)
    with time_machine.travel(resweep, tick=False):
        run_sweep(company_ids=[company.pk])
    finding.refresh_from_db()
    assert (finding.status, finding.as_known_at) == (Finding.Status.RESOLVED, resweep)


def test_the_quota_rule_starts_the_grace_period_on_the_effective_day_of_the_first_approval(alibaba, h200, ascend):
    active_policy(grace_days=30)
    with time_machine.travel(moment(dt.date(2026, 3, 5)), tick=False):
        licence = licence_apply(
            company=alibaba, chip=h200, round=AllocationRoundFactory(), requested_quantity=1_000,
            applied_at=moment(dt.date(2026, 1, 10)),
        )  # fmt: skip
        licence_approve(
            licence=licence, granted_quantity=1_000, valid_from=dt.date(2026, 1, 23), valid_until=dt.date(2026, 12, 31),
            effective_on=dt.date(2026, 1, 23), reason="Paper licence.",
        )  # fmt: skip
        run_sweep(company_ids=[alibaba.pk])
    finding = Finding.objects.get(company=alibaba, rule="quota_shortfall")
    assert (finding.severity, finding.details["grace_started_on"], finding.details["grace_ends_on"]) == (
        "high", "2026-01-23", "2026-02-22",
    )  # fmt: skip


def test_the_cockpit_counts_a_licence_only_while_the_ledger_says_it_is_in_force(worked_example):
    from cockpit.selectors import company_coverage

    active_policy()
    licence = licence_suspend(licence=worked_example["licence"], reason="Audit", at=moment(dt.date(2026, 4, 1)))
    licence_reinstate(licence=licence, reason="Audit passed", at=moment(dt.date(2026, 4, 10)))
    inside = company_coverage(on=dt.date(2026, 4, 5))
    outside = company_coverage(on=dt.date(2026, 4, 15))
    assert [(row.position.imported, row.position.shortfall) for row in inside] == [(D("0"), D("0"))]
    assert [(row.position.imported, row.position.shortfall) for row in outside] == [(D("200000"), D("20000"))]
