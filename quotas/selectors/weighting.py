"""Imported and committed totals, weighted by basis: integer sums grouped in the database,
weighted exactly with ``Decimal`` in Python (see ``quotas.selectors`` for the why).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, connections
from django.db.models import BigIntegerField, F, Model, QuerySet, Sum, Value
from django.db.models.functions import Cast, Round

from common.compiled import CompiledStatements
from licences.models import ChipModel, ImportLicence, Shipment
from quotas.models import DomesticCommitment, QuotaPolicy
from quotas.selectors.as_of import (
    Basis,
    CompanyScope,
    MeasuredOn,
    commitments_counted_as_of,
    end_of_day,
    licences_in_force,
    shipments_cleared_as_of,
)

# How each source is weighted on each basis. The large tables are grouped by a column of
# their own and never joined: joining a million shipments to the chip or licence table
# costs more than the sum itself, while the weights of a few chips or of the licences are
# one small query.
#   None              weight 1                  GROUP BY company
#   ("column", f)     the row's own column f    GROUP BY company, f
#   ("chip", f)       the chip's field f        GROUP BY company, chip_id (+ one query on chips)
#   ("licence", f)    the licence's field f     GROUP BY licence (+ one query on licences, for company and weight)
WeightRule = tuple[str, str] | None
IMPORT_WEIGHT: dict[tuple[str, str], WeightRule] = {
    (MeasuredOn.LICENSED, Basis.UNITS): None,
    (MeasuredOn.LICENSED, Basis.VALUE): ("column", "unit_value_usd"),
    (MeasuredOn.LICENSED, Basis.COMPUTE): ("chip", "compute_index"),
    (MeasuredOn.CLEARED, Basis.UNITS): None,
    (MeasuredOn.CLEARED, Basis.VALUE): ("licence", "unit_value_usd"),
    (MeasuredOn.CLEARED, Basis.COMPUTE): ("chip", "compute_index"),
}
COMMITMENT_WEIGHT: dict[str, WeightRule] = {
    Basis.UNITS: None,
    Basis.VALUE: ("column", "unit_price_usd"),
    Basis.COMPUTE: ("chip", "compute_index"),
}


def _scaled(field: str, places: int) -> Cast:
    """A weight column with ``places`` decimals as an exact integer in SQL (``6.000`` -> ``6000``).

    Exact on every engine: PostgreSQL computes in ``numeric``; SQLite may hold the value
    as a double, but for the sizes these columns allow (under 2**53 once scaled) the
    product is within 0.5 of the integer and ``ROUND`` lands on it.
    """
    return Cast(Round(F(field) * Value(10**places)), output_field=BigIntegerField())


class _Weights:
    """The chip and licence weights of one computation, each loaded by one query when first needed.

    Weights are held as integers scaled by their field's decimal places, so the per-row
    weighting is integer arithmetic (exact and fast); totals become ``Decimal`` at the end.
    Licence weights carry the licence's company, so shipments need only be grouped by licence.
    """

    def __init__(self, scope: CompanyScope, chips: Sequence[ChipModel] | None = None) -> None:
        self.scope = scope
        self.chips = chips  # the whole catalogue, when the caller has read it already
        self._loaded: dict[tuple[str, str], dict[int, tuple[int, int]]] = {}

    def of(self, kind: str, field: str, places: int) -> dict[int, tuple[int, int]]:
        """``{chip or licence id: (company id or 0, scaled weight)}``."""
        if (kind, field) not in self._loaded:
            rows: Iterable[tuple[int, int, int]]
            if kind == "chip" and self.chips is not None:
                # The field has ``places`` decimals: scaled, it is a whole number (no rounding).
                rows = [(chip.pk, 0, int(Decimal(getattr(chip, field)).scaleb(places))) for chip in self.chips]
            elif kind == "chip":
                rows = ChipModel.objects.order_by().values_list("pk", Value(0), _scaled(field, places))
            else:
                licences = ImportLicence.objects.order_by()
                if self.scope is not None:
                    licences = licences.filter(company_id__in=self.scope)
                rows = licences.values_list("pk", "company_id", _scaled(field, places))
            self._loaded[kind, field] = {pk: (owner, weight) for pk, owner, weight in rows}
        return self._loaded[kind, field]


def _grouped(
    queryset: QuerySet[Any], quantity: str, rule: WeightRule, tag: int, *, licence: str = "licence_id", sign: int = 1
) -> QuerySet[Any]:
    """``sign x sum(quantity)`` grouped by what decides the weight under ``rule`` (a values_list queryset).

    Rows: ``(tag, key, key or 0, total)``, the keys being ``company_id`` (weight 1),
    ``company_id, scaled weight`` (own column), ``company_id, chip_id`` (chip) or the
    licence id (licence; ``licence`` names the column holding it). The tag and the padding
    let sums grouped under different rules share one ``UNION ALL``
    (:func:`imported_and_committed_totals`).
    """
    # Cast back to bigint: PostgreSQL's SUM(bigint) is numeric, slower to fetch and convert.
    total = Cast(Sum(quantity) if sign > 0 else -Sum(quantity), output_field=BigIntegerField())
    queryset = queryset.order_by()
    if rule is None:
        keys: list[Any] = ["company_id"]
    elif rule[0] == "column":
        places = queryset.model._meta.get_field(rule[1]).decimal_places
        keys = ["company_id", _scaled(rule[1], places)]
    elif rule[0] == "chip":
        keys = ["company_id", "chip_id"]
    else:
        # Grouped by licence alone (it fixes the company): a (company, licence) grouping
        # leads PostgreSQL to a sort instead of a hash aggregate.
        keys = [licence]
    # The tag and the padding are constants: not grouped by.
    grouped: QuerySet[Any] = queryset.values_list(Value(tag), *keys, *[Value(0)] * (TAGGED_KEYS - len(keys))).annotate(
        total=total
    )
    return grouped


#: The tags of grouped rows, and their key columns (the most any rule groups by).
IMPORTS, COMMITMENTS = 0, 1
TAGGED_KEYS = 2


def _weigh(rows: Iterable[tuple[int, ...]], rule: WeightRule, weights: _Weights, places: int) -> dict[int, Decimal]:
    """``{company_id: sum(quantity x weight)}`` from the tagged rows of :func:`_grouped`
    (``(tag, key, key or 0, total)``; several rows may share a key), unpacked as they come.

    A company whose total is nil is left out (it reads as ``0``, as one with no rows).
    """
    totals: dict[int, int] = defaultdict(int)
    if rule is None:
        for _tag, company_id, _padding, quantity_sum in rows:
            totals[company_id] += quantity_sum
    elif rule[0] == "column":
        for _tag, company_id, weight, quantity_sum in rows:
            totals[company_id] += quantity_sum * weight
    elif rule[0] == "chip":
        rows = list(rows)
        by_chip = weights.of("chip", rule[1], places) if rows else {}
        for _tag, company_id, chip_id, quantity_sum in rows:
            totals[company_id] += quantity_sum * by_chip[chip_id][1]
    else:
        rows = list(rows)
        by_licence = weights.of("licence", rule[1], places) if rows else {}
        for _tag, licence_id, _padding, quantity_sum in rows:
            company_id, weight = by_licence[licence_id]
            totals[company_id] += quantity_sum * weight
    return {company_id: Decimal(amount).scaleb(-places) for company_id, amount in totals.items() if amount}


def _places(model: type[Model], rule: WeightRule) -> int:
    """The decimal places of the weight under ``rule`` (``0`` for weight 1)."""
    if rule is None:
        return 0
    kind, field = rule
    owners: dict[str, type[Model]] = {"column": model, "chip": ChipModel, "licence": ImportLicence}
    owner = owners[kind]
    places: int = getattr(owner._meta.get_field(field), "decimal_places")  # noqa: B009 - any DecimalField
    return places


@dataclass(frozen=True)
class _Sums:
    """The grouped sums behind one weighted total: their queries, the weight rule and its decimal places."""

    parts: list[QuerySet[Any]]
    rule: WeightRule
    places: int


def _import_sums(
    policy: QuotaPolicy, on: dt.date, scope: CompanyScope, as_known_at: dt.datetime | None = None
) -> _Sums:
    """The grouped sums of the imports under ``policy`` on ``on`` (rows tagged ``IMPORTS``).

    Licensed imports are the grants of the licences in force (:func:`licences_in_force`).

    Cleared imports are read from the licences' ``used_quantity`` counters. A licence's
    ``used_quantity`` is the quantity of its shipments cleared so far: it moves exactly when
    a shipment clears (``customs_event_record`` and the customs-event batch), never
    otherwise, and clearing is final. So the quantity cleared by the end of ``on`` is the
    counters' sum less the shipments cleared after that day (none when ``on`` is recent;
    read through ``shipment_company_cleared_idx`` for a few companies): the same sum as over
    :func:`shipments_cleared_as_of`, without reading every cleared shipment (a large
    importer has hundreds of thousands, but few licences). As known at a moment
    (``as_known_at``) the counters, which hold what is known now, do not apply: the
    shipments whose clearance was recorded by then are summed instead.
    """
    rule = IMPORT_WEIGHT[policy.measured_on, policy.basis]
    if policy.measured_on == MeasuredOn.CLEARED:
        if rule is not None and rule[0] == "column":
            raise ValueError("Cleared imports are weighted by the chip or the licence, not a shipment column.")
        if as_known_at is not None:
            cleared = shipments_cleared_as_of(on, as_known_at)
            if scope is not None:
                cleared = cleared.filter(company_id__in=scope)
            return _Sums([_grouped(cleared, "quantity", rule, IMPORTS)], rule, _places(Shipment, rule))
        licences = ImportLicence.objects.filter(used_quantity__gt=0)
        cleared_later = Shipment.objects.filter(cleared_at__gte=end_of_day(on))
        if scope is not None:
            licences = licences.filter(company_id__in=scope)
            cleared_later = cleared_later.filter(company_id__in=scope)
        parts = [
            _grouped(licences, "used_quantity", rule, IMPORTS, licence="pk"),
            _grouped(cleared_later, "quantity", rule, IMPORTS, sign=-1),
        ]
        return _Sums(parts, rule, _places(Shipment, rule))
    queryset = licences_in_force(on, as_known_at)
    if scope is not None:
        queryset = queryset.filter(company_id__in=scope)
    return _Sums([_grouped(queryset, "granted_quantity", rule, IMPORTS)], rule, _places(ImportLicence, rule))


def _commitment_sums(
    policy: QuotaPolicy, on: dt.date, scope: CompanyScope, as_known_at: dt.datetime | None = None
) -> _Sums:
    """The grouped sums of the counted commitments (rows tagged ``COMMITMENTS``; none when no status counts)."""
    rule = COMMITMENT_WEIGHT[policy.basis]
    places = _places(DomesticCommitment, rule)
    counted = policy.counted_statuses
    if not counted:
        return _Sums([], rule, places)
    queryset = commitments_counted_as_of(on, counted, as_known_at)
    if scope is not None:
        queryset = queryset.filter(company_id__in=scope)
    return _Sums([_grouped(queryset, "quantity", rule, COMMITMENTS)], rule, places)


def _plain_rows(queryset: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """The rows of a ``values_list`` queryset whose columns are all integers or text, as the driver gives them.

    Django's iteration runs an ``int()`` converter over every integer expression of every
    row; the drivers already return ``int`` for these columns (``bigint`` on PostgreSQL,
    ``INTEGER`` on SQLite) and ``str`` for text, so the compiled statement is run on the
    cursor directly: the same SQL, a third less time for a few thousand rows.
    """
    try:
        sql, params = queryset.query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:  # e.g. a scope of no companies: nothing to read
        return []
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


@dataclass(frozen=True)
class _TotalsInputs:
    """What fills the totals statement's parameters (its shape aside)."""

    on: dt.date
    scope: CompanyScope  # a sorted tuple of ids where the statement is cached
    as_known_at: dt.datetime | None
    policy: QuotaPolicy


