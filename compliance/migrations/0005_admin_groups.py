"""The "Regulator" and "Analyst" staff groups (see ``compliance.groups``).

Permissions are normally created after all migrations have run, so they are created here
first for the models that exist at this point.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from compliance.groups import GROUP_RULES, sync_groups


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_groups(group_model=apps.get_model("auth", "Group"), permission_model=apps.get_model("auth", "Permission"))


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(GROUP_RULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("django_celery_results", "0014_alter_taskresult_status"),
        ("licences", "0002_shipment_matches_licence_trigger"),
        ("quotas", "0003_policy_windows_never_overlap"),
        ("compliance", "0004_jobs_beat_schedule"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
