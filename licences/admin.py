"""Admin for companies, the chip catalogue, rounds, licences, shipments and directives.

Decisions (approve, reject, suspend, reinstate, revoke) go through ``licences.services``,
the functions the API calls, with a confirmation step (``common.admin_helpers``) and an
optional day they took effect (``effective_on``); each is a row of the licence's decision
ledger, shown read-only on the licence and in its own list (never added, edited or deleted
here); fields
those services own are read-only here and history cannot be reverted, so no form can
bypass a rule. What a company or customs asserts (applications, declarations, customs events
and directives) is only viewed here: they record it through the API with their own keys.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.admin import SimpleHistoryAdmin

from common.admin_helpers import (
    Decision,
    DecisionAdminMixin,
    IsoDateInput,
    ReasonForm,
    ServiceOwnedHistoryMixin,
    decision_action,
)
from licences import services
from licences.exports import ExportAdminMixin
from licences.models import (
    AllocationRound,
    ChipModel,
    Company,
    CustomsDirective,
    CustomsEvent,
    ImportLicence,
    LicenceDecision,
    Shipment,
)
from licences.resources import ImportLicenceResource, ShipmentResource


class LicenceInline(admin.TabularInline):
    model = ImportLicence
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("number", "chip", "round", "status", "requested_quantity", "granted_quantity", "valid_until")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class LicenceDecisionInline(admin.TabularInline):
    """A licence's decision ledger: append-only, so shown read-only, oldest first."""

    model = LicenceDecision
    extra = 0
    can_delete = False
    fields = (
        "kind",
        "status",
        "effective_on",
        "recorded_at",
        "actor",
        "late_entry",
        "reason",
        "granted_quantity",
        "valid_from",
        "valid_until",
    )
    readonly_fields = fields
    ordering = ("effective_on", "id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CustomsEventInline(admin.TabularInline):
    """A shipment's customs history: append-only, so shown read-only."""

    model = CustomsEvent
    extra = 0
    can_delete = False
    fields = ("status", "occurred_at", "note", "recorded_by", "recorded_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


# Filled by higher apps' admin modules: keeps imports running licences <- quotas <- compliance.
extra_company_inlines: list[type[admin.options.InlineModelAdmin]] = []
# Actions the compliance app adds to companies ("run the compliance check now").
extra_company_actions: list[Any] = []


@admin.register(Company)
class CompanyAdmin(SimpleHistoryAdmin):
    list_display = ("display_name", "slug", "category", "created_at", "company_page")
    actions = extra_company_actions
    list_filter = ("category",)
    search_fields = ("name", "name_zh", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [LicenceInline]

    def get_inlines(self, request, obj):
        # The quotas and compliance apps add their inlines (commitments, attestations)
        # through ``extra_company_inlines`` without this app importing them.
        return [*self.inlines, *extra_company_inlines]

    @admin.display(description=_("name"), ordering="name")
    def display_name(self, company: Company) -> str:
        return company.display_name

    @admin.display(description=_("Company page"))
    def company_page(self, company: Company) -> str:
        # The one-page view lives in the compliance app; linked by URL name, not imported.
        try:
            url = reverse("cockpit:company", args=[company.slug])
        except NoReverseMatch:
            return "-"
        return format_html('<a href="{}">{}</a>', url, pgettext_lazy("link", "Open"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        company = self.get_object(request, object_id)
        try:
            page = reverse("cockpit:company", args=[company.slug]) if company else None
        except NoReverseMatch:
            page = None
        extra_context = {**(extra_context or {}), "company_page_url": page}
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(ChipModel)
class ChipModelAdmin(SimpleHistoryAdmin):
    list_display = (
        "code",
        "name",
        "vendor",
        "origin",
        "export_controlled",
        "compute_index",
        "reference_unit_value_usd",
    )
    list_filter = ("origin", "export_controlled", "vendor")
    search_fields = ("code", "name", "vendor")


@admin.register(AllocationRound)
class AllocationRoundAdmin(ServiceOwnedHistoryMixin, SimpleHistoryAdmin):
    list_display = ("name", "opens_on", "closes_on", "unit_cap", "granted_units", "value_cap_usd", "granted_value_usd")
    search_fields = ("name",)
    readonly_fields = ("granted_units", "granted_value_usd")


def _effective_on_field() -> forms.DateField:
    return forms.DateField(
        required=False,
        widget=IsoDateInput(),
        label=_("Effective on"),
        help_text=format_lazy(
            _(
                "The day the decision took effect; empty: today. Never in the future; more than "
                "{days} days back it is a late entry and needs a reason."
            ),
            days=settings.LICENCE_LATE_ENTRY_DAYS,
        ),
    )


class ApproveForm(forms.Form):
    """Approve with a granted quantity (default: as requested), a validity window and the day it took effect."""

    granted_quantity = forms.IntegerField(
        label=_("Granted quantity"),
        min_value=1,
        required=False,
        help_text=_("Units to grant. Leave empty to grant each licence its requested quantity."),
    )
    valid_from = forms.DateField(label=_("Valid from"), widget=IsoDateInput())
    valid_until = forms.DateField(label=_("Valid until"), widget=IsoDateInput())
    effective_on = _effective_on_field()
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_("Needed only for a late entry (why it is recorded now)."),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("valid_from", timezone.localdate())
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if data.get("valid_from") and data.get("valid_until") and data["valid_from"] > data["valid_until"]:
            self.add_error("valid_until", _("The validity must not end before it starts."))
        return data


class DecisionReasonForm(ReasonForm):
    """A licence decision that must say why, and the day it took effect."""

    effective_on = _effective_on_field()


def _recorder(request) -> dict[str, Any]:
    """Who records a decision made in the admin: the signed-in user."""
    return {"recorded_by": request.user, "actor": request.user.get_username()}


def _approve(request, licence: ImportLicence, data: dict) -> ImportLicence:
    return services.licence_approve(
        licence=licence,
        granted_quantity=data["granted_quantity"] or licence.requested_quantity,
        valid_from=data["valid_from"],
        valid_until=data["valid_until"],
        effective_on=data.get("effective_on"),
        reason=data.get("reason") or "",
        **_recorder(request),
    )


def _approve_initial(licence: ImportLicence) -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "granted_quantity": licence.requested_quantity,
        "valid_from": today,
        "valid_until": max(licence.round.closes_on, today + dt.timedelta(days=1)),
    }


def _with_reason(service):
    def perform(request, licence: ImportLicence, data: dict) -> ImportLicence:
        return service(
            licence=licence, reason=data["reason"], effective_on=data.get("effective_on"), **_recorder(request)
        )

    return perform


def _in(*statuses: str):
    return lambda licence: licence.status in statuses


LicenceStatus = ImportLicence.Status

LICENCE_DECISIONS = (
    Decision(
        name="approve",
        label=_("Approve"),
        form_class=ApproveForm,
        perform=_approve,
        applies_to=_in(LicenceStatus.APPLIED),
        initial=_approve_initial,
        done=_("approved"),
        help_text=_(
            "The grant is drawn from the allocation round's unit and value caps; "
            "an approval that would exceed either cap is refused."
        ),
    ),
    Decision(
        name="reject",
        label=_("Reject"),
        form_class=DecisionReasonForm,
        perform=_with_reason(services.licence_reject),
        applies_to=_in(LicenceStatus.APPLIED),
        done=_("rejected"),
        danger=True,
    ),
    Decision(
        name="suspend",
        label=_("Suspend"),
        form_class=DecisionReasonForm,
        perform=_with_reason(services.licence_suspend),
        applies_to=_in(LicenceStatus.APPROVED),
        done=_("suspended"),
        danger=True,
        help_text=_("No new shipment may be declared against a suspended licence."),
    ),
    Decision(
        name="reinstate",
        label=_("Reinstate"),
        form_class=DecisionReasonForm,
        perform=_with_reason(services.licence_reinstate),
        applies_to=_in(LicenceStatus.SUSPENDED),
        done=_("reinstated"),
    ),
    Decision(
        name="revoke",
        label=_("Revoke"),
        form_class=DecisionReasonForm,
        perform=_with_reason(services.licence_revoke),
        applies_to=_in(LicenceStatus.APPROVED, LicenceStatus.SUSPENDED),
        done=_("revoked"),
        danger=True,
        help_text=_("Revocation is final; the grant stays counted against the round."),
    ),
)


@admin.register(ImportLicence)
class ImportLicenceAdmin(DecisionAdminMixin, ExportAdminMixin, ServiceOwnedHistoryMixin, SimpleHistoryAdmin):
    decisions = LICENCE_DECISIONS
    resource_classes = [ImportLicenceResource]
    actions = [
        decision_action("approve", _("Approve selected licences (with grant and validity)")),
        decision_action("reject", _("Reject selected applications")),
        decision_action("suspend", _("Suspend selected licences")),
        decision_action("reinstate", _("Reinstate selected licences")),
        decision_action("revoke", _("Revoke selected licences")),
    ]
    list_display = (
        "number",
        "company",
        "chip",
        "round",
        "status",
        "requested_quantity",
        "granted_quantity",
        "reserved_quantity",
        "used_quantity",
        "valid_until",
    )
    list_filter = ("status", "chip", "round", "company")
    search_fields = ("number", "company__name", "company__name_zh", "company__slug")
    list_select_related = ("company", "chip", "round")
    date_hierarchy = "applied_at"
    autocomplete_fields = ("company",)
    readonly_fields = (
        "status",
        "granted_quantity",
        "reserved_quantity",
        "used_quantity",
        "valid_from",
        "valid_until",
        "approved_at",
        "rejected_at",
        "suspended_at",
        "revoked_at",
        "expired_at",
        "status_reason",
    )

    def has_add_permission(self, request):
        # An application is the company's assertion (``POST /api/v1/licences/`` with its key):
        # the authority decides on it, never files it (docs/domain.md, "Who asserts what").
        return False

    def get_readonly_fields(self, request, obj=None):
        # The application's terms are the company's, a grant's the decisions': no form edits either.
        return [field.name for field in ImportLicence._meta.fields]

    def has_delete_permission(self, request, obj=None):
        return False  # nobody on staff erases what a company or customs asserted (superusers included)

    def get_inlines(self, request, obj):
        return [LicenceDecisionInline] if obj is not None else []


@admin.register(LicenceDecision)
class LicenceDecisionAdmin(admin.ModelAdmin):
    """Every licence decision, newest first: the ledger the services write. Nobody adds, edits or
    deletes a row here (superusers included); a correction is a new decision."""

    list_display = ("licence", "kind", "status", "effective_on", "recorded_at", "actor", "late_entry")
    list_filter = ("kind", "late_entry")
    search_fields = ("licence__number", "licence__company__slug", "actor")
    list_select_related = ("licence",)
    date_hierarchy = "effective_on"
    ordering = ("-recorded_at", "-id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Shipment)
class ShipmentAdmin(ExportAdminMixin, ServiceOwnedHistoryMixin, SimpleHistoryAdmin):
    resource_classes = [ShipmentResource]
    list_display = (
        "declaration_number",
        "company",
        "chip",
        "quantity",
        "status",
        "port_of_entry",
        "declared_at",
        "held_since",
    )
    list_filter = ("status", "chip", "port_of_entry")
    search_fields = ("declaration_number", "company__name", "licence__number")
    list_select_related = ("company", "chip")
    date_hierarchy = "declared_at"
    inlines = [CustomsEventInline]
    readonly_fields = (
        "company",
        "licence",
        "chip",
        "quantity",
        "status",
        "declared_at",
        "status_changed_at",
        "cleared_at",
        "held_since",
        "entry_block_directive",
    )

    # The history page lists the customs events too: they are the shipment's customs history,
    # which no shipment history row repeats (only the declaration has one).
    object_history_template = "admin/licences/shipment/object_history.html"

    def render_history_view(self, request, template, context, **kwargs):
        # Called once the page's permission check has passed, with the shipment as "object".
        context["customs_events"] = context["object"].events.all()
        return super().render_history_view(request, template, context, **kwargs)

    def has_add_permission(self, request):
        # Declarations are the company's (API), through shipment_declare, which reserves licence quantity.
        return False

    def has_change_permission(self, request, obj=None):
        # What was declared is the company's, what happened at the border customs': view only.
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # nobody on staff erases what a company or customs asserted (superusers included)


@admin.register(CustomsEvent)
class CustomsEventAdmin(admin.ModelAdmin):
    list_display = ("shipment", "status", "occurred_at", "recorded_by")
    list_filter = ("status",)
    search_fields = ("shipment__declaration_number",)
    list_select_related = ("shipment",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CustomsDirective)
class CustomsDirectiveAdmin(SimpleHistoryAdmin):
    """Entry blocks are customs acts (``POST /api/v1/customs-directives/`` and ``.../lift/``): the
    Regulator group only views them (``compliance.groups``), and so does a superuser (in the API
    a superuser acts as the regulator, whom ``customs-directive create/lift`` refuses); who
    issued and who lifted are recorded by the service, never typed in."""

    list_display = ("reference", "chip", "blocked_from", "blocked_until", "issued_by", "lifted_at", "lifted_by")
    list_filter = ("chip",)
    search_fields = ("reference", "reason")
    readonly_fields = ("issued_by", "lifted_at", "lifted_by", "lift_reason")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # nobody on staff erases what a company or customs asserted (superusers included)
