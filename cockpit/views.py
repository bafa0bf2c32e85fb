"""The regulator's cockpit inside the admin: dashboard, company page, policy impact.

Plain views wrapped by ``admin.site.admin_view`` (the admin's login, staff check and
look); each also checks a view permission, so any staff member in the "Analyst" or
"Regulator" group can read them and nobody else can. They only read: decisions are taken
through the model admins' decision views (``common.admin_helpers``), which these pages
link to, and only for users allowed to decide.
"""

from __future__ import annotations

import datetime as dt
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
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from cockpit import charts
from cockpit.history import company_history
from cockpit.selectors import Dashboard, dashboard
from common.errors import DomainError
from compliance import finding_text
from compliance.models import Finding
from compliance.selectors import company_compliance_statuses
from licences.exports import SafeCSV, SafeXLSX
from licences.models import ChipModel, Company, ImportLicence
from quotas.models import QuotaPolicy
from quotas.selectors import QuotaPosition, policy_impact, quota_position, what_if

BASIS_UNIT = {
    QuotaPolicy.Basis.UNITS: pgettext_lazy("quota basis unit", "units"),
    QuotaPolicy.Basis.VALUE: pgettext_lazy("quota basis unit", "USD"),
    QuotaPolicy.Basis.COMPUTE: pgettext_lazy("quota basis unit", "H20-equivalents"),
}
# Finding rules as the cockpit names them (the rule's code stays the finding's machine field).
RULE_LABELS = {
    "quota_shortfall": _("quota shortfall"),
    "quota_at_risk": _("quota at risk"),
    "security_gap": _("security gap"),
    "security_expiring": _("security expiring"),
    "shipment_condition_gap": _("shipment condition gap"),
    "licence_expiring": _("licence expiring"),
    "licence_expired": _("licence expired"),
    "licence_nearly_exhausted": _("licence nearly exhausted"),
    "customs_hold_overdue": _("customs hold overdue"),
    "entry_block_shipment": _("entry block shipment"),
    "commitment_overdue": _("commitment overdue"),
    "webhook_disabled": _("webhook disabled"),
}


def rule_label(rule: str) -> str:
    """``quota_shortfall`` -> ``quota shortfall`` (in the active language)."""
    return str(RULE_LABELS.get(rule, rule.replace("_", " ")))


def _require(request: HttpRequest, *perms: str) -> None:
    if not request.user.has_perms(perms):
        raise PermissionDenied


def _context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title, **extra}


def _basis_unit(position: QuotaPosition) -> str:
    return str(BASIS_UNIT.get(position.policy.basis, "")) if position.policy else ""


def coverage_caption(position: QuotaPosition) -> str:
    """``66.7 % - short 20,000 units``: the words beside a company's coverage bar."""
    if not position.has_policy:
        return gettext("no policy in force")
    if position.required == 0:
        return gettext("nothing required")
    if position.is_short:
        return gettext("%(coverage)s · short %(shortfall)s %(unit)s") % {
            "coverage": charts.percent(position.coverage),
            "shortfall": charts.units(position.shortfall),
            "unit": _basis_unit(position),
        }
    return gettext("%(coverage)s · covered") % {"coverage": charts.percent(position.coverage)}


