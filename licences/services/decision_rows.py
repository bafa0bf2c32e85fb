"""The decision ledger's rows as the licence services write them: the day a decision takes
effect (valid time, with its refusals and the late-entry mark) and the row itself.

The rules are set out in ``licences.services.licences``; these are its building blocks, kept
apart so that the services module stays one screenful per decision.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext

from common.errors import Conflict, DomainError
from licences.models import ImportLicence, LicenceDecision

LicenceStatus = ImportLicence.Status


def local_day(moment: dt.datetime) -> dt.date:
    return timezone.localdate(moment, timezone.get_default_timezone())


def effective_day(
    licence: ImportLicence, *, effective_on: dt.date | None, reason: str, recorded_at: dt.datetime
) -> tuple[dt.date, bool]:
    """The day a decision on ``licence`` takes effect, and whether it is a late entry.

    The rules are in ``licences.services.licences``' docstring; every refusal is raised before anything is written.
    """
    today = local_day(recorded_at)
    day = today if effective_on is None else effective_on
    if day > today:
        raise DomainError(
            gettext("A decision cannot take effect in the future: effective_on %(day)s is after today (%(today)s).")
            % {"day": day, "today": today},
            code="future_effective_date",
            fields={"effective_on": [f"must not be after {today}"]},
        )
    applied_on = local_day(licence.applied_at)
    if day < applied_on:
        raise DomainError(
            gettext(
                "Licence %(number)s was applied for on %(applied_on)s: a decision on it cannot take effect on %(day)s."
            )
            % {"number": licence.number, "applied_on": applied_on, "day": day},
            code="effective_before_application",
            fields={"effective_on": [f"must not be before {applied_on}"]},
        )
    last = (
        LicenceDecision.objects.filter(licence=licence)
        .order_by("-effective_on", "-pk")
        .values_list("effective_on", flat=True)
        .first()
    )
    if last is not None and day < last:
        raise Conflict(
            gettext(
                "Licence %(number)s's latest decision took effect on %(last)s: a later decision "
                "cannot take effect before it (%(day)s)."
            )
            % {"number": licence.number, "last": last, "day": day},
            code="effective_before_last_decision",
            fields={"effective_on": [f"must not be before {last}"]},
        )
    late = (today - day).days > settings.LICENCE_LATE_ENTRY_DAYS
    if late and not (reason or "").strip():
        raise DomainError(
            gettext(
                "A decision taking effect more than %(licence_late_entry_days)s days before it "
                "is recorded (%(day)s, recorded %(today)s) is a late entry and needs a reason."
            )
            % {"licence_late_entry_days": settings.LICENCE_LATE_ENTRY_DAYS, "day": day, "today": today},
            code="late_entry_reason_required",
            fields={"reason": ["required for a late entry"]},
        )
    return day, late


def record_decision(
    licence: ImportLicence,
    *,
    kind: str,
    effective_on: dt.date,
    recorded_at: dt.datetime,
    late_entry: bool = False,
    reason: str = "",
    recorded_by: AbstractBaseUser | None = None,
    actor: str = "",
    released_quantity: int = 0,
) -> LicenceDecision:
    """The ledger row of a decision just applied to ``licence`` (its status and grant as they now stand)."""
    decided = licence.status not in (LicenceStatus.APPLIED, LicenceStatus.REJECTED)
    return LicenceDecision.objects.create(
        licence=licence,
        company_id=licence.company_id,
        kind=kind,
        status=licence.status,
        effective_on=effective_on,
        recorded_at=recorded_at,
        recorded_by_id=recorded_by.pk if recorded_by is not None else None,
        actor=(actor or (recorded_by.get_username() if recorded_by is not None else ""))[:150],
        reason=(reason or "").strip(),
        late_entry=late_entry,
        granted_quantity=licence.granted_quantity if decided else 0,
        valid_from=licence.valid_from if decided else None,
        valid_until=licence.valid_until if decided else None,
        released_quantity=released_quantity,
    )
