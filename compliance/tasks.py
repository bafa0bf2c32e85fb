"""Celery tasks: thin and idempotent. Each takes ids (JSON), re-fetches and calls a service.

- ``sweep``: the hourly full sweep. Takes the sweep lock (no two sweeps overlap), then fans
  out over companies in chunks as a chord: more workers finish it sooner; the chord's
  last task merges the summaries and releases the lock.
- ``recheck_company``: the on-change re-check of one company (enqueued by
  ``compliance.signals`` after commit through :func:`request_recheck`, which coalesces:
  at most one re-check of a company waits in the broker, whatever the rate of change, and
  one runs at a time).
- ``deliver_webhook``: one HTTP attempt per run, retried with exponential backoff and
  jitter on transient failures.
- ``send_reminders`` and ``send_digest``: daily at 07:00 Asia/Shanghai.
- ``prune``: daily at 03:30 Asia/Shanghai, the retention settings (:mod:`compliance.retention`).
- ``expire_licences``: daily at 00:10 Asia/Shanghai, expires the licences past their window
  (:mod:`compliance.expiry`): ledger rows, released remainders, a finding and alerts each.
- ``verify_ledgers``: daily at 04:00 Asia/Shanghai, the hash chains' check
  (:mod:`compliance.ledger_audit`): a critical ``ledger_tampered`` finding per broken chain.

This is the only module of the app that knows Celery, and it sits on top: the modules below
never import it. The webhook outbox gets its task handed in (:func:`register`), and the
on-change re-checks (:mod:`compliance.signals`) enqueue ``recheck_company`` from above.

Re-running any of them, or a re-delivery after a worker died (``acks_late``), leaves the
same state and sends nothing twice: findings are upserts and every alert is recorded
under a unique constraint before it is sent.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import chord, group, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from compliance import alerts, expiry, ledger_audit, locks, retention, webhook_outbox, webhooks
from compliance.chunks import company_chunks
from compliance.outcomes import SweepSummary
from compliance.sweep import run_sweep
from licences.models import Company

logger = logging.getLogger(__name__)

SWEEP_LOCK = "compliance-sweep"
RECHECK_PENDING = "recheck-pending:{}"
RECHECK_RUNNING = "recheck-running:{}"
RECHECK_TIME_LIMIT = 180  # seconds: the re-check's hard limit, so also its running lock's lifetime
RECHECK_DEFER_SECONDS = 1  # a re-check finding its company's running is sent again this much later
# A lost database connection or a lock timeout is worth a retry; anything else is a bug.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)
DB_RETRY: dict[str, Any] = {
    "autoretry_for": TRANSIENT_DB_ERRORS,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180, **DB_RETRY)
def sweep() -> dict[str, Any]:
    """Start a full sweep unless one is running: a chord of ``sweep_chunk`` over the companies."""
    compliance = settings.COMPLIANCE
    holder = locks.acquire_lock(SWEEP_LOCK, ttl_seconds=compliance["SWEEP_LOCK_SECONDS"])
    if holder is None:
        logger.info("A compliance sweep is already running; this one is skipped.")
        return {"started": False, "reason": "a sweep is already running"}
    try:
        webhook_outbox.requeue_stale_deliveries()
        chunks = company_chunks()
    except Exception:
        locks.release_lock(SWEEP_LOCK, holder)
        raise
    if not chunks:
        locks.release_lock(SWEEP_LOCK, holder)
        return {"started": False, "reason": "no companies"}
    finish = sweep_finished.s(holder).on_error(sweep_failed.si(holder))
    chord(group(sweep_chunk.s(chunk) for chunk in chunks), finish).apply_async()
    return {"started": True, "chunks": len(chunks), "companies": sum(len(chunk) for chunk in chunks)}


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660, **DB_RETRY)
def sweep_chunk(company_ids: list[int]) -> dict[str, Any]:
    """Sweep one chunk of companies; returns its summary."""
    return run_sweep(company_ids=[int(pk) for pk in company_ids]).as_dict()


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def sweep_finished(results: list[dict[str, Any]], holder: str) -> dict[str, Any]:
    """Merge the chunks' summaries, log them and release the sweep lock."""
    total = SweepSummary()
    for result in results:
        total = total.merge(SweepSummary.from_dict(result))
    locks.release_lock(SWEEP_LOCK, holder)
    for line in total.lines():
        logger.info("Compliance sweep: %s", line.strip())
    return total.as_dict()


@shared_task(soft_time_limit=30, time_limit=60)
def sweep_failed(holder: str) -> None:
    """A chunk failed for good: release the lock now rather than at its expiry."""
    logger.error("A compliance sweep chunk failed; releasing the sweep lock.")
    locks.release_lock(SWEEP_LOCK, holder)


