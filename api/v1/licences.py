"""REST API for companies, the chip catalogue, allocation rounds, licences and shipments.

Thin viewsets: they parse with a serializer, call :mod:`licences.services` and render.
Scoping, atomic writes, idempotency and the error envelope come from
:mod:`api.base` (the API's shared plumbing lives in the top app).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import (
    MAX_QUANTITY,
    ApiViewSetMixin,
    BoundedDateField,
    CreateReadApiViewSet,
    EventDateTimeField,
    LeanRepresentationMixin,
    PlainDecimalField,
    QuantityField,
    ScopedIdRelatedField,
    ScopedSlugRelatedField,
    StrictSerializer,
    StrictSerializerMixin,
    WholeNumberField,
    documents_company_parameter,
)
from api.batch import BatchIngestionMixin, BatchResultSerializer, batch_request_serializer
from common.api.filters import BoundedIsoDateTimeFilter, IdFilter
from common.api.parsers import BatchJSONParser
from licences import services
from licences.models import (
    AllocationRound,
    ChipModel,
    Company,
    CustomsDirective,
    CustomsEvent,
    ImportLicence,
    Shipment,
)

REFERENCE = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_\-/]*$", "Letters, digits, '-', '_' and '/' only.")
CHIP_CODE = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$", "Letters, digits, '-' and '_' only.")
MONEY = {"max_digits": 14, "decimal_places": 2, "min_value": Decimal("0")}


# --- Companies, chips, rounds ------------------------------------------------------------


class CompanySerializer(StrictSerializerMixin, serializers.ModelSerializer):
    """A licensee. ``slug`` is its natural key in URLs."""

    class Meta:
        model = Company
        fields = ["slug", "name", "category", "compliance_contact_emails", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs = {"compliance_contact_emails": {"max_length": 5000}}


class ChipSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    """A catalogue entry. ``compute_index`` is relative to the H20 (H200 = 6.0)."""

    code = serializers.CharField(max_length=32, validators=[CHIP_CODE])
    compute_index = PlainDecimalField(max_digits=8, decimal_places=3, min_value=Decimal("0.001"))
    reference_unit_value_usd = PlainDecimalField(**MONEY)

    class Meta:
        model = ChipModel
        fields = [
            "code",
            "name",
            "vendor",
            "origin",
            "export_controlled",
            "compute_index",
            "reference_unit_value_usd",
        ]

    def validate_code(self, code: str) -> str:
        if ChipModel.objects.filter(code=code).exists():
            raise serializers.ValidationError("A chip model with this code already exists.")
        return code


class RoundSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    """An allocation round (wave): its caps and what its licences have been granted so far."""

    unit_cap = WholeNumberField(min_value=1, max_value=MAX_QUANTITY)
    value_cap_usd = PlainDecimalField(max_digits=18, decimal_places=2, min_value=Decimal("0.01"))
    opens_on = BoundedDateField()
    closes_on = BoundedDateField()
    remaining_units = serializers.SerializerMethodField()
    remaining_value_usd = serializers.SerializerMethodField()

    class Meta:
        model = AllocationRound
        fields = [
            "id",
            "name",
            "unit_cap",
            "value_cap_usd",
            "opens_on",
            "closes_on",
            "granted_units",
            "granted_value_usd",
            "remaining_units",
            "remaining_value_usd",
        ]
        read_only_fields = ["granted_units", "granted_value_usd"]

    def get_remaining_units(self, wave: AllocationRound) -> int:
        return wave.unit_cap - wave.granted_units

    @extend_schema_field(serializers.DecimalField(max_digits=18, decimal_places=2))
    def get_remaining_value_usd(self, wave: AllocationRound) -> str:
        return f"{Decimal(wave.value_cap_usd) - Decimal(wave.granted_value_usd):.2f}"

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["opens_on"] > attrs["closes_on"]:
            raise serializers.ValidationError({"closes_on": ["Must not be before opens_on."]})
        return attrs


class CompanyFilter(django_filters.FilterSet):
    class Meta:
        model = Company
        fields = ["category"]


class ChipFilter(django_filters.FilterSet):
    class Meta:
        model = ChipModel
        fields = ["origin", "export_controlled", "vendor"]


class RoundFilter(django_filters.FilterSet):
    opens_on_after = django_filters.DateFilter(field_name="opens_on", lookup_expr="gte")
    opens_on_before = django_filters.DateFilter(field_name="opens_on", lookup_expr="lte")

    class Meta:
        model = AllocationRound
        fields = ["name"]


class CompanyViewSet(CreateReadApiViewSet):
    """Companies (licensees). A company key sees only itself; the regulator registers companies."""

    queryset = Company.objects.all()
    serializer_class = CompanySerializer
    lookup_field = "slug"
    company_field = "pk"
    filterset_class = CompanyFilter
    ordering_fields = ("name", "slug", "created_at")


class ChipViewSet(CreateReadApiViewSet):
    """The chip catalogue: every client reads it, the regulator adds to it."""

    queryset = ChipModel.objects.all()
    serializer_class = ChipSerializer
    lookup_field = "code"
    company_field = None
    filterset_class = ChipFilter
    ordering_fields = ("code", "vendor", "compute_index")


class RoundViewSet(CreateReadApiViewSet):
    """Allocation rounds with their caps and grants so far; the regulator opens them."""

    queryset = AllocationRound.objects.all()
    serializer_class = RoundSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    company_field = None
    filterset_class = RoundFilter
    ordering_fields = ("opens_on", "closes_on", "name")


# --- Licences ------------------------------------------------------------------------------


class LicenceSerializer(LeanRepresentationMixin, serializers.ModelSerializer):
    """An import licence: its grant and how much of it is reserved, used and remaining."""

    company = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    chip = serializers.SlugRelatedField(slug_field="code", read_only=True)
    round = serializers.PrimaryKeyRelatedField(read_only=True)
    remaining_quantity = serializers.IntegerField(read_only=True, help_text="granted - reserved - used")
    granted_value_usd = serializers.DecimalField(max_digits=24, decimal_places=2, read_only=True)

    lean_plan_shared = True  # its fields never depend on the request

    class Meta:
        model = ImportLicence
        fields = [
            "number",
            "company",
            "chip",
            "round",
            "status",
            "status_reason",
            "requested_quantity",
            "granted_quantity",
            "reserved_quantity",
            "used_quantity",
            "remaining_quantity",
            "unit_value_usd",
            "granted_value_usd",
            "valid_from",
            "valid_until",
            "applied_at",
            "approved_at",
            "rejected_at",
            "suspended_at",
            "revoked_at",
            "expired_at",
        ]
        read_only_fields = fields


class CompanyOwnedSerializer(StrictSerializer):
    """Input for a record owned by a company: a company key's own; the regulator names it."""

    company = ScopedSlugRelatedField(
        slug_field="slug",
        queryset=Company.objects.all(),
        company_field="pk",
        required=False,
        help_text="The company's slug. Company keys may omit it (their own); the regulator must give it.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        principal = self.context["principal"]
        if "company" not in attrs:
            if principal.company is None:
                raise serializers.ValidationError({"company": ["This field is required."]})
            attrs["company"] = principal.company
        return attrs


class LicenceApplySerializer(CompanyOwnedSerializer):
    """An application for an import licence."""

    chip = ScopedSlugRelatedField(slug_field="code", queryset=ChipModel.objects.all(), company_field=None)
    round = ScopedIdRelatedField(queryset=AllocationRound.objects.all(), company_field=None, help_text="Round id.")
    requested_quantity = QuantityField()
    unit_value_usd = PlainDecimalField(**MONEY, required=False, help_text="Defaults to the catalogue value.")
    number = serializers.CharField(
        max_length=64, required=False, validators=[REFERENCE], help_text="Optional; generated when omitted."
    )


class ApproveSerializer(StrictSerializer):
    granted_quantity = QuantityField()
    valid_from = BoundedDateField()
    valid_until = BoundedDateField()


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000)


