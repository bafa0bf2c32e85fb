# Customs events become a hash-chained ledger (issue 14, "a tamper-evident record"): each row
# carries its company (the chain's key), its position in that company's chain and the hashes
# linking it to the row before. Added nullable here, filled by 0008, required by 0009 (three
# migrations: PostgreSQL cannot alter a table in the transaction that updated its rows while
# their foreign-key checks are pending).

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

GENESIS = "0" * 64


class Migration(migrations.Migration):
    dependencies = [
        ("licences", "0008_backfill_licence_decisions"),
    ]

    operations = [
        migrations.CreateModel(
            name="LedgerHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("stream", models.CharField(max_length=64)),
                ("key", models.BigIntegerField(help_text="The chain's key in its stream: a company id.")),
                ("seq", models.PositiveBigIntegerField(default=0)),
                ("hash", models.CharField(default=GENESIS, max_length=64)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("stream", "key"), name="ledger_head_unique_per_stream_key")
                ],
            },
        ),
        migrations.AddField(
            model_name="customsevent",
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
            model_name="customsevent",
            name="chain_seq",
            field=models.PositiveBigIntegerField(
                editable=False, null=True, help_text="The row's position in its chain: 1, 2, ..."
            ),
        ),
        migrations.AddField(
            model_name="customsevent",
            name="prev_hash",
            field=models.CharField(editable=False, null=True, help_text="The previous row's row_hash.", max_length=64),
        ),
        migrations.AddField(
            model_name="customsevent",
            name="row_hash",
            field=models.CharField(
                editable=False, null=True, help_text="SHA-256 of prev_hash and this row.", max_length=64
            ),
        ),
        migrations.AlterField(
            model_name="customsevent",
            name="recorded_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
    ]
