"""Filter backends shared by the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters import IsoDateTimeFilter
from django_filters.fields import IsoDateTimeField
from rest_framework.filters import OrderingFilter

from compliance.api.limits import MAX_DATE, MIN_DATE


class StableOrderingFilter(OrderingFilter):
    """``?ordering=`` with the primary key as the last tie-breaker, so pages never overlap."""

    def filter_queryset(self, request: Any, queryset: QuerySet, view: Any) -> QuerySet:
        ordering = self.get_ordering(request, queryset, view)
        if not ordering:
            return queryset
        return queryset.order_by(*ordering, "pk")

    def get_default_ordering(self, view: Any) -> None:
        # Without ?ordering= the model's Meta.ordering applies (already a total order).
        return None


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date and time in a sane range, normalised to UTC.

    PostgreSQL refuses UTC offsets beyond ±15:59 that Python accepts, and converting a
    datetime near the calendar's ends overflows: both would be a 500 instead of a 400.
    """

    def to_python(self, value: Any) -> dt.datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        if not MIN_DATE <= parsed.date() <= MAX_DATE:
            raise ValidationError(f"Must be between {MIN_DATE} and {MAX_DATE}.", code="invalid")
        return parsed.astimezone(dt.UTC)


class BoundedIsoDateTimeFilter(IsoDateTimeFilter):
    """``IsoDateTimeFilter`` with :class:`BoundedIsoDateTimeField`."""

    field_class = BoundedIsoDateTimeField
