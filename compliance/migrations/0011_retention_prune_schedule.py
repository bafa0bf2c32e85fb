"""Seed the daily retention job (``compliance.tasks.prune``, 03:30 Asia/Shanghai) into the beat schedule.

Idempotent like 0004: a task that already exists (perhaps edited by an operator) is left as it is.
"""

from django.db import migrations
from django.utils import timezone

SCHEDULE_TIMEZONE = "Asia/Shanghai"
NAME = "Retention prune (daily 03:30)"
TASK = "compliance.tasks.prune"
MINUTE, HOUR = "30", "3"
DESCRIPTION = (
    "Drop stored ingestion-batch answers and delete idempotency records, webhook attempts and "
    "finished deliveries past their retention (settings.RETENTION)."
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
        # The lead re-points this at the last compliance migration when merging.
        ("compliance", "0010_api_key_kind_and_user"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed_schedule, unseed_schedule)]
