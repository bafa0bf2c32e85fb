"""Retention: what the service forgets, and when (``settings.RETENTION``; 0 days keeps forever).

- Ingestion batches: the stored answer (``response_body``, up to megabytes) is dropped after
  ``BATCH_ANSWER_DAYS``; the row (batch id, counts, fingerprint) stays, so a replay of that
  batch id is still refused or answered (``batch_answer_expired``), never run twice. The row
  goes after ``BATCH_ROW_DAYS``.
- Idempotency records go after ``IDEMPOTENCY_DAYS`` (the key may then be reused).
- Webhook attempts go after ``WEBHOOK_DAYS``, and so do deliveries that are over
  (delivered or failed) and older than that; pending deliveries are never pruned.
- django-axes' login log (successful admin sign-ins) goes after ``LOGIN_LOG_DAYS``.

Every step is set-based and chunked: select up to ``CHUNK_SIZE`` primary keys, delete (or
update) those in one statement, repeat until a chunk comes back short. Each chunk commits on
its own, so a long prune never holds locks for long; running it again removes nothing more.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from compliance.models import IdempotencyRecord, IngestionBatch, WebhookAttempt, WebhookDelivery

logger = logging.getLogger(__name__)


@dataclass
class PruneSummary:
    batch_answers_dropped: int = 0
    batches_deleted: int = 0
    idempotency_records_deleted: int = 0
    webhook_attempts_deleted: int = 0
    webhook_deliveries_deleted: int = 0
    login_log_deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _cutoff(now: dt.datetime, days: int) -> dt.datetime | None:
    return None if days <= 0 else now - dt.timedelta(days=days)


def _chunked_delete(queryset: QuerySet, chunk_size: int) -> int:
    """Delete every row of ``queryset``, ``chunk_size`` primary keys at a time."""
    total = 0
    model = queryset.model
    while True:
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:chunk_size])
        if not pks:
            return total
        with transaction.atomic():
            # One DELETE ... WHERE id IN (...) (Django's fast delete: these tables have no
            # signals, and their children are deleted first by the callers).
            _, per_model = model.objects.filter(pk__in=pks).delete()
            total += per_model.get(model._meta.label, 0)
        if len(pks) < chunk_size:
            return total


def _chunked_update(queryset: QuerySet, chunk_size: int, **values: object) -> int:
    total = 0
    model = queryset.model
    while True:
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:chunk_size])
        if not pks:
            return total
        with transaction.atomic():
            total += model.objects.filter(pk__in=pks).update(**values)
        if len(pks) < chunk_size:
            return total


def prune(now: dt.datetime | None = None) -> PruneSummary:
    """Apply every retention rule once; returns what was removed."""
    now = now or timezone.now()
    rules = settings.RETENTION
    chunk = max(1, int(rules["CHUNK_SIZE"]))
    summary = PruneSummary()

    # Finished batches only (response_status 0 means the batch is still running).
    if cutoff := _cutoff(now, rules["BATCH_ANSWER_DAYS"]):
        answered = IngestionBatch.objects.filter(created_at__lt=cutoff, response_status__gt=0).exclude(response_body="")
        summary.batch_answers_dropped = _chunked_update(answered, chunk, response_body="")
    if cutoff := _cutoff(now, rules["BATCH_ROW_DAYS"]):
        old = IngestionBatch.objects.filter(created_at__lt=cutoff, response_status__gt=0)
        summary.batches_deleted = _chunked_delete(old, chunk)

    if cutoff := _cutoff(now, rules["IDEMPOTENCY_DAYS"]):
        summary.idempotency_records_deleted = _chunked_delete(
            IdempotencyRecord.objects.filter(created_at__lt=cutoff, response_status__gt=0), chunk
        )

    if cutoff := _cutoff(now, rules["WEBHOOK_DAYS"]):
        over = Q(status=WebhookDelivery.Status.DELIVERED) | Q(status=WebhookDelivery.Status.FAILED)
        old_deliveries = WebhookDelivery.objects.filter(over, created_at__lt=cutoff)
        # Attempts first: old ones, then those of the deliveries about to go.
        summary.webhook_attempts_deleted = _chunked_delete(
            WebhookAttempt.objects.filter(attempted_at__lt=cutoff), chunk
        ) + _chunked_delete(WebhookAttempt.objects.filter(delivery__in=old_deliveries.values("pk")), chunk)
        summary.webhook_deliveries_deleted = _chunked_delete(old_deliveries, chunk)

    if cutoff := _cutoff(now, rules["LOGIN_LOG_DAYS"]):
        from axes.models import AccessLog

        summary.login_log_deleted = _chunked_delete(AccessLog.objects.filter(attempt_time__lt=cutoff), chunk)

    logger.info("Retention prune: %s", summary.as_dict())
    return summary
