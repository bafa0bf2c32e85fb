"""Compliance rules: each a small, named, set-based unit returning the findings that hold now.

A rule is called with the date to judge (``on``, the service's local date) and a scope
(``None`` for every company, or a list of company ids for an on-change re-check). It
returns :class:`Hit` objects, one per gap, built from a constant number of queries
whatever the number of companies: rules never query per company, per licence or per
shipment. Thresholds come from ``settings.COMPLIANCE``, never literals.

Day arithmetic is in the service time zone and inclusive where a date is a last valid
day: an attestation is valid through its ``expires_on``, a licence through its
``valid_until``. "Within N days" means ``0 <= last day - on <= N``.

The fingerprint of a hit is ``<family>:<company id>:<subject>``, where the family is the
name of the rule that produced it. ``quota_shortfall`` produces ``quota_at_risk``
(warning, inside the grace period) and ``quota_shortfall`` (high, after it) under one
family, so a company passing the end of its grace period sees its finding escalate
rather than one resolve and another open.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Exists, F, Max, Min, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common import bulk
from compliance.models import Finding, SecurityAttestation, SecurityRequirement
from licences.models import Company, ImportLicence, LicenceDecision, Shipment
from quotas.models import DomesticCommitment
from quotas.selectors import quota_positions

Severity = Finding.Severity
CompanyIds = Sequence[int] | None

# Rank of each severity: a rise in rank re-alerts even an acknowledged finding.
SEVERITY_RANK: dict[str, int] = {Severity.INFO: 0, Severity.WARNING: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


@dataclass(frozen=True)
class Hit:
    """A gap that holds now: what the sweep upserts into a :class:`~compliance.models.Finding`."""

    family: str
    rule: str
    company_id: int
    subject: str
    severity: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return f"{self.family}:{self.company_id}:{self.subject}"


RuleFunction = Callable[[dt.date, CompanyIds], list[Hit]]


@dataclass(frozen=True)
class Rule:
    """A named rule: ``check(on, company_ids)`` returns the hits; ``rules`` are the finding rules it emits."""

    name: str
    check: RuleFunction
    rules: tuple[str, ...]
    description: Any  # a lazy translation: the rule's title for people


def thresholds() -> dict[str, Any]:
    """The ``settings.COMPLIANCE`` dict (read on each call, so tests can override it)."""
    return settings.COMPLIANCE


def _scoped(queryset: QuerySet, company_ids: CompanyIds, field_name: str = "company_id") -> QuerySet:
    if company_ids is None:
        return queryset
    # One array parameter on PostgreSQL: a sweep chunk names thousands of companies.
    return queryset.filter(bulk.one_of(queryset.model, field_name, company_ids))


def _start_of_day(on: dt.date) -> dt.datetime:
    """Midnight at the start of ``on`` in the service time zone."""
    return dt.datetime.combine(on, dt.time.min, tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))


def _amount(value: Decimal) -> str:
    """A Decimal for people: thousands separators, no trailing zeros."""
    if value == value.to_integral_value():
        return f"{value.quantize(Decimal(1)):,}"
    return f"{value.normalize():,}"


BASIS_UNIT = {"units": "chips", "value": "USD", "compute": "H20-equivalents"}


# --- quota_shortfall / quota_at_risk ---------------------------------------------------------


def quota_shortfall(on: dt.date, company_ids: CompanyIds = None) -> list[Hit]:
    """Companies short of the domestic-purchase quota under the policy in force on ``on``.

    The grace period runs for ``policy.grace_days`` days from the later of the policy's
    ``effective_from`` and the day the company's first licence approval took effect (its
    decision ledger's earliest approval; a company cannot be late before it imports, nor
    before the rule exists). Inside it a shortfall is
    ``quota_at_risk`` (warning); from ``start + grace_days`` on it is ``quota_shortfall``
    (high). With ``grace_days = 0`` a shortfall is high at once.
    """
    companies = None if company_ids is None else _scoped(Company.objects.all(), company_ids, "pk")
    positions = [position for position in quota_positions(on=on, companies=companies) if position.is_short]
    if not positions:
        return []
    approvals = LicenceDecision.objects.filter(kind=LicenceDecision.Kind.APPROVE)
    first_approvals = dict(
        _scoped(approvals, [p.company.id for p in positions], "licence__company_id")
        .order_by()
        .values("licence__company_id")
        .annotate(first=Min("effective_on"))
        .values_list("licence__company_id", "first")
    )
    hits = []
    for position in positions:
        policy = position.policy
        assert policy is not None  # a shortfall implies a policy
        first = first_approvals.get(position.company.id)
        grace_start = max(policy.effective_from, first) if first else policy.effective_from
        grace_ends_on = grace_start + dt.timedelta(days=policy.grace_days)  # first day without grace
        in_grace = on < grace_ends_on
        unit = BASIS_UNIT.get(policy.basis, policy.basis)
        summary = (
            f"{position.company.name} is short of the domestic-purchase quota by "
            f"{_amount(position.shortfall)} {unit} ({position.coverage:.2%} covered) "
            f"under {policy.name} v{policy.version}"
        )
        if in_grace:
            summary += f"; grace period until {grace_ends_on - dt.timedelta(days=1):%Y-%m-%d}"
        hits.append(
            Hit(
                family="quota_shortfall",
                rule="quota_at_risk" if in_grace else "quota_shortfall",
                company_id=position.company.id,
                subject=f"company:{position.company.slug}",
                severity=Severity.WARNING if in_grace else Severity.HIGH,
                summary=summary[:300],
                details={
                    "policy_id": policy.id,
                    "policy": f"{policy.name} v{policy.version}",
                    "basis": policy.basis,
                    "required": str(position.required),
                    "committed": str(position.committed),
                    "shortfall": str(position.shortfall),
                    "coverage": str(position.coverage),
                    "grace_started_on": grace_start.isoformat(),
                    "grace_ends_on": grace_ends_on.isoformat(),
                },
            )
        )
    return hits


# --- US security conditions -------------------------------------------------------------------


def _licensed_controlled_companies(company_ids: CompanyIds) -> set[int]:
    """Companies holding an applied or approved licence for an export-controlled chip."""
    licences = ImportLicence.objects.filter(
        status__in=[ImportLicence.Status.APPLIED, ImportLicence.Status.APPROVED], chip__export_controlled=True
    )
    return set(_scoped(licences, company_ids).order_by().values_list("company_id", flat=True).distinct())


def security_gap(on: dt.date, company_ids: CompanyIds = None) -> list[Hit]:
    """A licensed company (export-controlled chip, applied or approved) without an accepted,
    unexpired attestation for a mandatory company-scope requirement: one hit per requirement."""
    companies = _licensed_controlled_companies(company_ids)
    if not companies:
        return []
    requirements = list(
        SecurityRequirement.objects.filter(mandatory=True, scope=SecurityRequirement.Scope.COMPANY).values_list(
            "pk", "code", "title"
        )
    )
    if not requirements:
        return []
    covered = set(
        _scoped(SecurityAttestation.objects.all(), companies)
        .filter(
            status=SecurityAttestation.Status.ACCEPTED,
            expires_on__gte=on,
            requirement_id__in=[pk for pk, _, _ in requirements],
        )
        .order_by()
        .values_list("company_id", "requirement_id")
        .distinct()
    )
    names = dict(_scoped(Company.objects.all(), companies, "pk").values_list("pk", "name"))
    return [
        Hit(
            family="security_gap",
            rule="security_gap",
            company_id=company_id,
            subject=f"requirement:{code}",
            severity=Severity.HIGH,
            summary=f"{names[company_id]} holds a licence for an export-controlled chip without a valid "
            f"attestation of {title}"[:300],
            details={"requirement": code},
        )
        for company_id in sorted(companies)
        for requirement_id, code, title in requirements
        if (company_id, requirement_id) not in covered
    ]


def security_expiring(on: dt.date, company_ids: CompanyIds = None) -> list[Hit]:
    """A company-scope requirement whose latest accepted attestation expires within the warning window.

    Judged on the latest expiry per company and requirement, so a renewed attestation
    clears the warning. Reminders at ``REMINDER_DAYS`` (30, 7 and 1 days) are sent by
    :func:`compliance.alerts.send_reminders` from these findings.
    """
    window = thresholds()["EXPIRY_WARNING_DAYS"]
    latest = (
        _scoped(
            SecurityAttestation.objects.filter(
                status=SecurityAttestation.Status.ACCEPTED,
                requirement__scope=SecurityRequirement.Scope.COMPANY,
                expires_on__gte=on,
            ),
            company_ids,
        )
        .order_by()
        .values("company_id", "company__name", "requirement__code", "requirement__title")
        .annotate(latest_expiry=Max("expires_on"))
        .filter(latest_expiry__lte=on + dt.timedelta(days=window))
        .values_list("company_id", "company__name", "requirement__code", "requirement__title", "latest_expiry")
    )
    hits = []
    for company_id, company_name, code, title, expires_on in latest:
        days_left = (expires_on - on).days
        hits.append(
            Hit(
                family="security_expiring",
                rule="security_expiring",
                company_id=company_id,
                subject=f"requirement:{code}",
                severity=Severity.WARNING,
                summary=f"{company_name}'s attestation of {title} expires on {expires_on:%Y-%m-%d}"[:300],
                details={"requirement": code, "expires_on": expires_on.isoformat(), "days_left": days_left},
            )
        )
    return hits


def shipment_condition_gap(on: dt.date, company_ids: CompanyIds = None) -> list[Hit]:
    """A shipment of an export-controlled chip (not rejected at customs) without an accepted
    attestation for a mandatory shipment-scope requirement (e.g. third-party lot testing).

    One query per shipment-scope requirement (a short catalogue), none per shipment.
    """
    requirements = SecurityRequirement.objects.filter(mandatory=True, scope=SecurityRequirement.Scope.SHIPMENT)
    shipments = _scoped(
        Shipment.objects.filter(chip__export_controlled=True).exclude(status=Shipment.Status.REJECTED), company_ids
    )
    hits = []
    for requirement in requirements:
        # Only the shipment's own company's attestation counts (as the attestation service
        # requires). Scoped to the chunk's companies too, so that the planner reads only their
        # attestations instead of hashing the whole table once per chunk (half the time).
        accepted = _scoped(
            SecurityAttestation.objects.filter(
                shipment_id=OuterRef("pk"),
                company_id=OuterRef("company_id"),
                requirement=requirement,
                status=SecurityAttestation.Status.ACCEPTED,
            ),
            company_ids,
        )
        lacking = (
            shipments.filter(~Exists(accepted))
            .order_by("pk")
            .values_list("company_id", "company__name", "declaration_number", "chip__code")
        )
        for company_id, company_name, declaration, chip in lacking:
            hits.append(
                Hit(
                    family="shipment_condition_gap",
                    rule="shipment_condition_gap",
                    company_id=company_id,
                    subject=f"shipment:{declaration}:{requirement.code}",
                    severity=Severity.HIGH,
                    summary=f"{company_name}'s shipment {declaration} of {chip} lacks an accepted attestation of "
                    f"{requirement.title}"[:300],
                    details={"shipment": declaration, "requirement": requirement.code, "chip": chip},
                )
            )
    return hits


# --- Licences --------------------------------------------------------------------------------


def licence_expiring(on: dt.date, company_ids: CompanyIds = None) -> list[Hit]:
    """An approved licence with quantity left whose last valid day is within the warning window."""
    window = thresholds()["EXPIRY_WARNING_DAYS"]
    licences = _scoped(
        ImportLicence.objects.filter(
            status=ImportLicence.Status.APPROVED,
            valid_until__gte=on,
            valid_until__lte=on + dt.timedelta(days=window),
            granted_quantity__gt=F("reserved_quantity") + F("used_quantity"),
        ),
        company_ids,
    ).values_list("company_id", "company__name", "number", "valid_until", "granted_quantity", "reserved_quantity",
                  "used_quantity")  # fmt: skip
    hits = []
    for company_id, company_name, number, valid_until, granted, reserved, used in licences.order_by("pk"):
        remaining = granted - reserved - used
        hits.append(
            Hit(
                family="licence_expiring",
                rule="licence_expiring",
                company_id=company_id,
                subject=f"licence:{number}",
                severity=Severity.WARNING,
                summary=f"{company_name}'s licence {number} expires on {valid_until:%Y-%m-%d} with "
                f"{remaining:,} units unused"[:300],
                details={
                    "licence": number,
                    "expires_on": valid_until.isoformat(),
                    "days_left": (valid_until - on).days,
                    "remaining_quantity": remaining,
                },
            )
        )
    return hits


def licence_nearly_exhausted(on: dt.date, company_ids: CompanyIds = None) -> list[Hit]:
    """An approved licence whose reserved plus used quantity is at or above the exhaustion ratio of its grant.

    Compared in exact integers: ``(reserved + used) x q >= granted x p`` for the ratio ``p / q``.
    """
    numerator, denominator = Decimal(str(thresholds()["LICENCE_EXHAUSTION_RATIO"])).as_integer_ratio()
    licences = _scoped(
        ImportLicence.objects.filter(status=ImportLicence.Status.APPROVED, granted_quantity__gt=0)
        .alias(drawn=(F("reserved_quantity") + F("used_quantity")) * denominator)
        .filter(drawn__gte=F("granted_quantity") * numerator),
        company_ids,
    ).values_list("company_id", "company__name", "number", "granted_quantity", "reserved_quantity", "used_quantity")
    hits = []
    for company_id, company_name, number, granted, reserved, used in licences.order_by("pk"):
        drawn = reserved + used
        hits.append(
            Hit(
                family="licence_nearly_exhausted",
                rule="licence_nearly_exhausted",
                company_id=company_id,
                subject=f"licence:{number}",
                severity=Severity.WARNING,
                summary=f"{company_name}'s licence {number} is {Decimal(drawn) / granted:.1%} drawn "
                f"({drawn:,} of {granted:,} units reserved or used)"[:300],
                details={"licence": number, "granted": granted, "reserved": reserved, "used": used},
            )
        )
    return hits


# --- Customs ---------------------------------------------------------------------------------


def customs_hold_overdue(on: dt.date, company_ids: CompanyIds = None) -> list[Hit]:
    """A shipment held at customs for more than ``CUSTOMS_HOLD_MAX_DAYS`` days.

    Counted in calendar days: held on 1 February, it has been held 7 days on 8 February
    (not flagged) and 8 days on 9 February (flagged).
    """
    max_days = thresholds()["CUSTOMS_HOLD_MAX_DAYS"]
    # Held on or before ``on - (max_days + 1)``: before midnight starting ``on - max_days``.
    cutoff = _start_of_day(on - dt.timedelta(days=max_days))
    shipments = _scoped(
        Shipment.objects.filter(status=Shipment.Status.HELD, held_since__lt=cutoff), company_ids
    ).values_list("company_id", "company__name", "declaration_number", "held_since", "port_of_entry")
    hits = []
    zone = timezone.get_current_timezone()
    for company_id, company_name, declaration, held_since, port in shipments.order_by("pk"):
        held_on = held_since.astimezone(zone).date()
        day = held_on.isoformat()
        hits.append(
            Hit(
                family="customs_hold_overdue",
                rule="customs_hold_overdue",
                company_id=company_id,
                subject=f"shipment:{declaration}",
                severity=Severity.WARNING,
                summary=f"{company_name}'s shipment {declaration} has been held at {port} since "
                f"{day} ({(on - held_on).days} days)"[:300],
                details={"shipment": declaration, "held_since": day, "port_of_entry": port},
            )
        )
    return hits


def entry_block_shipment(on: dt.date, company_ids: CompanyIds = None) -> list[Hit]:
    """A shipment declared while an entry directive blocked its chip (unless customs rejected it)."""
    shipments = _scoped(
        Shipment.objects.filter(entry_block_directive__isnull=False).exclude(status=Shipment.Status.REJECTED),
        company_ids,
    ).values_list("company_id", "company__name", "declaration_number", "chip__code", "entry_block_directive__reference",
                  "status")  # fmt: skip
    hits = []
    for company_id, company_name, declaration, chip, directive, status in shipments.order_by("pk"):
        hits.append(
            Hit(
                family="entry_block_shipment",
                rule="entry_block_shipment",
                company_id=company_id,
                subject=f"shipment:{declaration}",
                severity=Severity.HIGH,
                summary=f"{company_name}'s shipment {declaration} of {chip} was declared during entry block "
                f"{directive} (now {status})"[:300],
                details={"shipment": declaration, "directive": directive, "chip": chip, "status": status},
            )
        )
    return hits


# --- Domestic commitments ---------------------------------------------------------------------


def commitment_overdue(on: dt.date, company_ids: CompanyIds = None) -> list[Hit]:
    """A contracted domestic commitment past its due date (due the day before ``on`` or earlier)
    and not fully delivered."""
    commitments = _scoped(
        DomesticCommitment.objects.filter(
            status=DomesticCommitment.Status.CONTRACTED,
            due_date__lt=on,
            delivered_quantity__lt=F("quantity"),
        ),
        company_ids,
    ).values_list("pk", "company_id", "company__name", "chip__code", "quantity", "delivered_quantity", "due_date",
                  "contract_reference")  # fmt: skip
    hits = []
    for pk, company_id, company_name, chip, quantity, delivered, due_date, reference in commitments.order_by("pk"):
        hits.append(
            Hit(
                family="commitment_overdue",
                rule="commitment_overdue",
                company_id=company_id,
                subject=f"commitment:{pk}",
                severity=Severity.WARNING,
                summary=f"{company_name}'s commitment {reference or pk} for {quantity:,} {chip} was due "
                f"{due_date:%Y-%m-%d}; {delivered:,} delivered"[:300],
                details={
                    "commitment": pk,
                    "contract_reference": reference,
                    "due_date": due_date.isoformat(),
                    "quantity": quantity,
                    "delivered_quantity": delivered,
                },
            )
        )
    return hits


RULES: tuple[Rule, ...] = (
    Rule("quota_shortfall", quota_shortfall, ("quota_shortfall", "quota_at_risk"), _("Short of the domestic quota")),
    Rule("security_gap", security_gap, ("security_gap",), _("Missing or expired US security attestation")),
    Rule("security_expiring", security_expiring, ("security_expiring",), _("Security attestation expiring")),
    Rule(
        "shipment_condition_gap",
        shipment_condition_gap,
        ("shipment_condition_gap",),
        _("Shipment lacks a per-lot security condition"),
    ),
    Rule("licence_expiring", licence_expiring, ("licence_expiring",), _("Licence expiring with quantity unused")),
    Rule(
        "licence_nearly_exhausted", licence_nearly_exhausted, ("licence_nearly_exhausted",), _("Licence nearly used up")
    ),
    Rule("customs_hold_overdue", customs_hold_overdue, ("customs_hold_overdue",), _("Shipment held too long")),
    Rule("entry_block_shipment", entry_block_shipment, ("entry_block_shipment",), _("Shipment during an entry block")),
    Rule("commitment_overdue", commitment_overdue, ("commitment_overdue",), _("Domestic commitment overdue")),
)
RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}
# Every finding rule the sweep owns (and so may resolve automatically).
SWEPT_RULES: frozenset[str] = frozenset(name for rule in RULES for name in rule.rules)


def evaluate(on: dt.date, company_ids: CompanyIds = None, rules: Sequence[Rule] = RULES) -> list[Hit]:
    """Every hit of every rule on ``on`` for the scope: a constant number of queries."""
    return [hit for rule in rules for hit in rule.check(on, company_ids)]
