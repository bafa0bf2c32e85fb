"""Viewset bases and scoped related fields: tenant scoping, natural-key look-ups and the
``?company=`` parameter.

A viewset declares its ``queryset``, ``serializer_class``, ``filterset_class``,
``ordering_fields`` and, for tenant data, ``company_field`` (the path from its model to
the owning company). :meth:`ApiViewSetMixin.scoped` is the one place where a company key
is narrowed to its own rows: ``get_queryset`` and every related-object lookup in a
write serializer go through it, so another company's records answer 404 and never show
in lists, filters or counts.

Licence and declaration numbers are unique within a company only: :func:`get_by_natural_key`
is the one look-up by such a number (URLs with ``?company=<slug>``, body references with a
``company`` field), refusing an ambiguous number with ``ambiguous_identifier``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from api import idempotency
from api.base.fields import (
    BoundedDateField,
    EventDateTimeField,
)
from api.permissions import MatrixPermission
from api.principal import Principal, principal_of
from common.errors import safe_text
from licences.identifiers import AMBIGUOUS_IDENTIFIER, AmbiguousIdentifier, ambiguous_message

#: A company slug as ``SlugField`` accepts it (anything else names no company).
COMPANY_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")


def get_by_natural_key(
    queryset: QuerySet,
    *,
    field: str,
    value: str,
    company: Any = None,
    company_field: str | None = "company",
    what: str = "Record",
) -> Model:
    """The one row of ``queryset`` whose ``field`` is ``value``, in the company ``company`` names.

    For numbers unique within a company only (licence, declaration). ``queryset`` is already
    scoped to what the caller sees, so a company key only ever finds its own record, and a
    ``company`` other than its own finds nothing. ``Http404`` when nothing matches (an
    unknown ``company`` included: the same answer as an unknown number);
    :class:`~licences.identifiers.AmbiguousIdentifier` (400 ``ambiguous_identifier``) when
    several companies hold the number and ``company`` is not given.
    """
    if company is not None:
        if company_field is None or not isinstance(company, str) or not COMPANY_SLUG.fullmatch(company):
            raise Http404
        queryset = queryset.filter(**{f"{company_field}__slug": company})
    found = list(queryset.filter(**{field: value})[:2])
    if not found:
        raise Http404
    if len(found) > 1:
        raise AmbiguousIdentifier(ambiguous_message(what, value), fields={"company": [gettext("Required: ambiguous.")]})
    return found[0]


COMPANY_PARAMETER = OpenApiParameter(
    "company",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    description=_(
        "The company's slug. Numbers are unique within a company only: a caller who sees several "
        "companies gives it when the number is held by more than one (else 400 ambiguous_identifier)."
    ),
)


def documents_company_parameter(*actions: str) -> Any:
    """Class decorator: ``?company=`` documented on the detail routes of a per-company natural key."""
    return extend_schema_view(**{name: extend_schema(parameters=[COMPANY_PARAMETER]) for name in actions})


class ApiViewSetMixin:
    """Scoping, atomic writes and idempotency for every API viewset."""

    #: Path from the model to its company (``"company"``, ``"pk"`` for Company itself);
    #: ``None`` for shared catalogue data every client may read.
    company_field: str | None = "company"
    #: Who may call which action: one table for every viewset (``api.permissions``).
    permission_classes = [MatrixPermission]
    ordering_fields: tuple[str, ...] = ()
    #: Natural keys in URLs: anything but a slash, a dot (format suffix) or NUL.
    lookup_value_regex = r"[^/.\x00]+"
    #: The URL's key is unique within a company only (licence and declaration numbers): a
    #: caller who sees several companies may add ``?company=<slug>`` (see get_by_natural_key).
    natural_key_per_company = False
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
        """``queryset`` narrowed to what the caller may see: a company its own rows; the
        regulator, an analyst and customs every company's (which resources they may read at
        all is the permission matrix's business)."""
        principal = principal_of(self.request)
        if principal is None:
            return queryset.none()
        if principal.sees_every_company or company_field is None:
            return queryset
        return queryset.filter(**{company_field: principal.company_id})

    def get_queryset(self) -> QuerySet:
        return self.scoped(super().get_queryset(), self.company_field)  # type: ignore[misc]

    def get_object(self) -> Any:
        if not self.natural_key_per_company:
            return super().get_object()  # type: ignore[misc]
        queryset = self.filter_queryset(self.get_queryset())  # type: ignore[attr-defined]
        field = self.lookup_field  # type: ignore[attr-defined]
        instance = get_by_natural_key(
            queryset,
            field=field,
            value=self.kwargs[self.lookup_url_kwarg or field],  # type: ignore[attr-defined]
            company=self.request.query_params.get("company"),  # type: ignore[attr-defined]
            company_field=self.company_field,
            what=queryset.model._meta.verbose_name.capitalize(),
        )
        self.check_object_permissions(self.request, instance)  # type: ignore[attr-defined]
        return instance

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

    def query_moment(self, name: str = "as_known_at") -> dt.datetime | None:
        """A moment from the query string (``?as_known_at=2026-03-01T09:00:00%2B08:00``), ``None`` when absent.

        An event time: refused without a time zone (``naive_datetime``) and past now
        (``future_event_time``), like :class:`~api.base.fields.EventDateTimeField`.
        """
        raw = self.request.query_params.get(name)  # type: ignore[attr-defined]
        if raw is None:
            return None
        try:
            return EventDateTimeField().run_validation(raw)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({name: error.detail}) from error

    def render(self, instance: Any, status: int = 200) -> Response:
        """The instance in the viewset's read representation."""
        return Response(self.get_serializer(instance).data, status=status)


