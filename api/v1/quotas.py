"""REST API for domestic purchase commitments, quota policies and quota positions.

Thin viewsets over :mod:`quotas.services` (writes) and :mod:`quotas.selectors` (the quota
arithmetic); the shared plumbing is :mod:`api.base`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import (
    ApiViewSetMixin,
    BoundedDateField,
    CreateReadApiViewSet,
    EventDateField,
    EventDateTimeField,
    MoneyField,
    PlainDecimalField,
    QuantityField,
    ScopedSlugRelatedField,
    StrictSerializer,
    WholeNumberField,
)
from api.v1.licences import CompanyOwnedSerializer
from licences.models import ChipModel, Company
from quotas import selectors, services
from quotas.models import CommitmentChange, DomesticCommitment, QuotaPolicy

# --- Commitments ----------------------------------------------------------------------------


class CommitmentSerializer(serializers.ModelSerializer):
    """A domestic purchase commitment, its status and deliveries."""

    company = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    chip = serializers.SlugRelatedField(slug_field="code", read_only=True)
    value_usd = serializers.DecimalField(max_digits=28, decimal_places=2, read_only=True)

    class Meta:
        model = DomesticCommitment
        fields = [
            "id",
            "company",
            "chip",
            "quantity",
            "delivered_quantity",
            "unit_price",
            "currency",
            "unit_price_usd",
            "value_usd",
            "status",
            "pledged_on",
            "contracted_on",
            "delivered_on",
            "cancelled_on",
            "due_date",
            "contract_reference",
        ]
        read_only_fields = fields


class CommitmentRecordSerializer(CompanyOwnedSerializer):
    """A new commitment, pledged or already contracted."""

    chip = ScopedSlugRelatedField(slug_field="code", queryset=ChipModel.objects.all(), company_field=None)
    quantity = QuantityField()
    unit_price = MoneyField()
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", default="USD", help_text=_("ISO 4217 code."))
    unit_price_usd = MoneyField()
    pledged_on = EventDateField(help_text=_("Not after today."))
    due_date = BoundedDateField(required=False, allow_null=True, default=None)
    contract_reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(
        choices=[DomesticCommitment.Status.PLEDGED, DomesticCommitment.Status.CONTRACTED],
        default=DomesticCommitment.Status.PLEDGED,
    )
    contracted_on = EventDateField(required=False, allow_null=True, default=None, help_text=_("Not after today."))


class ContractSerializer(StrictSerializer):
    on = EventDateField(help_text=_("The day the contract was signed; not after today."))
    contract_reference = serializers.CharField(max_length=100)


class DeliverSerializer(StrictSerializer):
    quantity = QuantityField()
    on = EventDateField(help_text=_("The day of the delivery; not after today."))


class CancelSerializer(StrictSerializer):
    on = EventDateField(help_text=_("The day of the cancellation; not after today."))
    reason = serializers.CharField(max_length=2000)


class CommitmentFilter(django_filters.FilterSet):
    company = django_filters.CharFilter(field_name="company__slug")
    chip = django_filters.CharFilter(field_name="chip__code")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")
    pledged_after = django_filters.DateFilter(field_name="pledged_on", lookup_expr="gte")

    class Meta:
        model = DomesticCommitment
        fields = ["status"]


class CommitmentChangeSerializer(serializers.ModelSerializer):
    """One row of a commitment's change ledger, with its two times and its place in the hash chain."""

    unit_price_usd = PlainDecimalField(max_digits=14, decimal_places=2, read_only=True)

    class Meta:
        model = CommitmentChange
        fields = [
            "kind",
            "status",
            "effective_on",
            "recorded_at",
            "actor",
            "note",
            "quantity",
            "delivered_quantity",
            "unit_price_usd",
            "chain_seq",
            "row_hash",
        ]
        read_only_fields = fields


class CommitmentLedgerSerializer(serializers.Serializer):
    """A commitment and every row of its change ledger, in the order recorded."""

    id = serializers.IntegerField()
    company = serializers.CharField(help_text=_("The company's slug."))
    changes = CommitmentChangeSerializer(many=True)


