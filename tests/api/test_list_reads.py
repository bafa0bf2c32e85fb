"""List reads: the filter backend's shortcut and the licence list's annotated company and chip."""

from __future__ import annotations

import zoneinfo
from typing import Any

import django_filters
import pytest
from django.http import QueryDict
from django.utils import timezone

from api.v1.licences import LicenceFilter, LicenceSerializer
from common.api.filters import _may_filter
from licences.models import ImportLicence
from tests.api.conftest import API
from tests.factories import ApprovedLicenceFactory, ImportLicenceFactory

pytestmark = pytest.mark.django_db


def params(query: str) -> QueryDict:
    return QueryDict(query)


@pytest.mark.parametrize("query", ["", "page=2", "page_size=10&ordering=-number", "format=json", "foo=1"])
def test_a_query_naming_no_filter_skips_the_filter_set(query):
    assert _may_filter(LicenceFilter, params(query)) is False


@pytest.mark.parametrize(
    "query", ["status=approved", "company=", "applied_after=2026-01-01T00:00:00Z", "valid_on=x", "page=1&chip=H200"]
)
def test_a_query_naming_a_filter_runs_it(query):
    assert _may_filter(LicenceFilter, params(query)) is True


def test_a_prefixed_parameter_a_range_filter_reads_a_required_filter_or_custom_filtering_runs_it():
    class Ranged(django_filters.FilterSet):
        quantity = django_filters.RangeFilter(field_name="requested_quantity")

        class Meta:
            model = ImportLicence
            fields: list[str] = []

    class Required(django_filters.FilterSet):
        number = django_filters.CharFilter(required=True)

        class Meta:
            model = ImportLicence
            fields: list[str] = []

    class Custom(django_filters.FilterSet):
        class Meta:
            model = ImportLicence
            fields: list[str] = []

        def filter_queryset(self, queryset: Any) -> Any:
            return queryset.none()

    assert _may_filter(Ranged, params("quantity_min=5")) is True
    assert _may_filter(Ranged, params("page=1")) is False
    assert _may_filter(Required, params("")) is True
    assert _may_filter(Custom, params("")) is True


def test_filters_still_filter_and_refuse_bad_values(world):
    client = world.client("regulator")
    every = client.get(f"{API}/licences/", {"page_size": 200}).json()
    assert every["count"] == ImportLicence.objects.count() >= 3
    approved = client.get(f"{API}/licences/", {"status": "approved", "page_size": 200}).json()
    assert {row["number"] for row in approved["results"]} == set(
        ImportLicence.objects.filter(status="approved").values_list("number", flat=True)
    )
    assert approved["count"] < every["count"]
    refused = client.get(f"{API}/licences/", {"applied_after": "not a date"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "validation_error"
    assert "applied_after" in refused.json()["errors"]


def test_the_list_gives_each_licence_as_its_detail_does_for_every_state(world):
    """The list reads company slug and chip code as annotations; the detail reads instances."""
    ImportLicenceFactory(company=world.a, chip=world.h200, number="LIC-A-REJ", status=ImportLicence.Status.REJECTED,
                         status_reason="Cap", rejected_at=timezone.now())  # fmt: skip
    ApprovedLicenceFactory(company=world.a, chip=world.h200, number="LIC-A-SUS",
                           status=ImportLicence.Status.SUSPENDED, suspended_at=timezone.now())  # fmt: skip
    for role in ("regulator", "a"):
        client = world.client(role)
        listed = client.get(f"{API}/licences/", {"page_size": 200}).json()["results"]
        visible = ImportLicence.objects.all() if role == "regulator" else ImportLicence.objects.filter(company=world.a)
        assert sorted(row["number"] for row in listed) == sorted(visible.values_list("number", flat=True))
        for row in listed:
            detail = client.get(f"{API}/licences/{row['number']}/").json()
            assert row == detail
            licence = ImportLicence.objects.select_related("company", "chip").get(number=row["number"])
            assert (row["company"], row["chip"]) == (licence.company.slug, licence.chip.code)


def test_a_shared_plan_follows_the_time_zone_of_each_request(world):
    licence = ImportLicence.objects.select_related("company", "chip").get(pk=world.licence_a.pk)
    moment = licence.approved_at
    assert moment is not None
    plans = {}
    for zone in ("Asia/Shanghai", "UTC", "Asia/Shanghai", "America/New_York"):
        expected = moment.astimezone(zoneinfo.ZoneInfo(zone)).isoformat().replace("+00:00", "Z")
        with timezone.override(zone):
            serializer = LicenceSerializer(licence)
            assert serializer.data["approved_at"] == expected
        plans.setdefault(zone, []).append(serializer._lean_plan)
    shanghai_first, shanghai_again = plans["Asia/Shanghai"]
    assert shanghai_first is shanghai_again  # built once for the class and the zone
    assert len({id(plan) for plan in (shanghai_first, plans["UTC"][0], plans["America/New_York"][0])}) == 3
