"""``Idempotency-Key`` on POST: a retry with the same key and body gets the first answer.

The record is claimed (inserted) before the request's work, inside the same transaction
as that work: a concurrent retry waits on the unique index until the first commits and
then replays it; a refused request (4xx) rolls its claim back with everything else, so
it can simply be retried. The same key with a different method, path or body is a 422
``idempotency_key_reused``. Keys belong to an API key, so two companies never collide.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from common.api.errors import IdempotencyKeyReused, InvalidIdempotencyKey
from compliance.models import CompanyAPIKey, IdempotencyRecord

HEADER = "Idempotency-Key"
META_KEY = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = 200
PENDING = 0  # response_status of a claim whose request is still running


class IdempotentReplay(Exception):
    """Raised from ``initial()`` to answer with the stored first response."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__(record.key)
        self.record = record

    def response(self) -> Response:
        return Response(
            self.record.response_body, status=self.record.response_status, headers={"Idempotent-Replayed": "true"}
        )


@dataclass
class Claim:
    """The record this request claimed; completed with the response when it succeeds."""

    record: IdempotencyRecord

    def complete(self, response: Response) -> None:
        self.record.response_status = response.status_code
        # Store exactly what was sent (decimals as strings, dates as ISO text).
        self.record.response_body = json.loads(JSONRenderer().render(response.data) or b"null")
        self.record.save(update_fields=["response_status", "response_body"])


def request_fingerprint(request: Any) -> str:
    """SHA-256 of the method, path (with its query string, when there is one: ``?company=``
    chooses the record a number names), content type and raw body."""
    digest = hashlib.sha256()
    query = request.META.get("QUERY_STRING", "")
    path = f"{request.path}?{query}" if query else request.path  # no query: the hash as before
    for part in (request.method, path, request.content_type or ""):
        digest.update(part.encode())
        digest.update(b"\n")
    digest.update(request._request.body)
    return digest.hexdigest()


def _check(record: IdempotencyRecord, fingerprint: str) -> None:
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    raise IdempotentReplay(record)


def claim(request: Any) -> Claim | None:
    """Claim the request's ``Idempotency-Key`` (or raise to replay / refuse). ``None`` without one.

    Must run inside the request's transaction (the base viewset wraps writes in one).
    Only API-key requests are idempotent: the records belong to a key.
    """
    key = request.META.get(META_KEY)
    if key is None or request.method != "POST" or not isinstance(request.auth, CompanyAPIKey):
        return None
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidIdempotencyKey()
    fingerprint = request_fingerprint(request)
    existing = IdempotencyRecord.objects.filter(api_key=request.auth, key=key).first()
    if existing is not None:
        _check(existing, fingerprint)
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                api_key=request.auth,
                key=key,
                method=request.method,
                path=request.path[:500],
                request_hash=fingerprint,
                response_status=PENDING,
                response_body=None,
            )
    except IntegrityError:
        # A concurrent request with this key committed first: answer as it did.
        _check(IdempotencyRecord.objects.get(api_key=request.auth, key=key), fingerprint)
    return Claim(record)
