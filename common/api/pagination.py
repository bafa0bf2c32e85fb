"""Pagination that refuses unordered querysets (their pages would overlap and skip rows)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from rest_framework.pagination import PageNumberPagination


class OrderedPageNumberPagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (at most 200); the queryset must be ordered."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any] | None:
        if isinstance(queryset, QuerySet) and not queryset.ordered:
            raise ImproperlyConfigured(
                f"{type(view).__name__} paginates an unordered queryset of {queryset.model.__name__}: "
                "give the model a Meta.ordering or order_by() the queryset."
            )
        return super().paginate_queryset(queryset, request, view)