class LicenceFilter(django_filters.FilterSet):
    company = django_filters.CharFilter(field_name="company__slug")
    chip = django_filters.CharFilter(field_name="chip__code")
    round = IdFilter(field_name="round_id")
    valid_on = django_filters.DateFilter(method="filter_valid_on", label="Valid on date")
    applied_after = BoundedIsoDateTimeFilter(field_name="applied_at", lookup_expr="gte")
    applied_before = BoundedIsoDateTimeFilter(field_name="applied_at", lookup_expr="lt")
    valid_until_before = django_filters.DateFilter(field_name="valid_until", lookup_expr="lte")

    class Meta:
        model = ImportLicence
        fields = ["status"]

    def filter_valid_on(self, queryset: Any, name: str, value: Any) -> Any:
        return queryset.filter(valid_from__lte=value, valid_until__gte=value)


@documents_company_parameter("retrieve", "approve", "reject", "suspend", "reinstate", "revoke")
class LicenceViewSet(CreateReadApiViewSet):
    """Import licences. A company POST is an application; the decisions are the regulator's."""

    queryset = ImportLicence.objects.select_related("company", "chip")
    serializer_class = LicenceSerializer
    lookup_field = "number"
    natural_key_per_company = True  # ?company=<slug> when the number is held by several companies
    filterset_class = LicenceFilter
    ordering_fields = ("applied_at", "number", "status", "valid_until", "granted_quantity")
    # A list page reads only the columns it shows, and the company's slug and the chip's code
    # as annotations (LeanRepresentationMixin): no company or chip instance per licence.
    list_columns = tuple(
        name for name in LicenceSerializer.Meta.fields if name not in ("remaining_quantity", "granted_value_usd")
    )

    def get_queryset(self) -> Any:
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset
        return queryset.select_related(None).only(*self.list_columns).annotate(**LicenceSerializer.lean_annotations())

    @extend_schema(request=LicenceApplySerializer, responses={201: LicenceSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Apply for a licence (status ``applied``)."""
        application = self.parse(LicenceApplySerializer)
        licence = services.licence_apply(
            company=application["company"],
            chip=application["chip"],
            round=application["round"],
            requested_quantity=application["requested_quantity"],
            unit_value_usd=application.get("unit_value_usd"),
            number=application.get("number"),
        )
        return self.render(licence, status=status.HTTP_201_CREATED)

    @extend_schema(request=ApproveSerializer, responses=LicenceSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, number: str) -> Response:
        """Grant a quantity and a validity window; refused past the round's unit or value cap."""
        decision = self.parse(ApproveSerializer)
        return self.render(services.licence_approve(licence=self.get_object(), **decision))

    @extend_schema(request=ReasonSerializer, responses=LicenceSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, number: str) -> Response:
        """Reject an application."""
        return self.render(services.licence_reject(licence=self.get_object(), **self.parse(ReasonSerializer)))

    @extend_schema(request=ReasonSerializer, responses=LicenceSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, number: str) -> Response:
        """Suspend an approved licence: no new declarations against it."""
        return self.render(services.licence_suspend(licence=self.get_object(), **self.parse(ReasonSerializer)))

    @extend_schema(request=ReasonSerializer, responses=LicenceSerializer)
    @action(detail=True, methods=["post"])
    def reinstate(self, request: Request, number: str) -> Response:
        """Lift a suspension."""
        return self.render(services.licence_reinstate(licence=self.get_object(), **self.parse(ReasonSerializer)))

    @extend_schema(request=ReasonSerializer, responses=LicenceSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, number: str) -> Response:
        """Revoke a licence for good."""
        return self.render(services.licence_revoke(licence=self.get_object(), **self.parse(ReasonSerializer)))


# --- Shipments ------------------------------------------------------------------------------


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


COMPANY_OF_NUMBER_HELP = (
    "The company's slug. Numbers are unique within a company only: a caller who sees several "
    "companies gives it when the number is held by more than one (else ambiguous_identifier)."
)


class ShipmentDeclareSerializer(StrictSerializer):
    """A declaration against one of the caller's licences."""

    declaration_number = serializers.CharField(max_length=64, validators=[REFERENCE])
    company = ScopedSlugRelatedField(
        slug_field="slug",
        queryset=Company.objects.all(),
        company_field="pk",
        required=False,
        help_text=f"The licence's (and so the shipment's) company. {COMPANY_OF_NUMBER_HELP}",
    )
    licence = ScopedSlugRelatedField(slug_field="number", queryset=ImportLicence.objects.all(), company_from="company")
    chip = ScopedSlugRelatedField(
        slug_field="code", queryset=ChipModel.objects.all(), company_field=None, required=False
    )
    quantity = QuantityField()
    declared_value_usd = PlainDecimalField(max_digits=18, decimal_places=2, min_value=Decimal("0"))
    port_of_entry = serializers.CharField(max_length=100)
    declared_at = EventDateTimeField(required=False, help_text="Defaults to now; never in the future.")


class CustomsEventInputSerializer(StrictSerializer):
    """A customs event to append."""

    status = serializers.ChoiceField(choices=Shipment.Status.choices)
    occurred_at = EventDateTimeField(required=False, help_text="Defaults to now; never in the future.")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ShipmentBatchItemSerializer(ShipmentDeclareSerializer):
    """One declaration in a batch: the single endpoint's fields, the licence and chip by natural key.

    The references are resolved for the whole batch at once by the batch service, not per item.
    """

    company = serializers.SlugField(max_length=64, required=False, help_text=COMPANY_OF_NUMBER_HELP)
    licence = serializers.CharField(max_length=200, help_text="The licence number.")
    chip = serializers.CharField(max_length=200, required=False, help_text="Optional chip code; must be the licence's.")


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


# --- Entry-block directives ----------------------------------------------------------------------


class DirectiveSerializer(serializers.ModelSerializer):
    """An entry block on a chip model, who issued it and, once lifted, who lifted it and why."""

    chip = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = CustomsDirective
        fields = [
            "reference",
            "chip",
            "blocked_from",
            "blocked_until",
            "reason",
            "issued_by",
            "lifted_at",
            "lifted_by",
            "lift_reason",
        ]
        read_only_fields = fields


class DirectiveIssueSerializer(StrictSerializer):
    """A new entry block."""

    reference = serializers.CharField(max_length=64, validators=[REFERENCE])
    chip = ScopedSlugRelatedField(slug_field="code", queryset=ChipModel.objects.all(), company_field=None)
    blocked_from = BoundedDateField()
    blocked_until = BoundedDateField(required=False, allow_null=True, default=None, help_text="Open-ended when null.")
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class DirectiveFilter(django_filters.FilterSet):
    chip = django_filters.CharFilter(field_name="chip__code")
    in_force_on = django_filters.DateFilter(method="filter_in_force_on", label="In force on date")

    class Meta:
        model = CustomsDirective
        fields = ["reference"]

    def filter_in_force_on(self, queryset: Any, name: str, value: Any) -> Any:
        return queryset.filter(blocked_from__lte=value).exclude(blocked_until__lt=value)


class CustomsDirectiveViewSet(CreateReadApiViewSet):
    """Entry-block directives: the customs authority issues and lifts them; every client reads them."""

    queryset = CustomsDirective.objects.select_related("chip")
    serializer_class = DirectiveSerializer
    lookup_field = "reference"
    company_field = None
    filterset_class = DirectiveFilter
    ordering_fields = ("blocked_from", "reference")

    @extend_schema(request=DirectiveIssueSerializer, responses={201: DirectiveSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Issue an entry block on a chip model (recorded with who issued it)."""
        directive = services.directive_issue(**self.parse(DirectiveIssueSerializer), issued_by=self.principal.label)
        return self.render(directive, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonSerializer, responses=DirectiveSerializer)
    @action(detail=True, methods=["post"])
    def lift(self, request: Request, reference: str) -> Response:
        """Lift a block in force: it ends today; who lifted it and why are recorded. Held
        shipments stay held until customs releases them with a customs event."""
        reason = self.parse(ReasonSerializer)["reason"]
        directive = services.directive_lift(directive=self.get_object(), reason=reason, lifted_by=self.principal.label)
        return self.render(directive)
