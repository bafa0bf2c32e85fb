"""End to end with a real Redis broker, PostgreSQL and a real Celery worker process.

A change made through the service layer (a shipment declared while its chip is under an
entry block) commits, the ``post_save`` handler enqueues a re-check after commit, the
worker runs it, opens an ``entry_block_shipment`` finding and delivers a signed webhook
to a receiver listening on 127.0.0.1 in this process. No task is called directly.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from compliance import webhooks
from compliance.models import Finding, WebhookDelivery
from config import celery_app
from licences.services import licence_apply, licence_approve, shipment_declare
from tests import broker
from tests.compliance.conftest import h200, make_company, subscription
from tests.factories import AllocationRoundFactory, CustomsDirectiveFactory

ROOT = Path(__file__).resolve().parents[2]
SECRET = "integration-secret"
DEADLINE_SECONDS = 60


@pytest.fixture(autouse=True)
def _broker_to_ourselves():
    """A real worker consumes whatever the broker holds: no other test process may use it meanwhile."""
    with broker.exclusive():
        yield


def database_url() -> str:
    """The URL of the test database this process uses, for the worker."""
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(log_path: Path, var_dir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "VAR_DIR": str(var_dir),
        "CONN_MAX_AGE": "0",
        # The receiver is a local listener: allowed explicitly (refused by default).
        "COMPLIANCE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "COMPLIANCE_WEBHOOK_ALLOW_HTTP": "true",
    }
    command = [
        str(ROOT / ".venv" / "bin" / "celery"), "-A", "config", "worker", "--pool=solo", "-l", "info",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"itest-{uuid.uuid4().hex[:8]}@%h",
    ]  # fmt: skip
    log = log_path.open("w")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for(condition, *, what: str, log_path: Path) -> None:
    """Poll ``condition`` until it holds or the deadline passes (then fail with the worker's log)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)  # a polling interval, bounded by the deadline: not a wait for an outcome
    pytest.fail(f"Timed out after {DEADLINE_SECONDS}s waiting for {what}. Worker log:\n{log_path.read_text()[-5000:]}")


@contextmanager
def running_worker(tmp_path: Path) -> Iterator[Path]:
    """A real worker for the duration of the block; yields its log's path (for :func:`wait_for`)."""
    log_path = tmp_path / "worker.log"
    worker = start_worker(log_path, tmp_path / "var")
    try:
        yield log_path
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


def blocked_licence(company, *, reference: str, quantity: int):
    """An approved licence of ``company`` for a chip under an entry block since yesterday."""
    today = timezone.localdate()
    chip = h200()
    wave = AllocationRoundFactory(opens_on=today - dt.timedelta(days=30), closes_on=today + dt.timedelta(days=300))
    CustomsDirectiveFactory(reference=reference, chip=chip, blocked_from=today - dt.timedelta(days=1),
                            blocked_until=None)  # fmt: skip
    licence = licence_apply(company=company, chip=chip, round=wave, requested_quantity=quantity)
    return licence_approve(
        licence=licence, granted_quantity=quantity, valid_from=today - dt.timedelta(days=1),
        valid_until=today + dt.timedelta(days=200),
    )  # fmt: skip


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_change_leads_to_a_finding_and_a_webhook_through_a_real_worker(receiver, tmp_path):
    celery_app.control.purge()  # nothing left over from an earlier run
    company = make_company("deepseek", name="DeepSeek")
    subscription(receiver.url, secret=SECRET, name="Regulator receiver", event_types=["finding.opened"])
    licence = blocked_licence(company, reference="GACC-IT-001", quantity=500)

    with running_worker(tmp_path) as log_path:
        shipment = shipment_declare(
            company=company, licence=licence, quantity=100, declared_value_usd=Decimal("3200000.00"),
            port_of_entry="Shanghai Pudong", declaration_number="DEC-IT-0001",
        )  # fmt: skip
        assert shipment.entry_block_directive is not None

        def finding_open() -> bool:
            return Finding.objects.filter(rule="entry_block_shipment", company=company, status="open").exists()

        wait_for(finding_open, what="the entry_block_shipment finding", log_path=log_path)

        def delivered() -> bool:
            return WebhookDelivery.objects.filter(
                event_type="finding.opened", status=WebhookDelivery.Status.DELIVERED,
                finding__rule="entry_block_shipment",
            ).exists()  # fmt: skip

        wait_for(delivered, what="the webhook delivery", log_path=log_path)

    finding = Finding.objects.get(rule="entry_block_shipment")
    assert (finding.severity, finding.subject) == ("high", "shipment:DEC-IT-0001")
    [request] = [r for r in receiver.requests if b"entry_block_shipment" in r["body"]]
    assert webhooks.verify_signature(SECRET, request["headers"]["X-Compliance-Signature"], request["body"])
    delivery = WebhookDelivery.objects.get(finding=finding)
    assert request["headers"]["X-Compliance-Delivery"] == str(delivery.delivery_id)
    assert delivery.attempt_log.get().response_code == 200


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_company_changing_continuously_keeps_one_recheck_queued_and_loses_no_change(tmp_path):
    """Thirty declarations in a row, each its own commit, while a real worker consumes the
    Redis queue: the queue, read after every commit, never holds two re-checks of the
    company, and every declaration still gets its finding (nothing was coalesced away)."""
    celery_app.control.purge()
    company = make_company("bytedance", name="ByteDance")
    licence = blocked_licence(company, reference="GACC-IT-002", quantity=5000)
    waiting = []
    with running_worker(tmp_path) as log_path:
        for number in range(30):
            shipment_declare(
                company=company, licence=licence, quantity=1, declared_value_usd=Decimal("32000.00"),
                port_of_entry="Shanghai Pudong", declaration_number=f"DEC-IT-C{number:03d}",
            )  # fmt: skip
            waiting.append(
                sum(1 for message in broker.queued()
                    if message.task == "compliance.tasks.recheck_company" and message.argsrepr == f"({company.pk},)")
            )  # fmt: skip

        def all_found() -> bool:
            return Finding.objects.filter(rule="entry_block_shipment", company=company).count() == 30

        wait_for(all_found, what="a finding for each of the 30 declarations", log_path=log_path)
    assert max(waiting) == 1
    subjects = set(Finding.objects.filter(rule="entry_block_shipment").values_list("subject", flat=True))
    assert subjects == {f"shipment:DEC-IT-C{number:03d}" for number in range(30)}
