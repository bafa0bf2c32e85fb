"""API keys get a ``kind`` (company, regulator, customs) and regulator keys a ``user``.

Data: ``is_regulator`` becomes ``kind``. A regulator key issued before this migration belongs
to nobody, the very credential the review found outliving its holder: it is revoked here (the
constraint admits a user-less regulator key only when revoked). Re-issue one with
``issue_api_key --regulator --user USERNAME``.

The staff groups are re-synced: Analysts lose the view permission on API keys; the Regulator
group keeps only view on customs events and directives. Their rules are copied here as they
were when this migration was written (``compliance.groups`` holds today's), so that it
imports nothing from the apps' live code.
"""

import django.db.models.deletion
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

DOMAIN_APPS = ("licences", "quotas", "compliance")
READ_ONLY_APPS = ("django_celery_beat", "django_celery_results")
ANALYST_HIDDEN_MODELS = ("webhooksubscription", "companyapikey")
# Records only the customs authority asserts: the Regulator group may only view them.
CUSTOMS_MODELS = ("customsevent", "customsdirective")


def regulator_permission(app_label, codename, model):
    action = codename.split("_", 1)[0]
    if app_label in READ_ONLY_APPS:
        return action == "view"
    if app_label not in DOMAIN_APPS:
        return False
    if model.startswith("historical") or model in CUSTOMS_MODELS:
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


def kinds_from_flag(apps, schema_editor):
    CompanyAPIKey = apps.get_model("compliance", "CompanyAPIKey")
    CompanyAPIKey.objects.filter(is_regulator=True).update(kind="regulator", revoked=True)
    CompanyAPIKey.objects.filter(is_regulator=False).update(kind="company")


def flag_from_kinds(apps, schema_editor):
    CompanyAPIKey = apps.get_model("compliance", "CompanyAPIKey")
    # Customs keys have no equivalent before this migration: revoked, and marked regulator so
    # the old constraint (company xor regulator) holds.
    CompanyAPIKey.objects.filter(kind="customs").update(is_regulator=True, revoked=True)
    CompanyAPIKey.objects.filter(kind="regulator").update(is_regulator=True)


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0009_finding_fillfactor"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="companyapikey", name="api_key_company_xor_regulator"),
        migrations.AddField(
            model_name="companyapikey",
            name="kind",
            field=models.CharField(
                choices=[("company", "Company"), ("regulator", "Regulator"), ("customs", "Customs")],
                default="company",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="companyapikey",
            name="user",
            field=models.ForeignKey(
                blank=True,
                help_text="Regulator keys only: the regulator user the key acts for (deactivate the user to stop it).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="api_keys",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(kinds_from_flag, flag_from_kinds),
        migrations.RemoveField(model_name="companyapikey", name="is_regulator"),
        migrations.AddConstraint(
            model_name="companyapikey",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "company"), ("company__isnull", False), ("user__isnull", True)),
                    models.Q(
                        ("kind", "regulator"),
                        ("company__isnull", True),
                        models.Q(("user__isnull", False), ("revoked", True), _connector="OR"),
                    ),
                    models.Q(("kind", "customs"), ("company__isnull", True), ("user__isnull", True)),
                    _connector="OR",
                ),
                name="api_key_owner_matches_kind",
            ),
        ),
        migrations.RunPython(resync_groups, migrations.RunPython.noop),
    ]
