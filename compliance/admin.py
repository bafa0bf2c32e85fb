"""Admin for US security conditions, findings, API keys and webhooks.

Reviewing attestations and resolving findings are decisions through
``compliance.services`` (the functions the API calls), with a confirmation step (acknowledging
a finding is its company's act, through the API only); "run the
compliance check now" sweeps the selected companies with ``compliance.sweep.run_sweep``.
The dashboard, company page and policy-impact page are in ``cockpit.views``.
"""

from __future__ import annotations

import os
from typing import cast  # lazy translations where the admin helpers are typed str

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponseBase
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.admin import APIKeyModelAdmin
from simple_history.admin import SimpleHistoryAdmin

from common.admin_helpers import (
    Decision,
    DecisionAdminMixin,
    IsoDateInput,
    ReasonForm,
    ServiceOwnedHistoryMixin,
    acting_user,
    decision_action,
    message_domain_error,
)
from common.errors import DomainError
from compliance import services
from compliance.evidence import evidence_response
from compliance.groups import REGULATOR, holds_regulator_rights
from compliance.models import (
    AttestationReview,
    CompanyAPIKey,
    Finding,
    FindingTransition,
    SecurityAttestation,
    SecurityRequirement,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from compliance.resources import FindingResource
from compliance.sweep import run_sweep
from compliance.webhook_targets import WebhookUrlForbidden, check_webhook_url
from licences import admin as licences_admin
from licences.exports import ExportAdminMixin
from licences.models import Company


class AttestationInline(admin.TabularInline):
    model = SecurityAttestation
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("requirement", "status", "attested_on", "expires_on", "evidence_reference")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


licences_admin.extra_company_inlines.append(AttestationInline)


@admin.action(description=_("Run the compliance check now for selected companies"), permissions=["change"])
def run_compliance_check(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Company]) -> None:
    """Sweep the selected companies against every rule now (the scheduled sweep's function)."""
    try:
        summary = run_sweep(company_ids=list(queryset.values_list("pk", flat=True)))
    except DomainError as error:
        message_domain_error(request, error, subject=gettext("Compliance check"))
        return
    messages.success(
        request, gettext("Compliance check done.") + " " + " ".join(line.strip() + "." for line in summary.lines())
    )


licences_admin.extra_company_actions.append(run_compliance_check)


