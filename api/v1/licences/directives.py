"""REST API for entry-block directives (customs acts)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import (
    BoundedDateField,
    CreateReadApiViewSet,
    ScopedSlugRelatedField,
    StrictSerializer,
)
from api.v1.licences.catalogue import (
    validate_reference,
)
from api.v1.licences.licences import (
    ReasonSerializer,
)
from licences import services
from licences.models import (
    ChipModel,
    CustomsDirective,
)


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

    reference = serializers.CharField(max_length=64, validators=[validate_reference])
    chip = ScopedSlugRelatedField(slug_field="code", queryset=ChipModel.objects.all(), company_field=None)
    blocked_from = BoundedDateField()
    blocked_until = BoundedDateField(
        required=False, allow_null=True, default=None, help_text=_("Open-ended when null.")
    )
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class DirectiveFilter(django_filters.FilterSet):
    chip = django_filters.CharFilter(field_name="chip__code")
    in_force_on = django_filters.DateFilter(method="filter_in_force_on", label=_("In force on date"))

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
