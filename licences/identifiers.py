"""Natural keys unique within a company only: licence numbers and declaration numbers.

Two companies may each hold a licence ``LIC-1`` (``licence_number_unique_per_company``), so a
company can neither learn that another's number exists nor take it first. A caller that sees
one company (a company key) finds its own record by number alone. A caller that sees many
(the regulator, an analyst, customs) names the company when a number is held by more than
one: :func:`pick_in_company` is that rule for records already read (the batch services);
``api.base.get_by_natural_key`` is the same rule for a queryset (URLs, bodies).
See docs/identifiers.md.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Final, TypeVar

from common.errors import DomainError

AMBIGUOUS_IDENTIFIER = "ambiguous_identifier"

#: A licence number, declaration number or directive reference as the service takes a new one:
#: 1 to 64 letters, digits, ``-`` and ``_``, starting with a letter or digit. The number is the
#: record's address (``/api/v1/licences/<number>/``, ``.../approve/``, ``/shipments/<number>/events/``),
#: so it holds no ``/``, which would split the path: a licence ``LIC/2026/7`` was accepted and then
#: could be neither read nor decided on through the API.
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")
#: Words a number cannot be: the API's paths beside the records of a collection
#: (``/api/v1/licences/backfill/``, ``/api/v1/shipments/batch/``), which would shadow a record so
#: numbered. ``tests/api/test_identifiers_addressable.py`` checks the router against this set.
RESERVED_REFERENCES = frozenset({"backfill", "batch"})


def is_reference(value: str) -> bool:
    """Whether ``value`` can be a new number or reference (:data:`REFERENCE`, not reserved)."""
    return REFERENCE.fullmatch(value) is not None and value not in RESERVED_REFERENCES


Record = TypeVar("Record")


class AmbiguousIdentifier(DomainError):
    """A number held by more than one of the companies the caller sees, with no company named."""

    code = AMBIGUOUS_IDENTIFIER
    status_code = 400


def ambiguous_message(what: str, number: str) -> str:
    """The refusal's text: which number, and how to say which company is meant."""
    return (
        f"{what} {number} exists in more than one company: pass company=<slug> "
        "(the query parameter ?company= in a URL, the field company in a body or batch item)."
    )


class _Ambiguous(enum.Enum):
    """The answer of :func:`pick_in_company` when the number is ambiguous (a sentinel, never a record).

    An enum's one member, so that ``answer is AMBIGUOUS`` narrows the answer's type.
    """

    AMBIGUOUS = "AMBIGUOUS"


AMBIGUOUS: Final = _Ambiguous.AMBIGUOUS


def pick_in_company(
    candidates: Sequence[Record],
    *,
    company: str | None,
    company_ids: Mapping[str, int],
    company_of: Callable[[Record], int],
) -> Record | _Ambiguous | None:
    """The one record among ``candidates`` (the caller's records with one number) that is meant.

    ``company`` is the slug the caller named, if any (``company_ids`` maps the slugs named in
    the request to ids; an unknown slug matches nothing). ``None`` when no record matches
    (answered exactly as a number that does not exist), :data:`AMBIGUOUS` when several do.
    """
    if company is not None:
        wanted = company_ids.get(company)
        candidates = [candidate for candidate in candidates if company_of(candidate) == wanted]
    if not candidates:
        return None
    if len(candidates) > 1:
        return AMBIGUOUS
    return candidates[0]
