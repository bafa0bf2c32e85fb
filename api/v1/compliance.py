"""Compliance endpoints: security requirements, attestations, findings, company compliance
status and webhook subscriptions. Thin: parse, call :mod:`compliance.services`, render."""

from __future__ import annotations

import os
from typing import Any

import django_filters
from django.conf import settings
from django.core.validators import URLValidator
from django.http import FileResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import (
    ApiViewSetMixin,
    BoundedDateField,
    CreateReadApiViewSet,
    EventDateField,
    ReadOnlyApiViewSet,
    ScopedSlugRelatedField,
    StrictSerializer,
    StrictSerializerMixin,
    WholeNumberField,
)
from api.v1.licences import CompanyOwnedSerializer
from common.api.filters import BoundedIsoDateTimeFilter
from common.api.parsers import BoundedJSONParser, BoundedMultiPartParser
from common.errors import DomainError
from compliance import filetypes, services
from compliance.evidence import evidence_response
from compliance.models import (
    AttestationReview,
    Finding,
    FindingTransition,
    SecurityAttestation,
    SecurityRequirement,
    WebhookSubscription,
)
from compliance.selectors import ACTIVE, company_compliance_statuses
from compliance.webhook_outbox import EVENT_TYPES
from compliance.webhook_targets import check_webhook_url
from licences.models import Company, Shipment

# --- Security requirements ----------------------------------------------------------------


class SecurityRequirementSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    """A procedure the US side requires of a customer."""

    validity_days = WholeNumberField(min_value=1, max_value=3650, default=365)

    class Meta:
        model = SecurityRequirement
        fields = ["code", "title", "description", "mandatory", "validity_days", "scope"]
        extra_kwargs = {"description": {"max_length": 5000}}


class SecurityRequirementViewSet(CreateReadApiViewSet):
    """The catalogue of US security conditions; the regulator maintains it."""

    queryset = SecurityRequirement.objects.all()
    serializer_class = SecurityRequirementSerializer
    lookup_field = "code"
    company_field = None
    filterset_fields = ["scope", "mandatory"]
    ordering_fields = ("code", "title")


# --- Attestations ------------------------------------------------------------------------------


class AttestationSerializer(serializers.ModelSerializer):
    """A company's evidence that it meets one requirement, and its review."""

    company = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requirement = serializers.SlugRelatedField(slug_field="code", read_only=True)
    shipment = serializers.SlugRelatedField(slug_field="declaration_number", read_only=True, allow_null=True)
    evidence_file = serializers.FileField(read_only=True, use_url=False, allow_null=True)

    class Meta:
        model = SecurityAttestation
        fields = [
            "id",
            "company",
            "requirement",
            "shipment",
            "status",
            "evidence_reference",
            "evidence_file",
            "attested_on",
            "reviewed_at",
            "review_note",
            "expires_on",
        ]
        read_only_fields = fields


class AttestationSubmitSerializer(CompanyOwnedSerializer):
    """A submission: an evidence file (PDF, PNG, JPEG or text, at most 2 MiB) or a reference."""

    requirement = ScopedSlugRelatedField(
        slug_field="code", queryset=SecurityRequirement.objects.all(), company_field=None
    )
    shipment = ScopedSlugRelatedField(
        slug_field="declaration_number",
        queryset=Shipment.objects.all(),
        company_from="company",  # declaration numbers are unique within a company only
        required=False,
        allow_null=True,
        help_text=_("The declaration number of one of the attestation's company's shipments."),
    )
    attested_on = EventDateField(help_text=_("Not after today."))
    evidence_reference = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    evidence_file = serializers.FileField(required=False, allow_null=True, max_length=100)

    def validate_evidence_file(self, upload: Any) -> Any:
        if upload is None:
            return None
        if upload.size > settings.EVIDENCE_MAX_BYTES:
            raise serializers.ValidationError(
                gettext("The file is larger than %(limit)d bytes.") % {"limit": settings.EVIDENCE_MAX_BYTES}
            )
        extension = os.path.splitext(upload.name)[1].lower()
        allowed = filetypes.EVIDENCE_TYPES.get(extension)
        content_type = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
        if allowed is None or content_type != allowed[0]:
            raise serializers.ValidationError(gettext("Allowed evidence files: PDF, PNG, JPEG or plain text."))
        # The content decides, not the name or the declared type (an MZ executable named .pdf).
        head = filetypes.read_head(upload)
        if filetypes.sniff(head) != allowed[1]:
            message = gettext("The file's content is %(found)s, not %(named)s as named.") % {
                "found": filetypes.describe(head),
                "named": extension[1:].upper(),
            }
            raise DomainError(message, code="evidence_content_mismatch", fields={"evidence_file": [message]})
        return upload

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        shipment = attrs.get("shipment")
        if shipment is not None and shipment.company_id != attrs["company"].pk:
            raise serializers.ValidationError({"shipment": [gettext("That shipment belongs to another company.")]})
        return attrs


