"""Admin for companies, the chip catalogue, rounds, licences, shipments and directives.

Decisions (approve, suspend, ...) go through ``licences.services``; fields those services
own are read-only here so no form can bypass a rule.
"""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from licences.models import (
    AllocationRound,
    ChipModel,
    Company,
    CustomsDirective,
    CustomsEvent,
    ImportLicence,
    Shipment,
)


class LicenceInline(admin.TabularInline):
    model = ImportLicence
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("number", "chip", "round", "status", "requested_quantity", "granted_quantity", "valid_until")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
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


@admin.register(Company)
class CompanyAdmin(SimpleHistoryAdmin):
    list_display = ("name", "slug", "category", "created_at")
    list_filter = ("category",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [LicenceInline]

    def get_inlines(self, request, obj):
        # The quotas and compliance apps add their inlines (commitments, attestations)
        # through ``extra_company_inlines`` without this app importing them.
        return [*self.inlines, *extra_company_inlines]


# Filled by higher apps' admin modules: keeps imports running licences <- quotas <- compliance.
extra_company_inlines: list[type[admin.options.InlineModelAdmin]] = []


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
class AllocationRoundAdmin(SimpleHistoryAdmin):
    list_display = ("name", "opens_on", "closes_on", "unit_cap", "granted_units", "value_cap_usd", "granted_value_usd")
    search_fields = ("name",)
    readonly_fields = ("granted_units", "granted_value_usd")


@admin.register(ImportLicence)
class ImportLicenceAdmin(SimpleHistoryAdmin):
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
    search_fields = ("number", "company__name", "company__slug")
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


@admin.register(Shipment)
class ShipmentAdmin(SimpleHistoryAdmin):
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

    def has_add_permission(self, request):
        # Declarations go through shipment_declare (API), which reserves licence quantity.
        return False


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
    list_display = ("reference", "chip", "blocked_from", "blocked_until", "reason")
    list_filter = ("chip",)
    search_fields = ("reference", "reason")
