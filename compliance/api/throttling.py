"""Per-key throttling: each API key (or staff user, or anonymous address) has its own budget."""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from compliance.models import CompanyAPIKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """The ``api`` rate of ``DEFAULT_THROTTLE_RATES``, counted per key; 429 with ``Retry-After``."""

    scope = "api"

    def get_rate(self) -> str | None:
        # Read at request time (not import time) so a settings change takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request: Any, view: Any) -> str:
        if isinstance(request.auth, CompanyAPIKey):
            ident = f"key:{request.auth.pk}"
        elif getattr(request.user, "is_authenticated", False):
            ident = f"user:{request.user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
