"""The demo world loaded on any day: its story, written as of DEMO_DAY, moves to today whole.

Loaded on another day, the demo must look exactly as it did on its own day, relative to
today: the same licences, shipments, commitments and attestations in the same states, the
same quota positions, the same findings after a sweep, every stored date and time moved by
the same whole number of days, and the names that carry a year or a month following them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import models, transaction
from django.utils import timezone

from compliance.management.commands.load_demo import DEMO_DAY
from compliance.models import Finding, SecurityAttestation
from licences.models import AllocationRound, CustomsDirective, ImportLicence, Shipment
from quotas.models import DomesticCommitment
from quotas.selectors import quota_positions

pytestmark = pytest.mark.django_db

D = dt.date
OTHER_DAYS = [D(2027, 3, 15), D(2028, 2, 29), D(2026, 1, 5)]  # after, a leap day, before the wave

# What the demo shows on its own day, and so on every day.
STORY = {
    "licences": {"applied": 2, "approved": 3, "rejected": 1, "suspended": 1},
    "shipments": {"cleared": 5, "declared": 1, "held": 2, "inspecting": 1, "rejected": 1},
    "commitments": {"contracted": 4, "delivered": 1, "pledged": 1},
    "attestations": {"accepted": 13, "submitted": 1},
    "directives": 2,
    # company: required, committed, shortfall, coverage (30 % of licensed units).
    "positions": {
        "alibaba": (Decimal(60_000), Decimal(40_000), Decimal(20_000), Decimal("0.6667")),
        "bytedance": (Decimal(30_000), Decimal(32_000), Decimal(0), Decimal("1.0667")),
        "deepseek": (Decimal(0), Decimal(1_000), Decimal(0), Decimal(1)),
        "tencent": (Decimal(6_000), Decimal(6_000), Decimal(0), Decimal(1)),
    },
    "findings": {
        ("commitment_overdue", "deepseek"): 1,
        ("customs_hold_overdue", "alibaba"): 1,
        ("entry_block_shipment", "tencent"): 1,
        ("licence_expiring", "bytedance"): 1,
        ("licence_nearly_exhausted", "bytedance"): 1,
        ("quota_shortfall", "alibaba"): 1,
        ("security_expiring", "tencent"): 1,
        ("security_gap", "bytedance"): 1,
        ("security_gap", "deepseek"): 2,
        ("shipment_condition_gap", "alibaba"): 2,
        ("shipment_condition_gap", "bytedance"): 2,
        ("shipment_condition_gap", "tencent"): 2,
    },
}

LICENCES = [
    "ALI-H200-001",
    "BDC-H200-001",
    "DSK-H20-001",
    "DSK-H200-000",
    "DSK-H200-001",
    "TEN-H20-001",
    "TEN-H200-001",
]
CONTRACTS = ["HG-BDC", "HG-DSK", "HW-ALI", "HW-BDC", "HW-TEN"]
# Today: the round (named after its opening month), the year of its licences, declarations
# by the year each was declared in, the two customs directives, the year contracts were signed.
NAMES = {
    DEMO_DAY: ("Wave 1, January 2026", 2026, {2026: "101 102 103 104 105 201 202 203 301 302"}, (2026, 2026), 2026),
    D(2027, 3, 15): (
        "Wave 1, May 2026", 2026, {2026: "101 102 103 201 203 302", 2027: "104 105 202 301"}, (2026, 2027), 2026
    ),
    D(2028, 2, 29): (
        "Wave 1, April 2027", 2027, {2027: "101 102 103 201 203 302", 2028: "104 105 202 301"}, (2027, 2028), 2027
    ),
    D(2026, 1, 5): (
        "Wave 1, March 2025", 2025, {2025: "101 102 103 105 201 203 301 302", 2026: "104 202"}, (2025, 2025), 2025
    ),
}  # fmt: skip


def load_and_sweep() -> None:
    """What ``make run`` does to the database: load the demo, then run a first sweep."""
    call_command("load_demo", stdout=StringIO())
    call_command("compliance_sweep", stdout=StringIO())


def story() -> dict:
    """The demo as today sees it, in STORY's terms."""

    def statuses(model) -> dict[str, int]:
        return dict(Counter(model.objects.values_list("status", flat=True)))

    return {
        "licences": statuses(ImportLicence),
        "shipments": statuses(Shipment),
        "commitments": statuses(DomesticCommitment),
        "attestations": statuses(SecurityAttestation),
        "directives": CustomsDirective.objects.count(),
        "positions": {
            p.company.slug: (p.required, p.committed, p.shortfall, p.coverage)
            for p in quota_positions(on=timezone.localdate())
        },
        "findings": dict(Counter(Finding.objects.filter(status="open").values_list("rule", "company__slug"))),
    }


