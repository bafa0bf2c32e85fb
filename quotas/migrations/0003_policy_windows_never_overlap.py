"""Database-level guard: no two policies in force (active or retired) on the same date.

``policy_activate`` refuses an overlapping window under a row lock; on PostgreSQL this
exclusion constraint makes it impossible whatever the code path (a raw update, a race).
Windows are inclusive at both ends (``'[]'``); an empty ``effective_until`` is open-ended.
Plain GiST on a ``daterange`` needs no ``btree_gist`` (there is no equality column).
SQLite has no equivalent: there the service's check is the guard.
"""

from django.db import migrations

from common.migration_helpers import run_per_vendor

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
