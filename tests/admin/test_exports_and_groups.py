"""Spreadsheet exports (allowed to the analyst), the two staff groups and the demo users."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from importlib import import_module
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.urls import reverse

import compliance.migrations as compliance_migrations
from compliance import groups
from licences.models import Company, ImportLicence, Shipment
from quotas.models import DomesticCommitment
from tests.admin_exports import export_rows
from tests.factories import FindingFactory

pytestmark = pytest.mark.django_db


def export(client, model: str, pks) -> list[dict[str, str]]:
    return export_rows(client, model, pks, "csv")


def test_analyst_exports_licences_as_csv(demo, analyst_client):
    rows = export(analyst_client, "licences_importlicence", ImportLicence.objects.values_list("pk", flat=True))
    assert len(rows) == 7
    alibaba = next(row for row in rows if row["number"] == "LIC-2026-ALI-H200-001")
    assert (alibaba["company__slug"], alibaba["status"], alibaba["granted_quantity"]) == (
        "alibaba",
        "approved",
        "200000",
    )
    assert (alibaba["used_quantity"], alibaba["reserved_quantity"], alibaba["remaining_quantity"]) == (
        "120000",
        "30000",
        "50000",
    )
    assert alibaba["granted_value_usd"] == "6000000000.00"


def test_analyst_exports_shipments_as_csv(demo, analyst_client):
    rows = export(analyst_client, "licences_shipment", Shipment.objects.values_list("pk", flat=True))
    assert len(rows) == 10
    held = next(row for row in rows if row["declaration_number"] == "DEC-2026-000301")
    assert (held["status"], held["entry_block_directive__reference"]) == ("held", "GACC-2026-017")


def test_analyst_exports_commitments_as_csv(demo, analyst_client):
    rows = export(analyst_client, "quotas_domesticcommitment", DomesticCommitment.objects.values_list("pk", flat=True))
    assert sorted((row["company__slug"], row["chip__code"], row["quantity"]) for row in rows) == [
        ("alibaba", "ASCEND-910B", "40000"),
        ("alibaba", "ASCEND-910C", "10000"),
        ("bytedance", "ASCEND-910B", "20000"),
        ("bytedance", "HYGON-K100", "12000"),
        ("deepseek", "HYGON-K100", "1000"),
        ("tencent", "ASCEND-910B", "6000"),
    ]


def test_analyst_exports_findings_as_csv(demo, analyst_client):
    finding = FindingFactory(company=Company.objects.get(slug="alibaba"))
    rows = export(analyst_client, "compliance_finding", [finding.pk])
    assert [(row["rule"], row["severity"], row["status"], row["company__slug"]) for row in rows] == [
        ("quota_shortfall", "high", "open", "alibaba")
    ]


def test_policy_impact_csv_has_every_company_sorted_by_change(demo, analyst_client):
    response = analyst_client.get(reverse("cockpit:policy-impact"), {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["slug"] for row in rows] == ["bytedance", "alibaba", "tencent", "deepseek"]
    alibaba = rows[1]
    assert (Decimal(alibaba["current_shortfall"]), Decimal(alibaba["current_coverage"])) == (20_000, Decimal("0.6667"))
    # 40 % of 200,000 H200 x 6.0 compute = 480,000 required; 40,000 Ascend x 1.0 committed.
    assert Decimal(alibaba["draft_shortfall"]) == 440_000
    assert alibaba["draft_policy"] == "Domestic purchase rule v2"


def test_groups_exist_with_decisions_for_the_regulator_and_views_for_the_analyst(groups):
    regulator = set(Group.objects.get(name="Regulator").permissions.values_list("codename", flat=True))
    analyst = set(Group.objects.get(name="Analyst").permissions.values_list("codename", flat=True))
    assert {"change_importlicence", "change_finding", "change_securityattestation", "change_quotapolicy"} <= regulator
    assert not any(codename.startswith("delete_") for codename in regulator)
    assert {"view_importlicence", "view_shipment", "view_domesticcommitment", "view_finding"} <= analyst
    assert all(codename.startswith("view_") for codename in analyst)
    assert "view_webhooksubscription" not in analyst


def test_the_groups_come_from_the_migration(db):
    # No sync here: what the migration created.
    assert set(Group.objects.filter(name__in=["Regulator", "Analyst"]).values_list("name", flat=True)) == {
        "Regulator",
        "Analyst",
    }


def test_the_last_group_migration_carries_todays_rules(db):
    """Migrations import nothing from ``compliance.groups``: the last one syncing the groups
    carries a copy of its rules. The copy and today's rules choose the same permissions, or a
    change to the rules lacks its data migration."""
    names = sorted(path.stem for path in Path(compliance_migrations.__file__).parent.glob("0*.py"))
    frozen = [m for m in (import_module(f"compliance.migrations.{n}") for n in names) if hasattr(m, "GROUP_RULES")][-1]
    rows = list(Permission.objects.values_list("content_type__app_label", "codename", "content_type__model"))
    assert set(frozen.GROUP_RULES) == set(groups.GROUP_RULES) == {"Regulator", "Analyst"}
    for name, rule in groups.GROUP_RULES.items():
        today = {row for row in rows if rule(*row)}
        assert today, name
        assert {row for row in rows if frozen.GROUP_RULES[name](*row)} == today, name


def test_ensure_admin_creates_the_demo_regulator_and_analyst(db, capsys, settings):
    settings.DEBUG = True  # the demo passwords are for a DEBUG checkout only
    call_command("ensure_admin")
    out = capsys.readouterr().out
    assert "user 'analyst'  password 'h200-demo-analyst'" in out
    from django.contrib.auth import get_user_model

    analyst = get_user_model().objects.get(username="analyst")
    assert analyst.is_staff and not analyst.is_superuser
    assert list(analyst.groups.values_list("name", flat=True)) == ["Analyst"]
    assert analyst.has_perm("licences.view_importlicence") and not analyst.has_perm("licences.change_importlicence")
    regulator = get_user_model().objects.get(username="regulator")
    assert regulator.has_perm("licences.change_importlicence")
