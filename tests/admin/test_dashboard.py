"""The dashboard: the demo's numbers in its charts, and a constant number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cockpit import selectors
from tests.factories import (
    AllocationRoundFactory,
    ApprovedLicenceFactory,
    CompanyFactory,
    DomesticCommitmentFactory,
    FindingFactory,
    QuotaPolicyFactory,
    SecurityAttestationFactory,
    ShipmentFactory,
)

pytestmark = pytest.mark.django_db


def test_rounds_show_the_demo_wave_against_its_caps(demo, regulator_client):
    page = regulator_client.get(reverse("cockpit:dashboard")).content.decode()
    # Alibaba 200,000 + ByteDance 100,000 + Tencent 20,000 + DeepSeek 8,000 granted.
    assert "Units: 328,000 of 400,000 granted (82.0 %)" in page
    # 300,000 H200 x USD 30,000 + 28,000 H20 x USD 12,000 = USD 9.336 bn.
    assert "Value: USD 9.336 bn of USD 10 bn granted (93.4 %)" in page
    # DeepSeek's 10,000 and Tencent's 80,000 H200 await a decision.
    assert "+ 90,000 units pending in 2 application(s): together they would exceed the cap" in page
    assert "+ USD 2.7 bn pending: together they would exceed the cap" in page


def test_coverage_chart_lists_companies_worst_first(demo, regulator_client):
    page = regulator_client.get(reverse("cockpit:dashboard")).content.decode()
    chart = page[page.index('aria-label="Quota coverage per company') :]
    chart = chart[: chart.index("</svg>")]
    assert "66.7 % · short 20,000 units" in chart
    names = ["Alibaba Group", "DeepSeek", "Tencent Holdings", "ByteDance"]
    assert [chart.index(f">{name}<") for name in names] == sorted(chart.index(f">{name}<") for name in names)
    assert "106.7 % · covered" in chart


def test_customs_pipeline_and_overdue_holds(demo):
    board = selectors.dashboard()
    assert {stage.status: (stage.shipments, stage.units) for stage in board.pipeline} == {
        "declared": (1, 42_000),
        "inspecting": (1, 20_000),
        "held": (2, 15_000),
        "cleared": (5, 180_000),
        "rejected": (1, 5_000),
    }
    # Held since 15:00 local time 23 days ago: 22 or 23 whole days depending on the hour now.
    holds = [(hold.shipment.declaration_number, hold.days_held) for hold in board.overdue_holds]
    assert len(holds) == 1
    assert holds[0][0] == "DEC-2026-000105"
    assert holds[0][1] in (22, 23)


def test_expiring_licences_and_attestations_within_the_warning_window(demo):
    board = selectors.dashboard()
    assert [licence.number for licence in board.expiring_licences] == ["LIC-2026-BDC-H200-001"]
    assert [(a.company.slug, a.requirement.code) for a in board.expiring_attestations] == [
        ("tencent", "recipient-security-procedures")
    ]


def test_findings_counted_by_rule_and_severity(demo, regulator_client):
    FindingFactory(company=CompanyFactory(slug="tencent"), rule="security_expiring", severity="warning")
    FindingFactory(company=CompanyFactory(slug="alibaba"), rule="quota_shortfall", severity="high")
    FindingFactory(
        company=CompanyFactory(slug="bytedance"), rule="quota_shortfall", severity="high", status="acknowledged"
    )
    counts = selectors.findings_by_rule_and_severity()
    assert [(row.rule, row.severity, row.open, row.acknowledged) for row in counts] == [
        ("quota_shortfall", "high", 1, 1),
        ("security_expiring", "warning", 1, 0),
    ]
    page = regulator_client.get(reverse("cockpit:dashboard")).content.decode()
    assert "1 open, 1 ack." in page
    assert 'id="kpi-open-findings"><strong>2</strong>' in page


def _importers(first: int, last: int) -> None:
    """Companies ``first``..``last - 1``, each with a licence, two shipments, a commitment,
    an expiring attestation and a finding."""
    wave = AllocationRoundFactory()
    today = timezone.localdate()
    for index in range(first, last):
        company = CompanyFactory(slug=f"importer-{index}")
        licence = ApprovedLicenceFactory(company=company, round=wave, valid_until=today + dt.timedelta(days=10))
        ShipmentFactory(licence=licence, status="held", held_since=timezone.now() - dt.timedelta(days=20))
        ShipmentFactory(licence=licence, status="cleared", cleared_at=timezone.now())
        DomesticCommitmentFactory(company=company)
        SecurityAttestationFactory(company=company, expires_on=today + dt.timedelta(days=5))
        FindingFactory(company=company, rule=f"rule_{index % 4}")


def _dashboard_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("cockpit:dashboard"))
    assert response.status_code == 200
    return len(queries)


def test_dashboard_query_count_is_the_same_for_3_and_30_companies(regulator_client):
    QuotaPolicyFactory()
    _importers(0, 3)
    few = _dashboard_queries(regulator_client)
    _importers(3, 30)
    many = _dashboard_queries(regulator_client)
    assert many == few
    assert few <= 20


def test_dashboard_renders_with_an_empty_database(regulator_client):
    page = regulator_client.get(reverse("cockpit:dashboard")).content.decode()
    assert "No allocation rounds yet." in page
    assert "Quota policy in force: <strong>none</strong>" in page


def test_demo_dashboard_after_a_sweep_marks_every_company(regulator_client, demo_day):
    call_command("load_demo", verbosity=0)
    from compliance.sweep import run_sweep

    run_sweep()
    board = selectors.dashboard()
    assert sum(board.status_counts.values()) == 4
    assert board.open_findings > 0
