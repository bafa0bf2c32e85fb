"""Quota positions: the value objects, the arithmetic from totals, the public reads
(``quota_positions``, ``quota_position``) and a position's headroom for a chip.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, localcontext
from operator import attrgetter
from typing import NamedTuple

from django.db.models import QuerySet
from django.utils.translation import get_language, gettext

from common.bulk import collector_paused
from common.errors import DomainError
from licences.models import ChipModel, Company
from quotas.models import QuotaPolicy
from quotas.selectors.as_of import (
    COVERAGE_QUANTUM,
    DIVISION,
    EXACT,
    ONE,
    SHORTFALL_QUANTUM,
    ZERO,
    Basis,
    CompanyScope,
    _resolve_policy,
)
from quotas.selectors.weighting import (
    _plain_rows,
    _Weights,
    imported_and_committed_totals,
)

# --- Value objects ------------------------------------------------------------------------


class CompanyRef(NamedTuple):
    """The company a position belongs to."""

    id: int
    slug: str
    name: str
    name_zh: str = ""

    @property
    def display_name(self) -> str:
        """As ``Company.display_name``: the Chinese name in Chinese when there is one."""
        if self.name_zh and (get_language() or "").lower().startswith("zh"):
            return self.name_zh
        return self.name


@dataclass(frozen=True, slots=True)
class PolicyTerms:
    """The terms of the policy a position was computed under (a snapshot, not the row)."""

    id: int
    name: str
    version: int
    status: str
    basis: str
    measured_on: str
    ratio: Decimal
    counted_statuses: tuple[str, ...]
    grace_days: int
    effective_from: dt.date
    effective_until: dt.date | None

    @classmethod
    def of(cls, policy: QuotaPolicy) -> PolicyTerms:
        return cls(
            id=policy.pk,
            name=policy.name,
            version=policy.version,
            status=policy.status,
            basis=policy.basis,
            measured_on=policy.measured_on,
            ratio=Decimal(policy.ratio),
            counted_statuses=tuple(str(status) for status in policy.counted_statuses),
            grace_days=policy.grace_days,
            effective_from=policy.effective_from,
            effective_until=policy.effective_until,
        )

    def get_basis_display(self) -> str:
        """The basis as people read it (``QuotaPolicy.Basis`` label, in the active language)."""
        return str(QuotaPolicy.Basis(self.basis).label)

    def get_measured_on_display(self) -> str:
        return str(QuotaPolicy.MeasuredOn(self.measured_on).label)


class QuotaPosition(NamedTuple):
    """A company's quota position on a date under one policy. All amounts are ``Decimal``.

    A ``NamedTuple``, like :class:`CompanyRef`: immutable, and built in a third of a frozen
    dataclass's time (a read over all companies builds one per company; the benchmark's
    10,000 of them are part of the quota benchmark's figure).

    Amounts are in the policy's basis: chips (units), USD (value) or H20-equivalents
    (compute). ``imported``, ``committed`` and ``required`` are exact; ``shortfall`` is
    rounded up to the basis's unit (whole chips, cents, thousandths of an H20);
    ``coverage`` is ``committed / required`` to four places (``1`` when nothing is
    required), never shown as ``1`` or more while there is a shortfall. ``as_known_at`` is the
    transaction time it was computed as of (see ``quotas.selectors.as_of``).

    When no policy is in force on the date, ``policy`` is ``None`` (``has_policy`` is
    false): nothing is required, so every amount is ``0`` and coverage is ``1``. That is
    a valid answer, not an error.
    """

    company: CompanyRef
    on: dt.date
    policy: PolicyTerms | None
    imported: Decimal
    committed: Decimal
    required: Decimal
    shortfall: Decimal
    coverage: Decimal
    #: The moment whose records the position was computed from; ``None``: everything recorded so far.
    as_known_at: dt.datetime | None = None

    @property
    def has_policy(self) -> bool:
        return self.policy is not None

    @property
    def is_short(self) -> bool:
        return self.shortfall > 0

    def headroom(self, chip: ChipModel) -> int | None:
        """See :func:`headroom`."""
        return headroom(self, chip)


# --- The arithmetic -------------------------------------------------------------------------


def _tidy(amount: Decimal) -> Decimal:
    """The same value without trailing zeros (``60000.0000`` -> ``60000``), never in E-notation."""
    if amount == amount.to_integral_value():
        return amount.quantize(ONE)
    return amount.normalize(DIVISION)


# Context methods rather than ``localcontext`` blocks: this runs once per company.
_multiply, _subtract, _divide = EXACT.multiply, EXACT.subtract, DIVISION.divide


def position_from_totals(
    *,
    company: CompanyRef,
    on: dt.date,
    policy: PolicyTerms | None,
    imported: Decimal,
    committed: Decimal,
    as_known_at: dt.datetime | None = None,
) -> QuotaPosition:
    """The quota arithmetic for one company from its weighted totals (no query).

    ``imported`` and ``committed`` keep the precision of their weights (whole chips, cents,
    thousandths of a compute index); ``required`` is shown without trailing zeros.
    """
    if policy is None:
        return QuotaPosition(
            company=company, on=on, policy=None, imported=ZERO, committed=ZERO, required=ZERO, shortfall=ZERO,
            coverage=ONE, as_known_at=as_known_at,
        )  # fmt: skip
    required = _multiply(policy.ratio, imported)
    gap = _subtract(required, committed)
    if gap > 0:
        shortfall = gap.quantize(SHORTFALL_QUANTUM[policy.basis], rounding=ROUND_CEILING, context=DIVISION)
    else:
        shortfall = ZERO
    if required == 0:
        coverage = ONE
    else:
        coverage = _divide(committed, required).quantize(COVERAGE_QUANTUM, rounding=ROUND_HALF_UP, context=DIVISION)
        if gap > 0 and coverage >= ONE:
            # 99.996 % covered is still short: never report full coverage beside a shortfall.
            coverage = ONE - COVERAGE_QUANTUM
    return QuotaPosition(
        company=company,
        on=on,
        policy=policy,
        imported=imported,
        committed=committed,
        required=_tidy(required),
        shortfall=shortfall,
        coverage=coverage,
        as_known_at=as_known_at,
    )


def _company_refs(companies: Iterable[Company] | QuerySet[Company] | None) -> list[CompanyRef]:
    if companies is None:
        companies = Company.objects.all()
    if isinstance(companies, QuerySet):
        # Read on the cursor (no per-row converters: an integer and three texts) and built
        # positionally: a tenth of ``quota_positions`` over every company went into this.
        rows = _plain_rows(companies.order_by().values_list("pk", "slug", "name", "name_zh"))
        refs = list(map(CompanyRef._make, rows))
    else:
        refs = [
            CompanyRef(id=company.pk, slug=company.slug, name=company.name, name_zh=company.name_zh)
            for company in companies
        ]
    # Sorted here, not by the database, so the order is the same on every engine and collation.
    return sorted(refs, key=attrgetter("name", "slug"))


def _positions(
    *,
    refs: list[CompanyRef],
    on: dt.date,
    policy: QuotaPolicy | None,
    scope: CompanyScope,
    chips: Sequence[ChipModel] | None = None,
    as_known_at: dt.datetime | None = None,
) -> list[QuotaPosition]:
    if policy is None:
        imported: dict[int, Decimal] = {}
        committed: dict[int, Decimal] = {}
        terms = None
    else:
        imported, committed = imported_and_committed_totals(policy, on, scope, _Weights(scope, chips), as_known_at)
        terms = PolicyTerms.of(policy)
    return [
        position_from_totals(
            company=ref,
            on=on,
            policy=terms,
            imported=imported.get(ref.id, ZERO),
            committed=committed.get(ref.id, ZERO),
            as_known_at=as_known_at,
        )
        for ref in refs
    ]


# --- Public reads -----------------------------------------------------------------------------


def quota_positions(
    *,
    on: dt.date,
    policy: QuotaPolicy | None = None,
    companies: Iterable[Company] | QuerySet[Company] | None = None,
    chips: Sequence[ChipModel] | None = None,
    as_known_at: dt.datetime | None = None,
) -> list[QuotaPosition]:
    """Every company's quota position on ``on``, sorted by company name.

    ``as_known_at`` (an aware datetime) computes it from what had been recorded by then
    (``quotas.selectors.as_of``); the default, everything recorded so far.

    ``policy`` defaults to the policy in force on ``on`` (pass a draft to study it).
    ``companies`` narrows the result to a queryset or a list of companies. Runs in at most
    four queries (policy in force, companies, imports and commitments in one, and the chip
    or licence weights when the basis needs them) whatever the number of companies, licences,
    shipments and commitments. A caller that has read the whole chip catalogue already
    passes it as ``chips``, saving the query for the chip weights.
    """
    policy = _resolve_policy(on, policy, as_known_at)
    # Tens of thousands of small objects (rows, refs, positions), none of them cyclic garbage:
    # the cyclic collector would walk the whole heap again and again as they are allocated.
    with collector_paused():
        refs = _company_refs(companies)
        if companies is None:
            scope: CompanyScope = None
        elif isinstance(companies, QuerySet):
            scope = companies.values("pk")
        else:
            scope = [ref.id for ref in refs]
        return _positions(refs=refs, on=on, policy=policy, scope=scope, chips=chips, as_known_at=as_known_at)


def quota_position(
    *,
    company: Company,
    on: dt.date,
    policy: QuotaPolicy | None = None,
    chips: Sequence[ChipModel] | None = None,
    as_known_at: dt.datetime | None = None,
) -> QuotaPosition:
    """One company's quota position on ``on`` (one to three queries; see ``quota_positions``)."""
    return quota_positions(on=on, policy=policy, companies=[company], chips=chips, as_known_at=as_known_at)[0]


