"""Signed webhooks against a real HTTP server on 127.0.0.1 (no mocks of the network)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from compliance import webhook_outbox, webhooks
from compliance.models import Finding, WebhookAttempt, WebhookDelivery
from compliance.tasks import deliver_webhook
from licences.models import Shipment
from tests.compliance.conftest import approved_licence, make_company, subscription
from tests.factories import ShipmentFactory, at

# These tests deliver to a real listener on 127.0.0.1, which the defaults refuse
# (tests/security/test_webhook_ssrf.py proves it): they allow it explicitly.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_local_receivers")]

D = dt.date
SECRET = "whsec-test-0123456789"


# --- Signatures -------------------------------------------------------------------------------------


def test_signature_round_trip_and_tampering():
    body = b'{"type":"finding.opened"}'
    header = webhooks.signature_header(SECRET, body, timestamp=1_770_000_000)
    assert header == f"t=1770000000,v1={webhooks.sign(SECRET, 1_770_000_000, body)}"
    assert webhooks.verify_signature(SECRET, header, body, tolerance=300, now=1_770_000_100)
    assert not webhooks.verify_signature("wrong-secret", header, body, tolerance=300, now=1_770_000_100)
    assert not webhooks.verify_signature(SECRET, header, body + b" ", tolerance=300, now=1_770_000_100)
    assert not webhooks.verify_signature(SECRET, header, body, tolerance=300, now=1_770_000_301)  # replayed late
    assert not webhooks.verify_signature(SECRET, "garbage", body, tolerance=300, now=1_770_000_000)


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"1770000000.{}", hashlib.sha256).hexdigest()
    assert webhooks.sign(SECRET, 1_770_000_000, b"{}") == expected


# --- Deliveries from a sweep ----------------------------------------------------------------------------


@pytest.fixture
def held(sweep_on):
    """A company whose shipment has been held 8 days: sweeping on 9 February opens a finding."""
    company = make_company("deepseek", name="DeepSeek", emails=("ops@deepseek.example",))
    ShipmentFactory(
        licence=approved_licence(company), declaration_number="DEC-HELD", status=Shipment.Status.HELD,
        held_since=at(D(2026, 2, 1)),
    )  # fmt: skip
    return company


def test_sweep_delivers_a_signed_webhook_to_a_real_receiver(
    held, receiver, sweep_on, eager_celery, django_capture_on_commit_callbacks
):
    subscription(receiver.url, company=held, secret=SECRET, event_types=["finding.opened"])
    with django_capture_on_commit_callbacks(execute=True):
        sweep_on(D(2026, 2, 9))
    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert headers["X-Compliance-Event"] == "finding.opened"
    assert headers["X-Compliance-Delivery"] == str(delivery.delivery_id)
    assert headers["Content-Type"] == "application/json"
    assert webhooks.verify_signature(SECRET, headers["X-Compliance-Signature"], body, tolerance=300)
    assert not webhooks.verify_signature("another-secret", headers["X-Compliance-Signature"], body, tolerance=300)
    payload = json.loads(body)
    assert payload["id"] == str(delivery.delivery_id)
    assert payload["type"] == "finding.opened"
    assert payload["finding"]["rule"] == "customs_hold_overdue"
    assert payload["finding"]["company"] == {"id": held.pk, "slug": "deepseek", "name": "DeepSeek"}
    assert [(a.response_code, a.error) for a in WebhookAttempt.objects.all()] == [(200, "")]
    # The next sweep sends nothing.
    with django_capture_on_commit_callbacks(execute=True):
        sweep_on(D(2026, 2, 10))
    assert len(receiver.requests) == 1


def test_subscriptions_get_only_their_company_and_event_types(held, receiver, sweep_on):
    other = make_company("other")
    subscription(receiver.url, company=held, name="own")
    subscription(receiver.url, company=other, name="someone else's")
    subscription(receiver.url, name="regulator, resolutions only", event_types=["finding.resolved"])
    subscription(receiver.url, name="regulator, everything")
    sweep_on(D(2026, 2, 9))
    assert sorted(WebhookDelivery.objects.values_list("subscription__name", flat=True)) == [
        "own",
        "regulator, everything",
    ]


def test_a_500_is_retried_and_then_succeeds(held, receiver, sweep_on, eager_celery):
    receiver.script = [500]
    subscription(receiver.url, secret=SECRET)
    sweep_on(D(2026, 2, 9))
    delivery = WebhookDelivery.objects.get()
    assert deliver_webhook.apply(args=[delivery.pk]).get() == "delivered"  # the retry runs at once
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.DELIVERED, 2)
    assert [r["code"] for r in receiver.requests] == [500, 200]
    assert len({r["headers"]["X-Compliance-Delivery"] for r in receiver.requests}) == 1  # same id on retry
    assert all(
        webhooks.verify_signature(SECRET, r["headers"]["X-Compliance-Signature"], r["body"]) for r in receiver.requests
    )
    assert list(delivery.attempt_log.values_list("response_code", "error")) == [
        (500, "HTTP 500 Internal Server Error"),
        (200, ""),
    ]
    # Delivered is final: running the task again sends nothing.
    assert deliver_webhook.apply(args=[delivery.pk]).get() == "skipped"
    assert len(receiver.requests) == 2


def test_a_client_error_is_not_retried(held, receiver, sweep_on, eager_celery):
    receiver.script = [410]
    subscription(receiver.url)
    sweep_on(D(2026, 2, 9))
    delivery = WebhookDelivery.objects.get()
    assert deliver_webhook.apply(args=[delivery.pk]).get() == "failed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(receiver.requests)) == ("failed", 1, 1)


def test_a_dead_receiver_ends_disabled_after_the_threshold_and_does_not_block_others(
    held, receiver, dead_url, travel, compliance_settings, eager_celery
):
    compliance_settings(WEBHOOK_MAX_ATTEMPTS=2, WEBHOOK_DISABLE_AFTER_FAILURES=3)
    dead = subscription(dead_url, company=held, name="Dead receiver")
    alive = subscription(receiver.url, name="Live receiver")
    finding = Finding.objects.create(
        rule="customs_hold_overdue", severity="warning", company=held, subject="s", fingerprint="f", summary="s",
        first_seen_at=at(D(2026, 2, 9)), last_seen_at=at(D(2026, 2, 9)),
    )  # fmt: skip
    travel(D(2026, 2, 9))
    from compliance.outcomes import FindingEvent

    results = []
    for key in ("k1", "k2", "k3", "k4"):
        event = FindingEvent(finding=finding, event="opened", key=key)
        pks = webhook_outbox.queue_deliveries([event], now=at(D(2026, 2, 9)))
        for pk in sorted(pks):
            results.append(
                (WebhookDelivery.objects.get(pk=pk).subscription.name, deliver_webhook.apply(args=[pk]).get())
            )
    assert results == [
        ("Dead receiver", "failed"),
        ("Live receiver", "delivered"),
        ("Dead receiver", "failed"),
        ("Live receiver", "delivered"),
        ("Dead receiver", "failed"),
        ("Live receiver", "delivered"),
        ("Live receiver", "delivered"),  # the dead one is disabled: no fourth delivery is even queued
    ]
    dead.refresh_from_db()
    assert (dead.is_active, dead.consecutive_failures) == (False, 3)
    # The company reads a generic reason; the detailed error stays in the attempt log (admin only).
    assert dead.disabled_reason == "Disabled after 3 consecutive failed deliveries: delivery failed."
    last_error = WebhookAttempt.objects.filter(delivery__subscription=dead).latest("attempted_at", "pk").error
    assert last_error.startswith("ConnectionRefusedError:")
    assert WebhookAttempt.objects.filter(delivery__subscription=dead).count() == 3 * 2
    assert all(code is None for code in WebhookAttempt.objects.filter(delivery__subscription=dead).values_list(
        "response_code", flat=True))  # fmt: skip
    flag = Finding.objects.get(rule="webhook_disabled")
    assert (flag.company, flag.severity, flag.subject) == (held, "warning", f"webhook:{dead.pk}")
    alive.refresh_from_db()
    assert (alive.is_active, alive.consecutive_failures) == (True, 0)
    # A delivery left pending for a disabled subscription fails without an attempt.
    pending = WebhookDelivery.objects.create(
        subscription=dead, delivery_id="00000000-0000-0000-0000-000000000001", event_type="finding.opened", payload={}
    )
    assert deliver_webhook.apply(args=[pending.pk]).get() == "failed"
    assert pending.attempt_log.count() == 0


def test_a_slow_receiver_times_out_as_a_transient_failure(held, dead_url, compliance_settings):
    """An unanswered connection is bounded by the timeout (a listening socket that never replies)."""
    import socket

    compliance_settings(WEBHOOK_TIMEOUT_SECONDS=1, WEBHOOK_MAX_ATTEMPTS=1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        sub = subscription(url)
        delivery = WebhookDelivery.objects.create(
            subscription=sub, delivery_id="00000000-0000-0000-0000-000000000002", event_type="finding.opened",
            payload={"x": 1},
        )  # fmt: skip
        started = time.monotonic()
        assert webhooks.attempt_delivery(delivery_pk=delivery.pk) == "failed"
        assert time.monotonic() - started < 5
    assert "timed out" in delivery.attempt_log.get().error