class AcceptForm(forms.Form):
    """Accept an attestation, with its expiry (default: the requirement's validity)."""

    expires_on = forms.DateField(
        label=_("Expires on"),
        required=False,
        widget=IsoDateInput(),
        help_text=_("Leave empty for the requirement's validity from the attestation date."),
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


def _submitted(attestation: SecurityAttestation) -> bool:
    return attestation.status == SecurityAttestation.Status.SUBMITTED


ATTESTATION_DECISIONS = (
    Decision(
        name="accept",
        label=cast(str, _("Accept")),
        form_class=AcceptForm,
        perform=lambda request, attestation, data: services.attestation_review(
            attestation=attestation,
            accept=True,
            reviewer=acting_user(request),
            expires_on=data["expires_on"],
            note=data["note"],
        ),
        applies_to=_submitted,
        done=cast(str, _("accepted")),
    ),
    Decision(
        name="reject",
        label=cast(str, _("Reject")),
        form_class=ReasonForm,
        perform=lambda request, attestation, data: services.attestation_review(
            attestation=attestation, accept=False, reviewer=acting_user(request), note=data["reason"]
        ),
        applies_to=_submitted,
        done=cast(str, _("rejected")),
        danger=True,
    ),
)


def _active(finding: Finding) -> bool:
    return finding.status != Finding.Status.RESOLVED


FINDING_DECISIONS = (
    Decision(
        name="resolve",
        label=cast(str, _("Resolve")),
        form_class=ReasonForm,
        perform=lambda request, finding, data: services.finding_resolve(
            finding=finding, note=data["reason"], user=acting_user(request)
        ),
        applies_to=_active,
        done=cast(str, _("resolved")),
        help_text=cast(str, _("The next compliance sweep re-opens the finding if its condition still holds.")),
    ),
)


@admin.register(SecurityRequirement)
class SecurityRequirementAdmin(SimpleHistoryAdmin):
    list_display = ("code", "title", "scope", "mandatory", "validity_days")
    list_filter = ("scope", "mandatory")
    search_fields = ("code", "title")


@admin.register(SecurityAttestation)
class SecurityAttestationAdmin(DecisionAdminMixin, ServiceOwnedHistoryMixin, SimpleHistoryAdmin):
    decisions = ATTESTATION_DECISIONS
    actions = [
        decision_action("accept", cast(str, _("Accept selected attestations (with expiry)"))),
        decision_action("reject", cast(str, _("Reject selected attestations"))),
    ]
    list_display = ("company", "requirement", "shipment", "status", "attested_on", "expires_on", "reviewed_at")
    list_filter = ("status", "requirement")
    search_fields = ("company__name", "evidence_reference")
    list_select_related = ("company", "requirement", "shipment")
    autocomplete_fields = ("company",)
    raw_id_fields = ("shipment",)

    def has_add_permission(self, request):
        # A submission is the company's (``POST /api/v1/attestations/``); the authority reviews it.
        return False

    def get_readonly_fields(self, request, obj=None):
        # The submission is the company's, the review the decisions': no form edits either. The
        # file is shown as a link to the download below (nothing serves the storage's own URLs).
        names = [field.name for field in SecurityAttestation._meta.fields]
        return [("evidence" if name == "evidence_file" else name) for name in names]

    @admin.display(description=_("evidence file"))
    def evidence(self, attestation: SecurityAttestation) -> str:
        if not attestation.evidence_file:
            return "-"
        url = reverse("admin:compliance_securityattestation_evidence", args=[attestation.pk])
        return format_html('<a href="{}">{}</a>', url, os.path.basename(str(attestation.evidence_file.name)))

    def get_urls(self):
        download = path(
            "<path:object_id>/evidence/",
            self.admin_site.admin_view(self.evidence_view),
            name="compliance_securityattestation_evidence",
        )
        return [download, *super().get_urls()]

    def evidence_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """The evidence file as a download, for whoever may view the attestation here."""
        attestation = self.get_object(request, unquote(object_id))
        if attestation is None:
            raise Http404
        if not self.has_view_permission(request, attestation):
            raise PermissionDenied
        try:
            return evidence_response(attestation)
        except DomainError as missing:
            self.message_user(request, missing.message, messages.ERROR)
            return redirect("admin:compliance_securityattestation_change", attestation.pk)

    def has_delete_permission(self, request, obj=None):
        return False  # nobody on staff erases what a company or customs asserted (superusers included)


@admin.register(Finding)
class FindingAdmin(DecisionAdminMixin, ExportAdminMixin, ServiceOwnedHistoryMixin, SimpleHistoryAdmin):
    decisions = FINDING_DECISIONS
    resource_classes = [FindingResource]
    actions = [
        decision_action("resolve", cast(str, _("Resolve selected findings"))),
    ]
    list_display = ("summary", "rule", "severity", "company", "status", "first_seen_at", "last_seen_at")
    list_filter = ("status", "severity", "rule")
    search_fields = ("summary", "company__name", "subject")
    list_select_related = ("company",)
    readonly_fields = (
        "rule",
        "severity",
        "company",
        "subject",
        "fingerprint",
        "status",
        "summary",
        "details",
        "first_seen_at",
        "last_seen_at",
        "as_known_at",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
    )

    def has_add_permission(self, request):
        return False


class LedgerAdmin(admin.ModelAdmin):
    """A hash-chained, append-only ledger (``licences.chain``): written by the services only, read here."""

    ordering = ("-id",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AttestationReview)
class AttestationReviewAdmin(LedgerAdmin):
    list_display = ("attestation", "decision", "expires_on", "reviewed_at", "reviewed_by", "chain_seq")
    list_filter = ("decision",)
    list_select_related = ("attestation__company", "attestation__requirement")


@admin.register(FindingTransition)
class FindingTransitionAdmin(LedgerAdmin):
    list_display = ("finding", "kind", "status", "severity", "at", "by", "chain_seq")
    list_filter = ("kind", "severity")
    list_select_related = ("finding",)


class CompanyAPIKeyForm(forms.ModelForm):
    """The kind and its owner agree (a company key a company, a regulator key an eligible user,
    a customs key neither); only a superuser may choose a kind other than ``company``."""

    class Meta:
        model = CompanyAPIKey
        fields = ("name", "kind", "company", "user", "expiry_date", "revoked")

    def __init__(self, *args, superuser: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not superuser:
            for name in ("kind", "user"):
                self.fields.pop(name, None)
        elif "user" in self.fields:
            # Offered: the users who may hold a regulator key (clean() checks again).
            self.fields["user"].queryset = (
                get_user_model()
                .objects.filter(is_active=True)
                .filter(Q(is_superuser=True) | Q(groups__name=REGULATOR))
                .distinct()
            )

    def clean(self):
        data = super().clean()
        kind = data.get("kind", self.instance.kind if self.instance.pk else CompanyAPIKey.Kind.COMPANY)
        company, user = data.get("company"), data.get("user")
        if kind == CompanyAPIKey.Kind.COMPANY:
            if company is None:
                self.add_error("company", gettext("A company key belongs to a company."))
            if user is not None:
                self.add_error("user", gettext("A company key belongs to no user."))
        elif kind == CompanyAPIKey.Kind.REGULATOR:
            if company is not None:
                self.add_error("company", gettext("A regulator key belongs to no company."))
            if user is None:
                self.add_error("user", gettext("A regulator key belongs to a user (it stops working with that user)."))
            elif not holds_regulator_rights(user):
                self.add_error(
                    "user", gettext("Only an active superuser or member of the Regulator group may hold one.")
                )
        else:
            if company is not None:
                self.add_error("company", gettext("A customs key belongs to no company."))
            if user is not None:
                self.add_error("user", gettext("A customs key belongs to no user."))
        return data


@admin.register(CompanyAPIKey)
class CompanyAPIKeyAdmin(APIKeyModelAdmin):
    """API keys. The Regulator group may mint, rename and revoke company keys only; regulator and
    customs keys (all-tenant credentials) are a superuser's. Analysts have no access at all
    (``compliance.groups``): key names and prefixes are credentials' metadata."""

    form = CompanyAPIKeyForm
    list_display = [*APIKeyModelAdmin.list_display, "kind", "company", "user", "last_used_at"]
    list_filter = ("kind", "revoked")
    search_fields = [*APIKeyModelAdmin.search_fields, "company__name"]
    list_select_related = ("company", "user")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        superuser = request.user.is_superuser

        class BoundForm(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, superuser=superuser, **inner)

        return BoundForm

    def get_fields(self, request, obj=None):
        fields = ["name", "kind", "company", "user", "expiry_date", "revoked", "prefix"]
        if not request.user.is_superuser:
            fields = [name for name in fields if name not in ("kind", "user")]
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.kind != CompanyAPIKey.Kind.COMPANY and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if obj.kind != CompanyAPIKey.Kind.COMPANY and not request.user.is_superuser:
            raise PermissionDenied(gettext("Only a superuser may issue or change regulator and customs keys."))
        super().save_model(request, obj, form, change)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("attempted_at", "response_code", "error", "duration_ms")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class WebhookSubscriptionForm(forms.ModelForm):
    """The signing secret is write-only: never rendered, not even masked. Required when the
    subscription is created; on a change, leave it blank to keep the secret, or type a new
    one to rotate it. The receiver URL is checked as the API checks it (public addresses
    only); the admin, seen by the regulator alone, says precisely why one is refused."""

    new_secret = forms.CharField(
        label=_("Signing secret"),
        required=False,
        min_length=16,
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Write-only: the current secret is never shown. Leave blank to keep it; type a new "
            "one (16 to 128 characters) to rotate it, and give the same value to the receiver."
        ),
    )

    class Meta:
        model = WebhookSubscription
        # Every editable field but the stored secret, which no form ever holds.
        fields = (
            "company",
            "name",
            "url",
            "new_secret",
            "event_types",
            "language",
            "is_active",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.fields["new_secret"].required = True
            self.fields["new_secret"].help_text = gettext(
                "Write-only: shown nowhere after saving (16 to 128 characters)."
            )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            check_webhook_url(url)
        except WebhookUrlForbidden as refusal:
            raise forms.ValidationError(f"{refusal.message} ({refusal.reason})", code=refusal.code) from None
        return url

    def save(self, commit: bool = True) -> WebhookSubscription:
        if self.cleaned_data.get("new_secret"):
            self.instance.secret = self.cleaned_data["new_secret"]
        return super().save(commit=commit)


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(SimpleHistoryAdmin):
    form = WebhookSubscriptionForm
    list_display = ("name", "company", "url", "is_active", "consecutive_failures", "disabled_at")
    list_filter = ("is_active",)
    search_fields = ("name", "url", "company__name")
    readonly_fields = ("last_delivery_error",)

    def get_readonly_fields(self, request, obj=None):
        # A subscription's company is fixed once created, as in the API: a company's receiver
        # never starts receiving every company's findings.
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "company") if obj is not None else fields

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        # A view-only user gets no secret field at all (there is nothing to show).
        can_write = self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
        return fields if can_write else [field for field in fields if field != "new_secret"]

    @admin.display(description=_("Last delivery error (regulator only)"))
    def last_delivery_error(self, obj: WebhookSubscription) -> str:
        """The detailed error of the latest failed attempt: the company only ever sees
        "delivery failed" (``disabled_reason``), since the details would map its network."""
        if obj.pk is None:
            return "-"
        attempt = (
            WebhookAttempt.objects.filter(delivery__subscription=obj).exclude(error="").order_by("-attempted_at", "-pk")
        ).first()
        return f"{attempt.attempted_at:%Y-%m-%d %H:%M:%S %Z}: {attempt.error}" if attempt else "-"


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("delivery_id", "subscription", "event_type", "status", "attempts", "created_at", "delivered_at")
    list_filter = ("status", "event_type")
    list_select_related = ("subscription",)
    inlines = [WebhookAttemptInline]
    readonly_fields = (
        "subscription",
        "delivery_id",
        "event_type",
        "finding",
        "payload",
        "status",
        "attempts",
        "delivered_at",
    )

    def has_add_permission(self, request):
        return False
