"""REST API for import licences: a company's application and the regulator's decisions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_filters
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
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
from api.v1.licences import backfill as back_entry
from api.v1.licences.catalogue import (
    validate_reference,
)
from common.api.filters import BoundedIsoDateTimeFilter, IdFilter
from licences import services
from licences.models import (
    AllocationRound,
    ChipModel,
    Company,
    ImportLicence,
    LicenceDecision,
)


class LicenceSerializer(LeanRepresentationMixin, serializers.ModelSerializer):
    """An import licence: its grant and how much of it is reserved, used and remaining."""

    company = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    chip = serializers.SlugRelatedField(slug_field="code", read_only=True)
    round = serializers.PrimaryKeyRelatedField(read_only=True)
    remaining_quantity = serializers.IntegerField(read_only=True, help_text=_("granted - reserved - used"))
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
        help_text=_("The company's slug. Company keys may omit it (their own); the regulator must give it."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        principal = self.context["principal"]
        if "company" not in attrs:
            if principal.company is None:
                raise serializers.ValidationError({"company": [gettext("This field is required.")]})
            attrs["company"] = principal.company
        return attrs


class LicenceApplySerializer(CompanyOwnedSerializer):
    """An application for an import licence."""

    chip = ScopedSlugRelatedField(slug_field="code", queryset=ChipModel.objects.all(), company_field=None)
    round = ScopedIdRelatedField(queryset=AllocationRound.objects.all(), company_field=None, help_text=_("Round id."))
    requested_quantity = QuantityField()
    unit_value_usd = MoneyField(required=False, help_text=_("Defaults to the catalogue value."))
    number = serializers.CharField(
        max_length=64, required=False, validators=[validate_reference], help_text=_("Optional; generated when omitted.")
    )


class LicenceDecisionSerializer(serializers.ModelSerializer):
    """One row of a licence's decision ledger, with its two times and its place in the hash chain."""

    class Meta:
        model = LicenceDecision
        fields = [
            "kind",
            "status",
            "effective_on",
            "recorded_at",
            "late_entry",
            "actor",
            "reason",
            "granted_quantity",
            "valid_from",
            "valid_until",
            "released_quantity",
            "chain_seq",
            "row_hash",
        ]
        read_only_fields = fields


class LicenceLedgerSerializer(serializers.Serializer):
    """A licence and every row of its decision ledger, in the order they were recorded."""

    number = serializers.CharField()
    company = serializers.CharField(help_text=_("The company's slug."))
    decisions = LicenceDecisionSerializer(many=True)


EFFECTIVE_ON_HELP = _(
    "The day the decision took effect (valid time), in Asia/Shanghai; defaults to today. Never after today "
    "(400 future_effective_date), never before the application (400 effective_before_application) nor before "
    "the licence's latest decision (409 effective_before_last_decision). More than LICENCE_LATE_ENTRY_DAYS "
    "(default 3) days back it is a late entry: it needs a reason (400 late_entry_reason_required) and is "
    "marked late in the licence's decision ledger."
)


class ApproveSerializer(StrictSerializer):
    granted_quantity = QuantityField()
    valid_from = BoundedDateField()
    valid_until = BoundedDateField()
    effective_on = BoundedDateField(required=False, help_text=EFFECTIVE_ON_HELP)
    reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text=_("Needed only for a late entry.")
    )


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000)
    effective_on = BoundedDateField(required=False, help_text=EFFECTIVE_ON_HELP)


