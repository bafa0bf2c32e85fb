"""Quota policies: versioned data. A draft may be edited freely; activating it is refused if
its window overlaps a policy already in force (active, or retired but still governing the
dates of its closed window). Once active, its terms are history: a new ratio, basis or
measure is a new version (``policy_revise``), never an edit. On PostgreSQL an exclusion
constraint (migration 0003) backs the overlap rule, so even a racing or raw write cannot
put two policies in force on one date. Transitions are written once, in ``POLICY_TRANSITIONS``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from common.errors import Conflict, DomainError
from quotas.models import QuotaPolicy
from quotas.services.checks import _require_text

PolicyStatus = QuotaPolicy.Status

POLICY_TRANSITIONS: dict[str, set[str]] = {
    PolicyStatus.DRAFT: {PolicyStatus.ACTIVE},
    PolicyStatus.ACTIVE: {PolicyStatus.RETIRED},
    PolicyStatus.RETIRED: set(),
}


# The terms that define what a policy requires; frozen once it is active.
POLICY_TERMS: Final = (
    "ratio",
    "basis",
    "measured_on",
    "counts_pledged",
    "counts_contracted",
    "counts_delivered",
    "grace_days",
    "effective_from",
    "effective_until",
)
# Policies whose window governs the dates it covers.
IN_FORCE_STATUSES: Final = (PolicyStatus.ACTIVE, PolicyStatus.RETIRED)

RATIO_QUANTUM = Decimal("0.0001")


class _Unset:
    """Marks a keyword argument the caller did not pass (``None`` can be a real value)."""

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "UNSET"


UNSET: Final = _Unset()


# --- Checks ---------------------------------------------------------------------------------


def _check_policy_transition(policy: QuotaPolicy, target: str) -> None:
    if target not in POLICY_TRANSITIONS[policy.status]:
        raise Conflict(
            gettext("Policy %(name)s v%(version)s is %(status)s; it cannot become %(target)s.")
            % {"name": policy.name, "version": policy.version, "status": policy.status, "target": target},
            code="invalid_transition",
        )


def _check_policy_terms(
    *,
    ratio: Any,
    basis: str,
    measured_on: str,
    grace_days: Any,
    effective_from: dt.date,
    effective_until: dt.date | None,
) -> None:
    # A float ratio is refused outright: 0.3 as a float is not 0.3.
    if isinstance(ratio, bool) or not isinstance(ratio, Decimal | int):
        raise DomainError(gettext("The ratio must be a Decimal, e.g. Decimal('0.3000')."), code="invalid_ratio")
    ratio = Decimal(ratio)
    if not ratio.is_finite() or not 0 <= ratio <= 100 or ratio != ratio.quantize(RATIO_QUANTUM):
        raise DomainError(
            gettext("The ratio must be between 0 and 100 with at most four decimal places."),
            code="invalid_ratio",
            fields={"ratio": [str(ratio)]},
        )
    if basis not in QuotaPolicy.Basis.values:
        raise DomainError(
            gettext("Unknown basis %(basis)s.") % {"basis": f"{basis!r}"},
            code="invalid_basis",
            fields={"basis": [basis]},
        )
    if measured_on not in QuotaPolicy.MeasuredOn.values:
        raise DomainError(
            gettext("Unknown measure %(measured_on)s.") % {"measured_on": f"{measured_on!r}"},
            code="invalid_measured_on",
            fields={"measured_on": [measured_on]},
        )
    if isinstance(grace_days, bool) or not isinstance(grace_days, int) or grace_days < 0:
        raise DomainError(gettext("Grace days must be a whole number, zero or more."), code="invalid_grace_days")
    if effective_until is not None and effective_until < effective_from:
        raise DomainError(gettext("effective_until must not be before effective_from."), code="invalid_window")


def _windows_overlap(a: QuotaPolicy, b: QuotaPolicy) -> bool:
    """Inclusive windows; an empty ``effective_until`` is open-ended."""
    a_ends_after_b_starts = a.effective_until is None or a.effective_until >= b.effective_from
    b_ends_after_a_starts = b.effective_until is None or b.effective_until >= a.effective_from
    return a_ends_after_b_starts and b_ends_after_a_starts


def _policy_overlap(policy: QuotaPolicy, other: QuotaPolicy) -> Conflict:
    until = other.effective_until or gettext("open-ended")
    return Conflict(
        gettext(
            "Policy %(name)s v%(version)s would overlap %(name2)s v%(version2)s (%(status)s, "
            "%(effective_from)s to %(until)s): at most one policy is in force on any date."
        )
        % {
            "name": policy.name,
            "version": policy.version,
            "name2": other.name,
            "version2": other.version,
            "status": other.status,
            "effective_from": other.effective_from,
            "until": until,
        },
        code="policy_overlap",
        fields={"overlaps": [other.pk]},
    )


# --- Policies ---------------------------------------------------------------------------------


@transaction.atomic
def policy_create(
    *,
    name: str,
    ratio: Decimal,
    effective_from: dt.date,
    basis: str = QuotaPolicy.Basis.UNITS,
    measured_on: str = QuotaPolicy.MeasuredOn.LICENSED,
    counts_pledged: bool = False,
    counts_contracted: bool = True,
    counts_delivered: bool = True,
    grace_days: int = 0,
    effective_until: dt.date | None = None,
    notes: str = "",
) -> QuotaPolicy:
    """Create a draft policy. Under an existing name it becomes the next version (max + 1).

    Raises ``DomainError`` for invalid terms (``invalid_ratio``, ``invalid_basis``,
    ``invalid_measured_on``, ``invalid_grace_days``, ``invalid_window``) and ``Conflict``
    ``policy_version_conflict`` if a concurrent create took the same version number.
    """
    name = _require_text(name, "name")
    _check_policy_terms(
        ratio=ratio,
        basis=basis,
        measured_on=measured_on,
        grace_days=grace_days,
        effective_from=effective_from,
        effective_until=effective_until,
    )
    # Lock the existing versions so two revisions of one rule queue up rather than collide.
    versions = list(QuotaPolicy.objects.select_for_update().filter(name=name).values_list("version", flat=True))
    try:
        with transaction.atomic():
            return QuotaPolicy.objects.create(
                name=name,
                version=max(versions, default=0) + 1,
                ratio=Decimal(ratio),
                basis=basis,
                measured_on=measured_on,
                counts_pledged=counts_pledged,
                counts_contracted=counts_contracted,
                counts_delivered=counts_delivered,
                grace_days=grace_days,
                effective_from=effective_from,
                effective_until=effective_until,
                status=PolicyStatus.DRAFT,
                notes=notes,
            )
    except IntegrityError as error:
        raise Conflict(
            gettext("Another version of %(name)s was created at the same time; try again.") % {"name": f"{name!r}"},
            code="policy_version_conflict",
        ) from error


def _given(**values: Any) -> dict[str, Any]:
    """The keyword arguments the caller actually passed (those not left ``UNSET``)."""
    return {field: value for field, value in values.items() if not isinstance(value, _Unset)}


@transaction.atomic
def policy_update(
    *,
    policy: QuotaPolicy,
    ratio: Decimal | _Unset = UNSET,
    basis: str | _Unset = UNSET,
    measured_on: str | _Unset = UNSET,
    counts_pledged: bool | _Unset = UNSET,
    counts_contracted: bool | _Unset = UNSET,
    counts_delivered: bool | _Unset = UNSET,
    grace_days: int | _Unset = UNSET,
    effective_from: dt.date | _Unset = UNSET,
    effective_until: dt.date | _Unset | None = UNSET,
    notes: str | _Unset = UNSET,
) -> QuotaPolicy:
    """Edit a policy. A draft's terms may change; an active or retired policy's may not.

    Only ``notes`` may change once a policy is active or retired; changing any term
    (``POLICY_TERMS``) raises ``Conflict`` ``policy_immutable``: create a new version with
    ``policy_revise`` instead, and end an active policy's window with ``policy_retire``.
    Passing a term's current value is not a change.
    """
    policy = QuotaPolicy.objects.select_for_update().get(pk=policy.pk)
    changes = _given(
        ratio=ratio,
        basis=basis,
        measured_on=measured_on,
        counts_pledged=counts_pledged,
        counts_contracted=counts_contracted,
        counts_delivered=counts_delivered,
        grace_days=grace_days,
        effective_from=effective_from,
        effective_until=effective_until,
        notes=notes,
    )
    changed_terms = sorted(
        field for field in POLICY_TERMS if field in changes and changes[field] != getattr(policy, field)
    )
    if changed_terms and policy.status != PolicyStatus.DRAFT:
        raise Conflict(
            gettext(
                "Policy %(name)s v%(version)s is %(status)s: its terms are history and cannot be "
                "edited (%(join_changed_terms)s). Create a new version instead."
            )
            % {
                "name": policy.name,
                "version": policy.version,
                "status": policy.status,
                "join_changed_terms": ", ".join(changed_terms),
            },
            code="policy_immutable",
            fields={field: ["immutable"] for field in changed_terms},
        )
    for field, value in changes.items():
        setattr(policy, field, value)
    _check_policy_terms(
        ratio=policy.ratio,
        basis=policy.basis,
        measured_on=policy.measured_on,
        grace_days=policy.grace_days,
        effective_from=policy.effective_from,
        effective_until=policy.effective_until,
    )
    policy.save()
    return policy


def policy_revise(
    *,
    policy: QuotaPolicy,
    ratio: Decimal | _Unset = UNSET,
    basis: str | _Unset = UNSET,
    measured_on: str | _Unset = UNSET,
    counts_pledged: bool | _Unset = UNSET,
    counts_contracted: bool | _Unset = UNSET,
    counts_delivered: bool | _Unset = UNSET,
    grace_days: int | _Unset = UNSET,
    effective_from: dt.date | _Unset = UNSET,
    effective_until: dt.date | _Unset | None = UNSET,
    notes: str | _Unset = UNSET,
) -> QuotaPolicy:
    """A new draft version of ``policy``'s rule: its terms, with the ones passed changed."""
    terms: dict[str, Any] = {field: getattr(policy, field) for field in POLICY_TERMS}
    terms["notes"] = policy.notes
    passed = _given(
        ratio=ratio,
        basis=basis,
        measured_on=measured_on,
        counts_pledged=counts_pledged,
        counts_contracted=counts_contracted,
        counts_delivered=counts_delivered,
        grace_days=grace_days,
        effective_from=effective_from,
        effective_until=effective_until,
        notes=notes,
    )
    terms.update(passed)
    return policy_create(name=policy.name, **terms)


