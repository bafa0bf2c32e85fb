"""The benchmark command runs end to end at a tiny size and agrees with its hand-written SQL."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum

from benchmarks.generator import generate
from licences.models import Company, ImportLicence, Shipment
from quotas.models import DomesticCommitment, QuotaPolicy

pytestmark = pytest.mark.django_db


def bench(**options) -> str:
    out = StringIO()
    call_command("bench_quota", companies=20, shipments=200, seed=1, runs=2, stdout=out, **options)
    return out.getvalue()


@pytest.mark.parametrize("measured_on", QuotaPolicy.MeasuredOn.values)
@pytest.mark.parametrize("basis", QuotaPolicy.Basis.values)
def test_bench_quota_tiny_agrees_with_the_hand_written_sql(basis, measured_on):
    output = bench(basis=basis, measured_on=measured_on)
    assert "generated 20 companies / 200 shipments" in output
    assert re.search(r": 20 companies, \d+ licences, 200 shipments, \d+ commitments", output)
    assert f"policy: 0.3000 by {basis}, measured on {measured_on}, on 2026-06-30" in output
    assert "agree: 20 positions identical to the hand-written SQL" in output
    queries = int(re.search(r"quota_positions: .* (\d+) queries", output).group(1))
    # Companies, imports, commitments; plus chip or licence weights where the basis needs them.
    assert queries == (3 if basis == "compute" or (basis, measured_on) == ("value", "cleared") else 2)
    assert re.search(r"ratio: \d+\.\d\dx", output)
    assert Company.objects.count() == 20
    assert Shipment.objects.count() == 200


def test_bench_quota_refuses_to_regenerate_over_existing_data_unless_reused():
    bench()
    with pytest.raises(CommandError, match="20 companies from seed 1 already exist"):
        bench()
    output = bench(reuse=True)
    assert "generated" not in output
    assert "agree: 20 positions" in output
    assert Shipment.objects.count() == 200


def test_bench_data_is_deterministic_for_a_seed():
    def shape(prefix: str) -> list[tuple]:
        companies = Company.objects.filter(slug__startswith=prefix).order_by("slug")
        return [
            (
                company.slug.removeprefix(prefix),
                Shipment.objects.filter(company=company).aggregate(n=Count("pk"), q=Sum("quantity"))["q"],
                ImportLicence.objects.filter(company=company).count(),
                DomesticCommitment.objects.filter(company=company).aggregate(q=Sum("quantity"))["q"],
            )
            for company in companies
        ]

    generate(companies=15, shipments=300, seed=7, prefix="first-")
    generate(companies=15, shipments=300, seed=7, prefix="second-")
    first, second = shape("first-"), shape("second-")
    assert first == second
    assert len(first) == 15
    assert (
        sum(row[1] or 0 for row in first)
        == Shipment.objects.filter(company__slug__startswith="first-").aggregate(q=Sum("quantity"))["q"]
    )
    # A long tail: the largest company ships more than the five smallest together.
    volumes = sorted((row[1] or 0 for row in first), reverse=True)
    assert volumes[0] > sum(volumes[-5:])
