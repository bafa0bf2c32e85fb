"""Each rule at its boundaries, on the clock of the day (time travel, never sleep)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from compliance import rules
from compliance.models import Finding, SecurityAttestation
from licences.models import Shipment
from quotas.models import DomesticCommitment, QuotaPolicy
from tests.compliance.conftest import (
    approved_licence,
    company_requirement,
    h20,
    make_company,
    shipment_requirement,
)
from tests.factories import (
    ApprovedLicenceFactory,
    CustomsDirectiveFactory,
    DomesticCommitmentFactory,
    QuotaPolicyFactory,
    SecurityAttestationFactory,
    ShipmentFactory,
    at,
)

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture
def check(travel):
    """``check(rule, date)``: the rule's hits at noon on ``date`` (judged on ``timezone.localdate()``)."""

    def run(rule, day: dt.date) -> list[rules.Hit]:
        travel(day)
        return rule(timezone.localdate())

    return run


# --- quota_shortfall / quota_at_risk -----------------------------------------------------------------


@pytest.fixture
def quota_world():
    """Alibaba: 1,000 H200 approved on 23 Jan 2026; a 30 % units policy from 1 Jan with 10 days' grace."""
    company = make_company("alibaba", name="Alibaba")
    approved_licence(company, requested_quantity=1000)
    QuotaPolicyFactory(name="Domestic rule", ratio=Decimal("0.3000"), grace_days=10)
    return company


def test_quota_exactly_at_the_ratio_is_no_finding(check, quota_world):
    DomesticCommitmentFactory(company=quota_world, quantity=300)
    assert check(rules.quota_shortfall, D(2026, 3, 1)) == []


def test_quota_one_chip_short_is_a_high_shortfall_after_grace(check, quota_world):
    DomesticCommitmentFactory(company=quota_world, quantity=299)
    [hit] = check(rules.quota_shortfall, D(2026, 3, 1))
    assert (hit.rule, hit.severity, hit.subject) == ("quota_shortfall", "high", "company:alibaba")
    assert hit.details["shortfall"] == "1"
    assert hit.details["required"] == "300"
    assert hit.summary == (
        "Alibaba is short of the domestic-purchase quota by 1 chips (99.67% covered) under Domestic rule v1"
    )


def test_quota_grace_runs_from_the_first_approval_not_the_policy_date(check, quota_world):
    """Policy from 1 Jan, first approval 23 Jan, 10 days' grace: at risk to 1 Feb, short from 2 Feb."""
    DomesticCommitmentFactory(company=quota_world, quantity=100)
    [last_day_of_grace] = check(rules.quota_shortfall, D(2026, 2, 1))
    assert (last_day_of_grace.rule, last_day_of_grace.severity) == ("quota_at_risk", "warning")
    assert last_day_of_grace.details["grace_started_on"] == "2026-01-23"
    assert last_day_of_grace.summary.endswith("; grace period until 2026-02-01")
    [first_day_after] = check(rules.quota_shortfall, D(2026, 2, 2))
    assert (first_day_after.rule, first_day_after.severity) == ("quota_shortfall", "high")
    assert last_day_of_grace.fingerprint == first_day_after.fingerprint  # the same finding escalates


def test_quota_grace_runs_from_the_policy_date_when_it_comes_later(check, quota_world):
    QuotaPolicy.objects.filter(name="Domestic rule").update(effective_until=D(2026, 2, 28))
    QuotaPolicyFactory(name="Later rule", ratio=Decimal("0.5000"), grace_days=5, effective_from=D(2026, 3, 1))
    [hit] = check(rules.quota_shortfall, D(2026, 3, 5))
    assert (hit.rule, hit.details["grace_started_on"], hit.details["grace_ends_on"]) == (
        "quota_at_risk",
        "2026-03-01",
        "2026-03-06",
    )
    [hit] = check(rules.quota_shortfall, D(2026, 3, 6))
    assert hit.rule == "quota_shortfall"


def test_quota_no_policy_in_force_is_no_finding(check, quota_world):
    assert check(rules.quota_shortfall, D(2025, 12, 31)) == []


# --- US security conditions ----------------------------------------------------------------------


@pytest.fixture
def attested_company():
    """Tencent holds an approved H200 licence; its end-user verification is accepted until 31 March 2026."""
    company = make_company("tencent", name="Tencent")
    approved_licence(company)
    requirement = company_requirement()
    SecurityAttestationFactory(company=company, requirement=requirement, expires_on=D(2026, 3, 31))
    return company