def stored_times(shift: dt.timedelta) -> dict[str, list]:
    """Every date and time the demo's apps hold (history and findings too), moved back by ``shift``."""
    found = {}
    for app in ("licences", "quotas", "compliance"):
        for model in apps.get_app_config(app).get_models():
            for field in model._meta.concrete_fields:
                if isinstance(field, models.DateField):  # DateTimeField is one too
                    values = model.objects.exclude(**{field.attname: None}).values_list(field.attname, flat=True)
                    found[f"{model._meta.label}.{field.name}"] = sorted(value - shift for value in values)
    return found


def test_the_demo_is_written_as_of_the_tests_demo_day(demo_day):
    assert timezone.localdate() == DEMO_DAY == demo_day.date()


@pytest.mark.parametrize("day", [DEMO_DAY, *OTHER_DAYS], ids=str)
def test_on_any_day_the_demo_tells_the_same_story(travel, day):
    travel(day, hour=10)
    load_and_sweep()
    assert story() == STORY


@pytest.mark.parametrize("day", [DEMO_DAY, *OTHER_DAYS], ids=str)
def test_names_carry_the_moved_year_and_month(travel, day):
    travel(day, hour=10)
    call_command("load_demo", stdout=StringIO())
    wave_name, licence_year, declarations, (before_wave, entry_block), contract_year = NAMES[day]
    assert AllocationRound.objects.get().name == wave_name
    assert sorted(ImportLicence.objects.values_list("number", flat=True)) == [
        f"LIC-{licence_year}-{serial}" for serial in LICENCES
    ]
    assert sorted(Shipment.objects.values_list("declaration_number", flat=True)) == [
        f"DEC-{year}-000{serial}" for year, serials in sorted(declarations.items()) for serial in serials.split()
    ]
    assert sorted(CustomsDirective.objects.values_list("reference", flat=True)) == [
        f"GACC-{before_wave}-001",
        f"GACC-{entry_block}-017",
    ]
    assert sorted(
        DomesticCommitment.objects.exclude(contract_reference="").values_list("contract_reference", flat=True)
    ) == [f"{prefix}-{contract_year}-01" for prefix in CONTRACTS]


@pytest.mark.parametrize("day", OTHER_DAYS, ids=str)
def test_every_stored_date_and_time_moves_by_the_same_days(travel, day):
    """Loaded (and swept) on ``day``, the world is the demo day's with every timestamp moved whole."""
    travel(DEMO_DAY, hour=10)
    with transaction.atomic():
        load_and_sweep()
        on_demo_day = stored_times(dt.timedelta(0))
        transaction.set_rollback(True)
    assert not ImportLicence.objects.exists()
    travel(day, hour=10)
    load_and_sweep()
    assert stored_times(day - DEMO_DAY) == on_demo_day
    assert sum(map(len, on_demo_day.values())) > 300  # the comparison saw the whole story


def test_loading_on_a_later_day_changes_nothing(travel):
    """Idempotent on any day: a world loaded earlier is kept as it is, not moved again."""
    travel(OTHER_DAYS[0], hour=10)
    call_command("load_demo", stdout=StringIO())
    before = list(ImportLicence.objects.order_by("pk").values())
    travel(OTHER_DAYS[0] + dt.timedelta(days=40), hour=10)
    out = StringIO()
    call_command("load_demo", stdout=out)
    assert "nothing changed" in out.getvalue()
    assert list(ImportLicence.objects.order_by("pk").values()) == before