class ReadOnlyApiViewSet(ApiViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """List and retrieve, scoped."""


class CreateReadApiViewSet(ApiViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """List, retrieve and create, scoped."""


class ScopedSlugRelatedField(serializers.SlugRelatedField):
    """A reference by natural key, resolved only among the rows the caller may see.

    Another company's licence is "does not exist" to a company key, exactly like one that
    does not exist at all. With ``company_from`` (the name of a sibling field holding a
    company slug, ``"company"``), the key is unique within a company only: it is looked up in
    the company that field names, and refused with ``ambiguous_identifier`` when it names none
    and several of the companies the caller sees hold it (:func:`get_by_natural_key`).
    """

    default_error_messages = {AMBIGUOUS_IDENTIFIER: "{message}"}

    def __init__(
        self, *, company_field: str | None = "company", company_from: str | None = None, **kwargs: Any
    ) -> None:
        self.company_field = company_field
        self.company_from = company_from
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
        text = str(data)
        if text != safe_text(text):  # NUL: PostgreSQL cannot compare it; a lone surrogate: not even encode it
            self.fail("does_not_exist", slug_name=self.slug_field, value=safe_text(text))
        company = None
        if self.company_from is not None and isinstance(getattr(self.parent, "initial_data", None), Mapping):
            company = self.parent.initial_data.get(self.company_from)
            company = company if isinstance(company, str) else None  # a non-slug is refused by its own field
        try:
            return get_by_natural_key(
                self.get_queryset(),
                field=self.slug_field,
                value=text,
                company=company,
                company_field=self.company_field,
                what=self.queryset.model._meta.verbose_name.capitalize(),
            )
        except Http404:
            self.fail("does_not_exist", slug_name=self.slug_field, value=text)
        except (TypeError, ValueError):
            self.fail("invalid")
        except AmbiguousIdentifier as error:
            self.fail(AMBIGUOUS_IDENTIFIER, message=error.message)


@extend_schema_field(OpenApiTypes.INT)
class ScopedIdRelatedField(ScopedSlugRelatedField):
    """A reference by integer id, resolved only among the rows the caller may see."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="pk", **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        # ASCII digits only: "²" passes str.isdigit() but int() refuses it, and int() of a
        # string of thousands of digits raises too; bounded before converting.
        text = str(data) if isinstance(data, int | str) and not isinstance(data, bool) else ""
        if not (text.isascii() and text.isdigit()):
            self.fail("invalid")
        if len(text) > 19 or not 0 < int(text) < 2**63:
            self.fail("does_not_exist", slug_name="id", value=text[:20])
        return super().to_internal_value(int(text))
