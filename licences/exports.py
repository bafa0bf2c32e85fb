"""Spreadsheet exports from the admin, through django-import-export: CSV and XLSX, export
only, with every cell a spreadsheet would run as a formula neutralised.

Exported text is often company-controlled (a port of entry, a contract reference, a company
name): a cell such as ``=HYPERLINK("http://x","y")`` would become a live formula in the
regulator's spreadsheet. :func:`neutralise` prefixes a text cell that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return with an apostrophe (``'=HYPERLINK(...)``), so
spreadsheets show it as text (OWASP's advice); plain numbers such as ``-5`` are left alone.
Every export format here (:data:`EXPORT_FORMATS`) applies it to every cell, headers
included, whatever the settings say.

django-import-export's own ``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT`` is not used: in 4.4.3
(``import_export/formats/base_formats.py``, ``TablibFormat._escape_formulae``) it only drops
*one* leading ``=`` (``==1+1`` stays a formula; ``+ - @``, tab and CR pass untouched), and it
turns every cell into a string, numbers and dates included.

:class:`ExportAdminMixin` gives a model admin the "Export selected ..." action and the
changelist's Export button, needing only the model's *view* permission (the permission
the old CSV action needed); django-import-export's default would let any staff user export.
No import: the mixin adds none.
"""

from __future__ import annotations

import re
from typing import Any

import tablib
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import slugify
from import_export import resources
from import_export.admin import ExportActionMixin
from import_export.formats import base_formats

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(value: Any) -> Any:
    """``value``, or the text with a leading apostrophe if a spreadsheet would run it as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralised(dataset: tablib.Dataset) -> tablib.Dataset:
    """A copy of ``dataset`` with every cell (and header) passed through :func:`neutralise`."""
    safe = tablib.Dataset(title=dataset.title)
    if dataset.headers:
        safe.headers = [neutralise(header) for header in dataset.headers]
    for row in dataset:
        safe.append([neutralise(cell) for cell in row])
    return safe


class SafeCSV(base_formats.CSV):
    """CSV with formula cells neutralised."""

    def export_data(self, dataset: tablib.Dataset, **kwargs: Any) -> str:
        return super().export_data(neutralised(dataset), **kwargs)


class SafeXLSX(base_formats.XLSX):
    """XLSX with formula cells neutralised (openpyxl would otherwise store ``=...`` as a formula)."""

    def export_data(self, dataset: tablib.Dataset, **kwargs: Any) -> bytes:
        return super().export_data(neutralised(dataset), **kwargs)


EXPORT_FORMATS: list[type[base_formats.Format]] = [SafeCSV, SafeXLSX]


class ExportResource(resources.ModelResource):
    """Base of the admin's export resources: export only, in the order of ``Meta.fields``.

    Relation columns are written ``company__slug`` (as in ``Meta.fields``); properties are
    declared as ``Field``\\ s by the subclass. ``column_labels`` gives each column's header in
    the active language, ``pgettext_lazy("export column", key)``: in English the key itself
    (``company__slug``, the stable name a spreadsheet formula or script reads), in Chinese the
    catalogue's wording. Every column must have one (tests/i18n/test_exports.py).
    """

    column_labels: dict[str, Promise] = {}

    def get_export_headers(self, selected_fields: Any = None) -> list[str]:
        headers = super().get_export_headers(selected_fields=selected_fields)
        return [str(self.column_labels.get(header, header)) for header in headers]

    def filter_export(self, queryset: Any, **kwargs: Any) -> Any:
        """In primary-key order, with the related rows the columns name joined in (one query)."""
        related = sorted({name.split("__")[0] for name in self._meta.fields or () if "__" in name})
        queryset = queryset.select_related(*related) if related else queryset
        return queryset.order_by("pk")

    def import_data(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - never wired
        raise NotImplementedError("These resources only export.")


class ExportAdminMixin(ExportActionMixin):
    """Export selected rows (an admin action) or the filtered list (the changelist's button)
    as CSV or XLSX, through the admin's ``resource_classes``; needs the *view* permission."""

    # The change form stays the admin's own (decision buttons), without an export button.
    change_form_template = None
    show_change_form_export = False

    def get_export_formats(self) -> list[type[base_formats.Format]]:
        # Never from settings: every export goes through the neutralising formats.
        return [export_format for export_format in EXPORT_FORMATS if export_format().can_export()]

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)  # type: ignore[attr-defined]

    def get_export_data(self, file_format: base_formats.Format, request: HttpRequest, queryset: Any, **kwargs: Any):
        """As the library's, but XLSX keeps numbers and dates typed for our format subclasses
        too (the library recognises binary formats by exact class)."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        data = self.get_data_for_export(request, queryset, force_native_type=file_format.is_binary(), **kwargs)
        export_data = file_format.export_data(data)
        encoding = kwargs.get("encoding")
        if not file_format.is_binary() and encoding:
            export_data = export_data.encode(encoding)
        return export_data

    def get_valid_export_item_pks(self, request: HttpRequest) -> list[Any]:
        """The selected rows this user may export: only the posted keys, looked up in the
        admin's own queryset (the library's default loads every key of the table)."""
        pk_field = self.model._meta.pk  # type: ignore[attr-defined]
        posted = []
        for value in request.POST.getlist("export_items"):
            try:
                posted.append(pk_field.to_python(value))
            except ValidationError:
                continue
        return list(self.get_queryset(request).filter(pk__in=posted).values_list("pk", flat=True))  # type: ignore[attr-defined]

    def get_export_filename(self, request: HttpRequest, queryset: Any, file_format: base_formats.Format) -> str:
        """``import-licences-2026-11-28.xlsx``: as the old CSV export named its files."""
        opts = self.model._meta  # type: ignore[attr-defined]
        stamp = timezone.localdate().isoformat()
        return f"{slugify(opts.verbose_name_plural)}-{stamp}.{file_format.get_extension()}"
