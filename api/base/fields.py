"""Write-serializer bases and fields: strict serializers (unknown fields refused), bounded and
event dates, whole numbers and plain decimals (the scoped related fields are in ``views``).

Client-supplied event times (when something happened) are :class:`EventDateTimeField` and
:class:`EventDateField`: never in the future beyond ``EVENT_TIME_SKEW``, never without a
time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from common.api.limits import MAX_DATE, MAX_QUANTITY, MIN_DATE


class StrictSerializerMixin:
    """Reject fields the serializer does not accept (unknown or read-only) instead of ignoring them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}  # type: ignore[attr-defined]
            unknown = sorted(str(name) for name in data if name not in writable)
            if unknown:
                raise serializers.ValidationError({name: [gettext("Unknown or read-only field.")] for name in unknown})
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictSerializer(StrictSerializerMixin, serializers.Serializer):
    """A plain input serializer that refuses unknown fields."""


class BoundedDateField(serializers.DateField):
    """A date between ``MIN_DATE`` and ``MAX_DATE``."""

    def to_internal_value(self, value: Any) -> dt.date:
        parsed = super().to_internal_value(value)
        if not MIN_DATE <= parsed <= MAX_DATE:
            raise serializers.ValidationError(
                gettext("Must be between %(min)s and %(max)s.") % {"min": MIN_DATE, "max": MAX_DATE}
            )
        return parsed


class BoundedDateTimeField(serializers.DateTimeField):
    """A date and time whose date lies between ``MIN_DATE`` and ``MAX_DATE``."""

    def to_internal_value(self, value: Any) -> dt.datetime:
        parsed = super().to_internal_value(value)
        if not MIN_DATE <= parsed.date() <= MAX_DATE:
            raise serializers.ValidationError(
                gettext("Must be between %(min)s and %(max)s.") % {"min": MIN_DATE, "max": MAX_DATE}
            )
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
        "naive_datetime": _("A date and time without a time zone is ambiguous: give an offset (+08:00, Z)."),
        "future_event_time": _("An event cannot be dated in the future (the latest accepted now is {latest})."),
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
        "future_event_time": _("An event cannot be dated in the future (the latest accepted today is {latest})."),
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


def MoneyField(**kwargs: Any) -> PlainDecimalField:
    """An amount of money (a unit value or price in USD): not negative, two decimal places."""
    return PlainDecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"), **kwargs)


def QuantityField(**kwargs: Any) -> serializers.IntegerField:
    """A whole number of chips, 1 to 10^12."""
    return WholeNumberField(min_value=1, max_value=MAX_QUANTITY, **kwargs)