def _totals_query(inputs: _TotalsInputs) -> QuerySet[Any]:
    """The grouped sums of imports and counted commitments, tagged, in one ``UNION ALL``."""
    imports = _import_sums(inputs.policy, inputs.on, inputs.scope, inputs.as_known_at)
    commitments = _commitment_sums(inputs.policy, inputs.on, inputs.scope, inputs.as_known_at)
    parts = imports.parts + commitments.parts
    return parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]


def _totals_slots(inputs: _TotalsInputs) -> dict[Any, Any]:
    """Each input's parameter value as the database adapter gives it (see ``common.compiled``)."""
    ops = connection.ops
    slots: dict[Any, Any] = {
        "on": ops.adapt_datefield_value(inputs.on),
        "end_of_day": ops.adapt_datetimefield_value(end_of_day(inputs.on)),
    }
    if inputs.as_known_at is not None:
        slots["as_known_at"] = ops.adapt_datetimefield_value(inputs.as_known_at)
    for index, company_id in enumerate(inputs.scope if isinstance(inputs.scope, tuple) else ()):
        slots["scope", index] = company_id
    return slots


#: The totals statement compiled once per shape (the database and time zone; the policy's
#: measure, basis and counted statuses; how many companies; as known now or at a moment);
#: see ``common.compiled``.
TOTALS_STATEMENTS: CompiledStatements[_TotalsInputs] = CompiledStatements(_totals_query, _totals_slots)
CACHED_SCOPE_MAX = 64
_SENTINEL_DAY = dt.date(1111, 11, 11)
_SENTINEL_MOMENT = dt.datetime(1212, 12, 12, 12, 12, 12, tzinfo=dt.UTC)
_SENTINEL_ID = -(10**15)


