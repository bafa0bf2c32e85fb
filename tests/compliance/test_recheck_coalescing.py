"""On-change re-checks coalesce: a company changing continuously has at most one re-check
waiting in the broker.

Every change here is its own committed transaction (``transaction=True``), so the
``post_save`` handler's after-commit callback really runs and really publishes to the
configured broker (the filesystem broker on the embedded default, Redis when
``REDIS_URL`` is set). What was published is recorded from Celery's own
``after_task_publish`` signal and found again in the broker's queue; no worker runs, so
nothing is consumed meanwhile, and each test removes its own messages at its end.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from compliance import locks, tasks
from compliance.models import JobLock
from tests import broker
from tests.compliance.conftest import approved_licence, make_company
from tests.factories import ShipmentFactory

RECHECK = "compliance.tasks.recheck_company"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def published():
    with broker.publishing() as recorded:
        yield recorded


def rechecks(published: broker.Published) -> list[int]:
    """The company of every re-check published, in order."""
    return [args[0] for args, _, _ in published.of(RECHECK)]


def queued_rechecks(published: broker.Published) -> list[str]:
    """The ids of this test's re-check messages still waiting in the broker."""
    mine = {task_id for _, _, task_id in published.of(RECHECK)}
    return [message.task_id for message in broker.queued() if message.task_id in mine]


def change(licence, times: int) -> None:
    """``times`` commits, each declaring one more shipment on ``licence``."""
    for _ in range(times):
        ShipmentFactory(licence=licence, quantity=1)


def run_queued(published: broker.Published, company_id: int, during=None) -> None:
    """Run the queued re-check of ``company_id`` as a worker would (its message's own arguments),
    taking it off the queue first; ``during`` is called once the run has started, at its first
    read of the company."""
    [(args, kwargs, task_id)] = [entry for entry in published.of(RECHECK) if entry[0][0] == company_id][-1:]
    broker.remove({task_id})
    fired: list[bool] = []

    def wrapper(execute, sql, params, many, context):
        if during is not None and not fired and "licences_company" in sql:
            fired.append(True)
            during()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        tasks.recheck_company.apply(args=args, kwargs=kwargs).get()
    assert fired == ([True] if during is not None else [])


def test_many_commits_for_one_company_queue_one_recheck(published):
    company = make_company("alibaba")
    licence = approved_licence(company)  # the first change: its re-check is queued
    change(licence, 10)
    assert rechecks(published) == [company.pk]
    assert len(queued_rechecks(published)) == 1
    marker = JobLock.objects.get(name=f"recheck-pending:{company.pk}")
    [(_, kwargs, _)] = published.of(RECHECK)
    assert kwargs == {"pending": marker.holder}


def test_a_change_while_a_recheck_runs_queues_exactly_one_more(published):
    company = make_company("alibaba")
    licence = approved_licence(company)
    change(licence, 3)
    assert rechecks(published) == [company.pk]

    run_queued(published, company.pk, during=lambda: change(licence, 5))
    # The run cleared its marker before it read anything: the five changes made while it ran
    # (which it may or may not have read) queued one more re-check, not five.
    assert rechecks(published) == [company.pk, company.pk]
    assert len(queued_rechecks(published)) == 1
    change(licence, 4)  # that one has not started: later changes add nothing
    assert rechecks(published) == [company.pk, company.pk]

    run_queued(published, company.pk)
    assert not JobLock.objects.filter(name=f"recheck-pending:{company.pk}").exists()
    assert queued_rechecks(published) == []
    change(licence, 1)  # nothing queued or running: the next change queues again
    assert rechecks(published) == [company.pk] * 3


def test_different_companies_do_not_coalesce_with_each_other(published):
    alibaba, tencent = make_company("alibaba"), make_company("tencent")
    alibaba_licence, tencent_licence = approved_licence(alibaba), approved_licence(tencent)
    for _ in range(3):
        change(alibaba_licence, 1)
        change(tencent_licence, 1)
    assert rechecks(published) == [alibaba.pk, tencent.pk]
    assert len(queued_rechecks(published)) == 2


def test_an_expired_marker_lets_the_next_change_queue_again(published, time_machine, compliance_settings):
    compliance_settings(RECHECK_PENDING_SECONDS=300)
    company = make_company("alibaba")
    time_machine.move_to(dt.datetime(2026, 2, 9, 12, 0, tzinfo=dt.UTC), tick=False)
    licence = approved_licence(company)
    time_machine.move_to(dt.datetime(2026, 2, 9, 12, 4, 59, tzinfo=dt.UTC), tick=False)
    change(licence, 1)
    assert rechecks(published) == [company.pk]
    # Its message lost (taken off the queue, never run): after the marker's lifetime the
    # next change queues a re-check again.
    broker.remove(published.task_ids)
    time_machine.move_to(dt.datetime(2026, 2, 9, 12, 5, 0, tzinfo=dt.UTC), tick=False)
    change(licence, 2)
    assert rechecks(published) == [company.pk, company.pk]
    assert len(queued_rechecks(published)) == 1


def test_a_stale_run_does_not_clear_a_newer_marker(published, time_machine, compliance_settings):
    """A message that waited past its marker's lifetime runs with the old token: the newer
    marker (whose own message is queued) stays, so later changes still add nothing."""
    compliance_settings(RECHECK_PENDING_SECONDS=300)
    company = make_company("alibaba")
    time_machine.move_to(dt.datetime(2026, 2, 9, 12, 0, tzinfo=dt.UTC), tick=False)
    licence = approved_licence(company)
    time_machine.move_to(dt.datetime(2026, 2, 9, 12, 6, 0, tzinfo=dt.UTC), tick=False)
    change(licence, 1)
    [(first_args, first_kwargs, first_id), (_, second_kwargs, _)] = published.of(RECHECK)
    broker.remove({first_id})
    tasks.recheck_company.apply(args=first_args, kwargs=first_kwargs).get()
    assert JobLock.objects.get(name=f"recheck-pending:{company.pk}").holder == second_kwargs["pending"]
    change(licence, 3)
    assert rechecks(published) == [company.pk, company.pk]


def test_a_recheck_waits_while_another_of_its_company_runs(published):
    """One re-check of a company runs at a time: a second finding the first's lock is sent
    again a second later with its own pending token, so changes meanwhile still add nothing,
    and runs once the first is done."""
    company = make_company("alibaba")
    licence = approved_licence(company)
    [(_, kwargs, _)] = published.of(RECHECK)
    elsewhere = locks.acquire_lock(tasks.RECHECK_RUNNING.format(company.pk), ttl_seconds=180)  # another worker's run

    run_queued(published, company.pk)
    assert rechecks(published) == [company.pk, company.pk]
    [_, (_, deferred_kwargs, deferred_id)] = published.of(RECHECK)
    assert deferred_kwargs == kwargs  # the same marker: still held, still this message's
    assert queued_rechecks(published) == [deferred_id]
    assert JobLock.objects.get(name=f"recheck-pending:{company.pk}").holder == kwargs["pending"]
    change(licence, 3)
    assert rechecks(published) == [company.pk, company.pk]

    locks.release_lock(tasks.RECHECK_RUNNING.format(company.pk), elsewhere)
    run_queued(published, company.pk)
    assert not JobLock.objects.filter(name__startswith="recheck-").exists()  # both the marker and the lock
    assert rechecks(published) == [company.pk, company.pk]
