"""A company's change history for its cockpit page: the latest changes to the company and its
records (licences, shipments, commitments, attestations, findings), each with what it changed,
in the page's language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import F, OuterRef, Subquery
from django.urls import reverse
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from compliance import finding_text
from compliance.models import Finding, SecurityAttestation
from licences.models import Company, CustomsEvent, ImportLicence, Shipment
from quotas.models import DomesticCommitment


def _chinese() -> bool:
    return (get_language() or "").startswith("zh")


@dataclass(frozen=True)
class HistoryEntry:
    """One change to one of the company's records, with the fields it changed."""

    at: dt.datetime
    user: Any
    kind: str
    model: str
    record: str
    url: str
    changes: list[tuple[str, Any, Any]]
    reason: str


HISTORY_SOURCES: list[tuple[type[models.Model], str, Callable[[Any], str]]] = [
    (Company, "id", lambda row: row.name_zh or row.name if _chinese() else row.name),
    (ImportLicence, "company_id", lambda row: row.number),
    (Shipment, "company_id", lambda row: row.declaration_number),
    (DomesticCommitment, "company_id", lambda row: f"#{row.id} {row.contract_reference}".strip()),
    (SecurityAttestation, "company_id", lambda row: f"#{row.id}"),
    (Finding, "company_id", lambda row: finding_text.summary(row)),
]
HISTORY_KIND = {"+": _("created"), "~": _("changed"), "-": _("deleted")}


def _field_change(field: Any, before: Any, after: Any) -> tuple[str, Any, Any]:
    """A changed field as people read it: its verbose name and, for a choice, the choice's label."""
    choices = dict(field.flatchoices) if field.choices else {}
    return (
        str(field.verbose_name),
        choices.get(before, before) if before is not None else None,
        choices.get(after, after) if after is not None else None,
    )


HISTORY_PER_SOURCE = 200


def company_history(company: Company, *, limit: int = 20) -> list[HistoryEntry]:
    """The latest changes to the company and its records, newest first, each with what it changed.

    One query per kind of record (six), and one for the customs events (the shipments' customs
    history): the previous version of each change is found among the rows already read, or by
    the events' query itself, so no query runs per change.
    """
    entries: list[HistoryEntry] = []
    for model, key, label in HISTORY_SOURCES:
        opts = model._meta
        fields = [field for field in opts.concrete_fields if field.attname not in ("id",)]
        history = model.history  # type: ignore[attr-defined] # simple_history's manager
        rows = list(
            history.filter(**{key: company.pk})
            .select_related("history_user")
            .order_by("-history_date", "-history_id")[:HISTORY_PER_SOURCE]
        )
        previous: dict[int, Any] = {}
        for row in reversed(rows):  # oldest first, to pair each version with the one before
            before = previous.get(row.id)
            changes = (
                [
                    _field_change(field, getattr(before, field.attname), getattr(row, field.attname))
                    for field in fields
                    if getattr(before, field.attname) != getattr(row, field.attname)
                ]
                if before is not None
                else []
            )
            previous[row.id] = row
            entries.append(
                HistoryEntry(
                    at=row.history_date,
                    user=row.history_user,
                    kind=str(HISTORY_KIND.get(row.history_type, row.history_type)),
                    model=str(opts.verbose_name),
                    record=label(row),
                    url=reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.id]),
                    changes=changes,
                    # The services' own reasons are stored in English and marked (gettext_noop): shown in
                    # the page's language; what a person typed matches no message and shows as typed.
                    reason=gettext(row.history_change_reason) if row.history_change_reason else "",
                )
            )
    entries += _customs_changes(company)
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]


def _customs_changes(company: Company) -> list[HistoryEntry]:
    """The company's latest customs events as changes of their shipments' status (one query).

    The events are the shipments' customs history: no shipment history row repeats them. Each
    is shown at the moment it was recorded, by whoever recorded it, from the status the
    shipment's previous event left; a shipment's first event is its declaration, already shown
    by the shipment's own "created" row.
    """
    previous = (
        CustomsEvent.objects.filter(shipment_id=OuterRef("shipment_id"), chain_seq__lt=OuterRef("chain_seq"))
        .order_by("-chain_seq")
        .values("status")[:1]
    )
    events = (
        CustomsEvent.objects.filter(company_id=company.pk)
        .annotate(previous=Subquery(previous), declaration_number=F("shipment__declaration_number"))
        .order_by("-chain_seq")  # the order recorded, through the (company, chain_seq) key
        .values("shipment_id", "declaration_number", "status", "previous", "note", "recorded_at", "recorded_by")
    )[:HISTORY_PER_SOURCE]
    status = Shipment._meta.get_field("status")
    labels = dict(status.flatchoices)
    return [
        HistoryEntry(
            at=event["recorded_at"],
            user=event["recorded_by"] or None,
            kind=str(HISTORY_KIND["~"]),
            model=str(Shipment._meta.verbose_name),
            record=event["declaration_number"],
            url=reverse("admin:licences_shipment_change", args=[event["shipment_id"]]),
            changes=[(str(status.verbose_name), labels.get(event["previous"]), labels.get(event["status"]))],
            reason=event["note"],  # typed by a person: shown as typed
        )
        for event in events
        if event["previous"] is not None
    ]
