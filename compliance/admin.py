"""Admin for US security conditions, findings, API keys and webhooks."""

from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin
from simple_history.admin import SimpleHistoryAdmin

from compliance.models import (
    CompanyAPIKey,
    Finding,
    SecurityAttestation,
    SecurityRequirement,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from licences import admin as licences_admin


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


@admin.register(SecurityRequirement)
class SecurityRequirementAdmin(SimpleHistoryAdmin):
    list_display = ("code", "title", "scope", "mandatory", "validity_days")
    list_filter = ("scope", "mandatory")
    search_fields = ("code", "title")


@admin.register(SecurityAttestation)
class SecurityAttestationAdmin(SimpleHistoryAdmin):
    list_display = ("company", "requirement", "shipment", "status", "attested_on", "expires_on", "reviewed_at")
    list_filter = ("status", "requirement")
    search_fields = ("company__name", "evidence_reference")
    list_select_related = ("company", "requirement", "shipment")
    autocomplete_fields = ("company",)
    raw_id_fields = ("shipment",)
    readonly_fields = ("status", "reviewed_at", "reviewed_by", "expires_on", "review_note")


@admin.register(Finding)
class FindingAdmin(SimpleHistoryAdmin):
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
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
    )

    def has_add_permission(self, request):
        return False


@admin.register(CompanyAPIKey)
class CompanyAPIKeyAdmin(APIKeyModelAdmin):
    list_display = [*APIKeyModelAdmin.list_display, "company", "is_regulator", "last_used_at"]
    list_filter = ("is_regulator", "revoked")
    search_fields = [*APIKeyModelAdmin.search_fields, "company__name"]


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("attempted_at", "response_code", "error", "duration_ms")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(SimpleHistoryAdmin):
    list_display = ("name", "company", "url", "is_active", "consecutive_failures", "disabled_at")
    list_filter = ("is_active",)
    search_fields = ("name", "url", "company__name")


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
