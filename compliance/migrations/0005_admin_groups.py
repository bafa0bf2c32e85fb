"""The "Regulator" and "Analyst" staff groups.

Permissions are normally created after all migrations have run, so they are created here
first for the models that exist at this point. The groups' rules are copied here as they
were when this migration was written (``compliance.groups`` holds today's), so that it
imports nothing from the apps' live code:

- Regulator: view, add and change on the domain apps' models (view only on their history
  tables); view on the schedules and task results.
- Analyst: view on the domain apps' models but webhook subscriptions.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

DOMAIN_APPS = ("licences", "quotas", "compliance")
READ_ONLY_APPS = ("django_celery_beat", "django_celery_results")
ANALYST_HIDDEN_MODELS = ("webhooksubscription",)


def regulator_permission(app_label, codename, model):
    action = codename.split("_", 1)[0]
    if app_label in READ_ONLY_APPS:
        return action == "view"
    if app_label not in DOMAIN_APPS:
        return False
    if model.startswith("historical"):
        return action == "view"
    return action in ("view", "add", "change")


def analyst_permission(app_label, codename, model):
    """View on every domain model but the hidden ones."""
    if app_label not in DOMAIN_APPS or codename.split("_", 1)[0] != "view":
        return False
    return model not in ANALYST_HIDDEN_MODELS


GROUP_RULES = {"Regulator": regulator_permission, "Analyst": analyst_permission}


def resync_groups(apps, schema_editor):
    """Create the permissions not created yet (they normally appear after ``migrate``), then
    set each group's permissions to exactly its rule's."""
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group, Permission = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    permissions = list(
        Permission.objects.filter(content_type__app_label__in=DOMAIN_APPS + READ_ONLY_APPS).values_list(
            "pk", "codename", "content_type__app_label", "content_type__model"
        )
    )
    for name, rule in GROUP_RULES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [pk for pk, codename, app_label, model in permissions if rule(app_label, codename, model)]
        )


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

    operations = [migrations.RunPython(resync_groups, delete_groups)]
