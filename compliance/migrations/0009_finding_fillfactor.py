"""Findings leave a third of each page free (PostgreSQL): a sweep's heartbeat, which changes only
``last_seen_at`` (no index covers it), can then update a finding in place (a HOT update) instead of
writing a new entry in every index of the table for each of tens of thousands of findings an hour."""

from django.db import migrations

FILLFACTOR = 70


def set_fillfactor(apps, schema_editor, value=FILLFACTOR):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("compliance", "Finding")._meta.db_table)
    if value is None:
        schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")
    else:
        schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {int(value)})")


def reset_fillfactor(apps, schema_editor):
    set_fillfactor(apps, schema_editor, value=None)


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0008_finding_history_indexes"),
    ]

    operations = [
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
