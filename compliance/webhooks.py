"""Signed webhooks: POST a queued delivery, retry, disable dead receivers.

Each delivery is a JSON POST with these headers::

    Content-Type: application/json
    X-Compliance-Event: finding.opened
    X-Compliance-Delivery: <uuid>                   (the same on every retry: de-duplicate on it)
    X-Compliance-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>

Receivers check the signature with :func:`verify_signature`. Deliveries are queued, one per
event and subscription, by the webhook outbox (:mod:`compliance.webhook_outbox`).

One HTTP attempt per task run (:func:`attempt_delivery`); every attempt is logged in
``WebhookAttempt``. A network error, a timeout, a 5xx, 408 or 429 is transient: the task
retries with exponential backoff and jitter until ``WEBHOOK_MAX_ATTEMPTS``. Any other
non-2xx answer fails the delivery at once. A subscription whose deliveries fail
``WEBHOOK_DISABLE_AFTER_FAILURES`` times in a row is disabled with its reason, logged at
error level and, for a company's subscription, flagged by a ``webhook_disabled`` finding
(:func:`compliance.sweep.flag_finding`).
Each delivery is its own task with a short timeout, so a dead receiver never holds up
other deliveries or the sweep.

Every attempt resolves and checks the receiver's URL again and connects to the checked
address (:mod:`compliance.webhook_targets`: public addresses only, https, no redirects). The
company reads a generic reason ("delivery failed"); the detailed error of each attempt is in
``WebhookAttempt`` (the regulator's admin) and the log.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import time
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_noop

from compliance.models import Finding, WebhookAttempt, WebhookDelivery, WebhookSubscription
from compliance.sweep import flag_finding
from compliance.webhook_targets import WebhookUrlForbidden, connection_for, webhook_target

logger = logging.getLogger(__name__)

DeliveryStatus = WebhookDelivery.Status
SIGNATURE_HEADER = "X-Compliance-Signature"
TRANSIENT_STATUS_CODES = frozenset({408, 425, 429})
USER_AGENT = "chip-import-compliance-webhooks/1.0"
# The only failure reason a company is shown (see _count_failed_delivery).
GENERIC_FAILURE = "delivery failed"


class TransientDeliveryError(Exception):
    """A delivery attempt failed in a way worth retrying (network, timeout, 5xx, 408, 429)."""


def _config(name: str) -> Any:
    return settings.COMPLIANCE[name]


# --- Signatures ------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with the subscription's secret."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Compliance-Signature`` value: ``t=<timestamp>,v1=<signature>``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify_signature(
    secret: str, header: str, body: bytes, tolerance: int | None = None, *, now: float | None = None
) -> bool:
    """For receivers: is ``header`` a valid signature of ``body`` with ``secret``, made within
    ``tolerance`` seconds of now (default ``WEBHOOK_SIGNATURE_TOLERANCE_SECONDS``)?

    Compares in constant time; accepts any of several ``v1=`` values (secret rotation). A
    malformed header (``t=²``, a timestamp of a thousand digits, a non-ASCII signature) is
    simply not a valid signature: ``False``, never an exception.
    """
    tolerance = _config("WEBHOOK_SIGNATURE_TOLERANCE_SECONDS") if tolerance is None else tolerance
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header if isinstance(header, str) else "").split(","):
        name, _, value = part.strip().partition("=")
        # ASCII digits only ("²".isdigit() is true, int("²") fails), and no more than a Unix
        # time has: a longer one overflows the float arithmetic below.
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1" and value and value.isascii():  # compare_digest refuses non-ASCII text
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


# --- Queueing ----------------------------------------------------------------------------------


# --- Delivering ----------------------------------------------------------------------------------


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """POST ``body``; returns the status code (``None`` if no answer) and an error text.

    The URL is resolved and checked again now (:func:`webhook_target`) and the connection
    goes to the checked address; a refused URL makes no connection at all. Redirects are
    not followed: a receiver must answer at its registered URL. The error text is detailed,
    for ``WebhookAttempt`` (the regulator's admin) and logs only.
    """
    try:
        target = webhook_target(url)
    except WebhookUrlForbidden as refusal:
        return None, f"Refused before connecting: {refusal.reason}"[:500]
    connection = connection_for(target, timeout=timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return response.status, ""
    return response.status, f"HTTP {response.status} {response.reason}"[:500]


def request_body(delivery: WebhookDelivery) -> bytes:
    """The exact bytes POSTed (and signed) for a delivery."""
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()


def attempt_delivery(*, delivery_pk: int) -> str:
    """Make one HTTP attempt at a pending delivery and record it. Idempotent.

    Returns ``"delivered"``, ``"failed"`` or ``"skipped"`` (already final or gone);
    raises :class:`TransientDeliveryError` when the attempt should be retried.
    """
    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_pk).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return "skipped"
    subscription = delivery.subscription
    if not subscription.is_active:
        WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED
        )
        return "failed"

    body = request_body(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Compliance-Event": delivery.event_type,
        "X-Compliance-Delivery": str(delivery.delivery_id),
        SIGNATURE_HEADER: signature_header(subscription.secret, body),
    }
    attempted_at = timezone.now()
    started = time.monotonic()
    code, error = _post(subscription.url, body, headers, _config("WEBHOOK_TIMEOUT_SECONDS"))
    duration_ms = int((time.monotonic() - started) * 1000)
    WebhookAttempt.objects.create(
        delivery=delivery, attempted_at=attempted_at, response_code=code, error=error, duration_ms=duration_ms
    )
    attempts = delivery.attempts + 1

    if code is not None and 200 <= code < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.DELIVERED, attempts=attempts, delivered_at=timezone.now()
        )
        WebhookSubscription.objects.filter(pk=subscription.pk, consecutive_failures__gt=0).update(
            consecutive_failures=0
        )
        return "delivered"

    transient = code is None or code >= 500 or code in TRANSIENT_STATUS_CODES
    if transient and attempts < _config("WEBHOOK_MAX_ATTEMPTS"):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=attempts)
        raise TransientDeliveryError(f"Delivery {delivery.delivery_id} attempt {attempts}: {error}")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempts=attempts)
    logger.warning("Webhook delivery %s to %s failed after %s attempts: %s", delivery.delivery_id,
                   subscription.url, attempts, error)  # fmt: skip
    _count_failed_delivery(subscription, error)
    return "failed"


def _count_failed_delivery(subscription: WebhookSubscription, error: str) -> None:
    """One more failed delivery in a row; at the threshold the subscription is disabled and flagged."""
    WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    subscription.refresh_from_db(fields=["consecutive_failures", "is_active"])
    threshold = _config("WEBHOOK_DISABLE_AFTER_FAILURES")
    if not subscription.is_active or subscription.consecutive_failures < threshold:
        return
    subscription.is_active = False
    subscription.disabled_at = timezone.now()
    # What the company reads (API, the webhook_disabled finding) is generic: the detailed
    # error (refused, reset, TLS, status) would map its network for it. The details stay in
    # WebhookAttempt (the regulator's admin) and the log.
    subscription.disabled_reason = (
        f"Disabled after {subscription.consecutive_failures} consecutive failed deliveries: {GENERIC_FAILURE}."
    )
    subscription._change_reason = gettext_noop("Disabled: the receiver keeps failing")
    subscription.save(update_fields=["is_active", "disabled_at", "disabled_reason"])
    logger.error("Webhook subscription %s (%s) disabled: %s; last error: %s", subscription.pk, subscription.url,
                 subscription.disabled_reason, error)  # fmt: skip
    if subscription.company_id is not None:
        flag_finding(
            company_id=subscription.company_id,
            rule="webhook_disabled",
            subject=f"webhook:{subscription.pk}",
            severity=Finding.Severity.WARNING,
            summary=f"Webhook subscription {subscription.name} was disabled: its receiver keeps failing"[:300],
            details={"subscription": subscription.pk, "url": subscription.url, "reason": subscription.disabled_reason},
            by="webhook delivery",
        )
