# Chain the commitment changes recorded before 0006: each company's changes, in the order they
# were inserted (id, the order the services appended them), become its chain, and its head is
# recorded. The hashing is common/chain.py's as of this migration, copied (frozen): a migration
# imports nothing from the apps' live code.

import datetime as dt
import hashlib
import json
from decimal import Decimal

from django.db import migrations

STREAM = "commitment_changes"
FIELDS = (
    "company_id", "commitment_id", "kind", "status", "effective_on", "recorded_at", "recorded_by_id", "actor",
    "note", "quantity", "delivered_quantity", "unit_price_usd",
)  # fmt: skip
GENESIS = "0" * 64
CHUNK = 5000


def _encode(value):
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is Decimal:
        return format(value.normalize(), "f")
    if type(value) is dt.datetime:
        if value.tzinfo is None:
            raise TypeError(f"A chained datetime needs a time zone: {value!r}")
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if type(value) is dt.date:
        return value.isoformat()
    raise TypeError(f"Cannot hash a {type(value).__name__} in a chained row: {value!r}")


def _row_hash(prev_hash, seq, values):
    row = {name: _encode(value) for name, value in sorted(zip(FIELDS, values, strict=True))}
    text = json.dumps({"row": row, "seq": seq, "stream": STREAM}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(prev_hash.encode("ascii") + text.encode("ascii")).hexdigest()


def chain_changes(apps, schema_editor):
    CommitmentChange = apps.get_model("quotas", "CommitmentChange")
    LedgerHead = apps.get_model("licences", "LedgerHead")
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    changes = quote(CommitmentChange._meta.db_table)
    commitments = quote(apps.get_model("quotas", "DomesticCommitment")._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {changes} SET company_id = "
            f"(SELECT c.company_id FROM {commitments} c WHERE c.id = {changes}.commitment_id)"
        )
    heads = {}  # company id: (seq, hash) of its chain so far
    last = 0
    while True:
        rows = list(CommitmentChange.objects.filter(pk__gt=last).order_by("pk").values_list("pk", *FIELDS)[:CHUNK])
        if not rows:
            break
        updates = []
        for pk, *values in rows:
            seq, prev = heads.get(values[0], (0, GENESIS))
            seq += 1
            row_hash = _row_hash(prev, seq, values)
            heads[values[0]] = (seq, row_hash)
            updates.append((seq, prev, row_hash, pk))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {changes} SET chain_seq = %s, prev_hash = %s, row_hash = %s WHERE id = %s", updates
            )
        last = rows[-1][0]
    LedgerHead.objects.filter(stream=STREAM).delete()
    LedgerHead.objects.bulk_create(
        [LedgerHead(stream=STREAM, key=key, seq=seq, hash=head) for key, (seq, head) in sorted(heads.items())],
        batch_size=CHUNK,
    )


def unchain_changes(apps, schema_editor):
    apps.get_model("licences", "LedgerHead").objects.filter(stream=STREAM).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("quotas", "0006_commitment_change_chain_columns"),
    ]

    operations = [migrations.RunPython(chain_changes, unchain_changes)]