class LicenceFilter(django_filters.FilterSet):
    company = django_filters.CharFilter(field_name="company__slug")
    chip = django_filters.CharFilter(field_name="chip__code")
    round = IdFilter(field_name="round_id")
    valid_on = django_filters.DateFilter(method="filter_valid_on", label=_("Valid on date"))
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
    """Import licences. A company POST is an application; the decisions are the regulator's, and so is
    the back-entry of paper-era licences (``backfill/``)."""

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
            recorded_by=self.principal.user,
            actor=self.principal.label,
        )
        return self.render(licence, status=status.HTTP_201_CREATED)

    @back_entry.BACKFILL_SCHEMA
    @action(detail=False, methods=["post"], url_path="backfill", parser_classes=back_entry.BACKFILL_PARSERS)
    def backfill(self, request: Request) -> Response:
        """Back-enter paper-era licences with their real decision dates, all or nothing (the regulator's).

        JSON ``{"rows": [...], "dry_run": false}`` or a multipart upload of a ``.csv`` / ``.json``
        file (field ``file``). Each row is replayed through the licence services (apply, approve,
        suspend, reinstate, revoke, effective on its own day and recorded now), so the decision
        ledger and the round's counters are the services' own. ``?dry_run=true`` (or the body's
        ``dry_run``): 200 with what would be written, nothing written. Any bad row: 400
        ``backfill_invalid`` with every error in ``rows`` (``row``, ``field``, ``code``,
        ``message``) and nothing written. A number the company already has is ``duplicate_number``,
        so posting the same rows again creates nothing (an ``Idempotency-Key`` replays the first
        answer instead). Over ``API_BACKFILL_MAX_BYTES``: 413 ``request_too_large``; over
        ``API_BACKFILL_MAX_ROWS`` rows: 413 ``backfill_too_many_rows``.
        """
        return back_entry.backfill(self, request)

    @extend_schema(responses=LicenceLedgerSerializer)
    @action(detail=True, methods=["get"])
    def decisions(self, request: Request, number: str) -> Response:
        """The licence's decision ledger: every application, decision, expiry and release, in the order
        recorded (``chain_seq``), each with the day it took effect (``effective_on``, valid time), the
        moment it was recorded (``recorded_at``, transaction time), who recorded it and why. Read by
        whoever reads the licence: its company, the regulator, analysts."""
        licence = self.get_object()
        rows = LicenceDecision.objects.filter(licence=licence).order_by("chain_seq")
        ledger = {"number": licence.number, "company": licence.company.slug, "decisions": rows}
        return Response(LicenceLedgerSerializer(ledger).data)

    def decide(self, service: Callable[..., ImportLicence], serializer_class: type[StrictSerializer]) -> Response:
        """Run a decision service on the licence in the URL, recording who decided."""
        decision = self.parse(serializer_class)
        principal = self.principal  # a regulator: its user (a key's owner), and the key's name if by key
        licence = service(licence=self.get_object(), recorded_by=principal.user, actor=principal.label, **decision)
        return self.render(licence)

    @extend_schema(request=ApproveSerializer, responses=LicenceSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, number: str) -> Response:
        """Grant a quantity and a validity window; refused past the round's unit or value cap.

        Every decision is a row of the licence's append-only decision ledger, effective on
        ``effective_on`` (valid time) and recorded now (transaction time).
        """
        return self.decide(services.licence_approve, ApproveSerializer)

    @extend_schema(request=ReasonSerializer, responses=LicenceSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, number: str) -> Response:
        """Reject an application."""
        return self.decide(services.licence_reject, ReasonSerializer)

    @extend_schema(request=ReasonSerializer, responses=LicenceSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, number: str) -> Response:
        """Suspend an approved licence: no new declarations against it, and out of quota positions from
        ``effective_on`` until reinstated."""
        return self.decide(services.licence_suspend, ReasonSerializer)

    @extend_schema(request=ReasonSerializer, responses=LicenceSerializer)
    @action(detail=True, methods=["post"])
    def reinstate(self, request: Request, number: str) -> Response:
        """Lift a suspension (the days it lasted stay out of quota positions)."""
        return self.decide(services.licence_reinstate, ReasonSerializer)

    @extend_schema(request=ReasonSerializer, responses=LicenceSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, number: str) -> Response:
        """Revoke a licence for good."""
        return self.decide(services.licence_revoke, ReasonSerializer)
