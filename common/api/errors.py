"""The one error envelope: every 4xx is ``{"code", "detail", "errors": {field: [messages]}}``.

``code`` is stable and machine-readable (``licence_exhausted``, ``round_cap_exceeded``,
``invalid_transition``, ``validation_error``, ``permission_denied``, ...); ``detail`` is
for humans; ``errors`` names the offending fields (dotted paths for nested input).
Domain errors (:class:`common.errors.DomainError`) carry their own code and status.

A refused input is ``validation_error``, unless every field error in it carries one of the
:data:`SPECIFIC_CODES` (``future_event_time``, ``naive_datetime``, ``ambiguous_identifier``):
then that code names the refusal, so a client can act on it without reading messages.

Client input echoed in an answer (an unknown field's name, a refused value) goes through
:func:`common.errors.safe_text`: a NUL or a lone surrogate never breaks the rendering or
the stored idempotent answer.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from common.errors import DomainError, safe_text

logger = logging.getLogger(__name__)

NON_FIELD = "non_field_errors"

#: Field error codes precise enough to be the envelope's ``code`` when every error has it.
SPECIFIC_CODES = frozenset({"future_event_time", "naive_datetime", "ambiguous_identifier"})


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "request_too_large"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _("This Idempotency-Key was already used with a different request.")
    default_code = "idempotency_key_reused"


class InvalidIdempotencyKey(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("The Idempotency-Key header must be 1 to 200 printable characters.")
    default_code = "invalid_idempotency_key"


class ErrorEnvelopeSerializer(serializers.Serializer[Any]):
    """The body of every error response (documents the envelope in the OpenAPI schema)."""

    code = serializers.CharField(
        help_text=_("Stable machine-readable error code, e.g. licence_exhausted; the same in every language.")
    )
    detail = serializers.CharField(help_text=_("A human-readable message, in the language of Accept-Language."))
    errors = serializers.DictField(  # type: ignore[assignment] # the envelope's field, not Serializer.errors
        child=serializers.ListField(child=serializers.CharField()),
        help_text=_(
            "Messages per offending field (dotted path for nested input; field names never translated), "
            "in the language of Accept-Language; empty when none."
        ),
    )


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """``{"imports": [{"quantity": ["..."]}]}`` -> ``{"imports.0.quantity": ["..."]}``."""
    errors: dict[str, list[str]] = defaultdict(list)

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, f"{path}.{safe_text(str(key))}" if path else safe_text(str(key)))
        elif isinstance(node, list | tuple):
            if all(not isinstance(item, Mapping | list | tuple) for item in node):
                errors[path or NON_FIELD].extend(safe_text(str(item)) for item in node)
            else:
                for index, item in enumerate(node):
                    walk(item, f"{path}.{index}" if path else str(index))
        else:
            errors[path or NON_FIELD].append(safe_text(str(node)))

    walk(detail, prefix)
    return {field: messages for field, messages in errors.items() if messages}


def envelope(code: str, detail: str, errors: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The error body."""
    return {"code": code, "detail": safe_text(detail), "errors": flatten_errors(errors or {})}


def specific_code(detail: Any) -> str | None:
    """The one code of :data:`SPECIFIC_CODES` every error in ``detail`` carries, if there is one."""
    codes: set[Any] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)
        else:
            codes.add(getattr(node, "code", None))

    walk(detail)
    if len(codes) == 1:
        (code,) = codes
        return code if code in SPECIFIC_CODES else None
    return None


def _validation_detail(errors: dict[str, list[str]]) -> str:
    if not errors:
        return gettext("The request is invalid.")
    field, messages = next(iter(errors.items()))
    if len(errors) == 1:
        return gettext("Invalid input: %(field)s: %(message)s") % {"field": field, "message": messages[0]}
    more = len(errors) - 1
    return ngettext(
        "Invalid input: %(field)s: %(message)s (and %(more)d more field)",
        "Invalid input: %(field)s: %(message)s (and %(more)d more fields)",
        more,
    ) % {"field": field, "message": messages[0], "more": more}


def validation_error_body(detail: Any) -> dict[str, Any]:
    """The envelope of a ``validation_error`` from a serializer's error ``detail``."""
    errors = flatten_errors(detail)
    code = specific_code(detail) or "validation_error"
    return {"code": code, "detail": _validation_detail(errors), "errors": errors}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map every expected failure to the envelope; anything else stays a 500 (a bug)."""
    # Imported here: rest_framework.views loads the parser classes, which import this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, DomainError):
        return Response(envelope(exc.code, exc.message, exc.fields), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        raw = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD: exc.messages}
        errors = flatten_errors(raw)
        return Response(
            {"code": "validation_error", "detail": _validation_detail(errors), "errors": errors},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = validation_error_body(exc.detail)
        return response
    if isinstance(exc, Http404):
        response.data = envelope("not_found", gettext("Not found."))
        return response
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail if isinstance(exc.detail, str) else gettext("Request refused.")
        # A permission may refuse with a code of its own (``customs_outcome_forbidden``).
        code = getattr(exc.detail, "code", None) if isinstance(exc, exceptions.PermissionDenied) else None
        response.data = envelope(str(code or getattr(exc, "default_code", "error")), str(detail))
        return response
    # django.core.exceptions.PermissionDenied, converted by DRF.
    response.data = envelope("permission_denied", gettext("You do not have permission to perform this action."))
    return response


def is_api_path(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse | None:
    """URL-level 404 inside ``/api/``: the envelope instead of an HTML page."""
    return JsonResponse(envelope("not_found", gettext("Not found.")), status=404)


def api_server_error(request: HttpRequest) -> JsonResponse:
    """URL-level 500 inside ``/api/``: the envelope instead of an HTML page."""
    return JsonResponse(envelope("server_error", gettext("Internal server error.")), status=500)
