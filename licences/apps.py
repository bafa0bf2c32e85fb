from django.apps import AppConfig


class LicencesConfig(AppConfig):
    name = "licences"
    verbose_name = "Licences and customs"
