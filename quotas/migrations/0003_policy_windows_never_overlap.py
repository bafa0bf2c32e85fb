"""Database-level guard: no two policies in force (active or retired) on the same date.

``policy_activate`` refuses an overlapping window under a row lock; on PostgreSQL this
exclusion constraint makes it impossible whatever the code path (a raw update, a race).
Windows are inclusive at both ends (``'[]'``); an empty ``effective_until`` is open-ended.
Plain GiST on a ``daterange`` needs no ``btree_gist`` (there is no equality column).
SQLite has no equivalent: there the service's check is the guard.
"""

from django.db import migrations


def run_per_vendor(statements_by_vendor):
    """A ``RunPython`` callable executing the statements written for the current engine
    (copied here so that the migration imports nothing from the apps' live code)."""

    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


POSTGRES_CREATE = [
    """
    ALTER TABLE quotas_quotapolicy ADD CONSTRAINT quotas_policy_windows_never_overlap
    EXCLUDE USING gist (daterange(effective_from, effective_until, '[]') WITH &&)
    WHERE (status IN ('active', 'retired'));
    """,
]
POSTGRES_DROP = [
    "ALTER TABLE quotas_quotapolicy DROP CONSTRAINT IF EXISTS quotas_policy_windows_never_overlap;",
]


class Migration(migrations.Migration):
    dependencies = [("quotas", "0002_commitment_domestic_chip_trigger")]

    operations = [
        migrations.RunPython(
            run_per_vendor({"postgresql": POSTGRES_CREATE}),
            run_per_vendor({"postgresql": POSTGRES_DROP}),
        ),
    ]
