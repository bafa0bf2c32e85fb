"""REST API for shipments and customs events, single and in batches."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import (
    ApiViewSetMixin,
    CreateReadApiViewSet,
    EventDateTimeField,
    PlainDecimalField,
    QuantityField,
    ScopedSlugRelatedField,
    StrictSerializer,
    documents_company_parameter,
)
from api.batch import BatchIngestionMixin, BatchResultSerializer, batch_request_serializer
from api.v1.licences.catalogue import (
    validate_reference,
)
from common.api.filters import BoundedIsoDateTimeFilter
from common.api.parsers import BatchJSONParser
from licences import services
from licences.models import (
    ChipModel,
    Company,
    CustomsEvent,
    ImportLicence,
    Shipment,
)


class CustomsEventSerializer(serializers.ModelSerializer):
    """One step of a shipment's customs history."""

    class Meta:
        model = CustomsEvent
        fields = ["status", "occurred_at", "note", "recorded_at", "recorded_by"]
        read_only_fields = fields


class ShipmentSerializer(serializers.ModelSerializer):
    """A customs declaration and its status history."""

    company = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    licence = serializers.SlugRelatedField(slug_field="number", read_only=True)
    chip = serializers.SlugRelatedField(slug_field="code", read_only=True)
    entry_block_directive = serializers.SlugRelatedField(slug_field="reference", read_only=True, allow_null=True)
    events = CustomsEventSerializer(many=True, read_only=True)

    class Meta:
        model = Shipment
        fields = [
            "declaration_number",
            "company",
            "licence",
            "chip",
            "quantity",
            "declared_value_usd",
            "port_of_entry",
            "status",
            "declared_at",
            "status_changed_at",
            "cleared_at",
            "held_since",
            "entry_block_directive",
            "events",
        ]
        read_only_fields = fields


COMPANY_OF_NUMBER_HELP = _(
    "The company's slug. Numbers are unique within a company only: a caller who sees several "
    "companies gives it when the number is held by more than one (else ambiguous_identifier)."
)


class ShipmentDeclareSerializer(StrictSerializer):
    """A declaration against one of the caller's licences."""

    declaration_number = serializers.CharField(max_length=64, validators=[validate_reference])
    company = ScopedSlugRelatedField(
        slug_field="slug",
        queryset=Company.objects.all(),
        company_field="pk",
        required=False,
        help_text=format_lazy("{} {}", _("The licence's (and so the shipment's) company."), COMPANY_OF_NUMBER_HELP),
    )
    licence = ScopedSlugRelatedField(slug_field="number", queryset=ImportLicence.objects.all(), company_from="company")
    chip = ScopedSlugRelatedField(
        slug_field="code", queryset=ChipModel.objects.all(), company_field=None, required=False
    )
    quantity = QuantityField()
    declared_value_usd = PlainDecimalField(max_digits=18, decimal_places=2, min_value=Decimal("0"))
    port_of_entry = serializers.CharField(max_length=100)
    declared_at = EventDateTimeField(required=False, help_text=_("Defaults to now; never in the future."))


class CustomsEventInputSerializer(StrictSerializer):
    """A customs event to append."""

    status = serializers.ChoiceField(choices=Shipment.Status.choices)
    occurred_at = EventDateTimeField(required=False, help_text=_("Defaults to now; never in the future."))
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ShipmentBatchItemSerializer(ShipmentDeclareSerializer):
    """One declaration in a batch: the single endpoint's fields, the licence and chip by natural key.

    The references are resolved for the whole batch at once by the batch service, not per item.
    """

    company = serializers.SlugField(max_length=64, required=False, help_text=COMPANY_OF_NUMBER_HELP)
    licence = serializers.CharField(max_length=200, help_text=_("The licence number."))
    chip = serializers.CharField(
        max_length=200, required=False, help_text=_("Optional chip code; must be the licence's.")
    )


class CustomsEventBatchItemSerializer(CustomsEventInputSerializer):
    """One customs event in a batch: the single endpoint's fields and the shipment's declaration number."""

    declaration_number = serializers.CharField(max_length=200)
    company = serializers.SlugField(max_length=64, required=False, help_text=COMPANY_OF_NUMBER_HELP)


ShipmentBatchSerializer = batch_request_serializer("ShipmentBatchSerializer", ShipmentBatchItemSerializer)
CustomsEventBatchSerializer = batch_request_serializer("CustomsEventBatchSerializer", CustomsEventBatchItemSerializer)


def shipment_line(index: int, declaration: dict[str, Any]) -> services.ShipmentLine:
    return services.ShipmentLine(
        index=index,
        declaration_number=declaration["declaration_number"],
        licence_number=declaration["licence"],
        quantity=declaration["quantity"],
        declared_value_usd=declaration["declared_value_usd"],
        port_of_entry=declaration["port_of_entry"],
        chip_code=declaration.get("chip"),
        declared_at=declaration.get("declared_at"),
        company=declaration.get("company"),
    )


