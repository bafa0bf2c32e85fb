"""The one domain error every app raises.

It lives in the lowest app because imports run ``licences`` <- ``quotas`` <- ``compliance``:
every layer can raise it, the API maps it to HTTP in one exception handler and the admin to
a message in one helper.
"""

from __future__ import annotations

import re
from typing import Any

# NUL and lone surrogates (JSON's "\u0000" and "\ud800" parse to them): PostgreSQL stores
# neither in text or jsonb, and a lone surrogate cannot even be encoded as UTF-8.
_UNSAFE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


def safe_text(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD, so echoing client input in an
    answer (or storing that answer) can never fail."""
    return _UNSAFE_CHARACTERS.sub("\ufffd", text)


class DomainError(Exception):
    """A refused business operation: a stable machine-readable ``code`` and a human message."""

    code = "domain_error"
    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.fields = fields or {}

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class NotFound(DomainError):
    """A referenced record does not exist (or is not visible to the caller)."""

    code = "not_found"
    status_code = 404


class Conflict(DomainError):
    """The request is well-formed but clashes with the current state (a cap, a transition)."""

    status_code = 409
