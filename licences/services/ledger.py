"""The ledger rows a licence's timestamp columns imply, for code that writes licences without
the services: bulk loaders (the benchmark world) and test fixtures.

The services write a licence's decision ledger as they decide (``licences.services.licences``);
a licence written directly must get its rows too, or positions (which read the ledger) would
never count it. The rows are the same as migration ``licences.0008`` backfilled for the
licences recorded before the ledger existed: an application, then one row for each of
``approved_at``, ``rejected_at``, ``suspended_at``, ``revoked_at`` and ``expired_at`` that is
set, in time order, each effective on its timestamp's day in the service time zone and
recorded at the timestamp (the application never after the first decision). A decided
licence's grant is counted in its round's totals too, as ``licence_approve`` would have drawn it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from licences import chain
from licences.models import ImportLicence, LicenceDecision
from licences.services.rounds import round_draw

_STAMPS = (
    ("approved_at", LicenceDecision.Kind.APPROVE, ImportLicence.Status.APPROVED),
    ("rejected_at", LicenceDecision.Kind.REJECT, ImportLicence.Status.REJECTED),
    ("suspended_at", LicenceDecision.Kind.SUSPEND, ImportLicence.Status.SUSPENDED),
    ("revoked_at", LicenceDecision.Kind.REVOKE, ImportLicence.Status.REVOKED),
    ("expired_at", LicenceDecision.Kind.EXPIRE, ImportLicence.Status.EXPIRED),
)
_UNDECIDED = (ImportLicence.Status.APPLIED, ImportLicence.Status.REJECTED)
_TAKES_REASON = {LicenceDecision.Kind.REJECT, LicenceDecision.Kind.SUSPEND, LicenceDecision.Kind.REVOKE}
IMPLIED_ACTOR = "implied by the licence's timestamps"


def decisions_implied_by(licence: ImportLicence) -> list[LicenceDecision]:
    """The unsaved ledger rows ``licence``'s timestamps imply (it must have a primary key)."""
    events: list[tuple[dt.datetime, str, str]] = [
        (licence.applied_at, LicenceDecision.Kind.APPLY, ImportLicence.Status.APPLIED)
    ]
    events += [(getattr(licence, column), kind, status) for column, kind, status in _STAMPS if getattr(licence, column)]
    # The application first, whatever its timestamp says (never after the first decision).
    events.sort(key=lambda event: (event[1] != LicenceDecision.Kind.APPLY, event[0]))
    zone = timezone.get_default_timezone()
    days = [timezone.localdate(moment, zone) for moment, _, _ in events]
    days[0] = min(days)
    rows = []
    for number, ((moment, kind, status), day) in enumerate(zip(events, days, strict=True)):
        decided = status not in (ImportLicence.Status.APPLIED, ImportLicence.Status.REJECTED)
        last = number == len(events) - 1
        rows.append(
            LicenceDecision(
                licence_id=licence.pk,
                company_id=licence.company_id,
                kind=kind,
                status=status,
                effective_on=day,
                recorded_at=moment,
                actor=IMPLIED_ACTOR,
                reason=licence.status_reason if last and kind in _TAKES_REASON else "",
                granted_quantity=licence.granted_quantity if decided else 0,
                valid_from=licence.valid_from if decided else None,
                valid_until=licence.valid_until if decided else None,
            )
        )
    return rows


def record_implied_decisions(licences: Iterable[ImportLicence]) -> int:
    """What licences written without the services (saved already) imply, as the services would
    have left it: the rows :func:`decisions_implied_by` gives, appended to their companies'
    chains in bulk, and each decided licence's grant counted in its round's totals (see
    :func:`round_draw`). Returns the rows' count."""
    licences = list(licences)
    rows = [row for licence in licences for row in decisions_implied_by(licence)]
    drawn: dict[int, list[Any]] = {}
    for licence in licences:
        if licence.status not in _UNDECIDED and licence.granted_quantity:
            units, value = drawn.setdefault(licence.round_id, [0, Decimal("0")])
            drawn[licence.round_id] = [units + licence.granted_quantity, value + licence.granted_value_usd]
    with transaction.atomic():
        round_draw({pk: (units, value) for pk, (units, value) in drawn.items()})
        return chain.insert_objects(rows)