class CommitmentViewSet(CreateReadApiViewSet):
    """Domestic purchase commitments: recorded, contracted, delivered or cancelled."""

    queryset = DomesticCommitment.objects.select_related("company", "chip")
    serializer_class = CommitmentSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    filterset_class = CommitmentFilter
    ordering_fields = ("pledged_on", "due_date", "quantity", "status")

    @extend_schema(request=CommitmentRecordSerializer, responses={201: CommitmentSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record a commitment to buy domestic chips."""
        commitment = services.commitment_record(**self.parse(CommitmentRecordSerializer), **self.recorder())
        return self.render(commitment, status=status.HTTP_201_CREATED)

    def recorder(self) -> dict[str, Any]:
        """Who records a change, for the commitment's change ledger."""
        return {"recorded_by": self.principal.user, "actor": self.principal.label}

    def change(self, service: Callable[..., DomesticCommitment], serializer_class: type[StrictSerializer]) -> Response:
        """Run a change service on the commitment in the URL (one row of its change ledger)."""
        change = self.parse(serializer_class)
        return self.render(service(commitment=self.get_object(), **change, **self.recorder()))

    @extend_schema(responses=CommitmentLedgerSerializer)
    @action(detail=True, methods=["get"])
    def changes(self, request: Request, pk: str) -> Response:
        """The commitment's change ledger: its recording, contract, deliveries and cancellation, in the
        order recorded (``chain_seq``), each effective on its day (valid time) and recorded at its
        moment (transaction time). Read by whoever reads the commitment."""
        commitment = self.get_object()
        rows = CommitmentChange.objects.filter(commitment=commitment).order_by("chain_seq")
        ledger = {"id": commitment.pk, "company": commitment.company.slug, "changes": rows}
        return Response(CommitmentLedgerSerializer(ledger).data)

    @extend_schema(request=ContractSerializer, responses=CommitmentSerializer)
    @action(detail=True, methods=["post"])
    def contract(self, request: Request, pk: str) -> Response:
        """Turn a pledge into a signed contract."""
        return self.change(services.commitment_contract, ContractSerializer)

    @extend_schema(request=DeliverSerializer, responses=CommitmentSerializer)
    @action(detail=True, methods=["post"])
    def deliver(self, request: Request, pk: str) -> Response:
        """Record a (partial) delivery against a contracted commitment."""
        return self.change(services.commitment_deliver, DeliverSerializer)

    @extend_schema(request=CancelSerializer, responses=CommitmentSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Cancel a pledged or contracted commitment."""
        return self.change(services.commitment_cancel, CancelSerializer)


# --- Policies -------------------------------------------------------------------------------


class PolicySerializer(serializers.ModelSerializer):
    """A versioned domestic-purchase rule."""

    class Meta:
        model = QuotaPolicy
        fields = [
            "id",
            "name",
            "version",
            "status",
            "ratio",
            "basis",
            "measured_on",
            "counts_pledged",
            "counts_contracted",
            "counts_delivered",
            "grace_days",
            "effective_from",
            "effective_until",
            "notes",
            "created_at",
        ]
        read_only_fields = fields


class PolicyCreateSerializer(StrictSerializer):
    """A draft policy (a new version when the name exists)."""

    name = serializers.CharField(max_length=200)
    ratio = PlainDecimalField(max_digits=7, decimal_places=4, min_value=Decimal("0"), max_value=Decimal("100"))
    basis = serializers.ChoiceField(choices=QuotaPolicy.Basis.choices, default=QuotaPolicy.Basis.UNITS)
    measured_on = serializers.ChoiceField(
        choices=QuotaPolicy.MeasuredOn.choices, default=QuotaPolicy.MeasuredOn.LICENSED
    )
    counts_pledged = serializers.BooleanField(default=False)
    counts_contracted = serializers.BooleanField(default=True)
    counts_delivered = serializers.BooleanField(default=True)
    grace_days = WholeNumberField(min_value=0, max_value=3650, default=0)
    effective_from = BoundedDateField()
    effective_until = BoundedDateField(required=False, allow_null=True, default=None)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class PolicyFilter(django_filters.FilterSet):
    effective_on = django_filters.DateFilter(method="filter_effective_on", label=_("In its window on date"))

    class Meta:
        model = QuotaPolicy
        fields = ["status", "basis", "name"]

    def filter_effective_on(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        return queryset.filter(effective_from__lte=value).exclude(effective_until__lt=value)


# --- Quota positions --------------------------------------------------------------------------


class PolicyTermsSerializer(serializers.Serializer):
    """The terms a position was computed under."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    status = serializers.CharField()
    basis = serializers.CharField()
    measured_on = serializers.CharField()
    ratio = serializers.DecimalField(max_digits=7, decimal_places=4)
    counted_statuses = serializers.ListField(child=serializers.CharField())
    grace_days = serializers.IntegerField()
    effective_from = serializers.DateField()
    effective_until = serializers.DateField(allow_null=True)


class HeadroomSerializer(serializers.Serializer):
    chip = serializers.CharField(help_text=_("Foreign chip code."))
    units = serializers.IntegerField(
        allow_null=True, help_text=_("More units importable while covered; null = unlimited.")
    )


class QuotaPositionSerializer(serializers.Serializer):
    """A company's quota position on a date. Amounts are in the policy's basis (exact decimals)."""

    company = serializers.CharField(source="company.slug")
    on = serializers.DateField()
    policy = PolicyTermsSerializer(allow_null=True)
    imported = serializers.DecimalField(max_digits=None, decimal_places=None)
    committed = serializers.DecimalField(max_digits=None, decimal_places=None)
    required = serializers.DecimalField(max_digits=None, decimal_places=None)
    shortfall = serializers.DecimalField(max_digits=None, decimal_places=None)
    coverage = serializers.DecimalField(max_digits=12, decimal_places=4, help_text=_("committed / required; 1 = 100 %"))
    is_short = serializers.BooleanField()
    as_known_at = serializers.DateTimeField(
        allow_null=True, help_text=_("The moment whose records it was computed from; null: everything recorded so far.")
    )


class PolicyImpactRowSerializer(serializers.Serializer):
    """One company's position under the draft beside its position under the policy in force."""

    company = serializers.CharField(source="company.slug")
    current = QuotaPositionSerializer()
    proposed = QuotaPositionSerializer()
    shortfall_change = serializers.DecimalField(max_digits=None, decimal_places=None, allow_null=True)
    coverage_change = serializers.DecimalField(max_digits=12, decimal_places=4)
    newly_short = serializers.BooleanField()


AS_KNOWN_AT_HELP = _(
    "Transaction time: answer from what had been recorded by this moment (licence decisions, customs "
    "clearances, commitment changes, policies), so an earlier answer can be reproduced after back-dated "
    "corrections. An ISO 8601 date and time with an offset (in a query string, encode '+' as %2B); without "
    "one 400 naive_datetime, in the future 400 future_event_time. Defaults to everything recorded so far."
)
AS_KNOWN_AT_PARAMETER = OpenApiParameter(
    "as_known_at", OpenApiTypes.DATETIME, OpenApiParameter.QUERY, description=AS_KNOWN_AT_HELP
)


class HypotheticalRowSerializer(StrictSerializer):
    chip = serializers.CharField(max_length=32)
    quantity = QuantityField()


class WhatIfSerializer(StrictSerializer):
    """Extra imports and/or commitments to try; nothing is written."""

    on = BoundedDateField(required=False, help_text=_("Defaults to today."))
    as_known_at = EventDateTimeField(required=False, help_text=AS_KNOWN_AT_HELP)
    imports = HypotheticalRowSerializer(many=True, required=False, max_length=100)
    commitments = HypotheticalRowSerializer(many=True, required=False, max_length=100)


class PolicyViewSet(CreateReadApiViewSet):
    """Quota policies: every client reads them; the regulator drafts, activates and studies them."""

    queryset = QuotaPolicy.objects.all()
    serializer_class = PolicySerializer
    lookup_value_regex = r"[0-9]{1,18}"
    company_field = None
    filterset_class = PolicyFilter
    ordering_fields = ("effective_from", "name", "version", "created_at")

    @extend_schema(request=PolicyCreateSerializer, responses={201: PolicySerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Draft a policy (a new version under an existing name)."""
        return self.render(services.policy_create(**self.parse(PolicyCreateSerializer)), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=PolicySerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: str) -> Response:
        """Put a draft in force over its window (refused if it overlaps one in force)."""
        self.parse(StrictSerializer)  # no body expected: refuse stray fields
        return self.render(services.policy_activate(policy=self.get_object()))

    @extend_schema(
        parameters=[
            OpenApiParameter("on", OpenApiTypes.DATE, OpenApiParameter.QUERY, description=_("Defaults to today.")),
            AS_KNOWN_AT_PARAMETER,
        ],
        responses=PolicyImpactRowSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def impact(self, request: Request, pk: str) -> Response:
        """Every company's position under this policy beside the one in force, worst change first."""
        on, as_known_at = self.query_date(), self.query_moment()
        rows = selectors.policy_impact(draft=self.get_object(), on=on, as_known_at=as_known_at)
        return Response(PolicyImpactRowSerializer(rows, many=True).data)


class QuotaReportSerializer(QuotaPositionSerializer):
    """A quota position with the headroom for each foreign chip in the catalogue."""

    headroom = serializers.SerializerMethodField()

    @extend_schema_field(HeadroomSerializer(many=True))
    def get_headroom(self, position: selectors.QuotaPosition) -> list[dict[str, Any]]:
        return [{"chip": chip.code, "units": position.headroom(chip)} for chip in self.context["foreign_chips"]]


ON_PARAMETER = OpenApiParameter("on", OpenApiTypes.DATE, OpenApiParameter.QUERY, description=_("Defaults to today."))


class CompanyQuotaViewSet(ApiViewSetMixin, viewsets.GenericViewSet):
    """``companies/{slug}/quota/``: a company's quota position, and what-if studies."""

    queryset = Company.objects.all()
    serializer_class = QuotaReportSerializer
    lookup_field = "slug"
    company_field = "pk"
    pagination_class = None
    filter_backends: list = []

    def report(self, position: selectors.QuotaPosition, chips: list[ChipModel] | None = None) -> Response:
        chips = list(ChipModel.objects.order_by("code")) if chips is None else chips
        foreign_chips = [chip for chip in chips if chip.origin == ChipModel.Origin.FOREIGN]
        return Response(QuotaReportSerializer(position, context={"foreign_chips": foreign_chips}).data)

    @extend_schema(parameters=[ON_PARAMETER, AS_KNOWN_AT_PARAMETER], responses=QuotaReportSerializer)
    @action(detail=True, methods=["get"])
    def quota(self, request: Request, slug: str) -> Response:
        """The company's quota position on a date under the policy in force then (as known at a moment)."""
        on, as_known_at = self.query_date(), self.query_moment()
        company = self.get_object()
        # One read of the catalogue serves the compute weights and the headroom per chip.
        chips = list(ChipModel.objects.order_by("code"))
        position = selectors.quota_position(company=company, on=on, chips=chips, as_known_at=as_known_at)
        return self.report(position, chips)

    @extend_schema(request=WhatIfSerializer, responses=QuotaReportSerializer)
    @action(detail=True, methods=["post"], url_path="quota/what-if", url_name="quota-what-if")
    def what_if(self, request: Request, slug: str) -> Response:
        """The position the company would have with extra imports and/or commitments. Writes nothing."""
        study = self.parse(WhatIfSerializer)
        position = selectors.what_if(
            company=self.get_object(),
            on=study.get("on") or timezone.localdate(),
            imports=[(row["chip"], row["quantity"]) for row in study.get("imports", [])],
            commitments=[(row["chip"], row["quantity"]) for row in study.get("commitments", [])],
            as_known_at=study.get("as_known_at"),
        )
        return self.report(position)
