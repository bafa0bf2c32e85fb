"""``/api/v1/``: every resource of the REST API, on one router."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter

from compliance.api import views
from licences import api as licences_api
from quotas import api as quotas_api

router = DefaultRouter()
router.register("companies", licences_api.CompanyViewSet, basename="company")
router.register("companies", quotas_api.CompanyQuotaViewSet, basename="company-quota")
router.register("companies", views.CompanyComplianceViewSet, basename="company-compliance")
router.register("chips", licences_api.ChipViewSet, basename="chip")
router.register("rounds", licences_api.RoundViewSet, basename="round")
router.register("licences", licences_api.LicenceViewSet, basename="licence")
router.register("shipments", licences_api.ShipmentViewSet, basename="shipment")
router.register("customs-events", licences_api.CustomsEventViewSet, basename="customs-event")
router.register("customs-directives", licences_api.CustomsDirectiveViewSet, basename="customs-directive")
router.register("commitments", quotas_api.CommitmentViewSet, basename="commitment")
router.register("policies", quotas_api.PolicyViewSet, basename="policy")
router.register("security-requirements", views.SecurityRequirementViewSet, basename="security-requirement")
router.register("attestations", views.AttestationViewSet, basename="attestation")
router.register("findings", views.FindingViewSet, basename="finding")
router.register("webhooks", views.WebhookSubscriptionViewSet, basename="webhook")

app_name = "api"
urlpatterns = router.urls
