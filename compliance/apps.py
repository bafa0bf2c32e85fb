from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance: security conditions and findings"

    def ready(self) -> None:
        from compliance import signals

        signals.connect()
