"""Admin for quota policies and domestic purchase commitments.

Putting a draft policy in force and retiring one are decisions through ``quotas.services``
(the functions the API calls), with a confirmation step; the fields those services own are
read-only here. Commitments are each company's assertions: viewed and exported only.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from common.admin_helpers import (
    ConfirmForm,
    Decision,
    DecisionAdminMixin,
    IsoDateInput,
    ServiceOwnedHistoryMixin,
    decision_action,
)
from licences import admin as licences_admin
from licences.exports import ExportAdminMixin
from quotas import services
from quotas.models import CommitmentChange, DomesticCommitment, QuotaPolicy
from quotas.resources import DomesticCommitmentResource


class CommitmentInline(admin.TabularInline):
    model = DomesticCommitment
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("chip", "quantity", "status", "delivered_quantity", "due_date", "contract_reference")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


licences_admin.extra_company_inlines.append(CommitmentInline)


class RetireForm(forms.Form):
    """Retire an active policy: the last day it governs."""

    last_day = forms.DateField(label=_("Last day"), widget=IsoDateInput())


POLICY_DECISIONS = (
    Decision(
        name="activate",
        label=_("Put in force"),
        form_class=ConfirmForm,
        perform=lambda request, policy, data: services.policy_activate(policy=policy),
        applies_to=lambda policy: policy.status == QuotaPolicy.Status.DRAFT,
        done=_("in force over its window"),
        help_text=_("Refused if its window overlaps the window of a policy already in force."),
    ),
    Decision(
        name="retire",
        label=_("Retire"),
        form_class=RetireForm,
        perform=lambda request, policy, data: services.policy_retire(policy=policy, last_day=data["last_day"]),
        applies_to=lambda policy: policy.status == QuotaPolicy.Status.ACTIVE,
        done=_("retired"),
        danger=True,
    ),
)


@admin.register(QuotaPolicy)
class QuotaPolicyAdmin(DecisionAdminMixin, ServiceOwnedHistoryMixin, SimpleHistoryAdmin):
    decisions = POLICY_DECISIONS
    actions = [
        decision_action("activate", _("Put selected draft policies in force")),
        decision_action("retire", _("Retire selected policies")),
    ]
    list_display = ("name", "version", "status", "ratio", "basis", "measured_on", "effective_from", "effective_until")
    list_filter = ("status", "basis", "measured_on")
    search_fields = ("name",)

    def get_readonly_fields(self, request, obj=None):
        # An active or retired policy is history: a new ratio means a new version.
        if obj is not None and obj.status != QuotaPolicy.Status.DRAFT:
            return [field.name for field in obj._meta.fields]
        return ["status"]


class CommitmentChangeInline(admin.TabularInline):
    """A commitment's change ledger: append-only, so shown read-only, oldest first."""

    model = CommitmentChange
    extra = 0
    can_delete = False
    fields = ("kind", "status", "effective_on", "recorded_at", "actor", "note", "quantity", "delivered_quantity")
    readonly_fields = fields
    ordering = ("effective_on", "id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DomesticCommitment)
class DomesticCommitmentAdmin(DecisionAdminMixin, ExportAdminMixin, ServiceOwnedHistoryMixin, SimpleHistoryAdmin):
    """A company's own assertions (pledge, contract, deliveries, cancellation), recorded with its key
    through ``/api/v1/commitments/``: the authority views and exports them, never writes them
    (``docs/domain.md``, "Who asserts what"; the API refuses the regulator the same actions)."""

    decisions = ()  # any ``.../decide/<name>/`` answers 403
    resource_classes = [DomesticCommitmentResource]
    list_display = ("company", "chip", "quantity", "status", "delivered_quantity", "due_date", "contract_reference")
    list_filter = ("status", "chip")
    search_fields = ("company__name", "contract_reference")
    list_select_related = ("company", "chip")
    autocomplete_fields = ("company",)
    inlines = [CommitmentChangeInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # nobody on staff erases what a company or customs asserted (superusers included)


@admin.register(CommitmentChange)
class CommitmentChangeAdmin(admin.ModelAdmin):
    """Every commitment change, newest first: the ledger the services write. Nobody adds, edits or
    deletes a row here (superusers included)."""

    list_display = ("commitment", "kind", "status", "effective_on", "recorded_at", "actor")
    list_filter = ("kind",)
    search_fields = ("commitment__company__slug", "commitment__contract_reference", "actor")
    list_select_related = ("commitment", "commitment__company", "commitment__chip")
    date_hierarchy = "effective_on"
    ordering = ("-recorded_at", "-id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