def customs_event_line(index: int, event: dict[str, Any]) -> services.CustomsEventLine:
    return services.CustomsEventLine(
        index=index,
        declaration_number=event["declaration_number"],
        status=event["status"],
        occurred_at=event.get("occurred_at"),
        note=event.get("note", ""),
        company=event.get("company"),
    )


class ShipmentFilter(django_filters.FilterSet):
    company = django_filters.CharFilter(field_name="company__slug")
    licence = django_filters.CharFilter(field_name="licence__number")
    chip = django_filters.CharFilter(field_name="chip__code")
    declared_after = BoundedIsoDateTimeFilter(field_name="declared_at", lookup_expr="gte")
    declared_before = BoundedIsoDateTimeFilter(field_name="declared_at", lookup_expr="lt")

    class Meta:
        model = Shipment
        fields = ["status", "port_of_entry"]


@documents_company_parameter("retrieve", "events")
class ShipmentViewSet(BatchIngestionMixin, CreateReadApiViewSet):
    """Shipments (customs declarations) and their customs events."""

    queryset = Shipment.objects.select_related("company", "licence", "chip", "entry_block_directive").prefetch_related(
        "events"
    )
    serializer_class = ShipmentSerializer
    lookup_field = "declaration_number"
    natural_key_per_company = True  # ?company=<slug> when the number is held by several companies
    filterset_class = ShipmentFilter
    ordering_fields = ("declared_at", "declaration_number", "status", "quantity", "status_changed_at")

    @extend_schema(request=ShipmentDeclareSerializer, responses={201: ShipmentSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Declare a shipment against a licence, reserving its quantity."""
        declaration = self.parse(ShipmentDeclareSerializer)
        licence = declaration.pop("licence")  # found in the company named, if one is
        declaration.pop("company", None)
        shipment = services.shipment_declare(
            company=licence.company, licence=licence, recorded_by=self.principal.label, **declaration
        )
        return self.render(self.get_queryset().get(pk=shipment.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=CustomsEventInputSerializer, responses={201: ShipmentSerializer})
    @action(detail=True, methods=["post"])
    def events(self, request: Request, declaration_number: str) -> Response:
        """Append a customs event (allowed transitions only, never dated before the last one)."""
        event = self.parse(CustomsEventInputSerializer)
        shipment = self.get_object()
        services.customs_event_record(shipment=shipment, recorded_by=self.principal.label, **event)
        return self.render(self.get_queryset().get(pk=shipment.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=ShipmentBatchSerializer, responses={207: BatchResultSerializer})
    @action(detail=False, methods=["post"], url_path="batch", parser_classes=[BatchJSONParser])
    def batch(self, request: Request) -> Response:
        """Declare up to ``API_BATCH_MAX_ITEMS`` shipments at once (207: accepted and refused items).

        Each item is checked exactly as ``POST /shipments/`` would, in order (a later item sees
        the quantity earlier ones reserved); a licence the caller cannot see is
        ``licence_not_found``. The ``batch_id`` makes the call idempotent.
        """
        return self.ingest_batch(
            kind="shipments",
            item_serializer=ShipmentBatchItemSerializer,
            to_line=shipment_line,
            ingest=lambda lines: services.shipments_ingest(
                lines=lines, licences=self.scoped(ImportLicence.objects.all()), recorded_by=self.principal.label
            ),
        )


class CustomsEventViewSet(BatchIngestionMixin, ApiViewSetMixin, viewsets.GenericViewSet):
    """Customs events in bulk (one shipment's events are also at ``/shipments/{number}/events/``)."""

    queryset = CustomsEvent.objects.none()
    serializer_class = CustomsEventBatchItemSerializer
    company_field = "shipment__company"

    @extend_schema(request=CustomsEventBatchSerializer, responses={207: BatchResultSerializer})
    @action(detail=False, methods=["post"], url_path="batch", parser_classes=[BatchJSONParser])
    def batch(self, request: Request) -> Response:
        """Append up to ``API_BATCH_MAX_ITEMS`` customs events at once (207: accepted and refused items).

        Each event is checked exactly as ``POST /shipments/{number}/events/`` would; events for
        one shipment apply in input order. A shipment the caller cannot see is
        ``shipment_not_found``. The ``batch_id`` makes the call idempotent.
        """
        return self.ingest_batch(
            kind="customs_events",
            item_serializer=CustomsEventBatchItemSerializer,
            to_line=customs_event_line,
            ingest=lambda lines: services.customs_events_ingest(
                lines=lines, shipments=self.scoped(Shipment.objects.all()), recorded_by=self.principal.label
            ),
        )
