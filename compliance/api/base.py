"""Base classes every API viewset and write serializer builds on.

A viewset declares its ``queryset``, ``serializer_class``, ``filterset_class``,
``ordering_fields`` and, for tenant data, ``company_field`` (the path from its model to
the owning company). :meth:`ApiViewSetMixin.scoped` is the one place where a company key
is narrowed to its own rows: ``get_queryset`` and every related-object lookup in a
write serializer go through it, so another company's records answer 404 and never show
in lists, filters or counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from compliance.api import idempotency
from compliance.api.limits import MAX_DATE, MAX_QUANTITY, MIN_DATE
from compliance.api.principal import Principal, principal_of


class ApiViewSetMixin:
    """Scoping, atomic writes and idempotency for every API viewset."""

    #: Path from the model to its company (``"company"``, ``"pk"`` for Company itself);
    #: ``None`` for shared catalogue data every client may read.
    company_field: str | None = "company"
    #: Actions only the regulator may perform (403 ``permission_denied`` for a company key).
    regulator_actions: frozenset[str] = frozenset()
    ordering_fields: tuple[str, ...] = ()
    #: Natural keys in URLs: anything but a slash, a dot (format suffix) or NUL.
    lookup_value_regex = r"[^/.\x00]+"
    _claim: idempotency.Claim | None = None

    # --- Who is calling ------------------------------------------------------------------

    @property
    def principal(self) -> Principal:
        principal = principal_of(self.request)
        if principal is None:  # permissions run first; this is a programming error
            raise PermissionDenied()
        return principal

    # --- Tenant scoping: the one place ---------------------------------------------------

    def scoped(self, queryset: QuerySet, company_field: str | None = "company") -> QuerySet:
        """``queryset`` narrowed to what the caller may see (everything for the regulator)."""
        principal = principal_of(self.request)
        if principal is None:
            return queryset.none()
        if principal.is_regulator or company_field is None:
            return queryset
        return queryset.filter(**{company_field: principal.company_id})

    def get_queryset(self) -> QuerySet:
        return self.scoped(super().get_queryset(), self.company_field)  # type: ignore[misc]

    # --- Writes: atomic and idempotent -------------------------------------------------------

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """Run every write in one transaction, rolled back if the answer is not a success."""
        if request.method in SAFE_METHODS:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
            if response.status_code >= 400:
                transaction.set_rollback(True)
        return response

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self._claim = idempotency.claim(request)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, idempotency.IdempotentReplay):
            return exc.response()
        return super().handle_exception(exc)  # type: ignore[misc]

    def finalize_response(self, request: Any, response: Response, *args: Any, **kwargs: Any) -> Response:
        if self._claim is not None and 200 <= response.status_code < 300:
            self._claim.complete(response)
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()  # type: ignore[misc]
        context["principal"] = principal_of(self.request)
        return context

    # --- Rendering helpers for actions ------------------------------------------------------

    def parse(self, serializer_class: type[serializers.Serializer], **kwargs: Any) -> dict[str, Any]:
        """Validate the request body with ``serializer_class``; its validated data."""
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context(), **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def query_date(self, name: str = "on") -> dt.date:
        """A date from the query string (``?on=YYYY-MM-DD``), today when absent."""
        raw = self.request.query_params.get(name)
        if raw is None:
            return timezone.localdate()
        try:
            return BoundedDateField().run_validation(raw)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({name: error.detail}) from error

    def render(self, instance: Any, status: int = 200) -> Response:
        """The instance in the viewset's read representation."""
        return Response(self.get_serializer(instance).data, status=status)


class ReadOnlyApiViewSet(ApiViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """List and retrieve, scoped."""


class CreateReadApiViewSet(ApiViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """List, retrieve and create, scoped."""


class StrictSerializerMixin:
    """Reject fields the serializer does not accept (unknown or read-only) instead of ignoring them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}  # type: ignore[attr-defined]
            unknown = sorted(str(name) for name in data if name not in writable)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown or read-only field."] for name in unknown})
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictSerializer(StrictSerializerMixin, serializers.Serializer):
    """A plain input serializer that refuses unknown fields."""


class BoundedDateField(serializers.DateField):
    """A date between ``MIN_DATE`` and ``MAX_DATE``."""

    def to_internal_value(self, value: Any) -> dt.date:
        parsed = super().to_internal_value(value)
        if not MIN_DATE <= parsed <= MAX_DATE:
            raise serializers.ValidationError(f"Must be between {MIN_DATE} and {MAX_DATE}.")
        return parsed


class BoundedDateTimeField(serializers.DateTimeField):
    """A date and time whose date lies between ``MIN_DATE`` and ``MAX_DATE``."""

    def to_internal_value(self, value: Any) -> dt.datetime:
        parsed = super().to_internal_value(value)
        if not MIN_DATE <= parsed.date() <= MAX_DATE:
            raise serializers.ValidationError(f"Must be between {MIN_DATE} and {MAX_DATE}.")
        return parsed


def QuantityField(**kwargs: Any) -> serializers.IntegerField:
    """A whole number of chips, 1 to 10^12."""
    return serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, **kwargs)


class ScopedSlugRelatedField(serializers.SlugRelatedField):
    """A reference by natural key, resolved only among the rows the caller may see.

    Another company's licence is "does not exist" to a company key, exactly like one that
    does not exist at all.
    """

    def __init__(self, *, company_field: str | None = "company", **kwargs: Any) -> None:
        self.company_field = company_field
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        view = self.context.get("view")
        if view is None or not hasattr(view, "scoped"):
            return queryset.none()
        return view.scoped(queryset, self.company_field)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str | int) or isinstance(data, bool) or len(str(data)) > 200:
            self.fail("invalid")
        if "\x00" in str(data):  # PostgreSQL cannot even compare text with NUL in it
            self.fail("does_not_exist", slug_name=self.slug_field, value="?")
        return super().to_internal_value(str(data))


@extend_schema_field(OpenApiTypes.INT)
class ScopedIdRelatedField(ScopedSlugRelatedField):
    """A reference by integer id, resolved only among the rows the caller may see."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="pk", **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int | str) or not str(data).isdigit():
            self.fail("invalid")
        if not 0 < int(data) < 2**63:
            self.fail("does_not_exist", slug_name="id", value=str(data)[:20])
        return super().to_internal_value(int(data))
