"""What the admin exports of licences and shipments (CSV or XLSX, formula cells neutralised:
see :mod:`licences.exports`)."""

from __future__ import annotations

from import_export.fields import Field
from import_export.widgets import DecimalWidget, IntegerWidget

from licences.exports import ExportResource
from licences.models import ImportLicence, Shipment


class ImportLicenceResource(ExportResource):
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