@transaction.atomic
def policy_activate(*, policy: QuotaPolicy) -> QuotaPolicy:
    """Put a draft policy in force over its window.

    Refused with ``Conflict`` ``policy_overlap`` when its window overlaps that of a policy
    already in force (active, or retired but governing its closed window): at most one
    policy is in force on any date. Every policy row is locked first, so two activations
    run one after the other and the second sees the first. On PostgreSQL an exclusion
    constraint backs this up.
    """
    # Lock all policies (a small table): a concurrent activation waits here and, once it
    # goes on, re-reads the rows this one changed.
    locked = {row.pk: row for row in QuotaPolicy.objects.select_for_update().order_by("pk")}
    policy = locked[policy.pk]
    _check_policy_transition(policy, PolicyStatus.ACTIVE)
    for other in locked.values():
        if other.pk != policy.pk and other.status in IN_FORCE_STATUSES and _windows_overlap(policy, other):
            raise _policy_overlap(policy, other)
    policy.status = PolicyStatus.ACTIVE
    try:
        with transaction.atomic():
            policy.save(update_fields=["status"])
    except IntegrityError as error:  # the PostgreSQL exclusion constraint
        raise Conflict(
            gettext("Policy %(name)s v%(version)s would overlap a policy already in force.")
            % {"name": policy.name, "version": policy.version},
            code="policy_overlap",
        ) from error
    return policy


@transaction.atomic
def policy_retire(*, policy: QuotaPolicy, last_day: dt.date) -> QuotaPolicy:
    """Close an active policy's window: it governs dates up to ``last_day`` and none after.

    Its terms and earlier dates are untouched, so positions on those dates keep being
    computed under it. ``last_day`` must fall within the current window (it can shorten,
    never extend it).
    """
    policy = QuotaPolicy.objects.select_for_update().get(pk=policy.pk)
    _check_policy_transition(policy, PolicyStatus.RETIRED)
    if last_day < policy.effective_from or (policy.effective_until is not None and last_day > policy.effective_until):
        raise DomainError(
            gettext(
                "The last day must fall within the policy's window (%(effective_from)s to "
                "%(effective_until_or_open_ended)s)."
            )
            % {
                "effective_from": policy.effective_from,
                "effective_until_or_open_ended": policy.effective_until or gettext("open-ended"),
            },
            code="invalid_window",
        )
    policy.status = PolicyStatus.RETIRED
    policy.effective_until = last_day
    policy.save(update_fields=["status", "effective_until"])
    return policy
