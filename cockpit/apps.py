from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CockpitConfig(AppConfig):
    name = "cockpit"
    verbose_name = _("Cockpit: the regulator's dashboard")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from cockpit.language import remember_on_login

        user_logged_in.connect(remember_on_login, dispatch_uid="cockpit.remember_language")
        _mark_third_party_model_names()


def _mark_third_party_model_names() -> None:
    """djangorestframework-api-key names its model in plain strings: give the admin translatable
    ones (their Chinese is in config's catalogue: config/third_party_strings.py)."""
    from rest_framework_api_key.models import APIKey

    APIKey._meta.verbose_name = _("API key")
    APIKey._meta.verbose_name_plural = _("API keys")
