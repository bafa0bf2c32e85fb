"""REST API for import licences: a company's application and the regulator's decisions."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import (
    BoundedDateField,
    CreateReadApiViewSet,
    LeanRepresentationMixin,
    MoneyField,
    QuantityField,
    ScopedIdRelatedField,
    ScopedSlugRelatedField,
    StrictSerializer,
    documents_company_parameter,
)
from api.v1.licences.catalogue import (
    REFERENCE,
)
from common.api.filters import BoundedIsoDateTimeFilter, IdFilter
from licences import services
from licences.models import (
    AllocationRound,
    ChipModel,
    Company,
    ImportLicence,
)


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
    unit_value_usd = MoneyField(required=False, help_text="Defaults to the catalogue value.")
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