def _weight_of_hypothetical(basis: str, chip: ChipModel) -> Decimal:
    """A chip's weight for rows that do not exist yet: its catalogue unit value or compute index."""
    if basis == Basis.UNITS:
        return ONE
    if basis == Basis.VALUE:
        return Decimal(chip.reference_unit_value_usd)
    return Decimal(chip.compute_index)


def headroom(position: QuotaPosition, chip: ChipModel) -> int | None:
    """How many more units of foreign ``chip`` the company can import and still be covered.

    ``floor((committed - required) / (ratio x weight))``, the largest ``n`` with
    ``ratio x (imported + n x weight) <= committed``; ``0`` when already short (or exactly
    at the requirement). ``None`` means unlimited: no policy applies, the ratio is zero, or
    the chip weighs nothing on this basis (a zero catalogue value on a value basis). The
    weight of a chip not yet imported is its ``compute_index`` or ``reference_unit_value_usd``.
    """
    if chip.origin != ChipModel.Origin.FOREIGN:
        raise DomainError(
            gettext("%(code)s is not a foreign chip; headroom is for imports.") % {"code": chip.code},
            code="import_chip_not_foreign",
        )
    if position.policy is None or position.policy.ratio == 0:
        return None
    weight = _weight_of_hypothetical(position.policy.basis, chip)
    if weight == 0:
        return None
    with localcontext(EXACT):
        slack = position.committed - position.required
        if slack <= 0:
            return 0
        # Decimal's // is exact integer division (no rounding), and both sides are positive.
        return int(slack // (position.policy.ratio * weight))
