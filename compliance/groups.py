"""The admin's two staff groups and their permissions, defined once.

- **Regulator**: every decision. View, add and change every record of the domain apps
  (decisions take the change permission: see ``licences.admin_helpers``); view the
  schedules and task results. No delete: records keep their history.
- **Analyst**: read-only everywhere in the domain apps, CSV exports included (an export
  needs only the view permission); webhook subscriptions are left out because their form
  shows the shared signing secret.

:func:`sync_groups` takes the model classes as arguments so the data migration can call it
with historical models and ``ensure_admin`` with the real ones (idempotent: it sets each
group's permissions to exactly the rule's).
"""

from __future__ import annotations

DOMAIN_APPS = ("licences", "quotas", "compliance")
READ_ONLY_APPS = ("django_celery_beat", "django_celery_results")
ANALYST_HIDDEN_MODELS = ("webhooksubscription",)

REGULATOR = "Regulator"
ANALYST = "Analyst"


def regulator_permission(app_label: str, codename: str, model: str) -> bool:
    """View/add/change on domain models (view only on their history tables); view on jobs."""
    action = codename.split("_", 1)[0]
    if app_label in READ_ONLY_APPS:
        return action == "view"
    if app_label not in DOMAIN_APPS:
        return False
    if model.startswith("historical"):
        return action == "view"
    return action in ("view", "add", "change")


def analyst_permission(app_label: str, codename: str, model: str) -> bool:
    """View on every domain model except those whose form shows a secret."""
    if app_label not in DOMAIN_APPS or codename.split("_", 1)[0] != "view":
        return False
    return model not in ANALYST_HIDDEN_MODELS


GROUP_RULES = {REGULATOR: regulator_permission, ANALYST: analyst_permission}


def sync_groups(*, group_model, permission_model) -> dict[str, int]:
    """Create the groups if missing and set their permissions; returns permissions per group."""
    permissions = list(
        permission_model.objects.filter(content_type__app_label__in=DOMAIN_APPS + READ_ONLY_APPS).values_list(
            "pk", "codename", "content_type__app_label", "content_type__model"
        )
    )
    counts = {}
    for name, rule in GROUP_RULES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        chosen = [pk for pk, codename, app_label, model in permissions if rule(app_label, codename, model)]
        group.permissions.set(chosen)
        counts[name] = len(chosen)
    return counts
