"""What the admin exports of licences and shipments (CSV or XLSX, formula cells neutralised:
see :mod:`licences.exports`)."""

from __future__ import annotations

from django.utils.translation import pgettext_lazy
from import_export.fields import Field
from import_export.widgets import DecimalWidget, IntegerWidget

from licences.exports import ExportResource
from licences.models import ImportLicence, Shipment


class ImportLicenceResource(ExportResource):
    column_labels = {
        "number": pgettext_lazy("export column", "number"),
        "company__slug": pgettext_lazy("export column", "company__slug"),
        "company__name": pgettext_lazy("export column", "company__name"),
        "chip__code": pgettext_lazy("export column", "chip__code"),
        "round__name": pgettext_lazy("export column", "round__name"),
        "status": pgettext_lazy("export column", "status"),
        "requested_quantity": pgettext_lazy("export column", "requested_quantity"),
        "granted_quantity": pgettext_lazy("export column", "granted_quantity"),
        "reserved_quantity": pgettext_lazy("export column", "reserved_quantity"),
        "used_quantity": pgettext_lazy("export column", "used_quantity"),
        "remaining_quantity": pgettext_lazy("export column", "remaining_quantity"),
        "unit_value_usd": pgettext_lazy("export column", "unit_value_usd"),
        "granted_value_usd": pgettext_lazy("export column", "granted_value_usd"),
        "valid_from": pgettext_lazy("export column", "valid_from"),
        "valid_until": pgettext_lazy("export column", "valid_until"),
        "applied_at": pgettext_lazy("export column", "applied_at"),
        "approved_at": pgettext_lazy("export column", "approved_at"),
        "status_reason": pgettext_lazy("export column", "status_reason"),
    }
    remaining_quantity = Field(
        attribute="remaining_quantity", column_name="remaining_quantity", widget=IntegerWidget(), readonly=True
    )
    granted_value_usd = Field(
        attribute="granted_value_usd", column_name="granted_value_usd", widget=DecimalWidget(), readonly=True
    )

    class Meta:
        model = ImportLicence
        fields = (
            "number",
            "company__slug",
            "company__name",
            "chip__code",
            "round__name",
            "status",
            "requested_quantity",
            "granted_quantity",
            "reserved_quantity",
            "used_quantity",
            "remaining_quantity",
            "unit_value_usd",
            "granted_value_usd",
            "valid_from",
            "valid_until",
            "applied_at",
            "approved_at",
            "status_reason",
        )
        export_order = fields


class ShipmentResource(ExportResource):
    column_labels = {
        "declaration_number": pgettext_lazy("export column", "declaration_number"),
        "company__slug": pgettext_lazy("export column", "company__slug"),
        "licence__number": pgettext_lazy("export column", "licence__number"),
        "chip__code": pgettext_lazy("export column", "chip__code"),
        "quantity": pgettext_lazy("export column", "quantity"),
        "declared_value_usd": pgettext_lazy("export column", "declared_value_usd"),
        "port_of_entry": pgettext_lazy("export column", "port_of_entry"),
        "status": pgettext_lazy("export column", "status"),
        "declared_at": pgettext_lazy("export column", "declared_at"),
        "status_changed_at": pgettext_lazy("export column", "status_changed_at"),
        "held_since": pgettext_lazy("export column", "held_since"),
        "cleared_at": pgettext_lazy("export column", "cleared_at"),
        "entry_block_directive__reference": pgettext_lazy("export column", "entry_block_directive__reference"),
    }

    class Meta:
        model = Shipment
        fields = (
            "declaration_number",
            "company__slug",
            "licence__number",
            "chip__code",
            "quantity",
            "declared_value_usd",
            "port_of_entry",
            "status",
            "declared_at",
            "status_changed_at",
            "held_since",
            "cleared_at",
            "entry_block_directive__reference",
        )
        export_order = fields
