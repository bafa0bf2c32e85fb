"""Bulk ingestion plumbing shared by the batch endpoints (shipments, customs events).

A batch is ``{"batch_id": "...", "items": [...]}``. The envelope is checked first: anything
malformed (not an object, no ``batch_id``, ``items`` not a list, empty, or longer than
``settings.API_BATCH_MAX_ITEMS``) is a 400 ``validation_error`` that writes nothing. A
valid envelope always answers **207 Multi-Status**, even when every item is accepted or
every item refused, so a client reads one shape: ``accepted`` and ``refused`` lists (input
order, each with its ``index``) and ``counts``.

Each item is validated with the item serializer, one instance for the whole batch (no
queries), then the app's batch service decides the rest set-based. Refused items carry the
single endpoint's envelope (``code``, ``detail``, ``errors``).

Idempotency: the ``batch_id`` is unique per caller (:class:`~compliance.models.IngestionBatch`).
The row is claimed before the work, in the request's transaction: a concurrent replay waits
on the unique index and then answers as the first did; a replay with the same body answers
the stored response and writes nothing; the same id with another body is a 422
``idempotency_key_reused``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.validators import MaxLengthValidator, MinLengthValidator, ProhibitNullCharactersValidator
from django.db import IntegrityError, transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import ISO_8601, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from api.base import BoundedDateTimeField, EventDateTimeField, latest_event_time
from api.principal import Principal
from common.api.errors import IdempotencyKeyReused, envelope, validation_error_body
from common.api.limits import MAX_DATE, MIN_DATE
from common.bulk import collector_paused
from compliance.models import IngestionBatch
from licences.services import BatchOutcome, batch_refusal

MAX_BATCH_ID_LENGTH = 200


class BatchIdReused(IdempotencyKeyReused):
    default_detail = _("This batch_id was already used with a different batch.")


# --- Schema documentation --------------------------------------------------------------------


class AcceptedItemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("Position of the item in `items` (from 0)."))
    declaration_number = serializers.CharField()
    status = serializers.CharField(help_text=_("The shipment's customs status after the item."))


class RefusedItemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("Position of the item in `items` (from 0)."))
    declaration_number = serializers.CharField(allow_null=True)
    code = serializers.CharField(help_text=_("The single endpoint's error code, e.g. licence_exhausted."))
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class BatchCountsSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    accepted = serializers.IntegerField()
    refused = serializers.IntegerField()


class BatchResultSerializer(serializers.Serializer):
    """The 207 answer to a batch: every item either accepted or refused, with its index."""

    batch_id = serializers.CharField()
    counts = BatchCountsSerializer()
    accepted = AcceptedItemSerializer(many=True)
    refused = RefusedItemSerializer(many=True)


def batch_request_serializer(name: str, item_serializer: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The documented request body of a batch endpoint (parsing is done by :class:`BatchIngestionMixin`)."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "__doc__": "A batch: a client-chosen id (unique per API key) and the items.",
            "batch_id": serializers.CharField(max_length=MAX_BATCH_ID_LENGTH),
            "items": item_serializer(many=True, min_length=1, max_length=settings.API_BATCH_MAX_ITEMS),
        },
    )


# --- Parsing and idempotency ----------------------------------------------------------------


def parse_envelope(data: Any) -> tuple[str, list[Any]]:
    """``(batch_id, items)`` from the request body, or a 400 ``ValidationError``."""
    if not isinstance(data, Mapping):
        raise ValidationError({"non_field_errors": [gettext("Expected an object with batch_id and items.")]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(str(name) for name in data if name not in ("batch_id", "items"))
    for name in unknown:
        errors[name] = [gettext("Unknown or read-only field.")]
    batch_id = data.get("batch_id")
    if batch_id is None:
        errors["batch_id"] = [gettext("This field is required.")]
    elif not isinstance(batch_id, str) or not 0 < len(batch_id) <= MAX_BATCH_ID_LENGTH or not batch_id.isprintable():
        errors["batch_id"] = [
            gettext("Must be a string of 1 to %(max)d printable characters.") % {"max": MAX_BATCH_ID_LENGTH}
        ]
    items = data.get("items")
    limit = settings.API_BATCH_MAX_ITEMS
    if items is None:
        errors["items"] = [gettext("This field is required.")]
    elif not isinstance(items, list):
        errors["items"] = [gettext("Expected a list of items.")]
    elif not 0 < len(items) <= limit:
        errors["items"] = [
            gettext("A batch holds 1 to %(limit)d items; this one has %(count)d.")
            % {"limit": limit, "count": len(items)}
        ]
    if errors:
        raise ValidationError(errors)
    return batch_id, items  # type: ignore[return-value]


def batch_fingerprint(kind: str, items: list[Any]) -> str:
    """SHA-256 of the batch's kind and items as canonical JSON (key order and spacing do not matter)."""
    canonical = json.dumps([kind, items], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # JSON's "\ud800" parses to a lone surrogate, which strict UTF-8 cannot encode: "surrogatepass"
    # encodes it (any other text, the same bytes), so such a batch is refused item by item, not a 500.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _owner(principal: Principal) -> dict[str, Any]:
    if principal.api_key is not None:
        return {"api_key": principal.api_key}
    return {"user": principal.user}


class StoredAnswer(Exception):
    """Raised to answer a replayed batch with its stored response."""

    def __init__(self, batch: IngestionBatch) -> None:
        super().__init__(batch.batch_id)
        self.batch = batch

    def response(self) -> Response:
        if not self.batch.response_body:
            # The answer was pruned (settings.RETENTION["BATCH_ANSWER_DAYS"]); the batch ran once.
            batch = self.batch
            detail = gettext(
                "Batch %(batch)s was processed at %(at)s (%(accepted)d accepted, %(refused)d refused); "
                "its stored answer has expired."
            ) % {
                "batch": repr(batch.batch_id),
                "at": batch.created_at.isoformat(),
                "accepted": batch.accepted,
                "refused": batch.refused,
            }
            return Response(envelope("batch_answer_expired", detail), status=status.HTTP_409_CONFLICT)
        return Response(
            json.loads(self.batch.response_body),
            status=self.batch.response_status,
            headers={"Idempotent-Replayed": "true"},
        )


def _replay(batch: IngestionBatch, fingerprint: str) -> None:
    if batch.request_hash != fingerprint:
        raise BatchIdReused()
    raise StoredAnswer(batch)


def claim_batch(*, principal: Principal, batch_id: str, kind: str, fingerprint: str, received: int) -> IngestionBatch:
    """Claim ``batch_id`` for this caller (or raise to replay / refuse). Inside the request's transaction."""
    owner = _owner(principal)
    existing = IngestionBatch.objects.filter(batch_id=batch_id, **owner).first()
    if existing is not None:
        _replay(existing, fingerprint)
    try:
        with transaction.atomic():
            return IngestionBatch.objects.create(
                batch_id=batch_id, kind=kind, request_hash=fingerprint, received=received, **owner
            )
    except IntegrityError:
        # A concurrent request with this batch id committed first: answer as it did.
        _replay(IngestionBatch.objects.get(batch_id=batch_id, **owner), fingerprint)
        raise  # pragma: no cover - _replay always raises


_UNDECIDED = object()  # a fast path's "let the field itself decide"

# The validators DRF's CharField adds itself; a CharField with any other is checked by the field.
_CHAR_VALIDATORS = (MaxLengthValidator, MinLengthValidator, ProhibitNullCharactersValidator)


def _fast_char(field: serializers.CharField) -> Callable[[Any], Any] | None:
    """The common case of a plain ``CharField``: an ASCII string within its length bounds."""
    maximum = minimum = None
    extra = []
    for validator in field.validators:
        if isinstance(validator, MaxLengthValidator) and isinstance(validator.limit_value, int):
            maximum = validator.limit_value
        elif isinstance(validator, MinLengthValidator) and isinstance(validator.limit_value, int):
            minimum = validator.limit_value
        elif isinstance(validator, ProhibitNullCharactersValidator | ProhibitSurrogateCharactersValidator):
            continue  # an ASCII string without NUL passes both
        elif isinstance(validator, _CHAR_VALIDATORS) or getattr(validator, "requires_context", False):
            return None  # a bound we cannot read, or a validator needing the field: the field decides
        else:
            extra.append(validator)
    trim, blank = field.trim_whitespace, field.allow_blank

    def check(raw: Any) -> Any:
        if type(raw) is not str:
            return _UNDECIDED
        value = raw.strip() if trim else raw
        if not value:
            return "" if blank else _UNDECIDED
        if (
            not value.isascii()
            or "\x00" in value
            or (maximum is not None and len(value) > maximum)
            or (minimum is not None and len(value) < minimum)
        ):
            return _UNDECIDED
        for validator in extra:
            try:
                validator(value)
            except Exception:  # noqa: BLE001 - the field raises the real error, with its message
                return _UNDECIDED
        return value

    return check


def _fast_choice(field: serializers.ChoiceField) -> Callable[[Any], Any] | None:
    """A ``ChoiceField``: a string that is one of the choices."""
    if field.validators:
        return None
    choices = field.choice_strings_to_values

    def check(raw: Any) -> Any:
        return choices.get(raw, _UNDECIDED) if type(raw) is str else _UNDECIDED

    return check


def _fast_datetime(field: serializers.DateTimeField) -> Callable[[Any], Any] | None:
    """A ``DateTimeField`` (``BoundedDateTimeField``, ``EventDateTimeField``) reading ISO 8601:
    an ISO string with an offset.

    The field's own parse is ``datetime.fromisoformat`` first, then the conversion to the
    field's time zone (the request's current one, fixed for the request). An event time
    later than the latest accepted when the batch is read is left to the field (it refuses it,
    or accepts it if the clock has moved on since: never more than the field would).
    """
    formats = getattr(field, "input_formats", api_settings.DATETIME_INPUT_FORMATS)
    if field.validators or not formats or formats[0].lower() != ISO_8601:
        return None
    zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
    if zone is None:
        return None
    bounded = type(field) in (BoundedDateTimeField, EventDateTimeField)
    latest = latest_event_time() if type(field) is EventDateTimeField else None
    parse = dt.datetime.fromisoformat

    def check(raw: Any) -> Any:
        if type(raw) is not str:
            return _UNDECIDED
        try:
            parsed = parse(raw)
        except ValueError:
            return _UNDECIDED
        if parsed.tzinfo is None:
            return _UNDECIDED  # made aware in the current zone by the field
        try:
            value = parsed.astimezone(zone)
        except OverflowError:
            return _UNDECIDED
        if bounded and not MIN_DATE <= value.date() <= MAX_DATE:
            return _UNDECIDED
        if latest is not None and value > latest:
            return _UNDECIDED
        return value

    return check


def _fast_path(field: serializers.Field) -> Callable[[Any], Any] | None:
    """A function taking a field's raw value to exactly what ``field.run_validation`` returns
    for the common, valid case, and to ``_UNDECIDED`` for anything else (missing, null,
    invalid, unusual): then the field itself validates it, with its own messages. ``None``
    for field types without a fast path. Exact types only: a subclass may add rules."""
    kind = type(field)
    if kind is serializers.CharField:
        return _fast_char(field)  # type: ignore[arg-type]
    if kind is serializers.ChoiceField:
        return _fast_choice(field)  # type: ignore[arg-type]
    if kind in (serializers.DateTimeField, BoundedDateTimeField, EventDateTimeField):
        return _fast_datetime(field)  # type: ignore[arg-type]
    return None


def item_validator(serializer: serializers.Serializer) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A function validating one item exactly as ``serializer.run_validation`` would, but leaner.

    For a flat serializer of plain fields (no ``validate``/``validate_<field>`` hooks, no
    serializer-level validators, no dotted sources), the item is checked field by field:
    the common valid value of a plain string, choice or ISO date-time field by a direct
    check (:func:`_fast_path`), anything else by the field's own ``run_validation``, so the
    rules and messages are the field's, without the per-item generic machinery, which is
    most of the cost over thousands of items. Any other serializer is simply run as it is.
    """
    fields = [field for field in serializer.fields.values() if not field.read_only]
    lean = (
        type(serializer).validate is serializers.Serializer.validate
        and not serializer.validators
        and not any(hasattr(serializer, f"validate_{field.field_name}") for field in fields)
        and all(len(field.source_attrs) == 1 for field in fields)
        and not getattr(serializer, "partial", False)
    )
    if not lean:
        return serializer.run_validation
    writable = {field.field_name for field in fields}
    plan = [(field.field_name, field.source, field, _fast_path(field)) for field in fields]
    unknown_message = gettext("Unknown or read-only field.")  # StrictSerializerMixin's refusal
    empty = serializers.empty
    undecided = _UNDECIDED

    def validate(item: Mapping[str, Any]) -> dict[str, Any]:
        if not writable.issuperset(item):
            unknown = sorted(str(name) for name in item if name not in writable)
            raise ValidationError({name: [unknown_message] for name in unknown})
        errors: dict[str, Any] = {}
        values: dict[str, Any] = {}
        for name, source, field, fast in plan:
            raw = item.get(name, empty)
            if fast is not None and raw is not empty:
                value = fast(raw)
                if value is not undecided:
                    values[source] = value
                    continue
            try:
                value = field.run_validation(raw)
            except ValidationError as error:
                errors[name] = error.detail
            except serializers.SkipField:
                continue
            else:
                values[source] = value
        if errors:
            raise ValidationError(errors)
        return values

    return validate


class BatchIngestionMixin:
    """For an :class:`~api.base.ApiViewSetMixin` viewset: run one batch endpoint."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, StoredAnswer):
            return exc.response()
        return super().handle_exception(exc)  # type: ignore[misc]

    @collector_paused()  # thousands of small objects per batch: see common.bulk.collector_paused
    def ingest_batch(
        self,
        *,
        kind: str,
        item_serializer: type[serializers.Serializer],
        to_line: Callable[[int, dict[str, Any]], Any],
        ingest: Callable[[list[Any]], BatchOutcome],
    ) -> Response:
        """Parse the envelope, claim the batch id, validate the items, call ``ingest`` and answer 207."""
        batch_id, items = parse_envelope(self.request.data)  # type: ignore[attr-defined]
        batch = claim_batch(
            principal=self.principal,  # type: ignore[attr-defined]
            batch_id=batch_id,
            kind=kind,
            fingerprint=batch_fingerprint(kind, items),
            received=len(items),
        )
        validate = item_validator(item_serializer(context=self.get_serializer_context()))  # type: ignore[attr-defined]
        lines: list[Any] = []
        refused: list[dict[str, Any]] = []
        for index, raw in enumerate(items):
            number = raw.get("declaration_number") if isinstance(raw, Mapping) else None
            if not isinstance(raw, Mapping):
                body = validation_error_body({"non_field_errors": [gettext("Expected an object.")]})
                refused.append(batch_refusal(index, body["code"], body["detail"], body["errors"], number))
                continue
            try:
                values = validate(raw)
            except ValidationError as error:
                body = validation_error_body(error.detail)
                refused.append(batch_refusal(index, body["code"], body["detail"], body["errors"], number))
                continue
            lines.append(to_line(index, values))
        outcome = ingest(lines) if lines else BatchOutcome()
        if refused and outcome.refused:
            refused = sorted(refused + outcome.refused, key=lambda refusal: refusal["index"])
        else:
            refused = refused or outcome.refused
        body = {
            "batch_id": batch_id,
            "counts": {"received": len(items), "accepted": len(outcome.accepted), "refused": len(refused)},
            "accepted": outcome.accepted,
            "refused": refused,
        }
        # Store exactly what is sent (decimals as strings, dates as ISO text, keys in this order),
        # so a replay, parsed back in order, renders byte for byte the same.
        batch.response_body = JSONRenderer().render(body).decode()
        batch.response_status = status.HTTP_207_MULTI_STATUS
        batch.accepted = len(outcome.accepted)
        batch.refused = len(refused)
        batch.save(update_fields=["response_status", "response_body", "accepted", "refused"])
        return Response(body, status=status.HTTP_207_MULTI_STATUS)
