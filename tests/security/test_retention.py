"""Review finding 7: nothing was ever pruned. Retention settings, the daily ``compliance.prune``
task (seeded into beat by a migration), ``manage.py prune``: exact counts at the boundaries."""

from __future__ import annotations

import datetime as dt
import uuid
from io import StringIO

import pytest
import time_machine
from axes.models import AccessLog
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask

from compliance import tasks
from compliance.models import (
    CompanyAPIKey,
    IdempotencyRecord,
    IngestionBatch,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from compliance.retention import prune
from licences.models import Shipment
from tests.api import conftest as api_fixtures
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db

world = api_fixtures.world
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def api_key():
    key, _ = CompanyAPIKey.objects.create_key(name="retention", company=CompanyFactory())
    return key


def at(moment: dt.datetime, factory, **fields):
    """Create a row whose ``auto_now_add`` timestamp is ``moment``."""
    with time_machine.travel(moment, tick=False):
        return factory(**fields)


def batch(api_key, batch_id: str, moment: dt.datetime, *, status: int = 207, body: str = '{"ok": true}'):
    return at(
        moment,
        IngestionBatch.objects.create,
        api_key=api_key,
        batch_id=batch_id,
        kind="shipments",
        request_hash="h" * 64,
        response_status=status,
        response_body=body if status else "",
    )


def idempotency(api_key, key: str, moment: dt.datetime, status: int = 201):
    return at(
        moment,
        IdempotencyRecord.objects.create,
        api_key=api_key,
        key=key,
        method="POST",
        path="/api/v1/shipments/",
        request_hash="h" * 64,
        response_status=status,
        response_body={"id": 1},
    )


def test_batch_answers_are_dropped_after_7_days_and_rows_deleted_after_90(api_key) -> None:
    batch(api_key, "answer-old", NOW - 7 * DAY - SECOND)
    batch(api_key, "answer-boundary", NOW - 7 * DAY)  # exactly 7 days: kept
    batch(api_key, "answer-fresh", NOW - DAY)
    batch(api_key, "row-old", NOW - 90 * DAY - SECOND)
    batch(api_key, "row-boundary", NOW - 90 * DAY)
    batch(api_key, "running", NOW - 200 * DAY, status=0)  # still running: never touched

    summary = prune(now=NOW)

    assert (summary.batch_answers_dropped, summary.batches_deleted) == (3, 1)
    bodies = dict(IngestionBatch.objects.values_list("batch_id", "response_body"))
    assert bodies == {
        "answer-old": "",
        "answer-boundary": '{"ok": true}',
        "answer-fresh": '{"ok": true}',
        "row-boundary": "",
        "running": "",
    }
    assert IngestionBatch.objects.get(batch_id="answer-old").response_status == 207  # the row stays
    # Idempotent: a second run removes nothing more.
    assert prune(now=NOW).as_dict() == dict.fromkeys(summary.as_dict(), 0)


def test_idempotency_records_are_deleted_after_7_days_in_chunks_of_set_based_deletes(api_key, settings) -> None:
    settings.RETENTION = {**settings.RETENTION, "CHUNK_SIZE": 2}
    for index in range(5):
        idempotency(api_key, f"old-{index}", NOW - 7 * DAY - (index + 1) * SECOND)
    idempotency(api_key, "boundary", NOW - 7 * DAY)
    idempotency(api_key, "fresh", NOW - SECOND)

    with CaptureQueriesContext(connection) as queries:
        summary = prune(now=NOW)

    assert summary.idempotency_records_deleted == 5
    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == ["boundary", "fresh"]
    deletes = [q["sql"] for q in queries.captured_queries if "idempotencyrecord" in q["sql"].lower()]
    # 5 rows in chunks of 2: three DELETE statements (2 + 2 + 1), never one per row.
    assert sum(sql.lstrip().upper().startswith("DELETE") for sql in deletes) == 3


def test_webhook_attempts_and_finished_deliveries_go_after_90_days(db) -> None:
    subscription = WebhookSubscription.objects.create(name="hook", url="https://hooks.example.com/x", secret="s" * 32)

    def delivery(status: str, moment: dt.datetime, attempts: list[dt.datetime]) -> WebhookDelivery:
        row = at(
            moment,
            WebhookDelivery.objects.create,
            subscription=subscription,
            delivery_id=uuid.uuid4(),
            event_type="finding.opened",
            payload={},
            status=status,
        )
        for attempted_at in attempts:
            WebhookAttempt.objects.create(delivery=row, attempted_at=attempted_at, response_code=200)
        return row

    old = NOW - 90 * DAY - SECOND
    delivered_old = delivery("delivered", old, [old])
    failed_old = delivery("failed", old, [old, old + SECOND])  # one attempt exactly at the boundary
    pending_old = delivery("pending", old, [old, NOW - DAY])  # never pruned, its old attempt is
    delivered_boundary = delivery("delivered", NOW - 90 * DAY, [NOW - 90 * DAY])
    delivered_fresh = delivery("delivered", NOW - DAY, [NOW - DAY])

    summary = prune(now=NOW)

    # Attempts older than 90 days: 1 + 1 + 1 = 3; then failed_old's boundary attempt with its delivery.
    assert (summary.webhook_attempts_deleted, summary.webhook_deliveries_deleted) == (4, 2)
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {
        pending_old.pk,
        delivered_boundary.pk,
        delivered_fresh.pk,
    }
    assert not WebhookDelivery.objects.filter(pk__in=[delivered_old.pk, failed_old.pk]).exists()
    remaining = sorted(WebhookAttempt.objects.values_list("delivery_id", "attempted_at"))
    assert remaining == sorted(
        [
            (pending_old.pk, NOW - DAY),
            (delivered_boundary.pk, NOW - 90 * DAY),
            (delivered_fresh.pk, NOW - DAY),
        ]
    )


def test_zero_days_keeps_records_forever(api_key, settings) -> None:
    settings.RETENTION = {
        **settings.RETENTION,
        "BATCH_ANSWER_DAYS": 0,
        "BATCH_ROW_DAYS": 0,
        "IDEMPOTENCY_DAYS": 0,
        "WEBHOOK_DAYS": 0,
        "LOGIN_LOG_DAYS": 0,
    }
    batch(api_key, "ancient", NOW - 3650 * DAY)
    idempotency(api_key, "ancient", NOW - 3650 * DAY)
    assert set(prune(now=NOW).as_dict().values()) == {0}
    assert IngestionBatch.objects.get().response_body == '{"ok": true}'
    assert IdempotencyRecord.objects.count() == 1


def test_the_admin_login_log_is_pruned_after_90_days() -> None:
    for moment in (NOW - 90 * DAY - SECOND, NOW - 90 * DAY, NOW - DAY):
        at(moment, AccessLog.objects.create, username="admin", ip_address="192.0.2.1", user_agent="t")
    assert prune(now=NOW).login_log_deleted == 1
    assert AccessLog.objects.count() == 2


def test_the_command_and_the_task_prune_and_beat_runs_the_task_daily(api_key) -> None:
    batch(api_key, "old", dt.datetime.now(dt.UTC) - 8 * DAY)
    out = StringIO()
    call_command("prune", stdout=out)
    assert "batch answers dropped: 1" in out.getvalue().splitlines()
    assert IngestionBatch.objects.get().response_body == ""

    idempotency(api_key, "old", dt.datetime.now(dt.UTC) - 8 * DAY)
    assert tasks.prune.apply().get()["idempotency_records_deleted"] == 1

    task = PeriodicTask.objects.select_related("crontab").get(task="compliance.tasks.prune")
    assert (task.enabled, task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == (
        True,
        "30",
        "3",
        "Asia/Shanghai",
    )


def test_a_replay_of_a_batch_whose_answer_was_pruned_is_a_409_and_runs_nothing(world) -> None:
    client = world.client("a")
    body = {
        "batch_id": "pruned-batch",
        "items": [
            {
                "declaration_number": "DEC-PRUNE-1",
                "licence": "LIC-A-1",
                "quantity": 10,
                "declared_value_usd": "320000.00",
                "port_of_entry": "Shanghai Pudong",
                "declared_at": "2026-03-02T10:00:00+08:00",
            }
        ],
    }
    first = client.post("/api/v1/shipments/batch/", body, format="json")
    assert first.status_code == 207, first.content
    IngestionBatch.objects.filter(batch_id="pruned-batch").update(created_at=NOW - 8 * DAY)
    assert prune(now=NOW).batch_answers_dropped == 1

    replay = client.post("/api/v1/shipments/batch/", body, format="json")

    assert replay.status_code == 409
    assert replay.json()["code"] == "batch_answer_expired"
    assert "1 accepted, 0 refused" in replay.json()["detail"]
    assert Shipment.objects.filter(declaration_number="DEC-PRUNE-1").count() == 1
    assert IngestionBatch.objects.filter(batch_id="pruned-batch").count() == 1
