"""Top-level URLs: admin, API v1, schema and docs, health and metrics."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from health_check.views import HealthCheckView

from cockpit.language import set_language
from common.api import errors as api_errors
from compliance.metrics import metrics
from config.health import BrokerCheck

urlpatterns = [
    path("admin/cockpit/", include("cockpit.urls")),  # before admin/: its catch-all
    path("admin/", admin.site.urls),
    # The admin header's language switch: Django's set_language, remembering a staff user's choice.
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path(
        "health/",
        HealthCheckView.as_view(checks=["health_check.checks.Database", BrokerCheck]),
        name="health",
    ),
    path("metrics", metrics, name="prometheus-django-metrics"),  # token or superuser (ops)
]


def handler404(request, exception=None):
    """JSON (the API's error envelope) under ``/api/``, Django's page elsewhere."""
    from django.views.defaults import page_not_found

    if api_errors.is_api_path(request):
        return api_errors.api_not_found(request, exception)
    return page_not_found(request, exception)


def handler500(request):
    """JSON under ``/api/``, Django's page elsewhere."""
    from django.views.defaults import server_error

    if api_errors.is_api_path(request):
        return api_errors.api_server_error(request)
    return server_error(request)
