"""The one domain error every app raises.

It lives in the lowest app because imports run ``licences`` <- ``quotas`` <- ``compliance``:
every layer can raise it, the API maps it to HTTP in one exception handler and the admin to
a message in one helper.
"""

from __future__ import annotations

from typing import Any


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
