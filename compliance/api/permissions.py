"""Permissions: any API client may call the API; some actions are the regulator's alone."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions

from compliance.api.principal import principal_of


class IsApiClient(permissions.BasePermission):
    """An API key (company or regulator) or a staff session."""

    message = "Authentication credentials were not provided."

    def has_permission(self, request: Any, view: Any) -> bool:
        return principal_of(request) is not None


class IsRegulator(permissions.BasePermission):
    """Only a regulator key (or admin staff)."""

    message = "Only the regulator may do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        principal = principal_of(request)
        return principal is not None and principal.is_regulator


class RegulatorActions(permissions.BasePermission):
    """Refuse a company key the actions a viewset lists in ``regulator_actions``."""

    message = "Only the regulator may do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        if getattr(view, "action", None) not in getattr(view, "regulator_actions", ()):
            return True
        principal = principal_of(request)
        return principal is not None and principal.is_regulator
