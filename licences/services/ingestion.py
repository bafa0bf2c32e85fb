"""Batch ingestion of shipments and customs events: the single-item rules of
``licences.services.shipments`` applied set-based, with bulk writes (COPY on PostgreSQL).

This module holds what both batch services share: the parsed lines, the outcome and the
refusal envelope, and the bulk writes of licence counters, shipment history and customs
events. The services are ``ingestion_shipments`` (``shipments_ingest``) and
``ingestion_customs_events`` (``customs_events_ingest``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from django.db.models import BigIntegerField, Case, F, Value, When
from django.utils import timezone

from common import bulk
from common.errors import safe_text
from licences import chain
from licences.models import CUSTOMS_EVENTS, Company, ImportLicence, Shipment

# The batch services apply exactly the single-item rules of ``shipments`` (same checks, in the same order,
# with the same codes) to many items at once, set-based: one query per kind of lookup for the
# whole batch, the touched rows locked in primary-key order (so concurrent batches queue
# instead of deadlocking), every decision taken in memory against the locked values, then one
# bulk write per table and one counter UPDATE for all the licences touched. The check
# constraints stay the last word: a decision computed wrongly would fail the whole batch, never
# over-draw a licence.


# Batch lines are named tuples: immutable like a frozen dataclass, and built several times
# faster, which counts at thousands per request.


class ShipmentLine(NamedTuple):
    """One item of a shipment batch, already parsed (its fields as ``shipment_declare`` takes them)."""

    index: int  # type: ignore[assignment] # the item's position; shadows tuple.index, unused here
    declaration_number: str
    licence_number: str
    quantity: int
    declared_value_usd: Decimal
    port_of_entry: str
    chip_code: str | None = None
    declared_at: dt.datetime | None = None
    company: str | None = None  # the licence's company (slug), for a caller who sees several


class CustomsEventLine(NamedTuple):
    """One item of a customs-event batch, already parsed (its fields as ``customs_event_record`` takes them)."""

    index: int  # type: ignore[assignment] # the item's position; shadows tuple.index, unused here
    declaration_number: str
    status: str
    occurred_at: dt.datetime | None = None
    note: str = ""
    company: str | None = None  # the shipment's company (slug), for a caller who sees several


@dataclass
class BatchOutcome:
    """What a batch service decided: accepted and refused items (in input order) and the companies touched."""

    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    company_ids: set[int] = field(default_factory=set)


def batch_refusal(
    index: int, code: str, detail: str, errors: dict[str, list[str]] | None = None, declaration_number: Any = None
) -> dict[str, Any]:
    """A refused batch item: the error envelope of the single endpoint, plus the item's index.

    The item's declaration number is echoed as sent, made safe (a NUL would break the answer
    stored as jsonb on PostgreSQL, a lone surrogate its very rendering).
    """
    return {
        "index": index,
        "declaration_number": safe_text(declaration_number) if isinstance(declaration_number, str) else None,
        "code": code,
        "detail": safe_text(detail),
        "errors": errors or {},
    }


def named_companies(lines: Sequence[ShipmentLine | CustomsEventLine]) -> dict[str, int]:
    """The ids of the companies the lines name by slug (one query; none when no line names one)."""
    slugs = {line.company for line in lines if line.company is not None}
    return dict(Company.objects.filter(slug__in=slugs).values_list("slug", "pk")) if slugs else {}


def _company_id(record: Any) -> int:
    company_id: int = record["company_id"] if isinstance(record, dict) else record.company_id
    return company_id


def _add_to_counters(deltas: dict[int, dict[str, int]]) -> None:
    """Add per-licence deltas to the counters in one UPDATE (``licence_never_overdrawn`` still checks it)."""
    if not deltas:
        return
    changes: dict[str, Any] = {}
    for counter in ("reserved_quantity", "used_quantity"):
        whens = [When(pk=pk, then=Value(delta[counter])) for pk, delta in deltas.items() if delta.get(counter)]
        if whens:
            changes[counter] = F(counter) + Case(*whens, default=Value(0), output_field=BigIntegerField())
    if changes:
        ImportLicence.objects.filter(pk__in=deltas).update(**changes)


def _history_fields() -> tuple[str, ...]:
    """The shipment columns simple_history records (``id`` first), in its historical model's order."""
    return bulk.tracked_fields(Shipment)


def _history_row(shipment: Shipment) -> tuple[Any, ...]:
    return tuple(getattr(shipment, name) for name in _history_fields())


def _record_history(rows: list[tuple[Any, ...]], *, history_type: str, change_reason: str) -> None:
    """One simple_history row per shipment state given (rows of ``_history_fields``), for a whole batch."""
    bulk.record_history(Shipment, rows, history_type=history_type, change_reason=change_reason)


#: The columns a customs event is written with, in its stream's order (``CUSTOMS_EVENTS.fields``).
CUSTOMS_EVENT_COPY_COLUMNS = CUSTOMS_EVENTS.fields


def _insert_customs_events(events: list[tuple[Any, ...]], recorded_at: dt.datetime | None = None) -> None:
    """Append customs events given as ``(company_id, shipment_id, status, occurred_at, note, recorded_by)``.

    Each company's events are chained after its chain's head (locked here, after every other
    row the batch locks) and the whole batch is inserted at once: PostgreSQL ``COPY`` (no ids
    are needed back), one ``executemany`` on SQLite (``chain.insert_rows``). The hashes are
    those a one-by-one append of the same events would give (``licences.chain``).
    """
    if not events:
        return
    recorded_at = recorded_at or timezone.now()
    chain.insert_rows(
        CUSTOMS_EVENTS,
        [
            (company_id, shipment_id, status, occurred_at, note, recorded_at, recorded_by)
            for company_id, shipment_id, status, occurred_at, note, recorded_by in events
        ],
    )
