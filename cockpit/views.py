"""The regulator's cockpit inside the admin: dashboard, company page, policy impact.

Plain views wrapped by ``admin.site.admin_view`` (the admin's login, staff check and
look); each also checks a view permission, so any staff member in the "Analyst" or
"Regulator" group can read them and nobody else can. They only read: decisions are taken
through the model admins' decision views (``common.admin_helpers``), which these pages
link to, and only for users allowed to decide.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import tablib
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from cockpit import charts
from cockpit.selectors import Dashboard, dashboard
from common.errors import DomainError
from compliance.models import Finding, SecurityAttestation
from compliance.selectors import company_compliance_statuses
from licences.exports import SafeCSV, SafeXLSX
from licences.models import ChipModel, Company, ImportLicence, Shipment
from quotas.models import DomesticCommitment, QuotaPolicy
from quotas.selectors import QuotaPosition, policy_impact, quota_position, what_if

BASIS_UNIT = {
    QuotaPolicy.Basis.UNITS: "units",
    QuotaPolicy.Basis.VALUE: "USD",
    QuotaPolicy.Basis.COMPUTE: "H20-equivalents",
}


def _require(request: HttpRequest, *perms: str) -> None:
    if not request.user.has_perms(perms):
        raise PermissionDenied


def _context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title, **extra}


def _basis_unit(position: QuotaPosition) -> str:
    return BASIS_UNIT.get(position.policy.basis, "") if position.policy else ""


def coverage_caption(position: QuotaPosition) -> str:
    """``66.7 % - short 20,000 units``: the words beside a company's coverage bar."""
    if not position.has_policy:
        return "no policy in force"
    if position.required == 0:
        return "nothing required"
    if position.is_short:
        return f"{charts.percent(position.coverage)} · short {charts.units(position.shortfall)} {_basis_unit(position)}"
    return f"{charts.percent(position.coverage)} · covered"


def _coverage_bar(position: QuotaPosition, href: str = "") -> charts.CoverageBar:
    return charts.CoverageBar(
        label=position.company.name,
        coverage=position.coverage,
        caption=coverage_caption(position),
        state="short" if position.is_short else ("ok" if position.required else "neutral"),
        href=href,
    )


# --- Dashboard ---------------------------------------------------------------------------------


def _round_charts(board: Dashboard) -> list[dict[str, Any]]:
    drawn = []
    for wave in board.rounds:
        unit_share = charts.percent(Decimal(wave.granted_units) / wave.unit_cap)
        value_share = charts.percent(wave.granted_value_usd / wave.value_cap_usd)
        units_over = wave.granted_units + wave.pending_units > wave.unit_cap
        value_over = wave.granted_value_usd + wave.pending_value_usd > wave.value_cap_usd
        pending_units = (
            f"+ {charts.units(wave.pending_units)} units pending in {wave.pending_applications} application(s)"
            + (": together they would exceed the cap" if units_over else "")
            if wave.pending_applications
            else ""
        )
        pending_value = (
            f"+ {charts.usd(wave.pending_value_usd)} pending"
            + (": together they would exceed the cap" if value_over else "")
            if wave.pending_applications
            else ""
        )
        drawn.append(
            {
                "round": wave,
                "units_chart": charts.capacity_bar(
                    used=wave.granted_units,
                    cap=wave.unit_cap,
                    pending=wave.pending_units,
                    caption=f"Units: {charts.units(wave.granted_units)} of {charts.units(wave.unit_cap)} "
                    f"granted ({unit_share})",
                    pending_caption=pending_units,
                ),
                "value_chart": charts.capacity_bar(
                    used=wave.granted_value_usd,
                    cap=wave.value_cap_usd,
                    pending=wave.pending_value_usd,
                    caption=f"Value: {charts.usd(wave.granted_value_usd)} of {charts.usd(wave.value_cap_usd)} "
                    f"granted ({value_share})",
                    pending_caption=pending_value,
                ),
            }
        )
    return drawn


def dashboard_view(request: HttpRequest) -> TemplateResponse:
    """The state of the country at a glance (a constant number of queries)."""
    _require(request, "licences.view_company", "licences.view_importlicence")
    board = dashboard()
    coverage_rows = [
        _coverage_bar(row.position, reverse("cockpit:company", args=[row.company.slug])) for row in board.coverage
    ]
    findings_chart = charts.count_chart(
        [
            charts.CountBar(
                label=row.rule.replace("_", " "),
                value=row.total,
                caption=f"{row.open} open, {row.acknowledged} ack."
                if row.acknowledged
                else f"{row.open} open · {row.severity}",
                state=row.severity,
            )
            for row in board.findings
        ],
        title="Active findings by rule and severity",
    )
    pipeline_chart = charts.count_chart(
        [
            charts.CountBar(
                label=stage.label,
                value=stage.shipments,
                caption=f"{stage.shipments} · {charts.units(stage.units)} u.",
                state="high" if stage.status in ("held", "rejected") else "neutral",
            )
            for stage in board.pipeline
        ],
        title="Shipments by customs status",
    )
    context = _context(
        request,
        "Regulator's dashboard",
        board=board,
        rounds=_round_charts(board),
        coverage_chart=charts.coverage_chart(coverage_rows),
        findings_chart=findings_chart if board.findings else None,
        pipeline_chart=pipeline_chart,
        can_see_impact=request.user.has_perm("quotas.view_quotapolicy"),
    )
    return TemplateResponse(request, "admin/cockpit/dashboard.html", context)


