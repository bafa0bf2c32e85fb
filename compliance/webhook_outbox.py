"""The webhook outbox: one pending ``WebhookDelivery`` per finding event and subscription,
handed to a worker once the transaction that wrote it commits.

The delivery id is derived from the subscription, the finding's fingerprint, the event and
its moment (UUID 5), so queueing the same event twice creates one delivery. The sweep
writes the outbox in the transaction that writes the findings (:mod:`compliance.sweep`);
the attempts themselves are :mod:`compliance.webhooks`.

Each payload carries the finding's machine fields unchanged and, beside them, a ``summary``
for people in the subscription's language (``WebhookSubscription.language``): what happened
and the finding's summary, as the alert e-mail's subject says it.

This module sits below the sweep and the tasks and imports neither: the function handing a
delivery to a worker is registered by :func:`compliance.tasks.register` when the app is
ready (:func:`deliver_with`), so only ``compliance.tasks`` knows Celery.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation

from common import bulk
from compliance.finding_text import event_summary
from compliance.models import AlertEmail, Finding, WebhookDelivery, WebhookSubscription
from compliance.outcomes import FindingEvent
from licences.models import Company

DeliveryStatus = WebhookDelivery.Status
EVENT_TYPES: dict[str, str] = {
    AlertEmail.Event.OPENED: "finding.opened",
    AlertEmail.Event.ESCALATED: "finding.escalated",
    AlertEmail.Event.RESOLVED: "finding.resolved",
}
# Fixed namespace for delivery ids (UUID 5): the same event always gets the same id.
DELIVERY_NAMESPACE = uuid.UUID("6f1c3c8e-2b1a-5c53-9a55-7d1f0c4a1e01")

# Hands one pending delivery (its primary key) to a worker: set by ``compliance.tasks``.
_deliver: Callable[[int], Any] | None = None


def deliver_with(deliver: Callable[[int], Any]) -> None:
    """Register how a pending delivery is handed to a worker (``compliance.tasks`` does, on app ready)."""
    global _deliver
    _deliver = deliver


def finding_payload(finding: Finding, company: dict[str, Any]) -> dict[str, Any]:
    """The JSON representation of a finding in a webhook body."""

    def stamp(value: datetime.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": finding.pk,
        "rule": finding.rule,
        "severity": finding.severity,
        "status": finding.status,
        "company": company,
        "subject": finding.subject,
        "fingerprint": finding.fingerprint,
        "summary": finding.summary,
        "details": finding.details,
        "first_seen_at": stamp(finding.first_seen_at),
        "last_seen_at": stamp(finding.last_seen_at),
        "resolved_at": stamp(finding.resolved_at),
        "resolution_note": finding.resolution_note,
    }


def company_payload(company: Company) -> dict[str, Any]:
    """The company in a webhook body: its machine fields and its English name (as before)."""
    return {"id": company.pk, "slug": company.slug, "name": company.name}


def delivery_uuid(*, subscription_id: int, fingerprint: str, event: str, key: str) -> uuid.UUID:
    """The delivery id of an event for a subscription: stable, so a re-queue is a no-op."""
    return uuid.uuid5(DELIVERY_NAMESPACE, f"{subscription_id}|{fingerprint}|{event}|{key}")


def queue_deliveries(events: Sequence[FindingEvent], *, now: datetime.datetime) -> list[int]:
    """Record one pending ``WebhookDelivery`` per event and interested active subscription.

    A company's subscription receives its own company's events; a regulator-wide one
    (no company) receives every company's. Returns the primary keys of the pending
    deliveries to enqueue. At most four queries whatever the number of events.
    """
    if not events:
        return []
    company_ids = {event.company_id for event in events}
    subscriptions = list(
        # The companies as one array parameter (a sweep chunk names thousands).
        WebhookSubscription.objects.filter(is_active=True).filter(
            Q(company__isnull=True) | Q(bulk.one_of(WebhookSubscription, "company_id", company_ids))
        )
    )
    if not subscriptions:
        return []
    found = Company.objects.filter(bulk.one_of(Company, "pk", company_ids)).only("id", "slug", "name", "name_zh")
    companies = {company.pk: company for company in found}
    rows = []
    for event in events:
        event_type = EVENT_TYPES.get(event.event)
        if event_type is None:
            continue
        for subscription in subscriptions:
            if subscription.company_id not in (None, event.company_id) or not subscription.wants(event_type):
                continue
            finding = event.finding
            delivery_id = delivery_uuid(
                subscription_id=subscription.pk, fingerprint=finding.fingerprint, event=event.event, key=event.key
            )
            with translation.override(subscription.language or settings.ALERT_DEFAULT_LANGUAGE):
                summary = event_summary(event.event, finding, event.key, companies[finding.company_id])
            payload = {
                "id": str(delivery_id),
                "type": event_type,
                "created_at": now.isoformat(),
                "language": subscription.language or settings.ALERT_DEFAULT_LANGUAGE,
                "summary": summary,
                "finding": finding_payload(finding, company_payload(companies[finding.company_id])),
            }
            rows.append(
                WebhookDelivery(
                    subscription=subscription,
                    delivery_id=delivery_id,
                    event_type=event_type,
                    finding=finding,
                    payload=payload,
                )
            )
    if not rows:
        return []
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    return list(
        WebhookDelivery.objects.filter(
            delivery_id__in=[row.delivery_id for row in rows], status=DeliveryStatus.PENDING
        ).values_list("pk", flat=True)
    )


def schedule_deliveries(delivery_pks: Sequence[int]) -> None:
    """Hand each delivery to a worker (the ``deliver_webhook`` task) once the current transaction commits.

    ``robust``: a broker outage is logged, not raised; the delivery stays pending and the
    hourly sweep re-enqueues it (:func:`requeue_stale_deliveries`).
    """
    if not delivery_pks:
        return
    if _deliver is None:
        raise ImproperlyConfigured("No webhook dispatcher: compliance.tasks.register() runs when the app is ready.")
    for pk in delivery_pks:
        transaction.on_commit(partial(_deliver, pk), robust=True)


def requeue_stale_deliveries(*, older_than_seconds: int = 3600) -> int:
    """Re-enqueue deliveries still pending long after their retries should have ended
    (a lost task or a broker outage). Receivers de-duplicate on the delivery id."""
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than_seconds)
    pks = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, created_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    schedule_deliveries(pks)
    return len(pks)
