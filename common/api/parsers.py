"""A JSON parser with a size bound and no way to crash on hostile input."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils.translation import gettext
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from common.api.errors import RequestTooLarge

# Write bodies are a few hundred bytes; anything past this is a mistake or an attack.
MAX_JSON_BODY_BYTES = 256 * 1024


class BoundedJSONParser(parsers.JSONParser):
    """JSON of at most ``MAX_JSON_BODY_BYTES``; 413 beyond, 400 for anything unparseable.

    Deeply nested arrays make :mod:`json` recurse until ``RecursionError``: that is a
    malformed request too, never a 500.
    """

    max_bytes = MAX_JSON_BODY_BYTES

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        raw = stream.read(self.max_bytes + 1) if stream is not None else b""
        if len(raw) > self.max_bytes:
            raise RequestTooLarge(gettext("The JSON body exceeds %(limit)d bytes.") % {"limit": self.max_bytes})
        try:
            return super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError as error:
            raise ParseError("JSON parse error - nested too deeply.") from error


class BatchJSONParser(BoundedJSONParser):
    """The bounded parser with the larger cap of the bulk-ingestion endpoints (``API_BATCH_MAX_BODY_BYTES``)."""

    @property
    def max_bytes(self) -> int:  # type: ignore[override]
        return int(settings.API_BATCH_MAX_BODY_BYTES)


class BackfillJSONParser(BoundedJSONParser):
    """The bounded parser with the cap of a back-entry of paper-era licences (``API_BACKFILL_MAX_BYTES``)."""

    @property
    def max_bytes(self) -> int:  # type: ignore[override]
        return int(settings.API_BACKFILL_MAX_BYTES)


class BoundedMultiPartParser(parsers.MultiPartParser):
    """Multipart (evidence uploads) of at most ``API_MULTIPART_MAX_BYTES`` in all: 413 beyond.

    The declared ``Content-Length`` is checked before a byte is parsed, so an oversized
    upload is neither buffered nor spooled to disk.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        request = (parser_context or {}).get("request")
        meta = getattr(request, "META", {}) if request is not None else {}
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.API_MULTIPART_MAX_BYTES:
            raise RequestTooLarge(
                gettext("The multipart body exceeds %(limit)d bytes.") % {"limit": settings.API_MULTIPART_MAX_BYTES}
            )
        return super().parse(stream, media_type, parser_context)
