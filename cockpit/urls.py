"""URLs of the regulator's cockpit, mounted under ``admin/cockpit/`` and guarded by the admin's login."""

from django.contrib import admin
from django.urls import path

from cockpit import views

app_name = "cockpit"

urlpatterns = [
    path("", admin.site.admin_view(views.dashboard_view), name="dashboard"),
    path("company/<slug:slug>/", admin.site.admin_view(views.company_view), name="company"),
    path("policy-impact/", admin.site.admin_view(views.policy_impact_view), name="policy-impact"),
]
