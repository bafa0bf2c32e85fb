"""Filter backends shared by the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext
from django_filters import FilterSet, IsoDateTimeFilter, NumberFilter
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.filters import OrderingFilter

from common.api.limits import MAX_DATE, MIN_DATE


class QueryFilterBackend(DjangoFilterBackend):  # type: ignore[misc] # django-filter ships no types
    """django-filter's backend, skipped when the query string names none of the filters.

    A filter set bound to a query string that names none of its filters filters nothing:
    every filter leaves the queryset as it is for an empty value. Building and validating
    its form anyway costs a list request about a tenth of its time. The full path still
    runs whenever a parameter could belong to a filter (its name, or a name it prefixes,
    as a range's ``_min`` and ``_max``), when a filter is required, and for filter sets that
    change how filtering is done.
    """

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not _may_filter(filterset_class, request.query_params):
            return queryset
        filtered: QuerySet[Any] = super().filter_queryset(request, queryset, view)
        return filtered


def _may_filter(filterset_class: type[FilterSet], params: Any) -> bool:
    """Whether binding ``params`` to ``filterset_class`` could change a queryset."""
    if filterset_class.filter_queryset is not FilterSet.filter_queryset or filterset_class.qs is not FilterSet.qs:
        return True
    names = tuple(filterset_class.base_filters)
    if any(f.extra.get("required") for f in filterset_class.base_filters.values()):
        return True
    return any(param.startswith(names) for param in params)


class StableOrderingFilter(OrderingFilter):
    """``?ordering=`` with the primary key as the last tie-breaker, so pages never overlap."""

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        ordering = self.get_ordering(request, queryset, view)
        if not ordering:
            return queryset
        return queryset.order_by(*ordering, "pk")

    def get_default_ordering(self, view: Any) -> None:
        # Without ?ordering= the model's Meta.ordering applies (already a total order).
        return None


class BoundedIsoDateTimeField(IsoDateTimeField):  # type: ignore[misc] # django-filter ships no types
    """An ISO 8601 date and time in a sane range, normalised to UTC.

    PostgreSQL refuses UTC offsets beyond ±15:59 that Python accepts, and converting a
    datetime near the calendar's ends overflows: both would be a 500 instead of a 400.
    """

    def to_python(self, value: Any) -> dt.datetime | None:
        parsed: dt.datetime | None = super().to_python(value)
        if parsed is None:
            return None
        if not MIN_DATE <= parsed.date() <= MAX_DATE:
            raise ValidationError(
                gettext("Must be between %(min)s and %(max)s.") % {"min": MIN_DATE, "max": MAX_DATE}, code="invalid"
            )
        return parsed.astimezone(dt.UTC)


class BoundedIsoDateTimeFilter(IsoDateTimeFilter):  # type: ignore[misc] # django-filter ships no types
    """``IsoDateTimeFilter`` with :class:`BoundedIsoDateTimeField`."""

    field_class = BoundedIsoDateTimeField


#: The largest id a database integer column holds (signed 64 bits).
MAX_ID = 2**63 - 1


class IdField(forms.IntegerField):
    """A row id in a query string: ASCII digits, at most ``MAX_ID``.

    ``django_filters.NumberFilter`` reads a decimal: ``?round=99999999999999999999999``
    overflowed SQLite's integer (a 500). And ``int()`` accepts more than ASCII digits
    (Arabic-Indic digits, for one), which no client means.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
            raise ValidationError(
                gettext("Must be a whole number from 0 to %(max)d.") % {"max": MAX_ID}, code="invalid"
            )
        return super().to_python(text)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(NumberFilter):  # type: ignore[misc] # django-filter ships no types
    """Equality on an integer id column (``?round=3``), bounded by :class:`IdField`."""

    field_class = IdField

    def get_max_validator(self) -> None:
        return None  # IdField bounds itself
