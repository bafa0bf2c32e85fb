"""Reads about compliance: each company's overall status from its findings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, TextChoices
from django.utils.translation import gettext_lazy as _

from compliance.models import Finding
from licences.models import Company

ACTIVE = (Finding.Status.OPEN, Finding.Status.ACKNOWLEDGED)


class ComplianceStatus(TextChoices):
    COMPLIANT = "compliant", _("Compliant")
    AT_RISK = "at_risk", _("At risk")
    NON_COMPLIANT = "non_compliant", _("Non-compliant")


@dataclass(frozen=True)
class CompanyComplianceStatus:
    """A company's overall status: non-compliant with any active high finding, at risk with
    active warnings only, compliant otherwise. Info findings do not change the status."""

    company_id: int
    slug: str
    name: str
    status: str
    high: int
    warning: int


def status_from_counts(*, high: int, warning: int) -> str:
    """The overall status from the numbers of active high and warning findings."""
    if high:
        return ComplianceStatus.NON_COMPLIANT
    if warning:
        return ComplianceStatus.AT_RISK
    return ComplianceStatus.COMPLIANT


def company_compliance_statuses(
    *, companies: Iterable[Company] | QuerySet[Company] | None = None
) -> list[CompanyComplianceStatus]:
    """Every company's (or the given companies') compliance status, sorted by name. One query.

    Active means open or acknowledged: an acknowledged gap is still a gap.
    """
    queryset = Company.objects.all()
    if companies is not None:
        queryset = companies if isinstance(companies, QuerySet) else queryset.filter(pk__in=[c.pk for c in companies])
    active = Q(findings__status__in=ACTIVE)
    rows = (
        queryset.order_by("name", "slug")
        .annotate(
            # A critical finding (``ledger_tampered``) counts as high.
            high=Count(
                "findings",
                filter=active & Q(findings__severity__in=[Finding.Severity.HIGH, Finding.Severity.CRITICAL]),
            ),
            warning=Count("findings", filter=active & Q(findings__severity=Finding.Severity.WARNING)),
        )
        .values_list("pk", "slug", "name", "high", "warning")
    )
    return [
        CompanyComplianceStatus(
            company_id=pk,
            slug=slug,
            name=name,
            status=status_from_counts(high=high, warning=warning),
            high=high,
            warning=warning,
        )
        for pk, slug, name, high, warning in rows
    ]
