"""Drive the admin's spreadsheet export as a user does: the "Export selected" action, then
the export page's form (format and columns) posted back; returns the parsed rows."""

from __future__ import annotations

import csv
import io

import openpyxl
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse

FORMATS = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def export_response(client: Client, model: str, pks, fmt: str = "csv"):
    """The HTTP response of exporting the rows ``pks`` of ``model`` (``app_model``) as ``fmt``."""
    page = client.post(
        reverse(f"admin:{model}_changelist"),
        {"action": "export_admin_action", ACTION_CHECKBOX_NAME: [str(pk) for pk in pks]},
    )
    assert page.status_code == 200, page.status_code
    form = page.context["form"]
    choices = {label.lower(): value for value, label in form.fields["format"].choices if value != ""}
    data: dict = {"format": choices[fmt], "resource": "0", "export_items": [str(pk) for pk in pks]}
    for name, field in form.fields.items():
        if name not in data and field.initial:  # every column the form offers, ticked
            data[name] = "on"
    return client.post(reverse(f"admin:{model}_export"), data)


def export_rows(client: Client, model: str, pks, fmt: str = "csv") -> list[dict]:
    """The exported rows as dicts keyed by column header: text for CSV, openpyxl cells for XLSX
    (``.value``, and ``.data_type``: ``"s"`` text, ``"n"`` number, ``"f"`` formula)."""
    response = export_response(client, model, pks, fmt)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith(FORMATS[fmt])
    assert response["Content-Disposition"].startswith("attachment;")
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(response.content.decode())))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header, *rows = list(sheet.iter_rows())
    names = [cell.value for cell in header]
    return [dict(zip(names, row, strict=True)) for row in rows]
