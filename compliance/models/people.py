"""Staff users' own settings: the language they chose (issue 15)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class StaffProfile(models.Model):
    """A staff user's remembered language: the admin and cockpit use it once chosen (before
    that, the browser's), and the user's alert e-mails are written in it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile", verbose_name=_("user")
    )
    language = models.CharField(
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        db_default="",
        help_text=_("Empty: follow the browser in the admin; alerts use the service's default language."),
        verbose_name=_("language"),
    )

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")

    def __str__(self) -> str:
        return f"{self.user} ({self.language or 'browser'})"