# --- Company page ------------------------------------------------------------------------------


class WhatIfForm(forms.Form):
    """Extra imports and/or commitments to try against the company's position (nothing is written)."""

    import_chip = forms.ModelChoiceField(
        queryset=ChipModel.objects.filter(origin=ChipModel.Origin.FOREIGN), required=False, to_field_name="code"
    )
    import_quantity = forms.IntegerField(min_value=1, required=False)
    commit_chip = forms.ModelChoiceField(
        queryset=ChipModel.objects.filter(origin=ChipModel.Origin.DOMESTIC), required=False, to_field_name="code"
    )
    commit_quantity = forms.IntegerField(min_value=1, required=False)

    def pairs(self, chip: str, quantity: str) -> list[tuple[ChipModel, int]]:
        if self.cleaned_data.get(chip) and self.cleaned_data.get(quantity):
            return [(self.cleaned_data[chip], self.cleaned_data[quantity])]
        return []


@dataclass(frozen=True)
class HistoryEntry:
    """One change to one of the company's records, with the fields it changed."""

    at: dt.datetime
    user: Any
    kind: str
    model: str
    record: str
    url: str
    changes: list[tuple[str, Any, Any]]
    reason: str


HISTORY_SOURCES: list[tuple[type, str, Callable[[Any], str]]] = [
    (Company, "id", lambda row: row.name),
    (ImportLicence, "company_id", lambda row: row.number),
    (Shipment, "company_id", lambda row: row.declaration_number),
    (DomesticCommitment, "company_id", lambda row: f"commitment #{row.id} {row.contract_reference}".strip()),
    (SecurityAttestation, "company_id", lambda row: f"attestation #{row.id}"),
    (Finding, "company_id", lambda row: row.summary),
]
HISTORY_KIND = {"+": "created", "~": "changed", "-": "deleted"}
HISTORY_PER_SOURCE = 200


def company_history(company: Company, *, limit: int = 20) -> list[HistoryEntry]:
    """The latest changes to the company and its records, newest first, each with what it changed.

    One query per kind of record (six): the previous version of each change is found among
    the rows already read, so no query runs per change.
    """
    entries: list[HistoryEntry] = []
    for model, key, label in HISTORY_SOURCES:
        opts = model._meta
        fields = [field.attname for field in opts.concrete_fields if field.attname not in ("id",)]
        rows = list(
            model.history.filter(**{key: company.pk})
            .select_related("history_user")
            .order_by("-history_date", "-history_id")[:HISTORY_PER_SOURCE]
        )
        previous: dict[int, Any] = {}
        for row in reversed(rows):  # oldest first, to pair each version with the one before
            before = previous.get(row.id)
            changes = (
                [
                    (name, getattr(before, name), getattr(row, name))
                    for name in fields
                    if getattr(before, name) != getattr(row, name)
                ]
                if before is not None
                else []
            )
            previous[row.id] = row
            entries.append(
                HistoryEntry(
                    at=row.history_date,
                    user=row.history_user,
                    kind=HISTORY_KIND.get(row.history_type, row.history_type),
                    model=str(opts.verbose_name),
                    record=label(row),
                    url=reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.id]),
                    changes=changes,
                    reason=row.history_change_reason or "",
                )
            )
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]


