from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = _("Compliance: security conditions and findings")

    def ready(self) -> None:
        # The composition root: the on-change re-checks and the webhook outbox get their tasks.
        from compliance import signals, tasks

        signals.connect()
        tasks.register()
