# The decision ledger (issue 14) starts with the licences already recorded: each gets the rows
# its timestamp columns imply, in the order they happened: an application (applied_at), then
# an approval, rejection, suspension, revocation or expiry for each of approved_at,
# rejected_at, suspended_at, revoked_at and expired_at that is set. Each row is effective on
# its timestamp's day in the service time zone and recorded at the timestamp itself (the best
# knowledge of when the service learned it); the application comes first, never dated after the
# first decision. The licence's current status_reason goes on its
# latest row when that row is a decision that takes a reason.
#
# What the columns never held cannot be recovered: a suspension lifted before this migration
# (reinstatement cleared suspended_at) leaves no row, so the licence reads as in force
# throughout, as it did before. Written here in full, importing nothing from the apps' live
# code (the migrations contract in .importlinter).

import zoneinfo

from django.conf import settings
from django.db import migrations

BATCH = 5000
STAMPS = (
    ("approved_at", "approve", "approved"),
    ("rejected_at", "reject", "rejected"),
    ("suspended_at", "suspend", "suspended"),
    ("revoked_at", "revoke", "revoked"),
    ("expired_at", "expire", "expired"),
)
TAKES_REASON = {"reject", "suspend", "revoke"}


def backfill(apps, schema_editor):
    ImportLicence = apps.get_model("licences", "ImportLicence")
    LicenceDecision = apps.get_model("licences", "LicenceDecision")
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    done = set(LicenceDecision.objects.values_list("licence_id", flat=True).distinct())
    rows = []
    for licence in ImportLicence.objects.order_by("pk").iterator(chunk_size=BATCH):
        if licence.pk in done:
            continue
        events = [(licence.applied_at, "apply", "applied")]
        events += [
            (getattr(licence, column), kind, status) for column, kind, status in STAMPS if getattr(licence, column)
        ]
        # The application first, whatever its timestamp says (never after the first decision).
        events.sort(key=lambda event: (event[1] != "apply", event[0]))
        days = [moment.astimezone(zone).date() for moment, _, _ in events]
        days[0] = min(days)
        for number, ((moment, kind, status), day) in enumerate(zip(events, days, strict=True)):
            last = number == len(events) - 1
            decided = status not in ("applied", "rejected")
            rows.append(
                LicenceDecision(
                    licence_id=licence.pk,
                    kind=kind,
                    status=status,
                    effective_on=day,
                    recorded_at=moment,
                    recorded_by=None,
                    actor="migration: backfilled from the licence's timestamps",
                    reason=licence.status_reason if last and kind in TAKES_REASON else "",
                    late_entry=False,
                    granted_quantity=licence.granted_quantity if decided else 0,
                    valid_from=licence.valid_from if decided else None,
                    valid_until=licence.valid_until if decided else None,
                )
            )
        if len(rows) >= BATCH:
            LicenceDecision.objects.bulk_create(rows)
            rows = []
    LicenceDecision.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [
        ("licences", "0007_licence_decision_ledger"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