class ReviewSerializer(StrictSerializer):
    decision = serializers.ChoiceField(choices=["accept", "reject"])
    expires_on = BoundedDateField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class AttestationFilter(django_filters.FilterSet):
    company = django_filters.CharFilter(field_name="company__slug")
    requirement = django_filters.CharFilter(field_name="requirement__code")
    expires_before = django_filters.DateFilter(field_name="expires_on", lookup_expr="lte")

    class Meta:
        model = SecurityAttestation
        fields = ["status"]


class AttestationReviewRowSerializer(serializers.ModelSerializer):
    """One row of an attestation's review ledger: the decision, its expiry, who reviewed it, when and why."""

    class Meta:
        model = AttestationReview
        fields = ["decision", "expires_on", "note", "reviewed_at", "reviewed_by", "chain_seq", "row_hash"]
        read_only_fields = fields


class AttestationLedgerSerializer(serializers.Serializer):
    """An attestation and every row of its review ledger, in the order recorded."""

    id = serializers.IntegerField()
    company = serializers.CharField(help_text=_("The company's slug."))
    reviews = AttestationReviewRowSerializer(many=True)


class AttestationViewSet(CreateReadApiViewSet):
    """Security attestations: a company submits, the regulator reviews."""

    queryset = SecurityAttestation.objects.select_related("company", "requirement", "shipment")
    serializer_class = AttestationSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    parser_classes = [BoundedJSONParser, BoundedMultiPartParser]
    filterset_class = AttestationFilter
    ordering_fields = ("attested_on", "expires_on", "status")

    @extend_schema(request=AttestationSubmitSerializer, responses={201: AttestationSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Submit an attestation with an evidence file (multipart) or an evidence reference."""
        attestation = services.attestation_submit(**self.parse(AttestationSubmitSerializer))
        return self.render(attestation, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        description=_(
            "The evidence file, as an attachment of the type it was checked against at upload. "
            "404 no_evidence_file when the evidence is a reference, evidence_file_missing when "
            "storage has lost the file."
        ),
    )
    @action(detail=True, methods=["get"])
    def evidence(self, request: Request, pk: str) -> FileResponse:
        """Download the evidence file: read by whoever reads the attestation (its company, the regulator, analysts)."""
        return evidence_response(self.get_object())

    @extend_schema(responses=AttestationLedgerSerializer)
    @action(detail=True, methods=["get"])
    def reviews(self, request: Request, pk: str) -> Response:
        """The attestation's review ledger: its review (accepted until ``expires_on``, or rejected),
        by whom, when and why, in the order recorded (``chain_seq``); empty until it is reviewed.
        Read by whoever reads the attestation."""
        attestation = self.get_object()
        rows = AttestationReview.objects.filter(attestation=attestation).order_by("chain_seq")
        ledger = {"id": attestation.pk, "company": attestation.company.slug, "reviews": rows}
        return Response(AttestationLedgerSerializer(ledger).data)

    @extend_schema(request=ReviewSerializer, responses=AttestationSerializer)
    @action(detail=True, methods=["post"], parser_classes=[BoundedJSONParser])
    def review(self, request: Request, pk: str) -> Response:
        """Accept (with an expiry, by default the requirement's validity) or reject."""
        review = self.parse(ReviewSerializer)
        attestation = services.attestation_review(
            attestation=self.get_object(),
            accept=review["decision"] == "accept",
            reviewer=self.principal.user,
            expires_on=review["expires_on"],
            note=review["note"],
            recorded_by=self.principal.label,
        )
        return self.render(attestation)


# --- Findings ------------------------------------------------------------------------------------


class FindingSerializer(serializers.ModelSerializer):
    """A flagged compliance gap and its lifecycle."""

    company = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Finding
        fields = [
            "id",
            "rule",
            "severity",
            "company",
            "subject",
            "status",
            "summary",
            "details",
            "first_seen_at",
            "last_seen_at",
            "acknowledged_at",
            "resolved_at",
            "resolution_note",
        ]
        read_only_fields = fields


class NoteSerializer(StrictSerializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ResolveSerializer(StrictSerializer):
    note = serializers.CharField(max_length=2000)


class FindingFilter(django_filters.FilterSet):
    company = django_filters.CharFilter(field_name="company__slug")
    seen_after = BoundedIsoDateTimeFilter(
        field_name="last_seen_at",
        lookup_expr="gte",
        help_text=_(
            "Findings last confirmed by a sweep at or after this moment. A still-open finding's "
            "last_seen_at moves at most once per COMPLIANCE_HEARTBEAT_SECONDS (10 minutes by default)."
        ),
    )

    class Meta:
        model = Finding
        fields = ["rule", "status", "severity"]


class FindingTransitionSerializer(serializers.ModelSerializer):
    """One row of a finding's transition ledger: what happened to it, when, by whom, in the hash chain."""

    class Meta:
        model = FindingTransition
        fields = ["kind", "status", "severity", "at", "by", "note", "chain_seq", "row_hash"]
        read_only_fields = fields


class FindingLedgerSerializer(serializers.Serializer):
    """A finding and every row of its transition ledger, in the order recorded."""

    id = serializers.IntegerField()
    company = serializers.CharField(help_text=_("The company's slug."))
    transitions = FindingTransitionSerializer(many=True)


class FindingViewSet(ReadOnlyApiViewSet):
    """Findings. A company may acknowledge its own; resolving one by hand is the regulator's call."""

    queryset = Finding.objects.select_related("company")
    serializer_class = FindingSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    filterset_class = FindingFilter
    ordering_fields = ("last_seen_at", "first_seen_at", "severity", "status", "rule")

    @extend_schema(responses=FindingLedgerSerializer)
    @action(detail=True, methods=["get"])
    def transitions(self, request: Request, pk: str) -> Response:
        """The finding's transitions: every opening, re-opening, escalation, acknowledgement and
        resolution, in the order recorded (``chain_seq``), with when, by whom and the note. Read by
        whoever reads the finding."""
        finding = self.get_object()
        rows = FindingTransition.objects.filter(finding=finding).order_by("chain_seq")
        ledger = {"id": finding.pk, "company": finding.company.slug, "transitions": rows}
        return Response(FindingLedgerSerializer(ledger).data)

    @extend_schema(request=NoteSerializer, responses=FindingSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        """Mark an open finding as seen."""
        note = self.parse(NoteSerializer)["note"]
        return self.render(
            services.finding_acknowledge(
                finding=self.get_object(), user=self.principal.user, note=note, recorded_by=self.principal.label
            )
        )

    @extend_schema(request=ResolveSerializer, responses=FindingSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        """Close a finding by hand (the next sweep re-opens it if the gap remains)."""
        note = self.parse(ResolveSerializer)["note"]
        return self.render(
            services.finding_resolve(
                finding=self.get_object(), user=self.principal.user, note=note, recorded_by=self.principal.label
            )
        )


class CompanyComplianceSerializer(serializers.Serializer):
    """A company's overall compliance status and its active (open or acknowledged) findings."""

    company = serializers.CharField()
    status = serializers.ChoiceField(choices=["compliant", "at_risk", "non_compliant"])
    high = serializers.IntegerField(help_text=_("Active high-severity (or critical) findings."))
    warning = serializers.IntegerField(help_text=_("Active warnings."))
    findings = FindingSerializer(many=True)


class CompanyComplianceViewSet(ApiViewSetMixin, viewsets.GenericViewSet):
    """``companies/{slug}/compliance/``: non-compliant with any active high finding, at risk with
    active warnings only, compliant otherwise (the rule of :mod:`compliance.selectors`)."""

    queryset = Company.objects.all()
    serializer_class = CompanyComplianceSerializer
    lookup_field = "slug"
    company_field = "pk"
    pagination_class = None
    filter_backends: list = []

    @extend_schema(responses=CompanyComplianceSerializer)
    @action(detail=True, methods=["get"])
    def compliance(self, request: Request, slug: str) -> Response:
        """The company's overall status and its active findings, most recent first."""
        company = self.get_object()
        (overall,) = company_compliance_statuses(companies=[company])
        findings = Finding.objects.filter(company=company, status__in=ACTIVE).select_related("company")
        return Response(
            CompanyComplianceSerializer(
                {
                    "company": company.slug,
                    "status": overall.status,
                    "high": overall.high,
                    "warning": overall.warning,
                    "findings": findings,
                }
            ).data
        )


# --- Webhook subscriptions ---------------------------------------------------------------------------


def webhook_url_scheme(value: str) -> None:
    """A well-formed https URL (http too only where ``WEBHOOK_ALLOW_HTTP`` allows it), read at
    call time so a test or a development setting can allow the local listener."""
    allow_http = settings.COMPLIANCE.get("WEBHOOK_ALLOW_HTTP", False)
    URLValidator(schemes=["https", "http"] if allow_http else ["https"])(value)


class WebhookSubscriptionSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    """A receiver of signed alert webhooks. The secret is write-only: it is never shown again."""

    company = ScopedSlugRelatedField(
        slug_field="slug",
        queryset=Company.objects.all(),
        company_field="pk",
        required=False,
        allow_null=True,
        help_text=_(
            "Regulator only: the company whose findings it receives; null for every company. Fixed once created."
        ),
    )
    url = serializers.CharField(
        max_length=500,
        validators=[webhook_url_scheme],
        help_text=_(
            "https only; its host must resolve to public internet addresses (checked again at every "
            "delivery), else 400 webhook_url_forbidden."
        ),
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(EVENT_TYPES.values())), required=False, max_length=10
    )
    secret = serializers.CharField(write_only=True, min_length=16, max_length=128)

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "company",
            "name",
            "url",
            "event_types",
            "language",
            "secret",
            "is_active",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "created_at",
        ]
        read_only_fields = ["consecutive_failures", "disabled_at", "disabled_reason", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        principal = self.context["principal"]
        if self.instance is not None and "company" in attrs and attrs["company"] != self.instance.company:
            # A company's receiver, signed with its secret, must never start receiving other
            # companies' findings (nor a regulator-wide one become one company's).
            raise serializers.ValidationError(
                {
                    "company": [
                        gettext("A subscription's company is fixed when it is created: create a new subscription.")
                    ]
                }
            )
        if principal.company is not None:
            if "company" in attrs and attrs["company"] != principal.company:
                raise serializers.ValidationError(
                    {"company": [gettext("A company key subscribes for its own company.")]}
                )
            attrs["company"] = principal.company
        if "url" in attrs:
            check_webhook_url(attrs["url"])  # raises WebhookUrlForbidden: 400 webhook_url_forbidden
        if attrs.get("is_active") and self.instance is not None and not self.instance.is_active:
            # Re-enabling a subscription clears its failure streak.
            attrs.update(consecutive_failures=0, disabled_at=None, disabled_reason="")
        return attrs

    def create(self, validated_data: dict[str, Any]) -> WebhookSubscription:
        # The company's cap is checked under a lock of its row (``webhook_limit_reached``).
        return services.webhook_subscription_create(**validated_data)


class WebhookSubscriptionViewSet(
    ApiViewSetMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Webhook subscriptions: a company key manages its own; the regulator sees every one."""

    queryset = WebhookSubscription.objects.select_related("company")
    serializer_class = WebhookSubscriptionSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filterset_fields = ["is_active"]
    ordering_fields = ("name", "created_at")
