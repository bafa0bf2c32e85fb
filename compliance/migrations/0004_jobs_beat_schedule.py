"""Seed the default periodic schedule into django-celery-beat (editable in the admin).

Idempotent: a task that already exists (perhaps edited by an operator) is left as it is.
Sweep hourly; reminders and the digest daily at 07:00 Asia/Shanghai.
"""

from django.db import migrations
from django.utils import timezone

SCHEDULE_TIMEZONE = "Asia/Shanghai"
# name, task, crontab (minute, hour), description
SCHEDULE = [
    (
        "Compliance sweep (hourly)",
        "compliance.tasks.sweep",
        ("0", "*"),
        "Judge every company against every rule; open, update and resolve findings.",
    ),
    (
        "Compliance reminders (daily 07:00)",
        "compliance.tasks.send_reminders",
        ("0", "7"),
        "Reminders 30, 7 and 1 days before attestations and licences expire.",
    ),
    (
        "Compliance digest (daily 07:00)",
        "compliance.tasks.send_digest",
        ("0", "7"),
        "The daily digest to regulator staff and to companies with open findings.",
    ),
]


def seed_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for name, task, (minute, hour), description in SCHEDULE:
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        crontab = CrontabSchedule.objects.filter(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone=SCHEDULE_TIMEZONE
        ).first() or CrontabSchedule.objects.create(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone=SCHEDULE_TIMEZONE
        )
        PeriodicTask.objects.create(name=name, task=task, crontab=crontab, description=description, enabled=True)
    # Tell a running DatabaseScheduler that the schedule changed (signals do not fire here).
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, *_ in SCHEDULE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0003_jobs_locks_and_digests"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed_schedule, unseed_schedule)]
