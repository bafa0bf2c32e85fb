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

"As of a date" means as the records stood at the end of that day in the service's time
zone (``settings.TIME_ZONE``): licences approved and not yet suspended, revoked, expired
or rejected by then, shipments cleared by then, commitments pledged and not cancelled by
then, each counted in the status it had reached by then.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Context, Decimal, Inexact, localcontext
from operator import attrgetter
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import BigIntegerField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, Round

from common.errors import DomainError
from licences.models import ChipModel, Company, ImportLicence, Shipment
from quotas.models import DomesticCommitment, QuotaPolicy

ZERO = Decimal("0")
ONE = Decimal("1")
COVERAGE_QUANTUM = Decimal("0.0001")
# Shortfalls are rounded up (never understated) to the basis's natural unit.
SHORTFALL_QUANTUM: dict[str, Decimal] = {
    QuotaPolicy.Basis.UNITS: Decimal("1"),
    QuotaPolicy.Basis.VALUE: Decimal("0.01"),
    QuotaPolicy.Basis.COMPUTE: Decimal("0.001"),
}
# Sums and products of quantities and weights must be exact: a rounding here is a bug, so
# it raises instead of passing silently.
EXACT = Context(prec=60, traps=[Inexact])
DIVISION = Context(prec=60)

Basis = QuotaPolicy.Basis
MeasuredOn = QuotaPolicy.MeasuredOn
CommitmentStatus = DomesticCommitment.Status

ChipRef = ChipModel | str
HypotheticalRows = Sequence[tuple[ChipRef, int]]
# Which companies a query covers: all (None), a list of ids, or a subquery of ids.
CompanyScope = Sequence[int] | QuerySet | None


# --- Value objects ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompanyRef:
    """The company a position belongs to."""

    id: int
    slug: str
    name: str


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


@dataclass(frozen=True, slots=True)
class QuotaPosition:
    """A company's quota position on a date under one policy. All amounts are ``Decimal``.

    Amounts are in the policy's basis: chips (units), USD (value) or H20-equivalents
    (compute). ``imported``, ``committed`` and ``required`` are exact; ``shortfall`` is
    rounded up to the basis's unit (whole chips, cents, thousandths of an H20);
    ``coverage`` is ``committed / required`` to four places (``1`` when nothing is
    required), never shown as ``1`` or more while there is a shortfall.

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

    @property
    def has_policy(self) -> bool:
        return self.policy is not None

    @property
    def is_short(self) -> bool:
        return self.shortfall > 0

    def headroom(self, chip: ChipModel) -> int | None:
        """See :func:`headroom`."""
        return headroom(self, chip)


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


# --- Dates ------------------------------------------------------------------------------------


def end_of_day(on: dt.date) -> dt.datetime:
    """The first instant after ``on`` in the service time zone: the exclusive as-of bound."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    return dt.datetime.combine(on + dt.timedelta(days=1), dt.time.min, tzinfo=zone)


# --- Policy ---------------------------------------------------------------------------------


def policy_in_force(on: dt.date) -> QuotaPolicy | None:
    """The policy governing ``on``: an active (or since retired) policy whose window holds it.

    A retired policy keeps governing the dates inside its (closed) window, so a position
    on a past date is computed under the rule of that date. Windows are inclusive at both
    ends; ``effective_until`` empty means open-ended. Activation refuses overlapping
    windows, so at most one policy matches.

    Written as SQL: every quota read looks the policy up, and building this statement
    through the ORM took three times as long as running it (0.75 ms against 0.27 ms).
    """
    quote = connection.ops.quote_name
    column = {name: quote(QuotaPolicy._meta.get_field(name).column) for name in
              ("status", "effective_from", "effective_until", "version")}  # fmt: skip
    day = connection.ops.adapt_datefield_value(on)
    statement = (
        f"SELECT * FROM {quote(QuotaPolicy._meta.db_table)} "  # noqa: S608 - names from the model, values as parameters
        f"WHERE {column['status']} IN (%s, %s) AND {column['effective_from']} <= %s "
        f"AND ({column['effective_until']} IS NULL OR {column['effective_until']} >= %s) "
        f"ORDER BY {column['effective_from']} DESC, {column['version']} DESC LIMIT 1"
    )
    found = QuotaPolicy.objects.raw(statement, [QuotaPolicy.Status.ACTIVE, QuotaPolicy.Status.RETIRED, day, day])
    return next(iter(found), None)


def _resolve_policy(on: dt.date, policy: QuotaPolicy | None) -> QuotaPolicy | None:
    return policy if policy is not None else policy_in_force(on)


