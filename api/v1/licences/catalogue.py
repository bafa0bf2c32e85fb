"""REST API for companies, the chip catalogue and allocation rounds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from django.core.validators import RegexValidator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.base import (
    MAX_QUANTITY,
    BoundedDateField,
    CreateReadApiViewSet,
    MoneyField,
    PlainDecimalField,
    StrictSerializerMixin,
    WholeNumberField,
)
from licences import identifiers
from licences.models import (
    AllocationRound,
    ChipModel,
    Company,
)


def validate_reference(value: str) -> None:
    """A new licence number, declaration number or directive reference (``licences.identifiers.REFERENCE``)."""
    if not identifiers.is_reference(value):
        raise serializers.ValidationError(
            gettext("1 to 64 letters, digits, '-' and '_', starting with a letter or digit; not %(reserved)s.")
            % {"reserved": ", ".join(sorted(identifiers.RESERVED_REFERENCES))}
        )


CHIP_CODE = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$", _("Letters, digits, '-' and '_' only."))


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
    reference_unit_value_usd = MoneyField()

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
            raise serializers.ValidationError(gettext("A chip model with this code already exists."))
        return code


#: What a round's licences have been granted so far, and what remains of its caps: every
#: company's grants, so ``null`` to a company key (it would learn the others' by subtraction).
ROUND_TOTALS = ("granted_units", "granted_value_usd", "remaining_units", "remaining_value_usd")
TOTAL_HELP = _("Across every company's licences in the round: null to a company key.")


class RoundSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    """An allocation round (wave): its caps and what its licences have been granted so far
    (:data:`ROUND_TOTALS`, ``null`` to a company)."""

    unit_cap = WholeNumberField(min_value=1, max_value=MAX_QUANTITY)
    value_cap_usd = PlainDecimalField(max_digits=18, decimal_places=2, min_value=Decimal("0.01"))
    opens_on = BoundedDateField()
    closes_on = BoundedDateField()
    granted_units = serializers.IntegerField(read_only=True, allow_null=True, help_text=TOTAL_HELP)
    granted_value_usd = serializers.DecimalField(
        max_digits=18, decimal_places=2, read_only=True, allow_null=True, help_text=TOTAL_HELP
    )
    remaining_units = serializers.SerializerMethodField(help_text=TOTAL_HELP)
    remaining_value_usd = serializers.SerializerMethodField(help_text=TOTAL_HELP)

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

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_remaining_units(self, wave: AllocationRound) -> int:
        return wave.unit_cap - wave.granted_units

    @extend_schema_field(serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True))
    def get_remaining_value_usd(self, wave: AllocationRound) -> str:
        return f"{Decimal(wave.value_cap_usd) - Decimal(wave.granted_value_usd):.2f}"

    def to_representation(self, instance: AllocationRound) -> dict[str, Any]:
        data = super().to_representation(instance)
        principal = self.context.get("principal")
        if principal is None or not principal.sees_every_company:
            # Every company's grants: less its own, the others' (a company never learns of another's records).
            data.update(dict.fromkeys(ROUND_TOTALS))
        return data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["opens_on"] > attrs["closes_on"]:
            raise serializers.ValidationError({"closes_on": [gettext("Must not be before opens_on.")]})
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
