"""Authentication: ``Authorization: Api-Key <key>`` (company, regulator or customs), or a staff session."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from rest_framework import authentication, exceptions
from rest_framework.permissions import SAFE_METHODS
from rest_framework_api_key.permissions import KeyParser

from api.principal import ApiKeyUser
from compliance.groups import holds_regulator_rights
from compliance.models import CompanyAPIKey

# ``last_used_at`` is a hint for operators, not an audit log: one write a minute is enough.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def key_owner_may_act(api_key: CompanyAPIKey) -> bool:
    """A regulator key works only while its user is active and holds the regulator's rights."""
    if api_key.kind != CompanyAPIKey.Kind.REGULATOR:
        return True
    return holds_regulator_rights(api_key.user)


def touch_last_used(api_key_pk: str, now: dt.datetime) -> None:
    """Record that a key was used, at most once per ``LAST_USED_RESOLUTION`` (a conditional update)."""
    CompanyAPIKey.objects.filter(pk=api_key_pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticate ``Authorization: Api-Key <prefix>.<secret>`` against the hashed keys.

    A missing header leaves the request anonymous (so the answer is 401, not 403); a
    wrong, revoked or expired key is refused with ``authentication_failed``.
    """

    keyword = "Api-Key"
    key_parser = KeyParser()

    def authenticate(self, request: Any) -> tuple[ApiKeyUser, CompanyAPIKey] | None:
        key = self.key_parser.get(request)
        if key is None:
            return None
        prefix, _, _ = key.partition(".")
        api_key = (
            CompanyAPIKey.objects.get_usable_keys().select_related("company", "user").filter(prefix=prefix[:8]).first()
            if prefix
            else None
        )
        if api_key is None or api_key.has_expired or not api_key.is_valid(key) or not key_owner_may_act(api_key):
            raise exceptions.AuthenticationFailed(gettext("Invalid, revoked or expired API key."))
        self._record_use(api_key, write=request.method not in SAFE_METHODS)
        return ApiKeyUser(api_key), api_key

    def _record_use(self, api_key: CompanyAPIKey, *, write: bool) -> None:
        now = timezone.now()
        if api_key.last_used_at is not None and api_key.last_used_at >= now - LAST_USED_RESOLUTION:
            return
        if write:
            # Writes run in one transaction: do not hold the key's row lock until it commits
            # (parallel writes with one key would queue behind each other).
            transaction.on_commit(lambda: touch_last_used(api_key.pk, now), robust=True)
        else:
            touch_last_used(api_key.pk, now)

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """Staff signed in to the admin may use the browsable API with their own rights
    (``api.principal``); nobody else."""

    def authenticate(self, request: Any) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is None or not result[0].is_staff:
            return None
        return result
