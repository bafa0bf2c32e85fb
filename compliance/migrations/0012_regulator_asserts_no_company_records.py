"""Re-sync the staff groups (``compliance.groups``): the Regulator group loses add and change on
shipments and domestic commitments and add on licence applications and attestations, which
only a company asserts (``docs/domain.md``, "Who asserts what"), as the API already refuses."""

from django.db import migrations

from compliance.groups import resync_groups


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0011_retention_prune_schedule"),
        ("licences", "0006_numbers_unique_per_company"),
        ("quotas", "0003_policy_windows_never_overlap"),
    ]

    operations = [migrations.RunPython(resync_groups, migrations.RunPython.noop)]
