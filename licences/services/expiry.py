"""The daily expiry of licences past their validity window, set-based.

:func:`licences_expire_due` expires every licence approved or suspended whose ``valid_until``
is before ``on`` (the service's local date): a licence valid until 31 March is expired on
1 April, not on 31 March. In one transaction and a constant number of statements whatever
the number of licences:

1. the due licences are read and locked (``FOR UPDATE`` on PostgreSQL);
2. one conditional ``UPDATE`` moves them to ``expired`` (only rows still approved or
   suspended and past their window: a licence decided meanwhile is left alone);
3. one ``UPDATE`` returns the released units and value (below) to the rounds, summed per round;
4. one bulk insert (``COPY`` on PostgreSQL) appends their ledger rows to their companies' hash
   chains (``licences.chain.insert_objects``): an ``expire`` row each, effective the day after
   ``valid_until`` (or on the licence's latest decision's day, if that is later: a ledger
   runs forward), recorded now, by ``system: expiry job``; and a ``release`` row for each
   licence with an unused remainder (granted less used less reserved);
5. one bulk insert of the licences' history rows.

Running it again changes nothing and writes nothing: no licence is still due. Positions do
not wait for it (a licence stops counting the day after ``valid_until`` by the ledger rules,
``quotas.selectors.as_of``); the job brings the licence rows and the ledger in line.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_noop

from common import bulk
from licences import chain
from licences.models import ImportLicence, LicenceDecision
from licences.services.rounds import round_release

EXPIRY_ACTOR = "system: expiry job"
LicenceStatus = ImportLicence.Status
Kind = LicenceDecision.Kind


@dataclass(frozen=True)
class ExpiredLicence:
    """A licence the job expired, with what it released to its round."""

    pk: int
    company_id: int
    company_name: str
    number: str
    round_id: int
    valid_until: dt.date
    effective_on: dt.date
    granted: int
    used: int
    reserved: int
    released: int
    released_value_usd: Decimal


def licences_expire_due(*, on: dt.date | None = None, now: dt.datetime | None = None) -> list[ExpiredLicence]:
    """Expire every licence due on ``on`` (default: today in the service time zone); see the module docstring.

    Returns the licences expired, in primary-key order (empty when none was due).
    """
    now = now or timezone.now()
    on = on or timezone.localdate(now, timezone.get_default_timezone())
    due_statuses = [LicenceStatus.APPROVED, LicenceStatus.SUSPENDED]
    latest = LicenceDecision.objects.filter(licence=OuterRef("pk")).order_by("-effective_on", "-pk")
    with transaction.atomic():
        due = list(
            ImportLicence.objects.select_for_update(of=("self",))
            .filter(status__in=due_statuses, valid_until__lt=on)
            .annotate(last_effective_on=Subquery(latest.values("effective_on")[:1]))
            .order_by("pk")
            .values_list(
                "pk", "company_id", "company__name", "number", "round_id", "valid_until", "granted_quantity",
                "used_quantity", "reserved_quantity", "unit_value_usd", "last_effective_on",
                "valid_from",
            )
        )  # fmt: skip
        if not due:
            return []
        ids = [row[0] for row in due]
        ImportLicence.objects.filter(
            bulk.one_of(ImportLicence, "pk", ids), status__in=due_statuses, valid_until__lt=on
        ).update(status=LicenceStatus.EXPIRED, expired_at=now)

        expired: list[ExpiredLicence] = []
        rows: list[LicenceDecision] = []
        per_round: dict[int, list[Any]] = defaultdict(lambda: [0, Decimal("0")])
        for pk, company_id, company, number, round_id, until, granted, used, reserved, unit, last, since in due:
            assert until is not None  # filtered on valid_until above
            day: dt.date = until + dt.timedelta(days=1)
            if last is not None and last > day:
                day = last
            late = (on - day).days > settings.LICENCE_LATE_ENTRY_DAYS
            common = {
                "licence_id": pk,
                "company_id": company_id,
                "status": LicenceStatus.EXPIRED,
                "effective_on": day,
                "recorded_at": now,
                "actor": EXPIRY_ACTOR,
                "late_entry": late,
                "granted_quantity": granted,
                "valid_from": since,
                "valid_until": until,
            }
            rows.append(LicenceDecision(kind=Kind.EXPIRE, reason=f"Validity window ended on {until}.", **common))
            remainder = max(granted - used - reserved, 0)
            value = unit * remainder
            if remainder:
                rows.append(
                    LicenceDecision(
                        kind=Kind.RELEASE,
                        reason=f"Unused remainder of {remainder:,} units returned to the round.",
                        released_quantity=remainder,
                        **common,
                    )
                )
                per_round[round_id][0] += remainder
                per_round[round_id][1] += value
            expired.append(
                ExpiredLicence(pk, company_id, company, number, round_id, until, day, granted, used, reserved,
                               remainder, value)
            )  # fmt: skip
        round_release({pk: (units, value) for pk, (units, value) in per_round.items()})
        # Appended to each company's chain, its head locked last (after the rounds): no deadlock
        # with a decision that moves a round and then appends.
        chain.insert_objects(rows)
        states = ImportLicence.objects.filter(bulk.one_of(ImportLicence, "pk", ids)).order_by("pk")
        bulk.record_history(
            ImportLicence,
            [list(row) for row in states.values_list(*bulk.tracked_fields(ImportLicence))],
            history_type="~",
            change_reason=gettext_noop("Expired by the daily job: validity window ended"),
            date=now,
        )
    return expired