def test_security_gap_opens_the_day_after_expiry(check, attested_company):
    assert check(rules.security_gap, D(2026, 3, 31)) == []
    [hit] = check(rules.security_gap, D(2026, 4, 1))
    assert (hit.rule, hit.severity, hit.subject) == ("security_gap", "high", "requirement:end-user-verification")


def test_security_gap_needs_an_accepted_attestation_and_a_controlled_licence(check):
    requirement = company_requirement()
    submitted = make_company("submitted")
    approved_licence(submitted)
    SecurityAttestationFactory(company=submitted, requirement=requirement, status=SecurityAttestation.Status.SUBMITTED)
    uncontrolled = make_company("uncontrolled")
    ApprovedLicenceFactory(company=uncontrolled, chip=h20())
    applied_only = make_company("applied")
    approved_licence(applied_only, status="applied", granted_quantity=0, valid_from=None, valid_until=None)
    hits = check(rules.security_gap, D(2026, 3, 1))
    assert sorted(hit.company_id for hit in hits) == sorted([submitted.pk, applied_only.pk])


def test_security_expiring_from_thirty_days_before(check, attested_company):
    assert check(rules.security_expiring, D(2026, 2, 28)) == []  # 31 days left
    [hit] = check(rules.security_expiring, D(2026, 3, 1))  # 30 days left
    assert (hit.rule, hit.severity, hit.details["days_left"]) == ("security_expiring", "warning", 30)
    [hit] = check(rules.security_expiring, D(2026, 3, 31))  # last valid day
    assert hit.details["days_left"] == 0
    assert check(rules.security_expiring, D(2026, 4, 1)) == []  # expired: a gap, no longer "expiring"


def test_security_expiring_is_cleared_by_a_renewal(check, attested_company):
    SecurityAttestationFactory(
        company=attested_company, requirement=company_requirement(), attested_on=D(2026, 3, 1), expires_on=D(2027, 3, 1)
    )
    assert check(rules.security_expiring, D(2026, 3, 20)) == []


def test_shipment_condition_gap_until_the_lot_is_attested(check):
    company = make_company("bytedance")
    requirement = shipment_requirement()
    shipment = ShipmentFactory(licence=approved_licence(company), declaration_number="DEC-1")
    ShipmentFactory(licence=approved_licence(company), declaration_number="DEC-REJ", status=Shipment.Status.REJECTED)
    ShipmentFactory(licence=ApprovedLicenceFactory(company=company, chip=h20()), declaration_number="DEC-H20")
    [hit] = check(rules.shipment_condition_gap, D(2026, 2, 2))
    assert (hit.subject, hit.severity) == ("shipment:DEC-1:lot-testing", "high")
    SecurityAttestationFactory(company=company, requirement=requirement, shipment=shipment)
    assert check(rules.shipment_condition_gap, D(2026, 2, 2)) == []


def test_shipment_condition_gap_counts_only_the_shipments_own_companys_attestation(check):
    # The attestation service refuses another company's shipment; a row that got in anyway
    # (raw SQL, an import) must not satisfy the condition, in a chunk or in a whole sweep.
    company, other = make_company("bytedance"), make_company("alibaba")
    requirement = shipment_requirement()
    shipment = ShipmentFactory(licence=approved_licence(company), declaration_number="DEC-1")
    SecurityAttestationFactory(company=other, requirement=requirement, shipment=shipment)
    [hit] = check(rules.shipment_condition_gap, D(2026, 2, 2))
    assert (hit.company_id, hit.subject) == (company.pk, "shipment:DEC-1:lot-testing")
    [scoped] = rules.shipment_condition_gap(D(2026, 2, 2), [company.pk])
    assert scoped.subject == "shipment:DEC-1:lot-testing"
    assert rules.shipment_condition_gap(D(2026, 2, 2), [other.pk]) == []


# --- Licences ------------------------------------------------------------------------------------------


def test_licence_expiring_from_thirty_days_before_its_last_day(check):
    company = make_company("alibaba")
    approved_licence(company, number="LIC-EXP", valid_until=D(2026, 6, 30))
    assert check(rules.licence_expiring, D(2026, 5, 30)) == []  # 31 days
    [hit] = check(rules.licence_expiring, D(2026, 5, 31))  # 30 days
    assert (hit.subject, hit.details["days_left"], hit.details["remaining_quantity"]) == ("licence:LIC-EXP", 30, 1000)
    [hit] = check(rules.licence_expiring, D(2026, 6, 30))
    assert hit.details["days_left"] == 0
    assert check(rules.licence_expiring, D(2026, 7, 1)) == []


