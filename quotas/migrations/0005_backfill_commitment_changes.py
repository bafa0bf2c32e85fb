# The commitment change ledger (issue 14) starts with the commitments already recorded: each
# gets the rows its date columns imply, in order: a pledge (pledged_on), a contract
# (contracted_on), a delivery completing it (delivered_on) and a cancellation (cancelled_on),
# each effective on that date. A partial delivery's date was never kept, so its quantity is
# carried by the contract row's delivered_quantity (partial deliveries change no status, and
# positions count statuses). Each row is recorded at the moment the commitment's history first
# shows the change (django-simple-history), or at the start of its effective day when there
# is no history (rows bulk-loaded without it). Written here in full, importing nothing from
# the apps' live code (the migrations contract in .importlinter).

import datetime as dt
import zoneinfo

from django.conf import settings
from django.db import migrations

BATCH = 5000
STAGES = (
    ("pledge", "pledged", "pledged_on"),
    ("contract", "contracted", "contracted_on"),
    ("deliver", "delivered", "delivered_on"),
    ("cancel", "cancelled", "cancelled_on"),
)


def _first_seen(apps):
    """``{(commitment id, date column): the first history moment it was set}``."""
    try:
        Historical = apps.get_model("quotas", "HistoricalDomesticCommitment")
    except LookupError:
        return {}
    seen = {}
    rows = Historical.objects.order_by("history_date", "history_id").values_list(
        "id", "history_date", "pledged_on", "contracted_on", "delivered_on", "cancelled_on"
    )
    for pk, moment, *dates in rows.iterator(chunk_size=BATCH):
        for (_, _, column), value in zip(STAGES, dates, strict=True):
            if value is not None:
                seen.setdefault((pk, column), moment)
    return seen


def backfill(apps, schema_editor):
    DomesticCommitment = apps.get_model("quotas", "DomesticCommitment")
    CommitmentChange = apps.get_model("quotas", "CommitmentChange")
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    done = set(CommitmentChange.objects.values_list("commitment_id", flat=True).distinct())
    seen = _first_seen(apps)
    rows = []
    for commitment in DomesticCommitment.objects.order_by("pk").iterator(chunk_size=BATCH):
        if commitment.pk in done:
            continue
        for kind, status, column in STAGES:
            day = getattr(commitment, column)
            if day is None:
                continue
            delivered = commitment.quantity if kind == "deliver" else 0
            if kind == "contract" and commitment.status != "delivered":
                delivered = commitment.delivered_quantity
            if kind == "cancel":
                delivered = commitment.delivered_quantity
            recorded_at = seen.get((commitment.pk, column)) or dt.datetime.combine(day, dt.time.min, tzinfo=zone)
            rows.append(
                CommitmentChange(
                    commitment_id=commitment.pk,
                    kind=kind,
                    status=status,
                    effective_on=day,
                    recorded_at=recorded_at,
                    recorded_by=None,
                    actor="migration: backfilled from the commitment's dates",
                    note=commitment.contract_reference if kind == "contract" else "",
                    quantity=commitment.quantity,
                    delivered_quantity=delivered,
                    unit_price_usd=commitment.unit_price_usd,
                )
            )
        if len(rows) >= BATCH:
            CommitmentChange.objects.bulk_create(rows)
            rows = []
    CommitmentChange.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [
        ("quotas", "0004_commitment_change_ledger"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
