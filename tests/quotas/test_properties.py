"""Property-based tests: on random data the set-based engine agrees with a plain per-company loop.

The reference below is deliberately naive: it walks each company's rows in Python and reads
dates with ``timezone.localdate`` (the set-based engine compares timestamps with the
end-of-day bound in SQL), so the two share no code but the models.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.utils import timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from licences.models import ChipModel, Company, ImportLicence
from quotas.models import DomesticCommitment, QuotaPolicy
from quotas.selectors import headroom, quota_positions
from tests.factories import (
    AllocationRoundFactory,
    ApprovedLicenceFactory,
    CompanyFactory,
    DomesticChipFactory,
    DomesticCommitmentFactory,
    ForeignChipFactory,
    ImportLicenceFactory,
    QuotaPolicyFactory,
    ShipmentFactory,
)

D = Decimal
START = dt.date(2026, 1, 1)
FOREIGN = {"H200": (D("6.000"), D("32000.00")), "H20": (D("1.000"), D("12500.50"))}
DOMESTIC = {"ASCEND-910B": (D("1.000"), D("12000.00")), "HYGON-DCU": (D("0.750"), D("7000.25"))}

# A narrow calendar so that as-of dates often fall on the very day of an event.
days = st.integers(0, 8)
moments = st.tuples(days, st.integers(0, 23), st.integers(0, 59))
money = st.decimals(min_value=0, max_value=99_999, places=2, allow_nan=False, allow_infinity=False)
licences = st.fixed_dictionaries(
    {
        "company": st.integers(0, 2),
        "chip": st.sampled_from(sorted(FOREIGN)),
        "quantity": st.integers(1, 1_000_000),
        "unit_value": money,
        "approved": st.none() | moments,
        # The validity window: from START + first, for second more days.
        "window": st.tuples(st.integers(0, 12), st.integers(0, 12)),
        "ended": st.none() | st.tuples(st.sampled_from(["suspended", "revoked", "expired"]), st.integers(0, 4)),
        "shipments": st.lists(st.tuples(st.integers(1, 100_000), st.none() | moments), max_size=3),
    }
)
commitments = st.fixed_dictionaries(
    {
        "company": st.integers(0, 2),
        "chip": st.sampled_from(sorted(DOMESTIC)),
        "quantity": st.integers(1, 1_000_000),
        "price": money,
        "pledged": days,
        "contracted_after": st.none() | st.integers(0, 4),
        "delivered_after": st.none() | st.integers(0, 4),
        "cancelled_after": st.none() | st.integers(0, 4),
    }
)
policies = st.fixed_dictionaries(
    {
        "ratio": st.decimals(min_value=0, max_value=3, places=4, allow_nan=False, allow_infinity=False),
        "basis": st.sampled_from(QuotaPolicy.Basis.values),
        "measured_on": st.sampled_from(QuotaPolicy.MeasuredOn.values),
        "counts_pledged": st.booleans(),
        "counts_contracted": st.booleans(),
        "counts_delivered": st.booleans(),
    }
)
worlds = st.fixed_dictionaries(
    {
        "licences": st.lists(licences, max_size=6),
        "commitments": st.lists(commitments, max_size=6),
        "policy": policies,
        "on": st.integers(0, 12).map(lambda offset: START + dt.timedelta(days=offset)),
    }
)
EXAMPLES = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def moment(spec: tuple[int, int, int]) -> dt.datetime:
    offset, hour, minute = spec
    return timezone.make_aware(dt.datetime.combine(START + dt.timedelta(days=offset), dt.time(hour, minute)))


def build(world: dict) -> tuple[list[Company], dict[str, ChipModel], QuotaPolicy]:
    chips = {}
    for code, (compute, value) in FOREIGN.items():
        chips[code] = ForeignChipFactory(code=code, compute_index=compute, reference_unit_value_usd=value)
    for code, (compute, value) in DOMESTIC.items():
        chips[code] = DomesticChipFactory(code=code, compute_index=compute, reference_unit_value_usd=value)
    companies = [CompanyFactory(slug=f"company-{index}", name=f"Company {index}") for index in range(3)]
    # Roomy enough for every grant drawn (a round's totals count its licences' grants).
    wave = AllocationRoundFactory(name="Property wave", unit_cap=10**9, value_cap_usd=Decimal("1000000000000000.00"))
    for spec in world["licences"]:
        common = {
            "company": companies[spec["company"]],
            "chip": chips[spec["chip"]],
            "round": wave,
            # Never over-drawn (a database constraint): the grant covers the shipments drawn on it.
            "requested_quantity": max(spec["quantity"], sum(quantity for quantity, _ in spec["shipments"])),
            "unit_value_usd": spec["unit_value"],
        }
        if spec["approved"] is None:
            ImportLicenceFactory(**common)
            continue
        approved_at = moment(spec["approved"])
        ended = {}
        status = ImportLicence.Status.APPROVED
        if spec["ended"] is not None:
            kind, after = spec["ended"]
            status = kind
            ended[f"{kind}_at"] = approved_at + dt.timedelta(days=after, hours=7)
        valid_from = START + dt.timedelta(days=spec["window"][0])
        valid_until = valid_from + dt.timedelta(days=spec["window"][1])
        licence = ApprovedLicenceFactory(
            approved_at=approved_at, status=status, valid_from=valid_from, valid_until=valid_until, **ended, **common
        )
        for quantity, cleared in spec["shipments"]:
            cleared_at = moment(cleared) if cleared is not None else None
            ShipmentFactory(
                licence=licence,
                quantity=quantity,
                declared_at=approved_at,
                status="cleared" if cleared_at else "declared",
                cleared_at=cleared_at,
            )
    for spec in world["commitments"]:
        pledged_on = START + dt.timedelta(days=spec["pledged"])
        dates: dict = {"status": "pledged", "contracted_on": None}
        if spec["contracted_after"] is not None:
            dates = {"status": "contracted", "contracted_on": pledged_on + dt.timedelta(days=spec["contracted_after"])}
            if spec["delivered_after"] is not None:
                dates["status"] = "delivered"
                dates["delivered_on"] = dates["contracted_on"] + dt.timedelta(days=spec["delivered_after"])
                dates["delivered_quantity"] = spec["quantity"]
        if spec["cancelled_after"] is not None and dates["status"] != "delivered":
            last = dates["contracted_on"] or pledged_on
            dates["status"] = "cancelled"
            dates["cancelled_on"] = last + dt.timedelta(days=spec["cancelled_after"])
        DomesticCommitmentFactory(
            company=companies[spec["company"]],
            chip=chips[spec["chip"]],
            quantity=spec["quantity"],
            unit_price_usd=spec["price"],
            pledged_on=pledged_on,
            **dates,
        )
    policy = QuotaPolicyFactory(status=QuotaPolicy.Status.DRAFT, effective_from=START, **world["policy"])
    return companies, chips, policy


def weight(policy: QuotaPolicy, chip: ChipModel, unit_value: Decimal) -> Decimal:
    return {"units": D(1), "value": unit_value, "compute": chip.compute_index}[policy.basis]


def by_day(moment: dt.datetime | None, on: dt.date) -> bool:
    return moment is not None and timezone.localdate(moment) <= on


def status_on(commitment: DomesticCommitment, on: dt.date) -> str | None:
    if commitment.pledged_on > on or (commitment.cancelled_on and commitment.cancelled_on <= on):
        return None
    if commitment.delivered_on and commitment.delivered_on <= on:
        return "delivered"
    if commitment.contracted_on and commitment.contracted_on <= on:
        return "contracted"
    return "pledged"


def reference(company: Company, policy: QuotaPolicy, on: dt.date) -> dict[str, Decimal]:
    """The arithmetic of docs/domain.md, one company at a time, in plain Python."""
    imported = D(0)
    for licence in company.licences.select_related("chip"):
        if policy.measured_on == "licensed":
            # In force: approved by the day, not ended by it, and the day within the validity window.
            standing = (
                by_day(licence.approved_at, on)
                and not any(
                    by_day(getattr(licence, f"{end}_at"), on) for end in ("suspended", "revoked", "expired", "rejected")
                )
                and licence.valid_from is not None
                and licence.valid_from <= on <= licence.valid_until
            )
            if standing:
                imported += licence.granted_quantity * weight(policy, licence.chip, licence.unit_value_usd)
        else:
            for shipment in licence.shipments.all():
                if by_day(shipment.cleared_at, on):
                    imported += shipment.quantity * weight(policy, licence.chip, licence.unit_value_usd)
    committed = D(0)
    for commitment in company.commitments.select_related("chip"):
        if status_on(commitment, on) in policy.counted_statuses:
            committed += commitment.quantity * weight(policy, commitment.chip, commitment.unit_price_usd)
    required = policy.ratio * imported
    quantum = {"units": D("1"), "value": D("0.01"), "compute": D("0.001")}[policy.basis]
    shortfall = max(D(0), required - committed).quantize(quantum, rounding=ROUND_CEILING)
    if required == 0:
        coverage = D(1)
    else:
        coverage = (committed / required).quantize(D("0.0001"), rounding=ROUND_HALF_UP)
        if committed < required:
            coverage = min(coverage, D("0.9999"))
    return {
        "imported": imported,
        "committed": committed,
        "required": required,
        "shortfall": shortfall,
        "coverage": coverage,
    }


class QuotaProperties(TestCase):
    @EXAMPLES
    @given(world=worlds)
    def test_set_based_positions_equal_a_per_company_python_computation(self, world):
        companies, _, policy = build(world)
        positions = quota_positions(on=world["on"], policy=policy)
        assert [position.company.id for position in positions] == [company.pk for company in companies]
        for company, position in zip(companies, positions, strict=True):
            expected = reference(company, policy, world["on"])
            actual = {field: getattr(position, field) for field in expected}
            assert actual == expected, (company.slug, actual, expected)

    @EXAMPLES
    @given(world=worlds, quantity=st.integers(1, 1_000_000), price=money, data=st.data())
    def test_adding_a_counted_commitment_never_raises_a_shortfall(self, world, quantity, price, data):
        companies, chips, policy = build(world)
        counted = policy.counted_statuses
        assume(counted)
        on = world["on"]
        before = quota_positions(on=on, policy=policy)
        status = data.draw(st.sampled_from(counted))
        company = data.draw(st.sampled_from(companies))
        chip = chips[data.draw(st.sampled_from(sorted(DOMESTIC)))]
        dates = {"pledged_on": on, "contracted_on": None}
        if status in ("contracted", "delivered"):
            dates["contracted_on"] = on
        if status == "delivered":
            dates.update(delivered_on=on, delivered_quantity=quantity)
        DomesticCommitmentFactory(
            company=company, chip=chip, quantity=quantity, unit_price_usd=price, status=status, **dates
        )
        after = quota_positions(on=on, policy=policy)
        added = quantity * weight(policy, chip, price)
        for old, new in zip(before, after, strict=True):
            assert new.shortfall <= old.shortfall
            assert new.coverage >= old.coverage
            grew_by = new.committed - old.committed
            assert grew_by == (added if new.company.id == company.pk else 0)

    @EXAMPLES
    @given(world=worlds, rise=st.decimals(min_value=0, max_value=2, places=4, allow_nan=False, allow_infinity=False))
    def test_raising_the_ratio_never_lowers_a_shortfall(self, world, rise):
        _, chips, policy = build(world)
        higher = QuotaPolicyFactory(
            status=QuotaPolicy.Status.DRAFT,
            effective_from=START,
            **{**world["policy"], "ratio": world["policy"]["ratio"] + rise},
        )
        on = world["on"]
        for low, high in zip(quota_positions(on=on, policy=policy), quota_positions(on=on, policy=higher), strict=True):
            assert high.required >= low.required
            assert high.shortfall >= low.shortfall
            if low.required > 0:  # coverage is defined as 1 when nothing is required
                assert high.coverage <= low.coverage
            for code in FOREIGN:
                low_room, high_room = headroom(low, chips[code]), headroom(high, chips[code])
                if high_room is not None and low_room is not None:
                    assert high_room <= low_room
