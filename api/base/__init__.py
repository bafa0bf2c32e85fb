"""Base classes every API viewset and write serializer builds on.

A viewset declares its ``queryset``, ``serializer_class``, ``filterset_class``,
``ordering_fields`` and, for tenant data, ``company_field`` (the path from its model to
the owning company). :meth:`ApiViewSetMixin.scoped` is the one place where a company key
is narrowed to its own rows: ``get_queryset`` and every related-object lookup in a
write serializer go through it, so another company's records answer 404 and never show
in lists, filters or counts.

Licence and declaration numbers are unique within a company only: :func:`get_by_natural_key`
is the one look-up by such a number (URLs with ``?company=<slug>``, body references with a
``company`` field), refusing an ambiguous number with ``ambiguous_identifier``.

Client-supplied event times (when something happened) are :class:`EventDateTimeField` and
:class:`EventDateField`: never in the future beyond ``EVENT_TIME_SKEW``, never without a
time zone.

Split by concern (issue 13) into ``views``, ``lean`` and ``fields``; every public name is
re-exported here, so ``from api.base import X`` keeps working.
"""

from api.base.fields import (
    MAX_QUANTITY,
    BoundedDateField,
    BoundedDateTimeField,
    EventDateField,
    EventDateTimeField,
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