# --- The set-based queries ------------------------------------------------------------------


def licences_approved_as_of(on: dt.date) -> QuerySet[ImportLicence]:
    """Licences approved by the end of ``on`` and not suspended, revoked, expired or rejected by then.

    A reinstated licence has its ``suspended_at`` cleared, so it counts again throughout.
    """
    cutoff = end_of_day(on)
    standing = Q(approved_at__lt=cutoff)
    for ended in ("suspended_at", "revoked_at", "expired_at", "rejected_at"):
        standing &= Q(**{f"{ended}__isnull": True}) | Q(**{f"{ended}__gte": cutoff})
    return ImportLicence.objects.filter(standing)


def shipments_cleared_as_of(on: dt.date) -> QuerySet[Shipment]:
    """Shipments cleared through customs by the end of ``on``."""
    return Shipment.objects.filter(cleared_at__lt=end_of_day(on))


def commitments_counted_as_of(on: dt.date, counted_statuses: Iterable[str]) -> QuerySet[DomesticCommitment]:
    """Commitments pledged by ``on``, not cancelled by then, in a counted status as of ``on``.

    The status on a past date is read from the dates, not the current status: a commitment
    contracted on 1 March was only pledged on 28 February; one cancelled on 1 March still
    stood on 28 February.
    """
    delivered = Q(delivered_on__lte=on)
    contracted = Q(contracted_on__lte=on)
    not_delivered = Q(delivered_on__isnull=True) | Q(delivered_on__gt=on)
    not_contracted = Q(contracted_on__isnull=True) | Q(contracted_on__gt=on)
    status_on = {
        CommitmentStatus.DELIVERED: delivered,
        CommitmentStatus.CONTRACTED: contracted & not_delivered,
        CommitmentStatus.PLEDGED: not_contracted & not_delivered,
    }
    counted = Q(pk__in=[])
    for status in counted_statuses:
        counted |= status_on[status]
    return DomesticCommitment.objects.filter(
        Q(pledged_on__lte=on) & (Q(cancelled_on__isnull=True) | Q(cancelled_on__gt=on)) & counted
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
    queryset: QuerySet, quantity: str, rule: WeightRule, tag: int, *, licence: str = "licence_id", sign: int = 1
) -> QuerySet:
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
    return queryset.values_list(Value(tag), *keys, *[Value(0)] * (TAGGED_KEYS - len(keys))).annotate(total=total)


#: The tags of grouped rows, and their key columns (the most any rule groups by).
IMPORTS, COMMITMENTS = 0, 1
TAGGED_KEYS = 2


def _key_count(rule: WeightRule) -> int:
    return 1 if rule is None or rule[0] == "licence" else 2


def _weigh(rows: Iterable[tuple], rule: WeightRule, weights: _Weights, places: int) -> dict[int, Decimal]:
    """``{company_id: sum(quantity x weight)}`` from the rows of :func:`_grouped` (several rows may share a key).

    A company whose total is nil is left out (it reads as ``0``, as one with no rows).
    """
    totals: dict[int, int] = defaultdict(int)
    if rule is None:
        for company_id, quantity_sum in rows:
            totals[company_id] += quantity_sum
    elif rule[0] == "column":
        for company_id, weight, quantity_sum in rows:
            totals[company_id] += quantity_sum * weight
    elif rule[0] == "chip":
        rows = list(rows)
        by_chip = weights.of("chip", rule[1], places) if rows else {}
        for company_id, chip_id, quantity_sum in rows:
            totals[company_id] += quantity_sum * by_chip[chip_id][1]
    else:
        rows = list(rows)
        by_licence = weights.of("licence", rule[1], places) if rows else {}
        for licence_id, quantity_sum in rows:
            company_id, weight = by_licence[licence_id]
            totals[company_id] += quantity_sum * weight
    return {company_id: Decimal(amount).scaleb(-places) for company_id, amount in totals.items() if amount}


def _places(model: type, rule: WeightRule) -> int:
    """The decimal places of the weight under ``rule`` (``0`` for weight 1)."""
    if rule is None:
        return 0
    kind, field = rule
    owner = {"column": model, "chip": ChipModel, "licence": ImportLicence}[kind]
    return owner._meta.get_field(field).decimal_places


@dataclass(frozen=True)
class _Sums:
    """The grouped sums behind one weighted total: their queries, the weight rule and its decimal places."""

    parts: list[QuerySet]
    rule: WeightRule
    places: int


