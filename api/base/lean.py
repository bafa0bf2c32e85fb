"""The lean read path for list serializers (:class:`LeanRepresentationMixin`)."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

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
