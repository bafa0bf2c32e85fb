"""Set-based reads behind the regulator's dashboard.

Each selector runs a fixed number of queries whatever the number of companies, licences,
shipments or findings (``GROUP BY`` aggregates and filtered lists); :func:`dashboard`
gathers them for the page. Thresholds come from ``settings.COMPLIANCE``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from compliance.models import Finding, SecurityAttestation
from compliance.selectors import CompanyComplianceStatus, ComplianceStatus, company_compliance_statuses
from licences.models import AllocationRound, ImportLicence, Shipment
from quotas.models import QuotaPolicy
from quotas.selectors import QuotaPosition, policy_in_force, quota_positions

ZERO = Decimal("0")
# Worst first: a tie on coverage is broken by the overall status.
STATUS_RANK = {ComplianceStatus.NON_COMPLIANT: 0, ComplianceStatus.AT_RISK: 1, ComplianceStatus.COMPLIANT: 2}
SEVERITY_ORDER = {
    Finding.Severity.CRITICAL: -1,
    Finding.Severity.HIGH: 0,
    Finding.Severity.WARNING: 1,
    Finding.Severity.INFO: 2,
}


@dataclass(frozen=True)
class RoundUtilisation:
    """An allocation round's grants against its caps, and what pending applications ask for."""

    id: int
    name: str
    opens_on: dt.date
    closes_on: dt.date
    unit_cap: int
    granted_units: int
    value_cap_usd: Decimal
    granted_value_usd: Decimal
    pending_units: int
    pending_value_usd: Decimal
    pending_applications: int


@dataclass(frozen=True)
class CompanyCoverage:
    """One company's quota position under the policy in force and its overall status."""

    position: QuotaPosition
    status: CompanyComplianceStatus

    @property
    def company(self):
        return self.position.company


@dataclass(frozen=True)
class FindingCount:
    """Active findings of one rule and severity: how many are open and how many acknowledged."""

    rule: str
    severity: str
    open: int
    acknowledged: int

    @property
    def total(self) -> int:
        return self.open + self.acknowledged


@dataclass(frozen=True)
class PipelineStage:
    """Shipments in one customs status: how many, and how many units."""

    status: str
    label: str
    shipments: int
    units: int


@dataclass(frozen=True)
class OverdueHold:
    """A shipment held at customs for longer than the threshold."""

    shipment: Shipment
    days_held: int


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard shows, as of ``on``."""

    on: dt.date
    policy: QuotaPolicy | None
    rounds: list[RoundUtilisation]
    coverage: list[CompanyCoverage]
    findings: list[FindingCount]
    pipeline: list[PipelineStage]
    overdue_holds: list[OverdueHold]
    hold_max_days: int
    expiring_licences: list[ImportLicence]
    expiring_attestations: list[SecurityAttestation]
    warning_days: int

    @property
    def status_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(ComplianceStatus.values, 0)
        for row in self.coverage:
            counts[row.status.status] += 1
        return counts

    @property
    def open_findings(self) -> int:
        return sum(row.open for row in self.findings)


def round_utilisation() -> list[RoundUtilisation]:
    """Every round's granted units and value against its caps, with pending applications. One query."""
    applied = Q(licences__status=ImportLicence.Status.APPLIED)
    rows = AllocationRound.objects.order_by("opens_on", "name").annotate(
        pending_units=Sum("licences__requested_quantity", filter=applied),
        pending_applications=Count("licences", filter=applied),
    )
    values = _pending_values()
    return [
        RoundUtilisation(
            id=wave.pk,
            name=wave.name,
            opens_on=wave.opens_on,
            closes_on=wave.closes_on,
            unit_cap=wave.unit_cap,
            granted_units=wave.granted_units,
            value_cap_usd=wave.value_cap_usd,
            granted_value_usd=wave.granted_value_usd,
            pending_units=wave.pending_units or 0,
            pending_value_usd=values.get(wave.pk, ZERO),
            pending_applications=wave.pending_applications,
        )
        for wave in rows
    ]


def _pending_values() -> dict[int, Decimal]:
    """``{round_id: requested value of applied licences}``: integers summed by the database,
    grouped by unit value, weighted in ``Decimal`` (SQLite has no exact decimal sum). One query."""
    totals: dict[int, Decimal] = {}
    rows = (
        ImportLicence.objects.filter(status=ImportLicence.Status.APPLIED)
        .order_by()
        .values_list("round_id", "unit_value_usd")
        .annotate(units=Sum("requested_quantity"))
    )
    for round_id, unit_value, units in rows:
        totals[round_id] = totals.get(round_id, ZERO) + Decimal(unit_value) * units
    return totals


