"""Admin for quota policies and domestic purchase commitments."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from licences import admin as licences_admin
from quotas.models import DomesticCommitment, QuotaPolicy


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


@admin.register(QuotaPolicy)
class QuotaPolicyAdmin(SimpleHistoryAdmin):
    list_display = ("name", "version", "status", "ratio", "basis", "measured_on", "effective_from", "effective_until")
    list_filter = ("status", "basis", "measured_on")
    search_fields = ("name",)

    def get_readonly_fields(self, request, obj=None):
        # An active or retired policy is history: a new ratio means a new version.
        if obj is not None and obj.status != QuotaPolicy.Status.DRAFT:
            return [field.name for field in obj._meta.fields]
        return ["status"]


@admin.register(DomesticCommitment)
class DomesticCommitmentAdmin(SimpleHistoryAdmin):
    list_display = ("company", "chip", "quantity", "status", "delivered_quantity", "due_date", "contract_reference")
    list_filter = ("status", "chip")
    search_fields = ("company__name", "contract_reference")
    list_select_related = ("company", "chip")
    autocomplete_fields = ("company",)
