"""The lean representation of read serializers gives exactly what DRF's own field machinery gives."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework import serializers

from api.base import LeanRepresentationMixin
from api.v1.licences import LicenceSerializer
from licences.models import ImportLicence
from tests.factories import ApprovedLicenceFactory, CompanyFactory, ForeignChipFactory, ImportLicenceFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC


class PlainLicenceSerializer(serializers.ModelSerializer):
    """The same fields as ``LicenceSerializer`` through DRF's generic ``to_representation``."""

    company = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    chip = serializers.SlugRelatedField(slug_field="code", read_only=True)
    round = serializers.PrimaryKeyRelatedField(read_only=True)
    remaining_quantity = serializers.IntegerField(read_only=True)
    granted_value_usd = serializers.DecimalField(max_digits=24, decimal_places=2, read_only=True)

    class Meta:
        model = ImportLicence
        fields = LicenceSerializer.Meta.fields
        read_only_fields = fields


def test_the_licence_serializer_is_lean_for_every_field(licences):
    assert issubclass(LicenceSerializer, LeanRepresentationMixin)
    assert PlainLicenceSerializer.Meta.fields == LicenceSerializer.Meta.fields
    serializer = LicenceSerializer(licences[0])
    serializer.data  # noqa: B018 - builds the plan
    assert [name for name, read in serializer._lean_plan if read.__name__ == "read"] == []  # none generic


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("32000.50"), "32000.50"),  # at the field's scale: as is
        (Decimal("32000.5"), "32000.50"),  # another scale: quantized by the field
        (Decimal("1E+3"), "1000.00"),
        (Decimal("0.005"), "0.00"),  # rounded half to even, as DRF's DecimalField does
        (None, None),
    ],
)
def test_lean_decimals_equal_drf_at_any_scale(value, expected):
    class Row:
        pass

    row = Row()
    row.unit_value_usd = value

    class Lean(LeanRepresentationMixin, serializers.Serializer):
        unit_value_usd = serializers.DecimalField(max_digits=14, decimal_places=2)

        class Meta:
            model = ImportLicence

    class Plain(serializers.Serializer):
        unit_value_usd = serializers.DecimalField(max_digits=14, decimal_places=2)

    assert Lean(row).data["unit_value_usd"] == Plain(row).data["unit_value_usd"] == expected


@pytest.fixture
def licences() -> list[ImportLicence]:
    """Licences in every state: applied (no round, no grant), approved, suspended, revoked,
    rejected; odd time stamps (UTC midnight, microseconds, the last instant of a year)."""
    company = CompanyFactory(slug="alibaba")
    chip = ForeignChipFactory(code="H200")
    applied = ImportLicenceFactory(
        company=company, chip=chip, number="LIC-APPLIED", applied_at=dt.datetime(2026, 1, 1, tzinfo=UTC)
    )
    approved = ApprovedLicenceFactory(
        company=company,
        chip=chip,
        number="LIC-APPROVED",
        unit_value_usd=Decimal("32000.50"),
        reserved_quantity=7,
        used_quantity=11,
        applied_at=dt.datetime(2026, 2, 3, 4, 5, 6, 789012, tzinfo=UTC),
        approved_at=dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    )
    suspended = ApprovedLicenceFactory(
        company=company,
        chip=chip,
        number="LIC-SUSPENDED",
        status=ImportLicence.Status.SUSPENDED,
        status_reason="Audit pending: 100 % of lot 7",
        suspended_at=dt.datetime(2026, 3, 1, 16, 0, tzinfo=UTC),
    )
    revoked = ApprovedLicenceFactory(
        company=company,
        chip=chip,
        number="LIC-REVOKED",
        status=ImportLicence.Status.REVOKED,
        revoked_at=dt.datetime(2026, 4, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    )
    rejected = ImportLicenceFactory(
        company=company,
        chip=chip,
        number="LIC-REJECTED",
        status=ImportLicence.Status.REJECTED,
        status_reason="Cap",
        rejected_at=dt.datetime(2026, 5, 1, 8, tzinfo=UTC),
    )
    return [
        ImportLicence.objects.select_related("company", "chip").get(pk=licence.pk)
        for licence in (applied, approved, suspended, revoked, rejected)
    ]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC", "America/New_York"])
def test_lean_licence_representation_equals_drf_field_by_field(licences, zone):
    with timezone.override(zone):
        lean = LicenceSerializer(licences, many=True).data
        plain = PlainLicenceSerializer(licences, many=True).data
    assert [list(row) for row in lean] == [list(row) for row in plain]  # the same keys in the same order
    assert [dict(row) for row in lean] == [dict(row) for row in plain]
    approved = dict(lean[1])
    if zone == "UTC":
        assert approved["approved_at"] == "2026-12-31T23:59:59.999999Z"
    if zone == "Asia/Shanghai":
        assert approved["approved_at"] == "2027-01-01T07:59:59.999999+08:00"
    assert (approved["unit_value_usd"], approved["remaining_quantity"], approved["round"]) == (
        "32000.50",
        licences[1].granted_quantity - 18,
        licences[1].round_id,
    )
    assert dict(lean[0])["approved_at"] is None
