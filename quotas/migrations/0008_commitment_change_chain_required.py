# Every commitment change is chained now (0007): its company and chain columns become required,
# and a company's chain can hold each position once (which also indexes the chain for
# verify_ledger).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("quotas", "0007_commitment_change_chain_backfill"),
    ]

    operations = [
        migrations.AlterField(
            model_name="commitmentchange",
            name="company",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="licences.company",
            ),
        ),
        migrations.AlterField(
            model_name="commitmentchange",
            name="chain_seq",
            field=models.PositiveBigIntegerField(
                editable=False, help_text="The row's position in its chain: 1, 2, ..."
            ),
        ),
        migrations.AlterField(
            model_name="commitmentchange",
            name="prev_hash",
            field=models.CharField(editable=False, help_text="The previous row's row_hash.", max_length=64),
        ),
        migrations.AlterField(
            model_name="commitmentchange",
            name="row_hash",
            field=models.CharField(editable=False, help_text="SHA-256 of prev_hash and this row.", max_length=64),
        ),
        migrations.AddConstraint(
            model_name="commitmentchange",
            constraint=models.UniqueConstraint(
                fields=("company", "chain_seq"), name="commitment_change_chain_seq_unique"
            ),
        ),
    ]
