"""How a full sweep is cut into chunks: by rows and by companies, every company exactly once."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from compliance import chunks, tasks
from compliance.chunks import COMPANY_ROWS, company_chunks, company_rows, plan_chunks
from compliance.models import Finding, FindingTransition
from licences.models import Company, Shipment
from tests.compliance.conftest import approved_licence, make_company
from tests.factories import DomesticCommitmentFactory, ShipmentFactory, at

D = dt.date
# What the sweep finds in ``three_sizes``: each held shipment, once.
EXPECTED = [*[("large", "customs_hold_overdue", "open")] * 3, ("small", "customs_hold_overdue", "open")]

# --- The plan, on weights alone ---------------------------------------------------------------------------


def test_a_chunk_takes_companies_while_its_rows_stay_within_the_budget():
    weights = [(1, 10), (2, 20), (3, 30), (4, 5), (5, 50), (6, 60), (7, 1)]
    # 10 + 20 + 30 = 60 fills the first exactly; 5 + 50 = 55 and 6's 60 would pass 60; 60 + 1 would too.
    assert plan_chunks(weights, max_rows=60, max_companies=100) == [[1, 2, 3], [4, 5], [6], [7]]
    assert plan_chunks(weights, max_rows=61, max_companies=100) == [[1, 2, 3], [4, 5], [6, 7]]
    assert plan_chunks(weights, max_rows=1000, max_companies=100) == [[1, 2, 3, 4, 5, 6, 7]]


def test_a_chunk_also_closes_at_its_number_of_companies():
    weights = [(pk, 1) for pk in range(1, 8)]
    assert plan_chunks(weights, max_rows=1000, max_companies=3) == [[1, 2, 3], [4, 5, 6], [7]]
    # Whichever limit comes first: 3 companies, or 2 rows.
    assert plan_chunks(weights, max_rows=2, max_companies=3) == [[1, 2], [3, 4], [5, 6], [7]]


def test_a_company_heavier_than_the_budget_is_a_chunk_of_its_own():
    weights = [(1, 5), (2, 500), (3, 5), (4, 5), (5, 400)]
    assert plan_chunks(weights, max_rows=50, max_companies=100) == [[1], [2], [3, 4], [5]]
    assert plan_chunks([(9, 500)], max_rows=50, max_companies=100) == [[9]]


def test_every_company_is_in_exactly_one_chunk_in_order():
    weights = [(pk, (pk * 37) % 101) for pk in range(1, 400)]
    for max_rows, max_companies in ((1, 1), (60, 7), (150, 1000), (10**9, 2500)):
        planned = plan_chunks(weights, max_rows=max_rows, max_companies=max_companies)
        assert [pk for chunk in planned for pk in chunk] == list(range(1, 400))
        assert all(chunk for chunk in planned)
        for chunk in planned:
            assert len(chunk) <= max_companies
            weight = sum((pk * 37) % 101 for pk in chunk)
            assert weight <= max_rows or len(chunk) == 1


def test_no_companies_no_chunks_and_a_budget_must_hold_something():
    assert plan_chunks([], max_rows=10, max_companies=10) == []
    with pytest.raises(ValueError):
        plan_chunks([(1, 1)], max_rows=0, max_companies=10)
    with pytest.raises(ValueError):
        plan_chunks([(1, 1)], max_rows=10, max_companies=0)


# --- Weights and chunks from the database -----------------------------------------------------------------


@pytest.fixture
def three_sizes(travel):
    """A company with nothing, one with a licence and a held shipment, one with a licence, three
    held shipments and two commitments; the clock at 9 February."""
    empty = make_company("empty")
    small = make_company("small")
    ShipmentFactory(licence=approved_licence(small), status=Shipment.Status.HELD, held_since=at(D(2026, 2, 1)))
    large = make_company("large")
    licence = approved_licence(large)
    for _ in range(3):
        ShipmentFactory(licence=licence, status=Shipment.Status.HELD, held_since=at(D(2026, 2, 1)))
    DomesticCommitmentFactory.create_batch(2, company=large)
    travel(D(2026, 2, 9))
    return empty, small, large


@pytest.mark.django_db
def test_a_company_weighs_its_shipments_licences_and_commitments_plus_its_own_rows(three_sizes):
    empty, small, large = three_sizes
    assert company_rows() == [
        (empty.pk, COMPANY_ROWS),
        (small.pk, COMPANY_ROWS + 1 + 1),
        (large.pk, COMPANY_ROWS + 1 + 3 + 2),
    ]


@pytest.mark.django_db
def test_company_chunks_read_both_limits_from_the_settings(three_sizes, compliance_settings):
    empty, small, large = three_sizes
    compliance_settings(SWEEP_CHUNK_ROWS=2 * COMPANY_ROWS + 2, SWEEP_CHUNK_SIZE=2500)
    assert company_chunks() == [[empty.pk, small.pk], [large.pk]]
    compliance_settings(SWEEP_CHUNK_ROWS=COMPANY_ROWS + 1, SWEEP_CHUNK_SIZE=2500)
    assert company_chunks() == [[empty.pk], [small.pk], [large.pk]]  # the two heavier ones alone
    compliance_settings(SWEEP_CHUNK_ROWS=200_000, SWEEP_CHUNK_SIZE=2)
    assert company_chunks() == [[empty.pk, small.pk], [large.pk]]
    assert company_chunks(max_rows=10**6, max_companies=10) == [[empty.pk, small.pk, large.pk]]


@pytest.mark.django_db
def test_the_task_fans_out_over_row_chunks_and_sweeps_every_company_once(
    three_sizes, eager_celery, compliance_settings, monkeypatch
):
    compliance_settings(SWEEP_CHUNK_ROWS=COMPANY_ROWS + 1, SWEEP_CHUNK_SIZE=2500)
    swept: list[list[int]] = []
    run_sweep = tasks.run_sweep

    def recording(*, company_ids):
        swept.append(list(company_ids))
        return run_sweep(company_ids=company_ids)

    monkeypatch.setattr(tasks, "run_sweep", recording)
    assert tasks.sweep.apply().get() == {"started": True, "chunks": 3, "companies": 3}
    assert swept == [[pk] for pk in Company.objects.order_by("pk").values_list("pk", flat=True)]
    assert Finding.objects.filter(rule="customs_hold_overdue", status="open").count() == 4


@pytest.mark.django_db
@pytest.mark.parametrize("max_rows, expected_chunks", [(COMPANY_ROWS, 3), (2 * COMPANY_ROWS + 2, 2), (10**6, 1)])
def test_the_command_finds_the_same_whatever_the_chunks(
    three_sizes, travel, compliance_settings, max_rows, expected_chunks
):
    """One chunk or one per company: the same findings; a re-sweep in other chunks changes nothing."""
    compliance_settings(SWEEP_CHUNK_ROWS=max_rows, SWEEP_CHUNK_SIZE=2500)
    assert len(chunks.company_chunks()) == expected_chunks
    call_command("compliance_sweep", stdout=StringIO())
    found = sorted(Finding.objects.values_list("company__slug", "rule", "status"))
    assert found == EXPECTED
    transitions = FindingTransition.objects.count()
    travel(D(2026, 2, 9), hour=13)
    compliance_settings(SWEEP_CHUNK_ROWS=10**6 if expected_chunks > 1 else COMPANY_ROWS)
    call_command("compliance_sweep", stdout=StringIO())
    assert sorted(Finding.objects.values_list("company__slug", "rule", "status")) == EXPECTED
    assert FindingTransition.objects.count() == transitions
