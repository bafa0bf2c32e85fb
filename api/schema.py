"""OpenAPI: the API-key security scheme, the error envelope and the ``Accept-Language`` header on
every operation."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from common.api.errors import ErrorEnvelopeSerializer


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: Api-Key <key>``."""

    target_class = "api.authentication.ApiKeyAuthentication"
    match_subclasses = True  # and the failure-throttled subclass the settings name
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                'Send "Authorization: Api-Key <key>". A company key sees only its own company\'s '
                "records and never records a customs outcome; a regulator key (of a regulator user) "
                "reads everything and takes the regulator's decisions; a customs key records customs "
                "events and entry-block directives. Who may call what: docs/principals.md."
            ),
        }


class StaffSessionScheme(OpenApiAuthenticationExtension):
    """Documents the admin session (staff only) used by the browsable API."""

    target_class = "api.authentication.StaffSessionAuthentication"
    name = "StaffSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "Admin staff session: acts with the user's rights (Regulator group or superuser: the "
            "regulator; Analyst group: read-only; other staff: nothing).",
        }


# Every operation may answer these with the error envelope.
COMMON_ERRORS = ("400", "401", "403", "404", "429")
WRITE_ERRORS = ("409", "413", "415", "422")


#: What the language of an answer follows, and what never changes with it.
LANGUAGE_NOTE = _(
    "The human messages of an answer (an error's `detail` and its per-field messages in `errors`) "
    "follow the request's `Accept-Language` header: `en` (English, the default, also for a language "
    "the service does not speak) or `zh-hans` (Simplified Chinese). The error `code`, field names and "
    "enum values never change with the language: act on `code`, never on `detail`."
)

ACCEPT_LANGUAGE = OpenApiParameter(
    "Accept-Language",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=LANGUAGE_NOTE,
)


class ApiAutoSchema(AutoSchema):
    """Adds the error envelope for the 4xx answers every operation can give, and documents
    ``Accept-Language`` on every operation."""

    def get_override_parameters(self) -> list[Any]:
        return [*super().get_override_parameters(), ACCEPT_LANGUAGE]

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        codes = COMMON_ERRORS + (WRITE_ERRORS if self.method in ("POST", "PUT", "PATCH", "DELETE") else ())
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorEnvelopeSerializer, code, direction=direction)
        return responses
