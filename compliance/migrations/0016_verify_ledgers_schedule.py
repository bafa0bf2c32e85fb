"""Seed the daily ledger check (``compliance.tasks.verify_ledgers``, 04:00 Asia/Shanghai) into the beat schedule.

Idempotent like 0004 and 0011: a task that already exists (perhaps edited by an operator) is left as it is.
"""

from django.db import migrations
from django.utils import timezone

SCHEDULE_TIMEZONE = "Asia/Shanghai"
NAME = "Ledger verification (daily 04:00)"
TASK = "compliance.tasks.verify_ledgers"
MINUTE, HOUR = "0", "4"
DESCRIPTION = (
    "Recompute the hash chains of the append-only ledgers (customs events, attestation reviews, finding "
    "transitions); raise a critical ledger_tampered finding for each broken chain."
)


def seed_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    crontab = CrontabSchedule.objects.filter(
        minute=MINUTE, hour=HOUR, day_of_week="*", day_of_month="*", month_of_year="*", timezone=SCHEDULE_TIMEZONE
    ).first() or CrontabSchedule.objects.create(
        minute=MINUTE, hour=HOUR, day_of_week="*", day_of_month="*", month_of_year="*", timezone=SCHEDULE_TIMEZONE
    )
    PeriodicTask.objects.create(name=NAME, task=TASK, crontab=crontab, description=DESCRIPTION, enabled=True)
    # Tell a running DatabaseScheduler that the schedule changed (signals do not fire here).
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0015_ledgers_backfill"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed_schedule, unseed_schedule)]
