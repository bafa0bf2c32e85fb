"""A finding records the moment whose records its figures were computed from (``as_known_at``,
issue 14), and the staff groups are re-synced (``compliance.groups``) so that both groups may
view the new decision ledgers (licence decisions, commitment changes) and nobody may write them.

The groups' rules are copied here as they were when this migration was written
(``compliance.groups`` holds today's), so that it imports nothing from the apps' live code.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models

DOMAIN_APPS = ("licences", "quotas", "compliance")
READ_ONLY_APPS = ("django_celery_beat", "django_celery_results")
ANALYST_HIDDEN_MODELS = ("webhooksubscription", "companyapikey")
# Records only the customs authority asserts: the Regulator group may only view them.
CUSTOMS_MODELS = ("customsevent", "customsdirective")
# Records only a company asserts, with no regulator decision on them: view only.
COMPANY_MODELS = ("shipment", "domesticcommitment")
# Append-only ledgers, written only by the services in the transaction of each decision: view only.
LEDGER_MODELS = ("licencedecision", "commitmentchange")
# Records a company asserts and the regulator decides on: no add (change carries the decisions).
COMPANY_DECIDED_MODELS = ("importlicence", "securityattestation")


def regulator_permission(app_label, codename, model):
    action = codename.split("_", 1)[0]
    if app_label in READ_ONLY_APPS:
        return action == "view"
    if app_label not in DOMAIN_APPS:
        return False
    if model.startswith("historical") or model in CUSTOMS_MODELS + COMPANY_MODELS + LEDGER_MODELS:
        return action == "view"
    if model in COMPANY_DECIDED_MODELS:
        return action in ("view", "change")
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
