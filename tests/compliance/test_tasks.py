"""Tasks, the sweep lock, on-change re-checks and the seeded beat schedule."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import transaction
from django_celery_beat.models import PeriodicTask

from compliance import locks, signals, tasks
from compliance.models import Finding, JobLock
from licences.models import Shipment
from tests.compliance.conftest import approved_licence, company_requirement, make_company
from tests.factories import DomesticCommitmentFactory, SecurityAttestationFactory, ShipmentFactory, at

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture
def three_held(travel):
    """Three companies, each with a shipment held since 1 February; the clock at 9 February."""
    companies = []
    for slug in ("alibaba", "bytedance", "tencent"):
        company = make_company(slug, emails=(f"ops@{slug}.example",))
        ShipmentFactory(licence=approved_licence(company), status=Shipment.Status.HELD, held_since=at(D(2026, 2, 1)))
        companies.append(company)
    travel(D(2026, 2, 9))
    return companies


def test_sweep_task_fans_out_in_chunks_and_releases_its_lock(three_held, eager_celery, compliance_settings):
    compliance_settings(SWEEP_CHUNK_SIZE=2)
    result = tasks.sweep.apply().get()
    assert result == {"started": True, "chunks": 2, "companies": 3}
    assert Finding.objects.filter(rule="customs_hold_overdue", status="open").count() == 3
    assert len(mail.outbox) == 3
    assert not JobLock.objects.exists()
    # Again: nothing new.
    tasks.sweep.apply().get()
    assert (Finding.objects.count(), len(mail.outbox)) == (3, 3)


def test_a_second_sweep_does_not_overlap_a_running_one(three_held, eager_celery):
    holder = locks.acquire_lock(tasks.SWEEP_LOCK, ttl_seconds=600)
    assert tasks.sweep.apply().get() == {"started": False, "reason": "a sweep is already running"}
    assert Finding.objects.count() == 0
    locks.release_lock(tasks.SWEEP_LOCK, holder)
    assert tasks.sweep.apply().get()["started"] is True


def test_an_expired_lock_does_not_block_the_next_sweep(three_held, eager_celery, travel):
    locks.acquire_lock(tasks.SWEEP_LOCK, ttl_seconds=600)
    travel(D(2026, 2, 10))
    assert tasks.sweep.apply().get()["started"] is True


def test_sweep_finished_merges_chunk_summaries():
    holder = locks.acquire_lock(tasks.SWEEP_LOCK, ttl_seconds=600)
    total = tasks.sweep_finished.apply(
        args=[[{"companies": 2, "opened": {"a": 1}}, {"companies": 1, "opened": {"a": 2, "b": 1}}], holder]
    ).get()
    assert total == {"companies": 3, "opened": {"a": 3, "b": 1}, "still_open": {}, "escalated": {}, "resolved": {}}
    assert not locks.lock_held(tasks.SWEEP_LOCK)


def test_recheck_company_sweeps_that_company_only(three_held):
    alibaba = three_held[0]
    result = tasks.recheck_company.apply(args=[alibaba.pk]).get()
    assert result["opened"] == {"customs_hold_overdue": 1}
    assert list(Finding.objects.values_list("company__slug", flat=True)) == ["alibaba"]
    assert tasks.recheck_company.apply(args=[alibaba.pk]).get()["still_open"] == {"customs_hold_overdue": 1}
    assert tasks.recheck_company.apply(args=[999_999]).get() == {"skipped": "company 999999 does not exist"}


def test_digest_and_reminder_tasks_are_idempotent(three_held, settings):
    settings.REGULATOR_ALERT_EMAILS = ["regulator@mofcom.example"]
    tasks.recheck_company.apply(args=[three_held[0].pk])
    mail.outbox.clear()
    assert tasks.send_digest.apply().get() == 2  # the regulator and Alibaba
    assert tasks.send_digest.apply().get() == 0
    assert tasks.send_reminders.apply().get() == 0


# --- On-change re-checks ------------------------------------------------------------------------------------


def recheck_callbacks(callbacks) -> list[int]:
    return [callback.company_id for callback in callbacks if isinstance(callback, signals._Recheck)]


@pytest.mark.parametrize("what", ["licence", "shipment", "commitment", "attestation"])
def test_a_change_enqueues_a_recheck_of_its_company_after_commit(what, django_capture_on_commit_callbacks):
    company = make_company("alibaba")
    licence = approved_licence(company) if what == "shipment" else None
    # Forget the licence's own pending re-check, which would otherwise absorb the shipment's.
    transaction.get_connection().run_on_commit.clear()
    with django_capture_on_commit_callbacks() as callbacks:
        if what == "licence":
            approved_licence(company)
        elif what == "shipment":
            ShipmentFactory(licence=licence)
        elif what == "commitment":
            DomesticCommitmentFactory(company=company)
        else:
            SecurityAttestationFactory(company=company, requirement=company_requirement())
    assert recheck_callbacks(callbacks) == [company.pk]


def test_several_changes_in_one_transaction_enqueue_one_recheck_per_company(django_capture_on_commit_callbacks):
    alibaba, tencent = make_company("alibaba"), make_company("tencent")
    with django_capture_on_commit_callbacks() as callbacks:
        licence = approved_licence(alibaba)
        ShipmentFactory(licence=licence)
        ShipmentFactory(licence=licence)
        approved_licence(tencent)
    assert recheck_callbacks(callbacks) == [alibaba.pk, tencent.pk]


def test_a_recheck_runs_the_sweep_for_the_company_when_committed(
    travel, eager_celery, django_capture_on_commit_callbacks
):
    company = make_company("alibaba", emails=("ops@alibaba.example",))
    travel(D(2026, 2, 9))
    with django_capture_on_commit_callbacks(execute=True):
        ShipmentFactory(licence=approved_licence(company), status=Shipment.Status.HELD, held_since=at(D(2026, 2, 1)))
    assert Finding.objects.get().rule == "customs_hold_overdue"
    assert len(mail.outbox) == 1


# --- The schedule ------------------------------------------------------------------------------------------


def test_beat_schedule_is_seeded_by_migration():
    schedule = {
        task.name: (task.task, task.crontab.minute, task.crontab.hour, str(task.crontab.timezone), task.enabled)
        for task in PeriodicTask.objects.select_related("crontab").filter(task__startswith="compliance.")
    }
    assert schedule == {
        "Compliance sweep (hourly)": ("compliance.tasks.sweep", "0", "*", "Asia/Shanghai", True),
        "Compliance reminders (daily 07:00)": ("compliance.tasks.send_reminders", "0", "7", "Asia/Shanghai", True),
        "Compliance digest (daily 07:00)": ("compliance.tasks.send_digest", "0", "7", "Asia/Shanghai", True),
        "Retention prune (daily 03:30)": ("compliance.tasks.prune", "30", "3", "Asia/Shanghai", True),
        "Ledger verification (daily 04:00)": ("compliance.tasks.verify_ledgers", "0", "4", "Asia/Shanghai", True),
        "Licence expiry (daily 00:10)": ("compliance.tasks.expire_licences", "10", "0", "Asia/Shanghai", True),
    }


def test_seeding_again_keeps_an_operators_edits():
    from importlib import import_module

    from django.apps import apps

    seed = import_module("compliance.migrations.0004_jobs_beat_schedule").seed_schedule
    PeriodicTask.objects.filter(name="Compliance sweep (hourly)").update(enabled=False)
    seed(apps, None)
    assert PeriodicTask.objects.filter(task__startswith="compliance.").count() == 6
    assert PeriodicTask.objects.get(name="Compliance sweep (hourly)").enabled is False


def test_tasks_are_registered_with_json_friendly_signatures():
    from config import celery_app

    registered = set(celery_app.tasks)
    assert {
        "compliance.tasks.sweep",
        "compliance.tasks.sweep_chunk",
        "compliance.tasks.sweep_finished",
        "compliance.tasks.recheck_company",
        "compliance.tasks.deliver_webhook",
        "compliance.tasks.send_digest",
        "compliance.tasks.send_reminders",
        "compliance.tasks.prune",
        "compliance.tasks.verify_ledgers",
        "compliance.tasks.expire_licences",
    } <= registered
    assert celery_app.conf.task_serializer == "json"
    deliver = celery_app.tasks["compliance.tasks.deliver_webhook"]
    assert (deliver.acks_late, deliver.retry_jitter, bool(deliver.retry_backoff)) == (True, True, True)
    assert deliver.soft_time_limit and deliver.time_limit