def company_view(request: HttpRequest, slug: str) -> TemplateResponse:
    """One company on one page: licences, shipments, commitments, quota, conditions, findings, history."""
    _require(request, "licences.view_company", "licences.view_importlicence")
    company = get_object_or_404(Company, slug=slug)
    today = timezone.localdate()
    licence_admin = admin.site._registry[ImportLicence]
    finding_admin = admin.site._registry[Finding]
    licences = list(company.licences.select_related("chip", "round").order_by("-applied_at", "number"))
    licence_rows = [
        {
            "licence": licence,
            "bar": charts.utilisation_bar(
                granted=licence.granted_quantity, reserved=licence.reserved_quantity, used=licence.used_quantity
            ),
            "decisions": licence_admin.available_decisions(request, licence),
        }
        for licence in licences
    ]
    position = quota_position(company=company, on=today)
    what_if_form = WhatIfForm(request.GET or None)
    hypothetical = None
    if what_if_form.is_bound and what_if_form.is_valid():
        imports = what_if_form.pairs("import_chip", "import_quantity")
        commitments = what_if_form.pairs("commit_chip", "commit_quantity")
        if imports or commitments:
            try:
                hypothetical = what_if(company=company, on=today, imports=imports, commitments=commitments)
            except DomainError as error:
                what_if_form.add_error(None, error.message)
    foreign_chips = list(ChipModel.objects.filter(origin=ChipModel.Origin.FOREIGN).order_by("code"))
    headroom = [(chip, position.headroom(chip)) for chip in foreign_chips]
    status = company_compliance_statuses(companies=Company.objects.filter(pk=company.pk))[0]
    quota_bars = [_coverage_bar(position)]
    if hypothetical is not None:
        quota_bars.append(
            charts.CoverageBar(
                label="What if",
                coverage=hypothetical.coverage,
                caption=coverage_caption(hypothetical),
                state="short" if hypothetical.is_short else "ok",
            )
        )
    warning_days = dt.timedelta(days=_warning_days())
    context = _context(
        request,
        company.name,
        company=company,
        status=status,
        licence_rows=licence_rows,
        shipments=company.shipments.select_related("licence", "chip", "entry_block_directive").order_by(
            "-declared_at", "declaration_number"
        ),
        commitments=company.commitments.select_related("chip").order_by("-pledged_on", "id"),
        position=position,
        basis_unit=_basis_unit(position),
        quota_chart=charts.coverage_chart(quota_bars),
        what_if_form=what_if_form,
        hypothetical=hypothetical,
        headroom=headroom,
        attestations=company.attestations.select_related("requirement", "shipment").order_by(
            "requirement__code", "-attested_on"
        ),
        soon=today + warning_days,
        today=today,
        finding_rows=[
            {"finding": finding, "decisions": finding_admin.available_decisions(request, finding)}
            for finding in company.findings.exclude(status=Finding.Status.RESOLVED).order_by("-last_seen_at", "id")
        ],
        history=company_history(company),
        can_run_check=request.user.has_perm("licences.change_company"),
        action_checkbox_name=helpers.ACTION_CHECKBOX_NAME,
    )
    return TemplateResponse(request, "admin/cockpit/company.html", context)


def _warning_days() -> int:
    return settings.COMPLIANCE["EXPIRY_WARNING_DAYS"]


# --- Policy impact -----------------------------------------------------------------------------


IMPACT_COLUMNS = (
    "company",
    "slug",
    "current_policy",
    "current_coverage",
    "current_shortfall",
    "draft_policy",
    "draft_coverage",
    "draft_shortfall",
    "shortfall_change",
    "coverage_change",
    "newly_short",
)


def policy_impact_view(request: HttpRequest) -> HttpResponse:
    """Choose a draft policy; every company's shortfall under it beside the policy in force.

    Rows come sorted by change (``quotas.selectors.policy_impact``); ``?format=csv``
    (or ``xlsx``) downloads the same rows.
    """
    _require(request, "quotas.view_quotapolicy", "licences.view_company")
    drafts = list(QuotaPolicy.objects.filter(status=QuotaPolicy.Status.DRAFT).order_by("-effective_from", "name"))
    chosen = None
    wanted = request.GET.get("draft")
    if wanted:
        chosen = next((draft for draft in drafts if str(draft.pk) == wanted), None)
        if chosen is None:
            raise PermissionDenied("No such draft policy.")
    elif drafts:
        chosen = drafts[0]
    today = timezone.localdate()
    rows = policy_impact(draft=chosen, on=today) if chosen else []
    if chosen and request.GET.get("format") in IMPACT_FORMATS:
        return _impact_export(rows, chosen, today, request.GET["format"])
    context = _context(
        request,
        "Policy impact",
        drafts=drafts,
        chosen=chosen,
        rows=rows,
        on=today,
        current_unit=BASIS_UNIT.get(rows[0].current.policy.basis, "") if rows and rows[0].current.policy else "",
        draft_unit=BASIS_UNIT.get(chosen.basis, "") if chosen else "",
    )
    return TemplateResponse(request, "admin/cockpit/policy_impact.html", context)


def _policy_label(position: QuotaPosition) -> str:
    policy = position.policy
    return f"{policy.name} v{policy.version}" if policy else ""


IMPACT_FORMATS = {"csv": SafeCSV, "xlsx": SafeXLSX}


def _impact_export(rows, draft: QuotaPolicy, on: dt.date, export_format: str) -> HttpResponse:
    """The impact rows as CSV or XLSX, through the same neutralising formats as every admin
    export (a company name such as ``=HYPERLINK(...)`` comes out as text)."""
    dataset = tablib.Dataset(headers=list(IMPACT_COLUMNS))
    for row in rows:
        dataset.append(
            [
                row.company.name,
                row.company.slug,
                _policy_label(row.current),
                row.current.coverage,
                row.current.shortfall,
                _policy_label(row.proposed),
                row.proposed.coverage,
                row.proposed.shortfall,
                "" if row.shortfall_change is None else row.shortfall_change,
                row.coverage_change,
                row.newly_short,
            ]
        )
    file_format = IMPACT_FORMATS[export_format]()
    content_type = file_format.get_content_type() + ("; charset=utf-8" if export_format == "csv" else "")
    response = HttpResponse(file_format.export_data(dataset), content_type=content_type)
    filename = f"policy-impact-{draft.pk}-{on.isoformat()}.{file_format.get_extension()}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