def company_coverage(*, on: dt.date, policy: QuotaPolicy | None = None) -> list[CompanyCoverage]:
    """Every company's coverage under the policy in force (or ``policy``), worst first.

    Worst means lowest coverage, then the graver overall status, then the larger
    shortfall. Five queries (four for the positions, one for the statuses).
    """
    positions = quota_positions(on=on, policy=policy)
    statuses = {status.company_id: status for status in company_compliance_statuses()}
    rows = [
        CompanyCoverage(
            position=position,
            status=statuses.get(position.company.id)
            or CompanyComplianceStatus(
                company_id=position.company.id,
                slug=position.company.slug,
                name=position.company.name,
                status=ComplianceStatus.COMPLIANT,
                high=0,
                warning=0,
            ),
        )
        for position in positions
    ]
    rows.sort(
        key=lambda row: (
            row.position.coverage,
            STATUS_RANK[row.status.status],
            -row.position.shortfall,
            row.company.name,
        )
    )
    return rows


def findings_by_rule_and_severity() -> list[FindingCount]:
    """Open and acknowledged findings counted per rule and severity, gravest first. One query."""
    rows = (
        Finding.objects.filter(status__in=[Finding.Status.OPEN, Finding.Status.ACKNOWLEDGED])
        .order_by()
        .values_list("rule", "severity")
        .annotate(
            open=Count("pk", filter=Q(status=Finding.Status.OPEN)),
            acknowledged=Count("pk", filter=Q(status=Finding.Status.ACKNOWLEDGED)),
        )
    )
    counts = [
        FindingCount(rule=rule, severity=severity, open=n_open, acknowledged=n_ack)
        for rule, severity, n_open, n_ack in rows
    ]
    counts.sort(key=lambda row: (SEVERITY_ORDER.get(row.severity, 9), -row.total, row.rule))
    return counts


def customs_pipeline() -> list[PipelineStage]:
    """Shipments and units in every customs status, in pipeline order (zeros included). One query."""
    found = {
        status: (shipments, units or 0)
        for status, shipments, units in Shipment.objects.order_by()
        .values_list("status")
        .annotate(shipments=Count("pk"), units=Sum("quantity"))
    }
    stages = []
    for status, label in Shipment.Status.choices:
        shipments, units = found.get(status, (0, 0))
        stages.append(PipelineStage(status=status, label=str(label), shipments=shipments, units=units))
    return stages


def overdue_holds(*, now: dt.datetime, max_days: int) -> list[OverdueHold]:
    """Shipments held for more than ``max_days`` days, longest first. One query."""
    held = (
        Shipment.objects.filter(status=Shipment.Status.HELD, held_since__lt=now - dt.timedelta(days=max_days))
        .select_related("company", "licence", "chip")
        .order_by("held_since", "declaration_number")
    )
    return [OverdueHold(shipment=shipment, days_held=(now - shipment.held_since).days) for shipment in held]


def expiring_licences(*, on: dt.date, days: int) -> list[ImportLicence]:
    """Approved licences whose validity ends within ``days`` days of ``on``, soonest first. One query."""
    return list(
        ImportLicence.objects.filter(
            status=ImportLicence.Status.APPROVED, valid_until__gte=on, valid_until__lte=on + dt.timedelta(days=days)
        )
        .select_related("company", "chip")
        .order_by("valid_until", "number")
    )


def expiring_attestations(*, on: dt.date, days: int) -> list[SecurityAttestation]:
    """Accepted attestations expiring within ``days`` days of ``on``, soonest first. One query."""
    return list(
        SecurityAttestation.objects.filter(
            status=SecurityAttestation.Status.ACCEPTED,
            expires_on__gte=on,
            expires_on__lte=on + dt.timedelta(days=days),
        )
        .select_related("company", "requirement", "shipment")
        .order_by("expires_on", "company__name", "id")
    )


def dashboard(*, now: dt.datetime | None = None) -> Dashboard:
    """The whole dashboard as of ``now`` (default: now): a constant number of queries."""
    now = now or timezone.now()
    on = timezone.localdate(now)
    thresholds = settings.COMPLIANCE
    policy = policy_in_force(on)
    return Dashboard(
        on=on,
        policy=policy,
        rounds=round_utilisation(),
        coverage=company_coverage(on=on, policy=policy),
        findings=findings_by_rule_and_severity(),
        pipeline=customs_pipeline(),
        overdue_holds=overdue_holds(now=now, max_days=thresholds["CUSTOMS_HOLD_MAX_DAYS"]),
        hold_max_days=thresholds["CUSTOMS_HOLD_MAX_DAYS"],
        expiring_licences=expiring_licences(on=on, days=thresholds["EXPIRY_WARNING_DAYS"]),
        expiring_attestations=expiring_attestations(on=on, days=thresholds["EXPIRY_WARNING_DAYS"]),
        warning_days=thresholds["EXPIRY_WARNING_DAYS"],
    )
