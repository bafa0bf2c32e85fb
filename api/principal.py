"""Who is calling: one of four principals (regulator, analyst, customs, company).

- an API key acts as its ``kind``: a company key for its company, a regulator key for its
  user (while that user holds the regulator's rights), a customs key for the customs authority;
- a staff user signed in to the admin acts with that user's rights
  (:func:`compliance.groups.staff_role`): a superuser or the Regulator group as the regulator,
  the Analyst group as an analyst, any other staff user as nobody (403 everywhere).

What each principal may do is one table: :data:`api.permissions.MATRIX`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser

from compliance.groups import staff_role
from compliance.models import CompanyAPIKey
from licences.models import Company

REGULATOR = "regulator"
ANALYST = "analyst"
CUSTOMS = "customs"
COMPANY = "company"
KINDS = (REGULATOR, ANALYST, CUSTOMS, COMPANY)


class ApiKeyUser(AnonymousUser):
    """``request.user`` for a request authenticated by an API key.

    An API key is not a Django user: it has no row in the user table, so it must never be
    written to a user foreign key (django-simple-history records ``request.user`` as the
    history user when it is authenticated). It therefore keeps ``AnonymousUser``'s
    ``is_authenticated = False``; the API's permissions look at the :class:`Principal`.
    """

    def __init__(self, api_key: CompanyAPIKey) -> None:
        self.api_key = api_key
        self.username = f"api-key:{api_key.name}"

    def __str__(self) -> str:
        return self.username


@dataclass(frozen=True)
class Principal:
    """The caller as the API sees it: its kind, and its company for a company key."""

    kind: str
    company: Company | None = None
    api_key: CompanyAPIKey | None = None
    user: Any = None

    @property
    def company_id(self) -> int | None:
        return self.company.pk if self.company is not None else None

    @property
    def sees_every_company(self) -> bool:
        """Regulator, analyst and customs read across companies (what they read: the matrix)."""
        return self.kind != COMPANY

    @property
    def label(self) -> str:
        """Who to record as the author of a customs event, a directive and the like."""
        if self.api_key is not None:
            return f"api-key:{self.api_key.name}"[:150]
        if self.user is not None:
            return str(self.user.get_username())[:150]
        return ""


def principal_of(request: Any) -> Principal | None:
    """The request's principal, or ``None`` (anonymous, or a staff user with no rights)."""
    cached = getattr(request, "_principal", False)
    if cached is not False:
        return cached
    principal = _resolve(request)
    request._principal = principal
    return principal


def _resolve(request: Any) -> Principal | None:
    auth = getattr(request, "auth", None)
    if isinstance(auth, CompanyAPIKey):
        if auth.kind == CompanyAPIKey.Kind.COMPANY:
            return Principal(kind=COMPANY, company=auth.company, api_key=auth)
        if auth.kind == CompanyAPIKey.Kind.REGULATOR:
            return Principal(kind=REGULATOR, api_key=auth, user=auth.user)
        if auth.kind == CompanyAPIKey.Kind.CUSTOMS:
            return Principal(kind=CUSTOMS, api_key=auth)
        return None
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    role = staff_role(user)
    return Principal(kind=role, user=user) if role is not None else None