def test_licence_expiring_ignores_a_fully_drawn_licence(check):
    approved_licence(make_company("alibaba"), valid_until=D(2026, 6, 30), used_quantity=600, reserved_quantity=400)
    assert check(rules.licence_expiring, D(2026, 6, 15)) == []


@pytest.mark.parametrize(
    ("reserved", "used", "flagged"),
    [(0, 899, False), (0, 900, True), (450, 450, True), (400, 499, False), (0, 1000, True)],
)
def test_licence_nearly_exhausted_at_exactly_ninety_percent(check, reserved, used, flagged):
    approved_licence(make_company("alibaba"), number="LIC-90", reserved_quantity=reserved, used_quantity=used)
    hits = check(rules.licence_nearly_exhausted, D(2026, 3, 1))
    assert [hit.subject for hit in hits] == (["licence:LIC-90"] if flagged else [])


def test_licence_nearly_exhausted_ratio_comes_from_settings(check, compliance_settings):
    compliance_settings(LICENCE_EXHAUSTION_RATIO="0.75")
    approved_licence(make_company("alibaba"), used_quantity=750)
    [hit] = check(rules.licence_nearly_exhausted, D(2026, 3, 1))
    assert hit.summary.endswith("is 75.0% drawn (750 of 1,000 units reserved or used)")


# --- Customs ---------------------------------------------------------------------------------------------


def test_customs_hold_of_seven_days_is_not_overdue_eight_is(check):
    company = make_company("deepseek")
    ShipmentFactory(
        licence=approved_licence(company),
        declaration_number="DEC-HELD",
        status=Shipment.Status.HELD,
        held_since=at(D(2026, 2, 1), hour=23),
    )
    assert check(rules.customs_hold_overdue, D(2026, 2, 8)) == []  # held 7 days
    [hit] = check(rules.customs_hold_overdue, D(2026, 2, 9))  # held 8 days
    assert (hit.subject, hit.severity, hit.details["held_since"]) == ("shipment:DEC-HELD", "warning", "2026-02-01")
    assert hit.summary.endswith("held at Shanghai Pudong since 2026-02-01 (8 days)")


def test_entry_block_shipment_unless_rejected(check):
    company = make_company("deepseek")
    directive = CustomsDirectiveFactory(reference="GACC-2026-017")
    ShipmentFactory(licence=approved_licence(company), declaration_number="DEC-BLK", entry_block_directive=directive)
    ShipmentFactory(
        licence=approved_licence(company),
        declaration_number="DEC-BLK-REJ",
        entry_block_directive=directive,
        status=Shipment.Status.REJECTED,
    )
    ShipmentFactory(licence=approved_licence(company), declaration_number="DEC-OK")
    [hit] = check(rules.entry_block_shipment, D(2026, 2, 2))
    assert (hit.subject, hit.severity, hit.details["directive"]) == ("shipment:DEC-BLK", "high", "GACC-2026-017")


# --- Domestic commitments ------------------------------------------------------------------------------------


def test_commitment_overdue_from_the_day_after_it_was_due(check):
    company = make_company("alibaba")
    commitment = DomesticCommitmentFactory(company=company, due_date=D(2026, 9, 30), delivered_quantity=500)
    DomesticCommitmentFactory(
        company=company,
        due_date=D(2026, 9, 30),
        status=DomesticCommitment.Status.DELIVERED,
        delivered_quantity=1000,
        delivered_on=D(2026, 9, 1),
    )
    assert check(rules.commitment_overdue, D(2026, 9, 30)) == []
    [hit] = check(rules.commitment_overdue, D(2026, 10, 1))
    assert (hit.subject, hit.details["delivered_quantity"]) == (f"commitment:{commitment.pk}", 500)


def test_every_rule_is_registered_once():
    assert [rule.name for rule in rules.RULES] == [
        "quota_shortfall",
        "security_gap",
        "security_expiring",
        "shipment_condition_gap",
        "licence_expiring",
        "licence_nearly_exhausted",
        "customs_hold_overdue",
        "entry_block_shipment",
        "commitment_overdue",
    ]
    assert "quota_at_risk" in rules.SWEPT_RULES
    assert Finding.Severity.HIGH in rules.SEVERITY_RANK