def _import_sums(policy: QuotaPolicy, on: dt.date, scope: CompanyScope) -> _Sums:
    """The grouped sums of the imports under ``policy`` on ``on`` (rows tagged ``IMPORTS``).

    Cleared imports are read from the licences' ``used_quantity`` counters. A licence's
    ``used_quantity`` is the quantity of its shipments cleared so far: it moves exactly when
    a shipment clears (``customs_event_record`` and the customs-event batch), never
    otherwise, and clearing is final. So the quantity cleared by the end of ``on`` is the
    counters' sum less the shipments cleared after that day (none when ``on`` is recent;
    read through ``shipment_company_cleared_idx`` for a few companies): the same sum as over
    :func:`shipments_cleared_as_of`, without reading every cleared shipment (a large
    importer has hundreds of thousands, but few licences).
    """
    rule = IMPORT_WEIGHT[policy.measured_on, policy.basis]
    if policy.measured_on == MeasuredOn.CLEARED:
        if rule is not None and rule[0] == "column":
            raise ValueError("Cleared imports are weighted by the chip or the licence, not a shipment column.")
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
    queryset = licences_approved_as_of(on)
    if scope is not None:
        queryset = queryset.filter(company_id__in=scope)
    return _Sums([_grouped(queryset, "granted_quantity", rule, IMPORTS)], rule, _places(ImportLicence, rule))


def _commitment_sums(policy: QuotaPolicy, on: dt.date, scope: CompanyScope) -> _Sums:
    """The grouped sums of the counted commitments (rows tagged ``COMMITMENTS``; none when no status counts)."""
    rule = COMMITMENT_WEIGHT[policy.basis]
    places = _places(DomesticCommitment, rule)
    counted = policy.counted_statuses
    if not counted:
        return _Sums([], rule, places)
    queryset = commitments_counted_as_of(on, counted)
    if scope is not None:
        queryset = queryset.filter(company_id__in=scope)
    return _Sums([_grouped(queryset, "quantity", rule, COMMITMENTS)], rule, places)


def imported_and_committed_totals(
    policy: QuotaPolicy, on: dt.date, scope: CompanyScope = None, weights: _Weights | None = None
) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """Weighted imports and weighted counted commitments per company on ``on`` under ``policy``.

    One query, plus one for the chip or licence weights where the basis needs them: the
    grouped sums of both (:func:`_import_sums`, :func:`_commitment_sums`) are tagged,
    padded to the same columns and read in one ``UNION ALL``. A company without rows
    reads as ``0``.
    """
    weights = weights or _Weights(scope)
    imports, commitments = _import_sums(policy, on, scope), _commitment_sums(policy, on, scope)
    parts = imports.parts + commitments.parts
    rows = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    widths = (_key_count(imports.rule), _key_count(commitments.rule))
    tagged: tuple[list[tuple], list[tuple]] = ([], [])
    for tag, *keys, total in rows:
        tagged[tag].append((*keys[: widths[tag]], total))  # the padding dropped: the untagged row
    return (
        _weigh(tagged[IMPORTS], imports.rule, weights, imports.places),
        _weigh(tagged[COMMITMENTS], commitments.rule, weights, commitments.places),
    )


# --- The arithmetic -------------------------------------------------------------------------


def _tidy(amount: Decimal) -> Decimal:
    """The same value without trailing zeros (``60000.0000`` -> ``60000``), never in E-notation."""
    if amount == amount.to_integral_value():
        return amount.quantize(ONE)
    return amount.normalize(DIVISION)


# Context methods rather than ``localcontext`` blocks: this runs once per company.
_multiply, _subtract, _divide = EXACT.multiply, EXACT.subtract, DIVISION.divide


def position_from_totals(
    *, company: CompanyRef, on: dt.date, policy: PolicyTerms | None, imported: Decimal, committed: Decimal
) -> QuotaPosition:
    """The quota arithmetic for one company from its weighted totals (no query).

    ``imported`` and ``committed`` keep the precision of their weights (whole chips, cents,
    thousandths of a compute index); ``required`` is shown without trailing zeros.
    """
    if policy is None:
        return QuotaPosition(
            company=company, on=on, policy=None, imported=ZERO, committed=ZERO, required=ZERO, shortfall=ZERO,
            coverage=ONE,
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
    )


def _company_refs(companies: Iterable[Company] | QuerySet[Company] | None) -> list[CompanyRef]:
    if companies is None:
        companies = Company.objects.all()
    if isinstance(companies, QuerySet):
        rows = companies.order_by().values_list("pk", "slug", "name")
        refs = [CompanyRef(id=pk, slug=slug, name=name) for pk, slug, name in rows]
    else:
        refs = [CompanyRef(id=company.pk, slug=company.slug, name=company.name) for company in companies]
    # Sorted here, not by the database, so the order is the same on every engine and collation.
    return sorted(refs, key=attrgetter("name", "slug"))


