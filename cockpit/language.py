"""The language a staff user chose, remembered and applied (issue 15).

The admin and cockpit follow the browser (``LocaleMiddleware``) until a staff user picks a
language in the admin header: :func:`set_language` is Django's view of the same name (the
session cookie), and stores the choice in the user's ``compliance.StaffProfile`` (created on
demand). :class:`StaffLanguageMiddleware`, after ``AuthenticationMiddleware``, applies that
stored choice on every request of a signed-in staff user, on any browser. The choice is read
once, when the user signs in (:func:`remember_on_login`, connected in ``cockpit.apps``), and kept
in the session, so a page costs no extra query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from compliance.models import StaffProfile

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}
SESSION_KEY = "staff_language"  # the stored choice, cached per session (one query per sign-in)


def _staff_user(request: HttpRequest) -> User | None:
    """The signed-in staff user, if any (the admin's users are Django's ``User``)."""
    user = getattr(request, "user", None)
    return user if isinstance(user, User) and user.is_active and user.is_staff else None


def remembered_language(request: HttpRequest) -> str:
    """The staff user's stored language ("" for none), cached in the session."""
    cached = request.session.get(SESSION_KEY)
    if cached is None:
        user = _staff_user(request)
        stored = StaffProfile.objects.filter(user=user).values_list("language", flat=True).first() if user else ""
        cached = stored or ""
        request.session[SESSION_KEY] = cached
    return cached


def remember_on_login(sender: object, request: HttpRequest | None, user: Any, **kwargs: object) -> None:
    """``user_logged_in``: read the staff user's stored language into the new session."""
    if request is not None and getattr(user, "is_staff", False):
        stored = StaffProfile.objects.filter(user=user).values_list("language", flat=True).first()
        request.session[SESSION_KEY] = stored or ""


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's ``set_language``, and for a staff user the choice stored in their profile."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    user = _staff_user(request)
    if user is not None and language in LANGUAGE_CODES:
        StaffProfile.objects.update_or_create(user=user, defaults={"language": language})
        request.session[SESSION_KEY] = language
    return response


class StaffLanguageMiddleware:
    """Activates a signed-in staff user's stored language, over the browser's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The API's human messages follow Accept-Language alone, whoever calls it.
        if _staff_user(request) is not None and not request.path.startswith("/api/"):
            language = remembered_language(request)
            if language in LANGUAGE_CODES:
                translation.activate(language)
                request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
