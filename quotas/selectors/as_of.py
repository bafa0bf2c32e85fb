"""Quota reads' shared terms: constants, the as-of bound, the policy in force and the as-of querysets.

"As of a date" means as the records stood at the end of that day in the service's time
zone (``settings.TIME_ZONE``): licences approved and not yet suspended, revoked, expired
or rejected by then, shipments cleared by then, commitments pledged and not cancelled by
then, each counted in the status it had reached by then.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence
from decimal import Context, Decimal, Inexact

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from licences.models import ChipModel, ImportLicence, Shipment
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
