"""Top-level URLs: admin, API v1, schema and docs, health and metrics."""

from django.contrib import admin
from django.urls import include, path
from health_check.views import HealthCheckView

from compliance.health import BrokerCheck

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "health/",
        HealthCheckView.as_view(checks=["health_check.checks.Database", BrokerCheck]),
        name="health",
    ),
    path("", include("django_prometheus.urls")),
]
