from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance: security conditions and findings"

    def ready(self) -> None:
        # The composition root: the on-change re-checks and the webhook outbox get their tasks.
        from compliance import signals, tasks

        signals.connect()
        tasks.register()
