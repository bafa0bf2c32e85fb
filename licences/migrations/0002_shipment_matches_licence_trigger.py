"""Database-level guard: a shipment's company and chip are its licence's.

A check constraint cannot look at another table, so this is a trigger for both engines.
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
    f"""
    CREATE TRIGGER licences_shipment_matches_licence_{event.lower()}
    BEFORE {clause} ON licences_shipment
    WHEN NOT EXISTS (
        SELECT 1 FROM licences_importlicence
        WHERE id = NEW.licence_id AND company_id = NEW.company_id AND chip_id = NEW.chip_id
    )
    BEGIN SELECT RAISE(ABORT, 'shipment_licence_mismatch'); END;
    """
    for event, clause in (("INSERT", "INSERT"), ("UPDATE", "UPDATE OF licence_id, company_id, chip_id"))
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS licences_shipment_matches_licence_insert;",
    "DROP TRIGGER IF EXISTS licences_shipment_matches_licence_update;",
]

POSTGRES_CREATE = [
    """
    CREATE OR REPLACE FUNCTION licences_shipment_matches_licence() RETURNS trigger AS $$
    BEGIN
        IF NOT EXISTS (
            SELECT 1 FROM licences_importlicence
            WHERE id = NEW.licence_id AND company_id = NEW.company_id AND chip_id = NEW.chip_id
        ) THEN
            RAISE EXCEPTION 'shipment_licence_mismatch' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER licences_shipment_matches_licence
    BEFORE INSERT OR UPDATE OF licence_id, company_id, chip_id ON licences_shipment
    FOR EACH ROW EXECUTE FUNCTION licences_shipment_matches_licence();
    """,
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS licences_shipment_matches_licence ON licences_shipment;",
    "DROP FUNCTION IF EXISTS licences_shipment_matches_licence();",
]


class Migration(migrations.Migration):
    dependencies = [("licences", "0001_initial")]

    operations = [
        migrations.RunPython(
            run_per_vendor({"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}),
            run_per_vendor({"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}),
        ),
    ]
