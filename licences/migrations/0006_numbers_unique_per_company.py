# Licence and declaration numbers become unique per company (finding 5 of issue 12: a
# company could learn that another's number exists from the refusal, and take it first).
#
# Each unique constraint leads with the number, so its one index also serves the look-up by
# number alone. On SQLite, altering a column rebuilds its table, and renaming the rebuilt
# licence table fails while the shipment triggers of 0002 name it: they are dropped first
# and created again, unchanged, at the end. PostgreSQL alters in place and keeps them.

import importlib

from django.db import migrations, models


def run_per_vendor(statements_by_vendor):
    """A ``RunPython`` callable executing the statements written for the current engine
    (copied here so that the migration imports nothing from the apps' live code)."""

    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


TRIGGERS = importlib.import_module("licences.migrations.0002_shipment_matches_licence_trigger")


class Migration(migrations.Migration):
    dependencies = [
        ("licences", "0005_directive_issued_and_lifted_by"),
    ]

    operations = [
        migrations.RunPython(
            run_per_vendor({"sqlite": TRIGGERS.SQLITE_DROP}),
            run_per_vendor({"sqlite": TRIGGERS.SQLITE_CREATE}),
        ),
        migrations.AlterField(
            model_name="historicalimportlicence",
            name="number",
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name="importlicence",
            name="number",
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name="shipment",
            name="declaration_number",
            field=models.CharField(max_length=64),
        ),
        migrations.AddConstraint(
            model_name="importlicence",
            constraint=models.UniqueConstraint(fields=("number", "company"), name="licence_number_unique_per_company"),
        ),
        migrations.AddConstraint(
            model_name="shipment",
            constraint=models.UniqueConstraint(
                fields=("declaration_number", "company"), name="shipment_declaration_unique_per_company"
            ),
        ),
        migrations.RunPython(
            run_per_vendor({"sqlite": TRIGGERS.SQLITE_CREATE}),
            run_per_vendor({"sqlite": TRIGGERS.SQLITE_DROP}),
        ),
    ]
