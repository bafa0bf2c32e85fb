"""Quota reads' shared terms: constants, the as-of bound, the policy in force and the as-of querysets.

Time: what the service means by "on D" and "as known at K" (written once, here; the README
and docs/domain.md point to it).

- **Valid time** is when a fact took effect in the world: a licence decision's
  ``effective_on``, a customs event's ``occurred_at``, a commitment change's date
  (``pledged_on``, ``contracted_on``, a delivery's or cancellation's ``on``).
- **Transaction time** is when the service recorded it: the ``recorded_at`` of a
  ``LicenceDecision``, a ``CustomsEvent`` or a ``CommitmentChange``. The ledgers are
  append-only: a correction is a new row, never an edit.

"The position on date D" reads valid time: the records as they stood at the end of D in the
service time zone (``settings.TIME_ZONE``, Asia/Shanghai). "As known at K" (``as_known_at``,
an aware datetime) reads transaction time too: only rows recorded at or before K count, so an
answer given at K can be given again, unchanged, after back-dated corrections. Without K the
answer uses everything recorded so far.

A licence is **in force** on D (as known at K) when

1. its latest decision effective on or before D (and recorded by K), latest by effective
   date and then by recording order, left it *approved*: an approval, a reinstatement or a
   grant change. A suspension, revocation, expiry or rejection takes it out from its
   effective day; and
2. D lies within its validity window, ``valid_from`` to ``valid_until`` inclusive, whether
   or not an expiry has been recorded yet.

So a licence suspended from 1 to 9 April and reinstated on 10 April is out of force on 1-9
April for ever, and a paper licence approved in January but entered in March is in force in
January (as known now; as known in February, it was not). Its granted quantity and window
are the licence's own (set at approval; no service changes them afterwards).

What counts on D: under a *licensed* measure, the granted quantity of the licences in force;
under a *cleared* measure, the shipments whose clearance occurred by the end of D (as known at
K: whose ``cleared`` customs event was recorded by K); commitments in the status they had on
D (pledged by D and not cancelled by D, contracted or delivered by D; as known at K: the
status of their latest change effective by D and recorded by K). The policy is the one in
force on D (as known at K: as its history stood at K).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence
from decimal import Context, Decimal, Inexact
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Exists, Max, OuterRef, Q, QuerySet, Subquery

from licences.models import ChipModel, CustomsEvent, ImportLicence, LicenceDecision, Shipment
from quotas.models import CommitmentChange, DomesticCommitment, QuotaPolicy

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
CompanyScope = Sequence[int] | QuerySet[Any] | None

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
    fields = {field.name: field for field in QuotaPolicy._meta.concrete_fields}
    column = {
        name: quote(str(fields[name].column)) for name in ("status", "effective_from", "effective_until", "version")
    }
    day = connection.ops.adapt_datefield_value(on)
    statement = (
        f"SELECT * FROM {quote(QuotaPolicy._meta.db_table)} "  # noqa: S608 - names from the model, values as parameters
        f"WHERE {column['status']} IN (%s, %s) AND {column['effective_from']} <= %s "
        f"AND ({column['effective_until']} IS NULL OR {column['effective_until']} >= %s) "
        f"ORDER BY {column['effective_from']} DESC, {column['version']} DESC LIMIT 1"
    )
    found = QuotaPolicy.objects.raw(statement, [QuotaPolicy.Status.ACTIVE, QuotaPolicy.Status.RETIRED, day, day])
    return next(iter(found), None)


def policy_in_force_as_known_at(on: dt.date, as_known_at: dt.datetime) -> QuotaPolicy | None:
    """The policy governing ``on`` as the service knew it at ``as_known_at``.

    Read from the policies' history (django-simple-history): each policy as its last
    history row at or before ``as_known_at`` left it, so a policy activated, retired or
    created later is seen as it then stood (or not at all). The instance returned is that
    historical state, not the current row.
    """
    historical = QuotaPolicy.history.model
    latest = (
        historical.objects.filter(id=OuterRef("id"), history_date__lte=as_known_at)
        .order_by()
        .values("id")
        .annotate(top=Max("history_id"))
        .values("top")
    )
    found = (
        historical.objects.filter(
            history_date__lte=as_known_at,
            history_id=Subquery(latest),
            status__in=[QuotaPolicy.Status.ACTIVE, QuotaPolicy.Status.RETIRED],
            effective_from__lte=on,
        )
        .exclude(history_type="-")
        .filter(Q(effective_until__isnull=True) | Q(effective_until__gte=on))
        .order_by("-effective_from", "-version")
        .first()
    )
    return found.instance if found is not None else None


def _resolve_policy(
    on: dt.date, policy: QuotaPolicy | None, as_known_at: dt.datetime | None = None
) -> QuotaPolicy | None:
    if policy is not None:
        return policy
    return policy_in_force(on) if as_known_at is None else policy_in_force_as_known_at(on, as_known_at)


# --- The set-based queries ------------------------------------------------------------------


def licence_status_on(on: dt.date, as_known_at: dt.datetime | None = None) -> Subquery:
    """A licence's status on ``on`` by its ledger, as known at ``as_known_at``: a subquery
    correlated on the licence (``OuterRef("pk")``), ``NULL`` before its first row.

    The latest row effective by ``on`` (then by recording order), one backward probe of
    ``licence_decision_state_idx`` per licence.
    """
    rows = LicenceDecision.objects.filter(licence=OuterRef("pk"), effective_on__lte=on)
    if as_known_at is not None:
        rows = rows.filter(recorded_at__lte=as_known_at)
    return Subquery(rows.order_by("-effective_on", "-pk").values("status")[:1])


def licences_in_force(on: dt.date, as_known_at: dt.datetime | None = None) -> QuerySet[ImportLicence]:
    """Licences in force on ``on`` as known at ``as_known_at`` (see the module docstring).

    Only licences with a grant whose window holds ``on`` are looked up in the ledger.
    """
    return (
        ImportLicence.objects.filter(granted_quantity__gt=0, valid_from__lte=on, valid_until__gte=on)
        .alias(status_on=licence_status_on(on, as_known_at))
        .filter(status_on=ImportLicence.Status.APPROVED)
    )


def shipments_cleared_as_of(on: dt.date, as_known_at: dt.datetime | None = None) -> QuerySet[Shipment]:
    """Shipments cleared through customs by the end of ``on``; as known at ``as_known_at``, only
    those whose ``cleared`` customs event was recorded by then."""
    cutoff = end_of_day(on)
    shipments = Shipment.objects.filter(cleared_at__lt=cutoff)
    if as_known_at is None:
        return shipments
    known = CustomsEvent.objects.filter(
        shipment=OuterRef("pk"),
        status=Shipment.Status.CLEARED,
        occurred_at__lt=cutoff,
        recorded_at__lte=as_known_at,
    )
    return shipments.filter(Exists(known))


def commitments_counted_as_of(
    on: dt.date, counted_statuses: Iterable[str], as_known_at: dt.datetime | None = None
) -> QuerySet[DomesticCommitment]:
    """Commitments pledged by ``on``, not cancelled by then, in a counted status as of ``on``.

    The status on a past date is read from the dates, not the current status: a commitment
    contracted on 1 March was only pledged on 28 February; one cancelled on 1 March still
    stood on 28 February. As known at ``as_known_at`` it is read from the change ledger
    instead: the status of the latest change effective by ``on`` and recorded by then.
    """
    if as_known_at is not None:
        changes = CommitmentChange.objects.filter(
            commitment=OuterRef("pk"), effective_on__lte=on, recorded_at__lte=as_known_at
        )
        status_on = Subquery(changes.order_by("-effective_on", "-pk").values("status")[:1])
        return (
            DomesticCommitment.objects.filter(pledged_on__lte=on)
            .alias(status_on=status_on)
            .filter(status_on__in=list(counted_statuses))
        )
    delivered = Q(delivered_on__lte=on)
    contracted = Q(contracted_on__lte=on)
    not_delivered = Q(delivered_on__isnull=True) | Q(delivered_on__gt=on)
    not_contracted = Q(contracted_on__isnull=True) | Q(contracted_on__gt=on)
    status_on_date: dict[str, Q] = {
        CommitmentStatus.DELIVERED: delivered,
        CommitmentStatus.CONTRACTED: contracted & not_delivered,
        CommitmentStatus.PLEDGED: not_contracted & not_delivered,
    }
    counted = Q(pk__in=[])
    for status in counted_statuses:
        counted |= status_on_date[status]
    return DomesticCommitment.objects.filter(
        Q(pledged_on__lte=on) & (Q(cancelled_on__isnull=True) | Q(cancelled_on__gt=on)) & counted
    )
