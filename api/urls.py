"""``/api/v1/``: every resource of the REST API, on one router."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter

from api.v1 import compliance as compliance_api
from api.v1 import licences as licences_api
from api.v1 import quotas as quotas_api

router = DefaultRouter()
router.register("companies", licences_api.CompanyViewSet, basename="company")
router.register("companies", quotas_api.CompanyQuotaViewSet, basename="company-quota")
router.register("companies", compliance_api.CompanyComplianceViewSet, basename="company-compliance")
router.register("chips", licences_api.ChipViewSet, basename="chip")
router.register("rounds", licences_api.RoundViewSet, basename="round")
router.register("licences", licences_api.LicenceViewSet, basename="licence")
router.register("shipments", licences_api.ShipmentViewSet, basename="shipment")
router.register("customs-events", licences_api.CustomsEventViewSet, basename="customs-event")
router.register("customs-directives", licences_api.CustomsDirectiveViewSet, basename="customs-directive")
router.register("commitments", quotas_api.CommitmentViewSet, basename="commitment")
router.register("policies", quotas_api.PolicyViewSet, basename="policy")
router.register("security-requirements", compliance_api.SecurityRequirementViewSet, basename="security-requirement")
router.register("attestations", compliance_api.AttestationViewSet, basename="attestation")
router.register("findings", compliance_api.FindingViewSet, basename="finding")
router.register("webhooks", compliance_api.WebhookSubscriptionViewSet, basename="webhook")

app_name = "api"
urlpatterns = router.urls
