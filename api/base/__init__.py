"""Base classes every API viewset and write serializer builds on, split by concern: ``views``
(tenant scoping, natural-key look-ups, ``?company=``), ``fields`` (bounded, whole-number and
event-time fields, strict serializers) and ``lean`` (fast representations). Every public name
is re-exported here, so ``from api.base import X`` keeps working.
"""

from api.base.fields import (
    MAX_QUANTITY,
    BoundedDateField,
    BoundedDateTimeField,
    EventDateField,
    EventDateTimeField,
    MoneyField,
    PlainDecimalField,
    QuantityField,
    StrictSerializer,
    StrictSerializerMixin,
    WholeNumberField,
    event_time_skew,
    latest_event_date,
    latest_event_time,
)
from api.base.lean import (
    LeanRepresentationMixin,
)
from api.base.views import (
    COMPANY_PARAMETER,
    COMPANY_SLUG,
    ApiViewSetMixin,
    CreateReadApiViewSet,
    ReadOnlyApiViewSet,
    ScopedIdRelatedField,
    ScopedSlugRelatedField,
    documents_company_parameter,
    get_by_natural_key,
)

__all__ = [
    "COMPANY_PARAMETER",
    "COMPANY_SLUG",
    "MAX_QUANTITY",
    "ApiViewSetMixin",
    "BoundedDateField",
    "BoundedDateTimeField",
    "CreateReadApiViewSet",
    "EventDateField",
    "EventDateTimeField",
    "LeanRepresentationMixin",
    "MoneyField",
    "PlainDecimalField",
    "QuantityField",
    "ReadOnlyApiViewSet",
    "ScopedIdRelatedField",
    "ScopedSlugRelatedField",
    "StrictSerializer",
    "StrictSerializerMixin",
    "WholeNumberField",
    "documents_company_parameter",
    "event_time_skew",
    "get_by_natural_key",
    "latest_event_date",
    "latest_event_time",
]
