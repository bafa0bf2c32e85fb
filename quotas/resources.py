"""What the admin exports of domestic purchase commitments (CSV or XLSX, formula cells
neutralised: see :mod:`licences.exports`)."""

from __future__ import annotations

from django.utils.translation import pgettext_lazy
from import_export.fields import Field
from import_export.widgets import DecimalWidget

from licences.exports import ExportResource
from quotas.models import DomesticCommitment


class DomesticCommitmentResource(ExportResource):
    column_labels = {
        "id": pgettext_lazy("export column", "id"),
        "company__slug": pgettext_lazy("export column", "company__slug"),
        "company__name": pgettext_lazy("export column", "company__name"),
        "chip__code": pgettext_lazy("export column", "chip__code"),
        "quantity": pgettext_lazy("export column", "quantity"),
        "status": pgettext_lazy("export column", "status"),
        "delivered_quantity": pgettext_lazy("export column", "delivered_quantity"),
        "unit_price": pgettext_lazy("export column", "unit_price"),
        "currency": pgettext_lazy("export column", "currency"),
        "unit_price_usd": pgettext_lazy("export column", "unit_price_usd"),
        "value_usd": pgettext_lazy("export column", "value_usd"),
        "pledged_on": pgettext_lazy("export column", "pledged_on"),
        "contracted_on": pgettext_lazy("export column", "contracted_on"),
        "delivered_on": pgettext_lazy("export column", "delivered_on"),
        "cancelled_on": pgettext_lazy("export column", "cancelled_on"),
        "due_date": pgettext_lazy("export column", "due_date"),
        "contract_reference": pgettext_lazy("export column", "contract_reference"),
    }
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
