"""Seed the daily licence expiry job (``compliance.tasks.expire_licences``, 00:10 Asia/Shanghai) into the beat schedule.

Idempotent like 0004: a task that already exists (perhaps edited by an operator) is left as it is.
"""

from django.db import migrations
from django.utils import timezone

SCHEDULE_TIMEZONE = "Asia/Shanghai"
NAME = "Licence expiry (daily 00:10)"
TASK = "compliance.tasks.expire_licences"
MINUTE, HOUR = "10", "0"
DESCRIPTION = (
    "Expire every approved or suspended licence past its valid_until: expire and release ledger rows, the "
    "unused remainder returned to its round, a licence_expired finding and its alerts."
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
        ("compliance", "0016_verify_ledgers_schedule"),
        # The job writes licence ledger rows with released_quantity.
        ("licences", "0012_licence_decision_released_quantity"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed_schedule, unseed_schedule)]
