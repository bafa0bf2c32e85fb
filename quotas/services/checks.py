"""Input checks the policy and commitment services share."""

from __future__ import annotations

from django.utils.translation import gettext

from common.errors import DomainError


def _require_text(value: str, field: str) -> str:
    value = (value or "").strip()
    if not value:
        raise DomainError(
            gettext("%(field)s is required.") % {"field": field}, code=f"{field}_required", fields={field: ["required"]}
        )
    return value