def _positions(
    *,
    refs: list[CompanyRef],
    on: dt.date,
    policy: QuotaPolicy | None,
    scope: CompanyScope,
    chips: Sequence[ChipModel] | None = None,
) -> list[QuotaPosition]:
    if policy is None:
        imported: dict[int, Decimal] = {}
        committed: dict[int, Decimal] = {}
        terms = None
    else:
        imported, committed = imported_and_committed_totals(policy, on, scope, _Weights(scope, chips))
        terms = PolicyTerms.of(policy)
    return [
        position_from_totals(
            company=ref, on=on, policy=terms, imported=imported.get(ref.id, ZERO), committed=committed.get(ref.id, ZERO)
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
) -> list[QuotaPosition]:
    """Every company's quota position on ``on``, sorted by company name.

    ``policy`` defaults to the policy in force on ``on`` (pass a draft to study it).
    ``companies`` narrows the result to a queryset or a list of companies. Runs in at most
    four queries (policy in force, companies, imports and commitments in one, and the chip
    or licence weights when the basis needs them) whatever the number of companies, licences,
    shipments and commitments. A caller that has read the whole chip catalogue already
    passes it as ``chips``, saving the query for the chip weights.
    """
    policy = _resolve_policy(on, policy)
    refs = _company_refs(companies)
    if companies is None:
        scope: CompanyScope = None
    elif isinstance(companies, QuerySet):
        scope = companies.values("pk")
    else:
        scope = [ref.id for ref in refs]
    return _positions(refs=refs, on=on, policy=policy, scope=scope, chips=chips)


def quota_position(
    *, company: Company, on: dt.date, policy: QuotaPolicy | None = None, chips: Sequence[ChipModel] | None = None
) -> QuotaPosition:
    """One company's quota position on ``on`` (one to three queries; see ``quota_positions``)."""
    return quota_positions(on=on, policy=policy, companies=[company], chips=chips)[0]


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
            f"{chip.code} is not a foreign chip; headroom is for imports.", code="import_chip_not_foreign"
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


def _resolve_chips(codes: set[str]) -> dict[str, ChipModel]:
    chips = {chip.code: chip for chip in ChipModel.objects.filter(code__in=codes)} if codes else {}
    unknown = sorted(codes - chips.keys())
    if unknown:
        raise DomainError(
            f"Unknown chip model(s): {', '.join(unknown)}.", code="unknown_chip", fields={"chip": unknown}
        )
    return chips


def _checked_quantities(rows: HypotheticalRows, *, field: str) -> list[tuple[ChipRef, int]]:
    checked = []
    for chip, quantity in rows:
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise DomainError(
                f"Quantity {quantity!r} is not a positive whole number of chips.",
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
                f"{chip.code} is a domestic chip; only foreign chips are imported under licence.",
                code="import_chip_not_foreign",
                fields={"imports": [chip.code]},
            )
    for chip, _ in extra_commitments:
        if chip.origin != ChipModel.Origin.DOMESTIC:
            raise DomainError(
                f"{chip.code} is a foreign chip; a commitment must be to domestic chips.",
                code="commitment_chip_not_domestic",
                fields={"commitments": [chip.code]},
            )

    current = quota_position(company=company, on=on, policy=policy)
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
        company=current.company, on=on, policy=current.policy, imported=imported, committed=committed
    )


def policy_impact(*, draft: QuotaPolicy, on: dt.date) -> list[PolicyImpactRow]:
    """Every company's position under ``draft`` beside its position under the policy in force on ``on``.

    Sorted by the rise in shortfall, largest first (then by company name). When the draft's
    basis differs from the policy in force, shortfalls are in different units, so rows are
    sorted by the fall in coverage instead and ``shortfall_change`` is ``None``. Runs in a
    constant number of queries (at most six) whatever the data size.
    """
    in_force = policy_in_force(on)
    refs = _company_refs(None)
    current = _positions(refs=refs, on=on, policy=in_force, scope=None)
    proposed = _positions(refs=refs, on=on, policy=draft, scope=None)
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
        rows.sort(key=lambda row: (-row.shortfall_change, row.company.name, row.company.slug))
    else:
        rows.sort(key=lambda row: (row.coverage_change, -row.proposed.shortfall, row.company.name, row.company.slug))
    return rows
