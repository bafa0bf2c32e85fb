"""Throttling.

- :class:`ApiKeyRateThrottle`: each API key (or staff user, or anonymous address) has its
  own budget (``DEFAULT_THROTTLE_RATES["api"]``).
- Failed authentication, per client address: after ``API_AUTH_FAILURE_LIMIT`` wrong,
  revoked or expired keys within ``API_AUTH_FAILURE_WINDOW_SECONDS``, every ``Api-Key``
  request from that address gets 429 ``too_many_failed_authentications`` until the window
  ends, a good key too: checking the key is the work being limited, and answering a good
  key differently would turn the limit back into an oracle.
  :class:`FailedAuthLimitedApiKeyAuthentication` wraps the API-key authentication with it.

Counters live in the default cache (Redis when ``REDIS_URL``/``CACHE_URL`` is set), so every
web process shares them. The client's address comes from :mod:`compliance.client_ip`
(``REMOTE_ADDR`` unless a trusted proxy forwarded the request).
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from api.authentication import ApiKeyAuthentication
from compliance.client_ip import client_ip
from compliance.models import CompanyAPIKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """The ``api`` rate of ``DEFAULT_THROTTLE_RATES``, counted per key; 429 with ``Retry-After``."""

    scope = "api"

    def get_rate(self) -> str | None:
        # Read at request time (not import time) so a settings change takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request: Any) -> str:
        # DRF's own get_ident believes any client's X-Forwarded-For.
        return client_ip(request)

    def get_cache_key(self, request: Any, view: Any) -> str:
        if isinstance(request.auth, CompanyAPIKey):
            ident = f"key:{request.auth.pk}"
        elif getattr(request.user, "is_authenticated", False):
            ident = f"user:{request.user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


# --- Failed authentication per client address ------------------------------------------------


class TooManyFailedAuthentications(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = _("Too many failed authentications from this address; try again later.")
    default_code = "too_many_failed_authentications"

    def __init__(self, wait: int) -> None:
        super().__init__()
        self.wait = wait


def _failure_key(address: str) -> str:
    return f"throttle_authfail_{address}"


def _window_end_key(address: str) -> str:
    return f"throttle_authfail_end_{address}"


def failed_authentications(address: str) -> int:
    return int(cache.get(_failure_key(address), 0))


def check_failed_authentications(request: Any) -> None:
    """Raise 429 while the address is over its failure limit."""
    address = client_ip(request)
    if failed_authentications(address) < settings.API_AUTH_FAILURE_LIMIT:
        return
    window_end = cache.get(_window_end_key(address)) or time.time() + settings.API_AUTH_FAILURE_WINDOW_SECONDS
    raise TooManyFailedAuthentications(wait=max(1, math.ceil(window_end - time.time())))


def record_failed_authentication(request: Any) -> int:
    """Count one failure for the request's address (a fixed window from the first failure)."""
    address = client_ip(request)
    window = settings.API_AUTH_FAILURE_WINDOW_SECONDS
    if cache.add(_failure_key(address), 0, timeout=window):
        cache.set(_window_end_key(address), time.time() + window, timeout=window)
    try:
        return cache.incr(_failure_key(address))
    except ValueError:  # expired between add and incr: start a new window
        cache.set(_failure_key(address), 1, timeout=window)
        cache.set(_window_end_key(address), time.time() + window, timeout=window)
        return 1


class FailedAuthLimitedApiKeyAuthentication(ApiKeyAuthentication):
    """:class:`ApiKeyAuthentication`, refused with 429 for an address over its failure limit."""

    def authenticate(self, request: Any) -> Any:
        if self.key_parser.get(request) is None:
            return None  # no key: anonymous, nothing to count
        check_failed_authentications(request)
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            record_failed_authentication(request)
            raise
