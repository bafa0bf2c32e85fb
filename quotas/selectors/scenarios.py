"""Hypothetical reads: ``what_if`` (extra imports or commitments) and ``policy_impact`` (a draft
policy beside the one in force).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, localcontext

from django.utils.translation import gettext

from common.errors import DomainError
from licences.models import ChipModel, Company
from quotas.models import QuotaPolicy
from quotas.selectors.as_of import (
    EXACT,
    ZERO,
    ChipRef,
    HypotheticalRows,
    _resolve_policy,
)
from quotas.selectors.positions import (
    CompanyRef,
    QuotaPosition,
    _company_refs,
    _positions,
    _weight_of_hypothetical,
    position_from_totals,
    quota_position,
)


@dataclass(frozen=True, slots=True)
class PolicyImpactRow:
    """One company's position under a draft policy beside its position under the policy in force.

    ``shortfall_change`` is ``proposed.shortfall - current.shortfall`` when the two are in
    the same unit (same basis, or no policy in force so nothing is currently required);
    ``None`` when the bases differ and shortfalls cannot be compared. ``coverage_change``
    is always comparable.
    """

    company: CompanyRef
    current: QuotaPosition
    proposed: QuotaPosition
    shortfall_change: Decimal | None
    coverage_change: Decimal

    @property
    def newly_short(self) -> bool:
        return self.proposed.is_short and not self.current.is_short


def _resolve_chips(codes: set[str]) -> dict[str, ChipModel]:
    chips = {chip.code: chip for chip in ChipModel.objects.filter(code__in=codes)} if codes else {}
    unknown = sorted(codes - chips.keys())
    if unknown:
        raise DomainError(
            gettext("Unknown chip model(s): %(join_unknown)s.") % {"join_unknown": ", ".join(unknown)},
            code="unknown_chip",
            fields={"chip": unknown},
        )
    return chips


def _checked_quantities(rows: HypotheticalRows, *, field: str) -> list[tuple[ChipRef, int]]:
    checked = []
    for chip, quantity in rows:
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise DomainError(
                gettext("Quantity %(quantity)s is not a positive whole number of chips.")
                % {"quantity": f"{quantity!r}"},
                code="invalid_quantity",
                fields={field: ["quantities must be positive integers"]},
            )
        checked.append((chip, quantity))
    return checked


def what_if(
    *,
    company: Company,
    on: dt.date,
    imports: HypotheticalRows = (),
    commitments: HypotheticalRows = (),
    policy: QuotaPolicy | None = None,
    as_known_at: dt.datetime | None = None,
) -> QuotaPosition:
    """The position the company would have with extra imports and/or commitments. Writes nothing.

    ``imports`` and ``commitments`` are ``(chip, quantity)`` pairs; a chip is a
    ``ChipModel`` or its code. Hypothetical imports count as imported under the policy's
    measure; hypothetical commitments are assumed to reach a counted status. On a value
    basis they are weighted by the chip's ``reference_unit_value_usd``.

    Raises ``DomainError`` (nothing is read or written first) with code ``unknown_chip``,
    ``import_chip_not_foreign``, ``commitment_chip_not_domestic`` or ``invalid_quantity``.
    """
    imports = _checked_quantities(imports, field="imports")
    commitments = _checked_quantities(commitments, field="commitments")
    codes = {chip for chip, _ in (*imports, *commitments) if isinstance(chip, str)}
    by_code = _resolve_chips(codes)

    def chip_of(chip: ChipRef) -> ChipModel:
        return by_code[chip] if isinstance(chip, str) else chip

    extra_imports = [(chip_of(chip), quantity) for chip, quantity in imports]
    extra_commitments = [(chip_of(chip), quantity) for chip, quantity in commitments]
    for chip, _ in extra_imports:
        if chip.origin != ChipModel.Origin.FOREIGN:
            raise DomainError(
                gettext("%(code)s is a domestic chip; only foreign chips are imported under licence.")
                % {"code": chip.code},
                code="import_chip_not_foreign",
                fields={"imports": [chip.code]},
            )
    for chip, _ in extra_commitments:
        if chip.origin != ChipModel.Origin.DOMESTIC:
            raise DomainError(
                gettext("%(code)s is a foreign chip; a commitment must be to domestic chips.") % {"code": chip.code},
                code="commitment_chip_not_domestic",
                fields={"commitments": [chip.code]},
            )

    current = quota_position(company=company, on=on, policy=policy, as_known_at=as_known_at)
    if current.policy is None:
        return current
    basis = current.policy.basis
    with localcontext(EXACT):
        imported = current.imported + sum(
            (quantity * _weight_of_hypothetical(basis, chip) for chip, quantity in extra_imports), ZERO
        )
        committed = current.committed + sum(
            (quantity * _weight_of_hypothetical(basis, chip) for chip, quantity in extra_commitments), ZERO
        )
    return position_from_totals(
        company=current.company, on=on, policy=current.policy, imported=imported, committed=committed,
        as_known_at=as_known_at,
    )  # fmt: skip


def policy_impact(*, draft: QuotaPolicy, on: dt.date, as_known_at: dt.datetime | None = None) -> list[PolicyImpactRow]:
    """Every company's position under ``draft`` beside its position under the policy in force on ``on``,
    both from the records as known at ``as_known_at`` (the draft's terms are its current ones).

    Sorted by the rise in shortfall, largest first (then by company name). When the draft's
    basis differs from the policy in force, shortfalls are in different units, so rows are
    sorted by the fall in coverage instead and ``shortfall_change`` is ``None``. Runs in a
    constant number of queries (at most six) whatever the data size.
    """
    in_force = _resolve_policy(on, None, as_known_at)
    refs = _company_refs(None)
    current = _positions(refs=refs, on=on, policy=in_force, scope=None, as_known_at=as_known_at)
    proposed = _positions(refs=refs, on=on, policy=draft, scope=None, as_known_at=as_known_at)
    comparable = in_force is None or in_force.basis == draft.basis
    rows = [
        PolicyImpactRow(
            company=now.company,
            current=now,
            proposed=then,
            shortfall_change=then.shortfall - now.shortfall if comparable else None,
            coverage_change=then.coverage - now.coverage,
        )
        for now, then in zip(current, proposed, strict=True)
    ]
    if comparable:
        rows.sort(key=lambda row: (-(row.shortfall_change or ZERO), row.company.name, row.company.slug))
    else:
        rows.sort(key=lambda row: (row.coverage_change, -row.proposed.shortfall, row.company.name, row.company.slug))
    return rows
