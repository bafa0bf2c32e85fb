"""Admin for quota policies and domestic purchase commitments.

Putting a draft policy in force and retiring one, and contracting, delivering and
cancelling a commitment, are decisions through ``quotas.services`` (the functions the API
calls), with a confirmation step; the fields those services own are read-only here.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
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
from quotas.models import DomesticCommitment, QuotaPolicy
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

    last_day = forms.DateField(widget=IsoDateInput())


POLICY_DECISIONS = (
    Decision(
        name="activate",
        label="Put in force",
        form_class=ConfirmForm,
        perform=lambda request, policy, data: services.policy_activate(policy=policy),
        applies_to=lambda policy: policy.status == QuotaPolicy.Status.DRAFT,
        done="in force over its window",
        help_text="Refused if its window overlaps the window of a policy already in force.",
    ),
    Decision(
        name="retire",
        label="Retire",
        form_class=RetireForm,
        perform=lambda request, policy, data: services.policy_retire(policy=policy, last_day=data["last_day"]),
        applies_to=lambda policy: policy.status == QuotaPolicy.Status.ACTIVE,
        done="retired",
        danger=True,
    ),
)


@admin.register(QuotaPolicy)
class QuotaPolicyAdmin(DecisionAdminMixin, ServiceOwnedHistoryMixin, SimpleHistoryAdmin):
    decisions = POLICY_DECISIONS
    actions = [
        decision_action("activate", "Put selected draft policies in force"),
        decision_action("retire", "Retire selected policies"),
    ]
    list_display = ("name", "version", "status", "ratio", "basis", "measured_on", "effective_from", "effective_until")
    list_filter = ("status", "basis", "measured_on")
    search_fields = ("name",)

    def get_readonly_fields(self, request, obj=None):
        # An active or retired policy is history: a new ratio means a new version.
        if obj is not None and obj.status != QuotaPolicy.Status.DRAFT:
            return [field.name for field in obj._meta.fields]
        return ["status"]


class ContractForm(forms.Form):
    """Contract a pledged commitment: the date and the contract's reference."""

    on = forms.DateField(label="Contracted on", widget=IsoDateInput())
    contract_reference = forms.CharField(max_length=100)


class DeliveryForm(forms.Form):
    """Record a (partial) delivery of a contracted commitment."""

    quantity = forms.IntegerField(min_value=1)
    on = forms.DateField(label="Delivered on", widget=IsoDateInput())


class CancelForm(forms.Form):
    """Cancel a commitment: from which day it stops counting, and why."""

    on = forms.DateField(label="Cancelled on", widget=IsoDateInput())
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


CommitmentStatus = DomesticCommitment.Status

COMMITMENT_DECISIONS = (
    Decision(
        name="contract",
        label="Contract",
        form_class=ContractForm,
        perform=lambda request, commitment, data: services.commitment_contract(
            commitment=commitment, on=data["on"], contract_reference=data["contract_reference"]
        ),
        applies_to=lambda commitment: commitment.status == CommitmentStatus.PLEDGED,
        done="contracted",
    ),
    Decision(
        name="deliver",
        label="Record a delivery",
        form_class=DeliveryForm,
        perform=lambda request, commitment, data: services.commitment_deliver(
            commitment=commitment, quantity=data["quantity"], on=data["on"]
        ),
        applies_to=lambda commitment: commitment.status == CommitmentStatus.CONTRACTED,
        done="delivery recorded",
        initial=lambda commitment: {"quantity": commitment.quantity - commitment.delivered_quantity},
    ),
    Decision(
        name="cancel",
        label="Cancel",
        form_class=CancelForm,
        perform=lambda request, commitment, data: services.commitment_cancel(
            commitment=commitment, on=data["on"], reason=data["reason"]
        ),
        applies_to=lambda commitment: commitment.status in (CommitmentStatus.PLEDGED, CommitmentStatus.CONTRACTED),
        done="cancelled",
        danger=True,
    ),
)


@admin.register(DomesticCommitment)
class DomesticCommitmentAdmin(DecisionAdminMixin, ExportAdminMixin, ServiceOwnedHistoryMixin, SimpleHistoryAdmin):
    decisions = COMMITMENT_DECISIONS
    resource_classes = [DomesticCommitmentResource]
    # Status, its dates and deliveries move only through the decisions above.
    readonly_fields = (
        "status",
        "contracted_on",
        "delivered_on",
        "cancelled_on",
        "delivered_quantity",
    )
    list_display = ("company", "chip", "quantity", "status", "delivered_quantity", "due_date", "contract_reference")
    list_filter = ("status", "chip")
    search_fields = ("company__name", "contract_reference")
    list_select_related = ("company", "chip")
    autocomplete_fields = ("company",)
    actions = [
        decision_action("contract", "Contract selected commitments"),
        decision_action("deliver", "Record a delivery for selected commitments"),
        decision_action("cancel", "Cancel selected commitments"),
    ]
