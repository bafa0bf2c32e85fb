"""A finding records the moment whose records its figures were computed from (``as_known_at``,
issue 14), and the staff groups are re-synced (``compliance.groups``) so that both groups may
view the new decision ledgers (licence decisions, commitment changes) and nobody may write them."""

from django.db import migrations, models

from compliance.groups import resync_groups


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0012_regulator_asserts_no_company_records"),
        ("licences", "0008_backfill_licence_decisions"),
        ("quotas", "0005_backfill_commitment_changes"),
    ]

    operations = [
        migrations.AddField(
            model_name="finding",
            name="as_known_at",
            field=models.DateTimeField(
                blank=True, help_text="The moment whose records the figures were computed from.", null=True
            ),
        ),
        migrations.AddField(
            model_name="historicalfinding",
            name="as_known_at",
            field=models.DateTimeField(
                blank=True, help_text="The moment whose records the figures were computed from.", null=True
            ),
        ),
        migrations.RunPython(resync_groups, migrations.RunPython.noop),
    ]
