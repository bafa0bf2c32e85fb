from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CockpitConfig(AppConfig):
    name = "cockpit"
    verbose_name = _("Cockpit: the regulator's dashboard")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from cockpit.language import remember_on_login

        user_logged_in.connect(remember_on_login, dispatch_uid="cockpit.remember_language")
