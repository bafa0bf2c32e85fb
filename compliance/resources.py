"""What the admin exports of findings (CSV or XLSX, formula cells neutralised: see
:mod:`licences.exports`)."""

from __future__ import annotations

from compliance.models import Finding
from licences.exports import ExportResource


class FindingResource(ExportResource):
    class Meta:
        model = Finding
        fields = (
            "id",
            "rule",
            "severity",
            "status",
            "company__slug",
            "company__name",
            "subject",
            "summary",
            "first_seen_at",
            "last_seen_at",
            "acknowledged_at",
            "resolved_at",
            "resolution_note",
        )
        export_order = fields