@shared_task(acks_late=True, soft_time_limit=120, time_limit=RECHECK_TIME_LIMIT, **DB_RETRY)
def recheck_company(company_id: int, pending: str | None = None) -> dict[str, Any]:
    """Re-check one company after a change to its licences, shipments, commitments or attestations.

    One re-check of a company runs at a time: while another holds the company's running
    lock, this one is sent again ``RECHECK_DEFER_SECONDS`` later, its pending marker kept,
    so the company's changes meanwhile still coalesce into it and a company changing
    continuously never occupies more than one worker process.

    ``pending`` is the token of the marker :func:`request_recheck` took: cleared once the
    run has its lock, before anything is read, so a change committed while this run reads
    enqueues one more run (it may not be seen by this one) and a change committed before it
    is seen by this one.
    """
    running = RECHECK_RUNNING.format(company_id)
    holder = locks.acquire_lock(running, ttl_seconds=RECHECK_TIME_LIMIT)
    if holder is None:
        recheck_company.apply_async((company_id,), {"pending": pending}, countdown=RECHECK_DEFER_SECONDS)
        return {"deferred": f"a re-check of company {company_id} is running"}
    try:
        if pending is not None:
            locks.release_lock(RECHECK_PENDING.format(company_id), pending)
        if not Company.objects.filter(pk=company_id).exists():
            return {"skipped": f"company {company_id} does not exist"}
        return run_sweep(company_ids=[company_id]).as_dict()
    finally:
        locks.release_lock(running, holder)


def request_recheck(company_id: int) -> bool:
    """Enqueue ``recheck_company(company_id)`` unless one is already waiting; ``True`` if enqueued.

    Coalescing: a per-company marker (a ``JobLock`` row, so it works on the embedded SQLite
    and filesystem broker as on PostgreSQL and Redis) is taken in one atomic statement
    before the message is sent and cleared by the task when it starts. While it is held, a
    re-check is queued and has not started, so it will read this change too: nothing more
    is sent. The marker expires after ``RECHECK_PENDING_SECONDS``: a message lost with its
    broker blocks the company's re-checks for at most that long (the hourly full sweep
    re-checks every company anyway). A message that waits longer than that in a backlog
    lets one more through per expiry, never one per change.
    """
    name = RECHECK_PENDING.format(company_id)
    holder = locks.acquire_lock(name, ttl_seconds=settings.COMPLIANCE["RECHECK_PENDING_SECONDS"])
    if holder is None:
        return False
    try:
        recheck_company.delay(company_id, pending=holder)
    except Exception:
        locks.release_lock(name, holder)  # nothing was queued: the next change must try again
        raise
    return True


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(webhooks.TransientDeliveryError,),
    retry_backoff=settings.COMPLIANCE["WEBHOOK_RETRY_BACKOFF_SECONDS"],
    retry_backoff_max=settings.COMPLIANCE["WEBHOOK_RETRY_BACKOFF_MAX_SECONDS"],
    retry_jitter=True,
    # The attempt count in the database is authoritative (``WEBHOOK_MAX_ATTEMPTS``); this is a backstop.
    max_retries=settings.COMPLIANCE["WEBHOOK_MAX_ATTEMPTS"] + 2,
    soft_time_limit=settings.COMPLIANCE["WEBHOOK_TIMEOUT_SECONDS"] * 3,
    time_limit=settings.COMPLIANCE["WEBHOOK_TIMEOUT_SECONDS"] * 4,
)
def deliver_webhook(self, delivery_id: int) -> str:
    """Make one attempt at a webhook delivery (``delivery_id`` is the row's primary key)."""
    return webhooks.attempt_delivery(delivery_pk=delivery_id)


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360, **DB_RETRY)
def send_reminders() -> int:
    """Send the expiry reminders due today (30, 7 and 1 days before)."""
    return alerts.send_reminders()


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360, **DB_RETRY)
def send_digest() -> int:
    """Send today's digest to regulator staff and to companies with open findings."""
    return alerts.send_daily_digest()


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1900, **DB_RETRY)
def prune() -> dict[str, int]:
    """Daily: apply the retention settings (``settings.RETENTION``); idempotent."""
    return retention.prune().as_dict()


@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3700, **DB_RETRY)
def verify_ledgers() -> dict[str, Any]:
    """Daily: recompute the hash chains; a critical ``ledger_tampered`` finding per broken chain; idempotent."""
    return ledger_audit.audit_ledgers().as_dict()


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1900, **DB_RETRY)
def expire_licences() -> dict[str, Any]:
    """Daily: expire every licence past its ``valid_until`` (set-based, idempotent)."""
    return expiry.run_expiry().as_dict()


def register() -> None:
    """Hand the modules below their task: the webhook outbox enqueues ``deliver_webhook``
    (called by ``ComplianceConfig.ready``, so in every process, web and worker alike)."""
    webhook_outbox.deliver_with(deliver_webhook.delay)
