"""Quota arithmetic: reads that compute a company's position under a quota policy.

For a company on a date, under a policy (the one in force on that date unless one is
given)::

    imported  = sum of imported quantity x weight
    committed = sum of counted domestic commitment quantity x weight
    required  = ratio x imported
    shortfall = max(0, required - committed)      rounded up (whole chips on a units basis)
    coverage  = committed / required               (1 when nothing is required)

The weight is 1 on a units basis, the unit value in USD on a value basis (the licence's
``unit_value_usd`` for imports, the commitment's ``unit_price_usd`` for commitments) and
the chip's ``compute_index`` on a compute basis.

Everything is set-based and exact: the database only sums integer quantities, grouped by
company and by what decides the weight (the chip, the licence or the unit value itself:
``GROUP BY company, chip``), never joining the large tables; the weighting is then done with
``Decimal`` in Python. Summing integers is exact on every engine (SQLite has no exact
decimal type, so ``SUM(quantity * weight)`` there would be a float), and the number of
grouped rows is bounded by companies x chips (or licences), not by shipments. Cleared imports
are read from the licences' ``used_quantity`` counters less the few shipments cleared after
the date (see ``_import_sums``), so a company with a hundred thousand cleared shipments
costs no more than one with ten. Positions for
every company take two queries (companies; imports and commitments in one ``UNION ALL``),
one more for the chip or licence weights on some bases and one to find the policy in
force, whatever the size of the data.

"As of a date" means as the records stood at the end of that day in the service's time zone
(valid time); "as known at" a moment, only what had been recorded by then (transaction time).
A licence counts on a date only if its decision ledger says it was in force then. The
definitions are written once, in ``quotas.selectors.as_of``'s docstring.

Split by concern (issue 13): ``as_of`` (dates, the policy in force, the as-of querysets),
``weighting`` (the grouped sums and their weights), ``positions`` (the arithmetic and the
public position reads) and ``scenarios`` (what-if and policy impact). Every public name is
re-exported here, so ``from quotas.selectors import x`` and ``selectors.x`` keep working.
"""

from quotas.selectors.as_of import (
    COVERAGE_QUANTUM,
    DIVISION,
    EXACT,
    ONE,
    SHORTFALL_QUANTUM,
    ZERO,
    Basis,
    ChipRef,
    CommitmentStatus,
    CompanyScope,
    HypotheticalRows,
    MeasuredOn,
    commitments_counted_as_of,
    end_of_day,
    licence_status_on,
    licences_in_force,
    policy_in_force,
    policy_in_force_as_known_at,
    shipments_cleared_as_of,
)
from quotas.selectors.positions import (
    CompanyRef,
    PolicyTerms,
    QuotaPosition,
    headroom,
    position_from_totals,
    quota_position,
    quota_positions,
)
from quotas.selectors.scenarios import (
    PolicyImpactRow,
    policy_impact,
    what_if,
)
from quotas.selectors.weighting import (
    COMMITMENT_WEIGHT,
    IMPORT_WEIGHT,
    TAGGED_KEYS,
    WeightRule,
    imported_and_committed_totals,
)

__all__ = [
    "COMMITMENT_WEIGHT",
    "COVERAGE_QUANTUM",
    "DIVISION",
    "EXACT",
    "IMPORT_WEIGHT",
    "ONE",
    "SHORTFALL_QUANTUM",
    "TAGGED_KEYS",
    "ZERO",
    "Basis",
    "ChipRef",
    "CommitmentStatus",
    "CompanyRef",
    "CompanyScope",
    "HypotheticalRows",
    "MeasuredOn",
    "PolicyImpactRow",
    "PolicyTerms",
    "QuotaPosition",
    "WeightRule",
    "commitments_counted_as_of",
    "end_of_day",
    "headroom",
    "imported_and_committed_totals",
    "licence_status_on",
    "licences_in_force",
    "policy_impact",
    "policy_in_force",
    "policy_in_force_as_known_at",
    "position_from_totals",
    "quota_position",
    "quota_positions",
    "shipments_cleared_as_of",
    "what_if",
]
