"""Who is calling: a company's API key, a regulator key, or a staff user signed in to the admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser

from compliance.models import CompanyAPIKey
from licences.models import Company


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
    """The caller as the API sees it: a company (its own records only) or the regulator."""

    company: Company | None
    is_regulator: bool
    api_key: CompanyAPIKey | None = None
    user: Any = None

    @property
    def company_id(self) -> int | None:
        return self.company.pk if self.company is not None else None

    @property
    def label(self) -> str:
        """Who to record as the author of a customs event and the like."""
        if self.api_key is not None:
            return f"api-key:{self.api_key.name}"[:150]
        if self.user is not None:
            return str(self.user.get_username())[:150]
        return ""


def principal_of(request: Any) -> Principal | None:
    """The request's principal, or ``None`` if it is anonymous (or a non-staff session)."""
    auth = getattr(request, "auth", None)
    if isinstance(auth, CompanyAPIKey):
        return Principal(company=auth.company, is_regulator=auth.is_regulator, api_key=auth)
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False) and getattr(user, "is_staff", False):
        # Staff signed in to the admin act as the regulator in the browsable API.
        return Principal(company=None, is_regulator=True, user=user)
    return None
