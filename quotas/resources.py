"""What the admin exports of domestic purchase commitments (CSV or XLSX, formula cells
neutralised: see :mod:`licences.exports`)."""

from __future__ import annotations

from import_export.fields import Field
from import_export.widgets import DecimalWidget

from licences.exports import ExportResource
from quotas.models import DomesticCommitment


class DomesticCommitmentResource(ExportResource):
    value_usd = Field(attribute="value_usd", column_name="value_usd", widget=DecimalWidget(), readonly=True)

    class Meta:
        model = DomesticCommitment
        fields = (
            "id",
            "company__slug",
            "company__name",
            "chip__code",
            "quantity",
            "status",
            "delivered_quantity",
            "unit_price",
            "currency",
            "unit_price_usd",
            "value_usd",
            "pledged_on",
            "contracted_on",
            "delivered_on",
            "cancelled_on",
            "due_date",
            "contract_reference",
        )
        export_order = fields
