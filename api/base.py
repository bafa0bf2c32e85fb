"""Base classes every API viewset and write serializer builds on.

A viewset declares its ``queryset``, ``serializer_class``, ``filterset_class``,
``ordering_fields`` and, for tenant data, ``company_field`` (the path from its model to
the owning company). :meth:`ApiViewSetMixin.scoped` is the one place where a company key
is narrowed to its own rows: ``get_queryset`` and every related-object lookup in a
write serializer go through it, so another company's records answer 404 and never show
in lists, filters or counts.

Licence and declaration numbers are unique within a company only: :func:`get_by_natural_key`
is the one look-up by such a number (URLs with ``?company=<slug>``, body references with a
``company`` field), refusing an ambiguous number with ``ambiguous_identifier``.

Client-supplied event times (when something happened) are :class:`EventDateTimeField` and
:class:`EventDateField`: never in the future beyond ``EVENT_TIME_SKEW``, never without a
time zone.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.db.models import Model, OuterRef, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import ISO_8601, mixins, serializers, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS
from rest_framework.relations import PKOnlyObject
from rest_framework.response import Response
from rest_framework.settings import api_settings

from api import idempotency
from api.permissions import MatrixPermission
from api.principal import Principal, principal_of
from common.api.limits import MAX_DATE, MAX_QUANTITY, MIN_DATE
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
        raise AmbiguousIdentifier(ambiguous_message(what, value), fields={"company": ["Required: ambiguous."]})
    return found[0]


COMPANY_PARAMETER = OpenApiParameter(
    "company",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    description=(
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


_OMIT = object()  # a field DRF would leave out of the representation (its get_attribute skipped it)


class LeanRepresentationMixin:
    """``to_representation`` for a model serializer's read side without DRF's per-field machinery.

    A list page renders a thousand values; DRF spends more on its generic field plumbing
    than on the values. Plain fields read straight off the model (a column or a property)
    are formatted here, exactly as their DRF field would format them: ISO date-times in the
    field's time zone (``Z`` for UTC), ISO dates, integers, strings, choices, slug and
    primary-key relations. Any other field, or anything unusual (a naive or out-of-range
    date-time, a callable source), goes through the field's own ``get_attribute`` and
    ``to_representation``. ``tests/api/test_lean_representation.py`` compares both.

    A slug-related field ``company`` (slug ``slug``) reads an annotation ``company_slug``
    when the instance has one (:meth:`lean_annotations`), so a list need not build the
    related instances at all.

    With ``lean_plan_shared`` (for a serializer whose fields never depend on its context),
    the plan is built once per class and time zone rather than once per serializer: a list
    request then never builds its fields.
    """

    lean_plan_shared = False

    def to_representation(self, instance: Any) -> dict[str, Any]:
        plan = self.__dict__.get("_lean_plan")
        if plan is None:
            plan = self.__dict__["_lean_plan"] = self._lean_build_plan()
        representation = {}
        for name, read in plan:
            value = read(instance)
            if value is not _OMIT:
                representation[name] = value
        return representation

    def _lean_build_plan(self) -> list[tuple[str, Any]]:
        key = (type(self), timezone.get_current_timezone() if settings.USE_TZ else None)
        plan = _SHARED_PLANS.get(key) if self.lean_plan_shared else None
        if plan is None:
            model = self.Meta.model  # type: ignore[attr-defined]
            plan = [(f.field_name, _lean_reader(f, model)) for f in self._readable_fields]  # type: ignore[attr-defined]
            # A generic reader holds its field, bound to this serializer and its context: never shared.
            if self.lean_plan_shared and not any(read.__name__ == "read" for _, read in plan):
                _SHARED_PLANS[key] = plan
        return plan

    @classmethod
    def lean_annotations(cls) -> dict[str, Subquery]:
        """The annotations its slug-related fields read instead of the related instance.

        Each is a correlated subquery rather than a join: a paginator's ``count()`` drops
        an annotation it does not use, but not the join an ``F("company__slug")`` adds.
        Built once per class: a query resolves a copy of an expression, never the expression.
        """
        return _lean_annotations(cls)


@functools.cache
def _lean_annotations(cls: type[LeanRepresentationMixin]) -> dict[str, Subquery]:
    model = cls.Meta.model  # type: ignore[attr-defined]
    annotations = {}
    for name, field in cls._declared_fields.items():  # type: ignore[attr-defined]
        source = field.source or name  # unbound: the source defaults to the name
        if type(field) is serializers.SlugRelatedField and "__" not in field.slug_field and "." not in source:
            relation = model._meta.get_field(source)
            related = relation.related_model._default_manager.filter(pk=OuterRef(relation.attname))
            annotations[f"{source}_{field.slug_field}"] = Subquery(related.order_by().values(field.slug_field))
    return annotations


#: Plans shared by every instance of a serializer class, per (class, current time zone).
_SHARED_PLANS: dict[tuple[type, Any], list[tuple[str, Any]]] = {}


def _generic_reader(field: serializers.Field) -> Any:
    def read(instance: Any) -> Any:
        try:
            attribute = field.get_attribute(instance)
        except serializers.SkipField:
            return _OMIT
        check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
        return None if check_for_none is None else field.to_representation(attribute)

    return read


def _plain_attribute(model: type, name: str) -> bool:
    """A model column or property: reading it calls nothing DRF would call differently."""
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return isinstance(getattr(model, name, None), property)
    return True


def _is_iso(output_format: Any) -> bool:
    return isinstance(output_format, str) and output_format.lower() == ISO_8601


def _lean_reader(field: serializers.Field, model: type) -> Any:
    """How to read and format ``field`` of an instance (see :class:`LeanRepresentationMixin`)."""
    generic = _generic_reader(field)
    if len(field.source_attrs) != 1 or not _plain_attribute(model, field.source_attrs[0]):
        return generic
    attr, kind = field.source_attrs[0], type(field)
    if kind is serializers.DateTimeField and _is_iso(getattr(field, "format", api_settings.DATETIME_FORMAT)):
        zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()

        def read_datetime(instance: Any) -> Any:
            value = getattr(instance, attr)
            if value is None:
                return None
            if zone is None or value.tzinfo is None:
                return generic(instance)
            try:
                text = value.astimezone(zone).isoformat()
            except OverflowError:
                return generic(instance)
            return text[:-6] + "Z" if text.endswith("+00:00") else text

        return read_datetime
    if kind is serializers.DateField and _is_iso(getattr(field, "format", api_settings.DATE_FORMAT)):

        def read_date(instance: Any) -> Any:
            value = getattr(instance, attr)
            return None if value is None else value.isoformat()

        return read_date
    if kind is serializers.BigIntegerField and not getattr(
        field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING
    ):
        kind = serializers.IntegerField  # formatted as a plain integer then
    if kind in (serializers.IntegerField, serializers.CharField):
        convert = int if kind is serializers.IntegerField else str

        def read_plain(instance: Any) -> Any:
            value = getattr(instance, attr)
            return None if value is None else convert(value)

        return read_plain
    if kind is serializers.ChoiceField:
        choices = field.choice_strings_to_values

        def read_choice(instance: Any) -> Any:
            value = getattr(instance, attr)
            return value if value in ("", None) else choices.get(str(value), value)

        return read_choice
    if (
        kind is serializers.DecimalField
        and field.decimal_places is not None
        and getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
        and not field.localize
        and not field.normalize_output
    ):
        exponent, max_digits = -field.decimal_places, field.max_digits

        def read_decimal(instance: Any) -> Any:
            value = getattr(instance, attr)
            if value is None:
                return None
            # Already at the field's scale (a database decimal is): quantizing changes nothing.
            if isinstance(value, Decimal) and value.is_finite():
                _, digits, value_exponent = value.as_tuple()
                if value_exponent == exponent and (max_digits is None or len(digits) <= max_digits):
                    return f"{value:f}"
            return generic(instance)

        return read_decimal
    if kind is serializers.SlugRelatedField and "__" not in field.slug_field:
        slug = field.slug_field
        annotated = f"{attr}_{slug}"  # see LeanRepresentationMixin.lean_annotations

        def read_slug(instance: Any) -> Any:
            values = instance.__dict__
            if annotated in values:
                return values[annotated]
            related = getattr(instance, attr)
            return None if related is None else getattr(related, slug)

        return read_slug
    if kind is serializers.PrimaryKeyRelatedField and field.pk_field is None:
        return lambda instance: instance.serializable_value(attr)
    return generic


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


def event_time_skew() -> dt.timedelta:
    """How far past the server's clock a client's event time may lie (``EVENT_TIME_SKEW`` seconds)."""
    return dt.timedelta(seconds=settings.EVENT_TIME_SKEW)


def latest_event_time() -> dt.datetime:
    """The latest instant a client may say something happened at: now plus the allowed skew."""
    return timezone.now() + event_time_skew()


def latest_event_date() -> dt.date:
    """The latest day a client may say something happened on: today in the project's time zone."""
    return timezone.localdate(timezone=timezone.get_default_timezone())


