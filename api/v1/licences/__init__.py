"""REST API for companies, the chip catalogue, allocation rounds, licences and shipments.

Thin viewsets: they parse with a serializer, call :mod:`licences.services` and render.
Scoping, atomic writes, idempotency and the error envelope come from
:mod:`api.base` (the API's shared plumbing lives in the top app).

Split by resource (issue 13) into ``catalogue``, ``licences``, ``shipments`` and
``directives``; every public name is re-exported here (``api.urls`` and the tests use them).
"""

from api.v1.licences.catalogue import (
    CHIP_CODE,
    ChipFilter,
    ChipSerializer,
    ChipViewSet,
    CompanyFilter,
    CompanySerializer,
    CompanyViewSet,
    RoundFilter,
    RoundSerializer,
    RoundViewSet,
    validate_reference,
)
from api.v1.licences.directives import (
    CustomsDirectiveViewSet,
    DirectiveFilter,
    DirectiveIssueSerializer,
    DirectiveSerializer,
)
from api.v1.licences.licences import (
    ApproveSerializer,
    CompanyOwnedSerializer,
    LicenceApplySerializer,
    LicenceFilter,
    LicenceSerializer,
    LicenceViewSet,
    ReasonSerializer,
)
from api.v1.licences.shipments import (
    COMPANY_OF_NUMBER_HELP,
    CustomsEventBatchItemSerializer,
    CustomsEventBatchSerializer,
    CustomsEventInputSerializer,
    CustomsEventSerializer,
    CustomsEventViewSet,
    ShipmentBatchItemSerializer,
    ShipmentBatchSerializer,
    ShipmentDeclareSerializer,
    ShipmentFilter,
    ShipmentSerializer,
    ShipmentViewSet,
    customs_event_line,
    shipment_line,
)

__all__ = [
    "CHIP_CODE",
    "COMPANY_OF_NUMBER_HELP",
    "ApproveSerializer",
    "ChipFilter",
    "ChipSerializer",
    "ChipViewSet",
    "CompanyFilter",
    "CompanyOwnedSerializer",
    "CompanySerializer",
    "CompanyViewSet",
    "CustomsDirectiveViewSet",
    "CustomsEventBatchItemSerializer",
    "CustomsEventBatchSerializer",
    "CustomsEventInputSerializer",
    "CustomsEventSerializer",
    "CustomsEventViewSet",
    "DirectiveFilter",
    "DirectiveIssueSerializer",
    "DirectiveSerializer",
    "LicenceApplySerializer",
    "LicenceFilter",
    "LicenceSerializer",
    "LicenceViewSet",
    "ReasonSerializer",
    "RoundFilter",
    "RoundSerializer",
    "RoundViewSet",
    "ShipmentBatchItemSerializer",
    "ShipmentBatchSerializer",
    "ShipmentDeclareSerializer",
    "ShipmentFilter",
    "ShipmentSerializer",
    "ShipmentViewSet",
    "customs_event_line",
    "shipment_line",
    "validate_reference",
]