def _coverage_bar(position: QuotaPosition, href: str = "") -> charts.CoverageBar:
    return charts.CoverageBar(
        label=position.company.display_name,
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
        pending_units = pending_value = ""
        if wave.pending_applications:
            pending_units = ngettext(
                "+ %(units)s units pending in %(count)s application(s)",
                "+ %(units)s units pending in %(count)s application(s)",
                wave.pending_applications,
            ) % {"units": charts.units(wave.pending_units), "count": wave.pending_applications}
            pending_value = gettext("+ %(value)s pending") % {"value": charts.usd(wave.pending_value_usd)}
            if units_over:
                pending_units = gettext("%(pending)s: together they would exceed the cap") % {"pending": pending_units}
            if value_over:
                pending_value = gettext("%(pending)s: together they would exceed the cap") % {"pending": pending_value}
        drawn.append(
            {
                "round": wave,
                "units_chart": charts.capacity_bar(
                    used=wave.granted_units,
                    cap=wave.unit_cap,
                    pending=wave.pending_units,
                    caption=gettext("Units: %(granted)s of %(cap)s granted (%(share)s)")
                    % {
                        "granted": charts.units(wave.granted_units),
                        "cap": charts.units(wave.unit_cap),
                        "share": unit_share,
                    },
                    pending_caption=pending_units,
                ),
                "value_chart": charts.capacity_bar(
                    used=wave.granted_value_usd,
                    cap=wave.value_cap_usd,
                    pending=wave.pending_value_usd,
                    caption=gettext("Value: %(granted)s of %(cap)s granted (%(share)s)")
                    % {
                        "granted": charts.usd(wave.granted_value_usd),
                        "cap": charts.usd(wave.value_cap_usd),
                        "share": value_share,
                    },
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
                label=rule_label(row.rule),
                value=row.total,
                caption=gettext("%(open)s open, %(acknowledged)s ack.")
                % {"open": row.open, "acknowledged": row.acknowledged}
                if row.acknowledged
                else gettext("%(open)s open · %(severity)s")
                % {"open": row.open, "severity": _severity_label(row.severity)},
                state=row.severity,
            )
            for row in board.findings
        ],
        title=gettext("Active findings by rule and severity"),
    )
    pipeline_chart = charts.count_chart(
        [
            charts.CountBar(
                label=stage.label,
                value=stage.shipments,
                caption=gettext("%(shipments)s · %(units)s u.")
                % {"shipments": stage.shipments, "units": charts.units(stage.units)},
                state="high" if stage.status in ("held", "rejected") else "neutral",
            )
            for stage in board.pipeline
        ],
        title=gettext("Shipments by customs status"),
    )
    context = _context(
        request,
        gettext("Regulator's dashboard"),
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
        label=_("Imported chip model"),
        queryset=ChipModel.objects.filter(origin=ChipModel.Origin.FOREIGN),
        required=False,
        to_field_name="code",
    )
    import_quantity = forms.IntegerField(label=_("Import more"), min_value=1, required=False)
    commit_chip = forms.ModelChoiceField(
        label=_("Committed chip model"),
        queryset=ChipModel.objects.filter(origin=ChipModel.Origin.DOMESTIC),
        required=False,
        to_field_name="code",
    )
    commit_quantity = forms.IntegerField(label=_("Commit more"), min_value=1, required=False)

    def pairs(self, chip: str, quantity: str) -> list[tuple[ChipModel, int]]:
        if self.cleaned_data.get(chip) and self.cleaned_data.get(quantity):
            return [(self.cleaned_data[chip], self.cleaned_data[quantity])]
        return []


def _severity_label(severity: str) -> str:
    try:
        return str(Finding.Severity(severity).label)
    except ValueError:
        return severity


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
                label=gettext("What if"),
                coverage=hypothetical.coverage,
                caption=coverage_caption(hypothetical),
                state="short" if hypothetical.is_short else "ok",
            )
        )
    warning_days = dt.timedelta(days=_warning_days())
    context = _context(
        request,
        company.display_name,
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
            {
                "finding": finding,
                "summary": finding_text.summary(finding, company),
                "rule": rule_label(finding.rule),
                "decisions": finding_admin.available_decisions(request, finding),
            }
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


IMPACT_COLUMNS = {
    "company": pgettext_lazy("export column", "company"),
    "slug": pgettext_lazy("export column", "slug"),
    "current_policy": pgettext_lazy("export column", "current_policy"),
    "current_coverage": pgettext_lazy("export column", "current_coverage"),
    "current_shortfall": pgettext_lazy("export column", "current_shortfall"),
    "draft_policy": pgettext_lazy("export column", "draft_policy"),
    "draft_coverage": pgettext_lazy("export column", "draft_coverage"),
    "draft_shortfall": pgettext_lazy("export column", "draft_shortfall"),
    "shortfall_change": pgettext_lazy("export column", "shortfall_change"),
    "coverage_change": pgettext_lazy("export column", "coverage_change"),
    "newly_short": pgettext_lazy("export column", "newly_short"),
}


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
            raise PermissionDenied(gettext("No such draft policy."))
    elif drafts:
        chosen = drafts[0]
    today = timezone.localdate()
    rows = policy_impact(draft=chosen, on=today) if chosen else []
    if chosen and request.GET.get("format") in IMPACT_FORMATS:
        return _impact_export(rows, chosen, today, request.GET["format"])
    context = _context(
        request,
        gettext("Policy impact"),
        drafts=drafts,
        chosen=chosen,
        rows=rows,
        on=today,
        current_unit=_basis_unit(rows[0].current) if rows else "",
        draft_unit=str(BASIS_UNIT.get(chosen.basis, "")) if chosen else "",
    )
    return TemplateResponse(request, "admin/cockpit/policy_impact.html", context)


def _policy_label(position: QuotaPosition) -> str:
    policy = position.policy
    return f"{policy.name} v{policy.version}" if policy else ""


IMPACT_FORMATS = {"csv": SafeCSV, "xlsx": SafeXLSX}


def _impact_export(rows, draft: QuotaPolicy, on: dt.date, export_format: str) -> HttpResponse:
    """The impact rows as CSV or XLSX, through the same neutralising formats as every admin
    export (a company name such as ``=HYPERLINK(...)`` comes out as text)."""
    dataset = tablib.Dataset(headers=[str(label) for label in IMPACT_COLUMNS.values()])
    for row in rows:
        dataset.append(
            [
                row.company.display_name,
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
