"""Database-level guard: a domestic commitment's chip must be of domestic origin.

A check constraint cannot look at another table, so this is a trigger, written for both
engines the service runs on (SQLite on the embedded default, PostgreSQL in production).
"""

from django.db import migrations


def run_per_vendor(statements_by_vendor):
    """A ``RunPython`` callable executing the statements written for the current engine
    (copied here so that the migration imports nothing from the apps' live code)."""

    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


SQLITE_CREATE = [
    """
    CREATE TRIGGER quotas_commitment_domestic_chip_insert
    BEFORE INSERT ON quotas_domesticcommitment
    WHEN (SELECT origin FROM licences_chipmodel WHERE id = NEW.chip_id) IS NOT 'domestic'
    BEGIN SELECT RAISE(ABORT, 'commitment_chip_not_domestic'); END;
    """,
    """
    CREATE TRIGGER quotas_commitment_domestic_chip_update
    BEFORE UPDATE OF chip_id ON quotas_domesticcommitment
    WHEN (SELECT origin FROM licences_chipmodel WHERE id = NEW.chip_id) IS NOT 'domestic'
    BEGIN SELECT RAISE(ABORT, 'commitment_chip_not_domestic'); END;
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS quotas_commitment_domestic_chip_insert;",
    "DROP TRIGGER IF EXISTS quotas_commitment_domestic_chip_update;",
]

POSTGRES_CREATE = [
    """
    CREATE OR REPLACE FUNCTION quotas_commitment_domestic_chip() RETURNS trigger AS $$
    BEGIN
        IF (SELECT origin FROM licences_chipmodel WHERE id = NEW.chip_id) IS DISTINCT FROM 'domestic' THEN
            RAISE EXCEPTION 'commitment_chip_not_domestic' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER quotas_commitment_domestic_chip
    BEFORE INSERT OR UPDATE OF chip_id ON quotas_domesticcommitment
    FOR EACH ROW EXECUTE FUNCTION quotas_commitment_domestic_chip();
    """,
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS quotas_commitment_domestic_chip ON quotas_domesticcommitment;",
    "DROP FUNCTION IF EXISTS quotas_commitment_domestic_chip();",
]


class Migration(migrations.Migration):
    dependencies = [("quotas", "0001_initial")]

    operations = [
        migrations.RunPython(
            run_per_vendor({"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}),
            run_per_vendor({"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}),
        ),
    ]
