"""A round's running totals of granted units and value, moved in one ``UPDATE`` per batch of rounds.

``licence_approve`` draws each grant itself, conditionally (never past a cap); :func:`round_draw`
counts the grants of licences written decided without it (fixtures, bulk loaders: see
``licences.services.ledger``) and :func:`round_release` returns a revoked or expired licence's
unused remainder. Both move the totals by exactly the amounts: the rounds' check constraints
(within the caps, never below zero) refuse any that would not hold, as an ``IntegrityError``.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Case, F, Value, When

from licences.models import AllocationRound


def _amounts(by_round: dict[int, tuple[int, Decimal]]) -> tuple[Case, Case]:
    """The units and the value for each round, as two ``CASE`` expressions on its primary key."""
    units = Case(*[When(pk=pk, then=Value(n)) for pk, (n, _) in by_round.items()], default=Value(0))
    value = Case(
        *[When(pk=pk, then=Value(v)) for pk, (_, v) in by_round.items()],
        default=Value(Decimal("0")),
        output_field=AllocationRound._meta.get_field("granted_value_usd"),
    )
    return units, value


def round_draw(drawn: dict[int, tuple[int, Decimal]]) -> int:
    """Add grants to their rounds' totals: ``{round id: (units, value)}``, in one ``UPDATE``.

    For licences written decided without ``licence_approve`` (which draws each grant as it
    approves): a round's totals always include every grant its licences hold, so a release
    (``round_release``) subtracts exactly. Past a cap, the rounds' check constraints refuse it
    (``IntegrityError``). Returns the rounds updated.
    """
    drawn = {pk: amounts for pk, amounts in drawn.items() if amounts[0] > 0}
    if not drawn:
        return 0
    units, value = _amounts(drawn)
    return AllocationRound.objects.filter(pk__in=list(drawn)).update(
        granted_units=F("granted_units") + units, granted_value_usd=F("granted_value_usd") + value
    )


def round_release(released: dict[int, tuple[int, Decimal]]) -> int:
    """Return units and value to their rounds: ``{round id: (units, value)}``, in one ``UPDATE``.

    Each round's ``granted_units`` / ``granted_value_usd`` go down by exactly the amounts. A
    round's totals include every grant its licences hold (approving adds it; every writer of
    approved licences, fixtures and loaders included, counts it), so a release can never take
    them below zero; if one would, the totals are wrong somewhere and the rounds' check
    constraints refuse it (``IntegrityError``, the transaction rolls back) rather than hide it.
    Returns the rounds updated.
    """
    released = {pk: amounts for pk, amounts in released.items() if amounts[0] > 0}
    if not released:
        return 0
    units, value = _amounts(released)
    return AllocationRound.objects.filter(pk__in=list(released)).update(
        granted_units=F("granted_units") - units, granted_value_usd=F("granted_value_usd") - value
    )
