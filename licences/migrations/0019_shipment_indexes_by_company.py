# The shipments' indexes as the sweep and the quota reads use them (RESULTS, session 7):
# held and blocked shipments indexed by company (two partial indexes, the entry-block foreign
# key's full index replaced), and no single-column index on the company and licence foreign
# keys, which the composite indexes lead with.
#
# On SQLite, altering a column rebuilds the table, which drops the shipment triggers of 0002:
# they are dropped first and created again, unchanged, at the end (as in 0006). PostgreSQL
# alters in place and keeps them.

import importlib

import django.db.models.deletion
from django.db import migrations, models


# The triggers and the per-engine runner of 0002 (a migration, so no live code is imported).
TRIGGERS = importlib.import_module("licences.migrations.0002_shipment_matches_licence_trigger")
run_per_vendor = TRIGGERS.run_per_vendor


class Migration(migrations.Migration):
    dependencies = [
        ("licences", "0018_ledger_key_without_foreign_key"),
    ]

    operations = [
        migrations.RunPython(
            run_per_vendor({"sqlite": TRIGGERS.SQLITE_DROP}),
            run_per_vendor({"sqlite": TRIGGERS.SQLITE_CREATE}),
        ),
        migrations.AlterField(
            model_name="shipment",
            name="entry_block_directive",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                help_text="The entry directive in force for this chip when the shipment was declared.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="blocked_shipments",
                to="licences.customsdirective",
                verbose_name="entry block directive",
            ),
        ),
        migrations.AddIndex(
            model_name="shipment",
            index=models.Index(
                condition=models.Q(("status", "held")),
                fields=["company", "held_since"],
                name="shipment_held_company_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="shipment",
            index=models.Index(
                condition=models.Q(("entry_block_directive__isnull", False)),
                fields=["entry_block_directive", "company"],
                name="shipment_blocked_company_idx",
            ),
        ),
        migrations.AlterField(
            model_name="shipment",
            name="company",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="shipments",
                to="licences.company",
                verbose_name="company",
            ),
        ),
        migrations.AlterField(
            model_name="shipment",
            name="licence",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="shipments",
                to="licences.importlicence",
                verbose_name="licence",
            ),
        ),
        migrations.RunPython(
            run_per_vendor({"sqlite": TRIGGERS.SQLITE_CREATE}),
            run_per_vendor({"sqlite": TRIGGERS.SQLITE_DROP}),
        ),
    ]