def _totals_rows(policy: QuotaPolicy, on: dt.date, scope: CompanyScope, as_known_at: dt.datetime | None) -> list[Any]:
    """The rows of :func:`_totals_query`: compiled once per shape where the scope is everyone or
    a few companies' ids (up to ``CACHED_SCOPE_MAX``); a subquery scope, or a sweep chunk's
    thousands of ids, is compiled on each call (there the compile is a small part of the read,
    and a template per chunk size would hold thousands of parameters)."""
    if scope is not None and (not isinstance(scope, Sequence) or len(scope) > CACHED_SCOPE_MAX):
        return _plain_rows(_totals_query(_TotalsInputs(on, scope, as_known_at, policy)))
    ids = None if scope is None else tuple(sorted(set(scope)))  # as the IN list reads them, in any order
    inputs = _TotalsInputs(on, ids, as_known_at, policy)
    sentinel = _TotalsInputs(
        _SENTINEL_DAY,
        None if ids is None else tuple(_SENTINEL_ID + index for index in range(len(ids))),
        None if as_known_at is None else _SENTINEL_MOMENT,
        policy,
    )
    shape = (
        connection.vendor, settings.TIME_ZONE, policy.measured_on, policy.basis, tuple(policy.counted_statuses),
        None if ids is None else len(ids), as_known_at is None,
    )  # fmt: skip
    statement = TOTALS_STATEMENTS.statement(shape, inputs, sentinel)
    if statement is None:
        return []
    with connection.cursor() as cursor:
        cursor.execute(*statement)
        rows: list[Any] = cursor.fetchall()
    return rows