class EventDateTimeField(BoundedDateTimeField):
    """When something happened, as the client says (``occurred_at``, ``declared_at``, ...).

    Refused with ``naive_datetime`` without a time zone (never guessed), and with
    ``future_event_time`` beyond now plus ``EVENT_TIME_SKEW`` (a clock a little ahead is
    tolerated; a clearance dated 2199 is not). Expiry and due dates are not event times.
    """

    default_error_messages = {
        "naive_datetime": "A date and time without a time zone is ambiguous: give an offset (+08:00, Z).",
        "future_event_time": "An event cannot be dated in the future (the latest accepted now is {latest}).",
    }

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        if timezone.is_naive(value):
            self.fail("naive_datetime")
        return super().enforce_timezone(value)

    def to_internal_value(self, value: Any) -> dt.datetime:
        parsed = super().to_internal_value(value)
        latest = latest_event_time()
        if parsed > latest:
            self.fail("future_event_time", latest=latest.isoformat(timespec="seconds"))
        return parsed


class EventDateField(BoundedDateField):
    """The day something happened, as the client says (``pledged_on``, ``attested_on``, ...).

    Refused with ``future_event_time`` after today in the project's time zone.
    """

    default_error_messages = {
        "future_event_time": "An event cannot be dated in the future (the latest accepted today is {latest}).",
    }

    def to_internal_value(self, value: Any) -> dt.date:
        parsed = super().to_internal_value(value)
        latest = latest_event_date()
        if parsed > latest:
            self.fail("future_event_time", latest=latest.isoformat())
        return parsed


_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,30}")


class WholeNumberField(serializers.IntegerField):
    """An integer sent as a JSON integer or a string of ASCII digits.

    DRF's ``IntegerField`` also takes ``10.0``, ``"1_000"``, ``true`` as 1 and other scripts'
    digits (``int()`` reads them): no client means any of these, so they are refused.
    """

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool | float) or (isinstance(data, str) and not _WHOLE_NUMBER.fullmatch(data.strip())):
            self.fail("invalid")
        return super().to_internal_value(data)


class PlainDecimalField(serializers.DecimalField):
    """A decimal sent as a JSON number or a string of ASCII characters (``"12000.00"``).

    ``Decimal()`` reads other scripts' digits and DRF takes ``true`` as 1: both refused.
    """

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or (isinstance(data, str) and not data.isascii()):
            self.fail("invalid")
        return super().to_internal_value(data)


def QuantityField(**kwargs: Any) -> serializers.IntegerField:
    """A whole number of chips, 1 to 10^12."""
    return WholeNumberField(min_value=1, max_value=MAX_QUANTITY, **kwargs)


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
