"""A round's totals are every company's grants: a company key does not see them.

Before: ``GET /api/v1/rounds/<id>/`` gave company A the round's ``granted_units`` and
``granted_value_usd`` (and what remains of the caps). With its own grants subtracted, that
is what every other company was granted in the round, and with one other licensee exactly
that company's grant; and each approval of another company's licence moved A's answer.
Companies now see a round's name, caps and dates; its totals are ``null`` to them. The
regulator and analysts, who read every company's records, see the totals.
"""

from __future__ import annotations

import datetime as dt

import pytest

from licences import services
from tests.api.conftest import API, World

pytestmark = pytest.mark.django_db

TOTALS = ("granted_units", "granted_value_usd", "remaining_units", "remaining_value_usd")


def test_a_company_sees_a_rounds_caps_and_dates_but_not_its_totals(world: World) -> None:
    detail = world.client("a").get(f"{API}/rounds/{world.wave.pk}/").json()
    listed = world.client("a").get(f"{API}/rounds/").json()["results"]
    assert listed == [detail]
    assert {name: detail[name] for name in TOTALS} == dict.fromkeys(TOTALS)
    assert (detail["name"], detail["unit_cap"], detail["opens_on"]) == (
        world.wave.name, world.wave.unit_cap, world.wave.opens_on.isoformat(),
    )  # fmt: skip


def test_the_regulator_sees_the_totals(world: World) -> None:
    detail = world.client("regulator").get(f"{API}/rounds/{world.wave.pk}/").json()
    # The world's two approved licences of 1,000 units at 32,000 USD, A's and B's.
    assert {name: detail[name] for name in TOTALS} == {
        "granted_units": 2_000,
        "granted_value_usd": "64000000.00",
        "remaining_units": world.wave.unit_cap - 2_000,
        "remaining_value_usd": f"{world.wave.value_cap_usd - 64_000_000:.2f}",
    }


def test_another_companys_approval_changes_nothing_a_company_reads_of_the_round(world: World) -> None:
    before = world.client("a").get(f"{API}/rounds/{world.wave.pk}/").json()
    services.licence_approve(
        licence=world.applied_b,
        granted_quantity=400,
        valid_from=dt.date(2026, 2, 1),
        valid_until=dt.date(2026, 12, 31),
    )
    world.wave.refresh_from_db()
    assert world.wave.granted_units == 2_400  # B's grant is in the round
    assert world.client("a").get(f"{API}/rounds/{world.wave.pk}/").json() == before