def imported_and_committed_totals(
    policy: QuotaPolicy,
    on: dt.date,
    scope: CompanyScope = None,
    weights: _Weights | None = None,
    as_known_at: dt.datetime | None = None,
) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """Weighted imports and weighted counted commitments per company on ``on`` under ``policy``,
    as known at ``as_known_at`` (everything recorded so far when ``None``).

    One query, plus one for the chip or licence weights where the basis needs them: the
    grouped sums of both (:func:`_import_sums`, :func:`_commitment_sums`) are tagged,
    padded to the same columns and read in one ``UNION ALL``, compiled once per shape
    (:data:`TOTALS_STATEMENTS`). A company without rows reads as ``0``.
    """
    weights = weights or _Weights(scope)
    import_rule = IMPORT_WEIGHT[policy.measured_on, policy.basis]
    commitment_rule = COMMITMENT_WEIGHT[policy.basis]
    import_model = Shipment if policy.measured_on == MeasuredOn.CLEARED else ImportLicence
    tagged: tuple[list[tuple[int, ...]], list[tuple[int, ...]]] = ([], [])
    for row in _totals_rows(policy, on, scope, as_known_at):
        tagged[row[0]].append(row)
    return (
        _weigh(tagged[IMPORTS], import_rule, weights, _places(import_model, import_rule)),
        _weigh(tagged[COMMITMENTS], commitment_rule, weights, _places(DomesticCommitment, commitment_rule)),
    )
