# Licence decisions become a hash-chained ledger (issue 14, "a tamper-evident record"), as
# customs events did in 0009-0011: each row carries its company (the chain's key: the
# licence's), its position in that company's chain and the hashes linking it to the row before.
# Added nullable here, filled by 0014, required by 0015 (PostgreSQL cannot alter a table in the
# transaction that updated its rows while their foreign-key checks are pending).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("licences", "0013_company_language"),
    ]

    operations = [
        migrations.AddField(
            model_name="licencedecision",
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
            model_name="licencedecision",
            name="chain_seq",
            field=models.PositiveBigIntegerField(
                editable=False, null=True, help_text="The row's position in its chain: 1, 2, ..."
            ),
        ),
        migrations.AddField(
            model_name="licencedecision",
            name="prev_hash",
            field=models.CharField(editable=False, null=True, help_text="The previous row's row_hash.", max_length=64),
        ),
        migrations.AddField(
            model_name="licencedecision",
            name="row_hash",
            field=models.CharField(
                editable=False, null=True, help_text="SHA-256 of prev_hash and this row.", max_length=64
            ),
        ),
    ]
