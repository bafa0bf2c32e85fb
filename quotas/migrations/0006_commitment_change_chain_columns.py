# Commitment changes become a hash-chained ledger (issue 14, "a tamper-evident record"), as
# customs events did in licences 0009-0011: each row carries its company (the chain's key: the
# commitment's), its position in that company's chain and the hashes linking it to the row before.
# Added nullable here, filled by 0007, required by 0008 (PostgreSQL cannot alter a table in the
# transaction that updated its rows while their foreign-key checks are pending).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("quotas", "0005_backfill_commitment_changes"),
        ("licences", "0011_customs_event_chain_required"),  # LedgerHead
    ]

    operations = [
        migrations.AddField(
            model_name="commitmentchange",
            name="company",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="licences.company",
            ),
        ),
        migrations.AddField(
            model_name="commitmentchange",
            name="chain_seq",
            field=models.PositiveBigIntegerField(
                editable=False, null=True, help_text="The row's position in its chain: 1, 2, ..."
            ),
        ),
        migrations.AddField(
            model_name="commitmentchange",
            name="prev_hash",
            field=models.CharField(editable=False, null=True, help_text="The previous row's row_hash.", max_length=64),
        ),
        migrations.AddField(
            model_name="commitmentchange",
            name="row_hash",
            field=models.CharField(
                editable=False, null=True, help_text="SHA-256 of prev_hash and this row.", max_length=64
            ),
        ),
    ]
