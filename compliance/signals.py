"""On-change re-checks: a change to a company's licences, shipments, commitments or
attestations enqueues a re-check of that company once the transaction commits.

Within one transaction a company is enqueued once (:func:`_already_enqueued`); across
transactions the re-checks coalesce (:func:`compliance.tasks.request_recheck`): while one
waits in the broker unstarted, later commits add nothing, so a company changing
continuously keeps at most one queued and one running.

The handlers live here, in the top app, because the lower apps never import
``compliance``; they are connected in ``ComplianceConfig.ready``. ``robust``: a broker
outage is logged and never breaks the write; the hourly sweep catches up.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save

from compliance.models import SecurityAttestation
from compliance.tasks import request_recheck
from licences.models import ImportLicence, Shipment
from licences.signals import shipments_changed
from quotas.models import DomesticCommitment

WATCHED_MODELS = (ImportLicence, Shipment, DomesticCommitment, SecurityAttestation)


class _Recheck:
    """The after-commit callback enqueuing one company's re-check (a class, so it can be recognised)."""

    def __init__(self, company_id: int) -> None:
        self.company_id = company_id

    def __call__(self) -> None:
        request_recheck(self.company_id)


def _already_enqueued(company_id: int) -> bool:
    """Is a re-check of this company already waiting for the current transaction's commit?

    Read from Django's own list of pending callbacks, which drops those of rolled-back
    savepoints, so a service saving ten rows of one company enqueues one re-check.
    """
    connection = transaction.get_connection()
    return any(
        isinstance(entry[1], _Recheck) and entry[1].company_id == company_id
        for entry in getattr(connection, "run_on_commit", [])
    )


def enqueue_recheck(company_id: int) -> None:
    """Enqueue ``recheck_company(company_id)`` after the current transaction commits (at once outside one)."""
    if transaction.get_connection().in_atomic_block and _already_enqueued(company_id):
        return
    transaction.on_commit(_Recheck(company_id), robust=True)


def recheck_on_save(sender: type, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """``post_save`` handler: re-check the saved record's company (not for fixture loading)."""
    if raw or instance.company_id is None:
        return
    enqueue_recheck(instance.company_id)


def recheck_after_bulk_change(sender: Any, company_ids: Any = (), **kwargs: Any) -> None:
    """``shipments_changed`` handler: one re-check per company a bulk ingestion touched.

    Bulk writes fire no ``post_save``; the batch service sends this once per batch instead.
    """
    for company_id in sorted(set(company_ids)):
        enqueue_recheck(company_id)


def connect() -> None:
    """Connect the handlers (idempotent: each has a ``dispatch_uid``)."""
    for model in WATCHED_MODELS:
        post_save.connect(recheck_on_save, sender=model, dispatch_uid=f"compliance-recheck-{model._meta.label_lower}")
    shipments_changed.connect(recheck_after_bulk_change, dispatch_uid="compliance-recheck-bulk-shipments")
