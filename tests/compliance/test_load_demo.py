"""The demo world: what it holds, and that loading it twice changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from licences.models import AllocationRound, Company, ImportLicence, Shipment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_day")]

DEMO_APPS = ("licences", "quotas", "compliance")


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count() for app in DEMO_APPS for model in apps.get_app_config(app).get_models()
    }


def test_loading_the_demo_twice_changes_nothing():
    call_command("load_demo", stdout=StringIO())
    first = row_counts()
    snapshot = list(ImportLicence.objects.order_by("pk").values())
    out = StringIO()
    call_command("load_demo", stdout=out)
    assert "nothing changed" in out.getvalue()
    assert row_counts() == first
    assert list(ImportLicence.objects.order_by("pk").values()) == snapshot


def test_demo_world_holds_the_domain_story():
    call_command("load_demo", stdout=StringIO())
    wave = AllocationRound.objects.get()
    assert (wave.unit_cap, wave.value_cap_usd) == (400_000, Decimal("10000000000.00"))
    assert (wave.granted_units, wave.granted_value_usd) == (328_000, Decimal("9336000000.00"))
    statuses = set(ImportLicence.objects.values_list("status", flat=True))
    assert statuses == {"applied", "approved", "suspended", "rejected"}
    alibaba = ImportLicence.objects.get(number="LIC-2026-ALI-H200-001")
    assert (alibaba.granted_quantity, alibaba.used_quantity, alibaba.reserved_quantity) == (200_000, 120_000, 30_000)
    customs = dict(Shipment.objects.values_list("declaration_number", "status"))
    assert set(customs.values()) == {"declared", "inspecting", "held", "cleared", "rejected"}
    assert customs["DEC-2026-000301"] == "held"  # declared during the H20 entry block
    assert Shipment.objects.get(declaration_number="DEC-2026-000301").entry_block_directive.reference == "GACC-2026-017"


def test_demo_companies_carry_their_chinese_names_and_languages():
    call_command("load_demo", stdout=StringIO())
    assert list(Company.objects.order_by("slug").values_list("slug", "name", "name_zh", "preferred_language")) == [
        ("alibaba", "Alibaba Group", "阿里巴巴", "zh-hans"),
        ("bytedance", "ByteDance", "字节跳动", "zh-hans"),
        ("deepseek", "DeepSeek", "深度求索", "en"),
        ("tencent", "Tencent Holdings", "腾讯控股", "zh-hans"),
    ]


def test_the_demo_s_attestations_are_reviewed_through_the_service_with_their_review_history():
    from compliance.models import AttestationReview, SecurityAttestation
    from licences import chain

    call_command("load_demo", stdout=StringIO())
    # Ten company attestations accepted (three each for Alibaba, Tencent and ByteDance, one for
    # DeepSeek) and three lot tests for Alibaba; DeepSeek's end-user verification awaits review.
    reviews = dict(
        AttestationReview.objects.values_list("company__slug").annotate(count=Count("pk")).order_by("company__slug")
    )
    assert reviews == {"alibaba": 6, "bytedance": 3, "deepseek": 1, "tencent": 3}
    assert AttestationReview.objects.count() == 13
    assert set(AttestationReview.objects.values_list("decision", "reviewed_by").distinct()) == {("accepted", "demo")}
    # Each review is the attestation's state, recorded on the day it was attested.
    for review in AttestationReview.objects.select_related("attestation"):
        attestation = review.attestation
        assert (attestation.status, attestation.expires_on, attestation.reviewed_at) == (
            "accepted", review.expires_on, review.reviewed_at,
        )  # fmt: skip
        assert timezone.localdate(review.reviewed_at) == attestation.attested_on
    assert list(SecurityAttestation.objects.filter(status="submitted").values_list("company__slug", flat=True)) == [
        "deepseek"
    ]
    tencent = SecurityAttestation.objects.get(
        company__slug="tencent", requirement__code="recipient-security-procedures"
    )
    assert tencent.expires_on == timezone.localdate() + dt.timedelta(days=19)
    assert chain.verify(chain.stream_of(AttestationReview)).ok
