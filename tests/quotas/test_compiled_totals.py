"""The totals statement compiled once per shape (``common.compiled``, ``TOTALS_STATEMENTS``).

Each test fills the cache with one call, then asks again with other inputs of the same shape
(another day, other companies, another moment) and checks that exactly the statement the ORM
compiles for those inputs ran, and that the totals are those of an uncached call.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common.compiled import CompiledStatements, Slot, compile_queryset
from licences.models import Company, ImportLicence
from quotas.models import DomesticCommitment, QuotaPolicy
from quotas.selectors import imported_and_committed_totals
from quotas.selectors.weighting import TOTALS_STATEMENTS
from tests.factories import ApprovedLicenceFactory, CompanyFactory, DomesticCommitmentFactory, ShipmentFactory, at
from tests.quotas.conftest import make_policy

pytestmark = pytest.mark.django_db
D = Decimal
MeasuredOn, Basis = QuotaPolicy.MeasuredOn, QuotaPolicy.Basis
PLEDGED, CONTRACTED, DELIVERED = DomesticCommitment.Status.values[:3]


@pytest.fixture
def companies(h200, h20, ascend) -> list[Company]:
    """Three companies with licences, shipments cleared on different days and commitments in every status."""
    made = []
    for number, (chip, value) in enumerate([(h200, D("31999.99")), (h20, D("12500.50")), (h200, D("30000.00"))]):
        company = CompanyFactory(slug=f"company-{number}", name=f"Company {number}")
        licence = ApprovedLicenceFactory(company=company, chip=chip, requested_quantity=5_000, unit_value_usd=value)
        for day, quantity in [(10, 7 + number), (20, 100 * (number + 1)), (28, 3)]:
            ShipmentFactory(licence=licence, quantity=quantity, status="cleared", cleared_at=at(dt.date(2026, 2, day)))
        ImportLicence.objects.filter(pk=licence.pk).update(used_quantity=110 + 100 * number)
        DomesticCommitmentFactory(
            company=company, chip=ascend, quantity=40 + number, unit_price_usd=D("12000.00"), status=CONTRACTED,
            pledged_on=dt.date(2026, 1, 15), contracted_on=dt.date(2026, 2, 15),
        )  # fmt: skip
        DomesticCommitmentFactory(
            company=company, chip=ascend, quantity=9, unit_price_usd=D("11000.50"), status=PLEDGED,
            pledged_on=dt.date(2026, 2, 5), contracted_on=None,
        )  # fmt: skip
        made.append(company)
    return made


def run(policy, on, scope, as_known_at):
    """The totals and every statement they ran, as the database received them."""
    with CaptureQueriesContext(connection) as captured:
        totals = imported_and_committed_totals(policy, on, scope, None, as_known_at)
    return totals, [query["sql"] for query in captured]


MEASURES = [(measured, basis) for measured in MeasuredOn.values for basis in Basis.values]


@pytest.mark.parametrize(("measured_on", "basis"), MEASURES)
@pytest.mark.parametrize("counted", [(False, True, True), (True, False, False), (False, False, False)])
@pytest.mark.parametrize("known", [False, True], ids=["now", "as-known-at"])
def test_a_later_call_of_the_same_shape_runs_what_the_orm_compiles_for_its_own_inputs(
    companies, measured_on, basis, counted, known
):
    pledged, contracted, delivered = counted
    policy = make_policy(
        status=QuotaPolicy.Status.ACTIVE, measured_on=measured_on, basis=basis,
        counts_pledged=pledged, counts_contracted=contracted, counts_delivered=delivered,
    )  # fmt: skip
    ids = [company.pk for company in companies]
    moment = at(dt.date(2026, 3, 1)) if known else None
    calls = [
        (dt.date(2026, 2, 12), None, moment),
        (dt.date(2026, 2, 25), None, moment and moment - dt.timedelta(days=3)),
        (dt.date(2026, 2, 12), [ids[0], ids[2]], moment),
        (dt.date(2026, 2, 21), [ids[2], ids[1], ids[2]], moment),  # any order, repeats: the same two companies
        (dt.date(2026, 3, 30), ids, moment),
    ]
    TOTALS_STATEMENTS.clear()
    cached = [run(policy, *call) for call in calls]
    assert len(TOTALS_STATEMENTS) == 3  # everyone, two companies, three
    assert all(template is not None and template.sql for template in TOTALS_STATEMENTS._templates.values())
    for call, (totals, statements) in zip(calls, cached, strict=True):
        TOTALS_STATEMENTS.clear()  # compiled afresh by the ORM for these inputs
        assert run(policy, *call) == (totals, statements), call
    # The figures moved with the inputs: the cache did not answer a later day with an earlier one's
    # (except where nothing is seen at all: clearances as known at a moment are read from customs
    # events, which the factory's cleared shipments lack, and no commitment status counts).
    if any(counted) or not (known and measured_on == MeasuredOn.CLEARED):
        assert len({str(totals) for totals, _ in cached}) > 1


def test_a_scope_of_many_companies_is_compiled_on_each_call_and_not_kept(companies, monkeypatch):
    from quotas.selectors import weighting

    monkeypatch.setattr(weighting, "CACHED_SCOPE_MAX", 2)
    policy = make_policy(status=QuotaPolicy.Status.ACTIVE)
    ids = [company.pk for company in companies]
    TOTALS_STATEMENTS.clear()
    few, many = run(policy, dt.date(2026, 2, 21), ids[:2], None), run(policy, dt.date(2026, 2, 21), ids, None)
    assert len(TOTALS_STATEMENTS) == 1  # the two companies' shape only
    assert set(few[0][0]) == set(ids[:2]) and set(many[0][0]) == set(ids)


def test_the_totals_of_a_cached_statement_are_exact(companies):
    policy = make_policy(status=QuotaPolicy.Status.ACTIVE, measured_on=MeasuredOn.CLEARED, basis=Basis.UNITS)
    TOTALS_STATEMENTS.clear()
    ids = [company.pk for company in companies]
    imported_and_committed_totals(policy, dt.date(2026, 2, 12), ids[:1])  # fills the shape of one company
    imported, committed = imported_and_committed_totals(policy, dt.date(2026, 2, 21), ids[1:2])
    # Company 1 by the end of 21 Feb: its counter (210) less the 3 cleared on the 28th; its
    # contracted 41 (since the 15th); the pledged ones do not count under this policy.
    assert (imported, committed) == ({ids[1]: D("207")}, {ids[1]: D("41")})


# --- common.compiled on its own ------------------------------------------------------------------


def test_a_template_is_refused_when_the_sentinel_compile_does_not_explain_the_real_one(companies):
    # A build whose SQL text depends on an input's value (here: a filter only for a late day)
    # cannot be cached: the shape is compiled on every call, and each call is still right.
    def build(on):
        queryset = Company.objects.order_by("pk").values_list("pk")
        return queryset.filter(created_at__date__lte=on) if on.month > 6 else queryset

    statements = CompiledStatements(build, lambda on: {"on": connection.ops.adapt_datefield_value(on)})
    first = statements.statement("companies", dt.date(2026, 12, 1), dt.date(1111, 1, 1))
    assert first == compile_queryset(build(dt.date(2026, 12, 1)))
    assert statements._templates == {"companies": None}
    assert statements.statement("companies", dt.date(2026, 1, 1), dt.date(1111, 1, 1)) == compile_queryset(
        build(dt.date(2026, 1, 1))
    )


def test_a_query_that_can_match_nothing_is_cached_as_nothing(companies):
    statements = CompiledStatements(lambda ids: Company.objects.filter(pk__in=ids), lambda ids: {})
    assert statements.statement("none", [], []) is None
    assert statements.statement("none", [], []) is None
    assert len(statements) == 1


def test_the_cache_keeps_the_most_recently_used_shapes(companies):
    statements = CompiledStatements(
        lambda ids: Company.objects.filter(pk__in=ids).values_list("pk"),
        lambda ids: {("id", index): pk for index, pk in enumerate(ids)},
        size=2,
    )
    ids = [company.pk for company in companies]
    statements.statement(1, ids[:1], [-1])
    statements.statement(2, ids[:2], [-1, -2])
    statements.statement(1, ids[1:2], [-1])  # used again: now the most recent
    statements.statement(3, ids, [-1, -2, -3])
    assert list(statements._templates) == [1, 3]
    sql, params = statements.statement(3, ids[::-1], [-1, -2, -3])
    assert params == ids[::-1] and sql.count("%s") == 3
    assert statements._templates[3].params == (Slot(("id", 0)), Slot(("id", 1)), Slot(("id", 2)))


def test_sentinels_that_cannot_be_told_apart_leave_the_shape_uncached(companies):
    def build(ids):
        return Company.objects.filter(pk__in=ids).values_list("pk")

    statements = CompiledStatements(build, lambda ids: {("id", index): pk for index, pk in enumerate(ids)})
    ids = [company.pk for company in companies]
    assert statements.statement("two", ids[:2], [-1, -1]) == compile_queryset(build(ids[:2]))
    assert statements._templates == {"two": None}
    assert statements.statement("two", ids[1:], [-1, -1]) == compile_queryset(build(ids[1:]))


def test_a_sentinel_build_that_fails_leaves_the_shape_uncached_and_the_read_answered(companies):
    def build(on):
        if on.year < 1900:
            raise ValueError("no such day")
        return Company.objects.filter(created_at__date__lte=on).values_list("pk")

    statements = CompiledStatements(build, lambda on: {"on": connection.ops.adapt_datefield_value(on)})
    assert statements.statement("companies", dt.date(2026, 1, 1), dt.date(1111, 1, 1)) == compile_queryset(
        build(dt.date(2026, 1, 1))
    )
    assert statements._templates == {"companies": None}
