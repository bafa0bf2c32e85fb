"""The admin's two staff groups and their permissions, defined once.

- **Regulator**: every decision. View, add and change every record of the domain apps
  (decisions take the change permission: see ``common.admin_helpers``); view the
  schedules and task results. No delete: records keep their history. The hash-chained ledgers
  (attestation reviews, finding transitions, the chains' heads) are view only. Customs events and
  entry-block directives are the customs authority's acts (``docs/principals.md``): view only.
  The decision ledgers (licence decisions, commitment changes) are written by the services
  alone: view only, for everyone.
  What a company asserts (``docs/domain.md``, "Who asserts what") is never the regulator's to
  write: shipments and domestic commitments are view only, licence applications and
  attestations have no add (change stays: it carries the decisions, approve, review), as the
  API refuses the regulator ``licence create``, ``commitment create/contract/deliver/cancel``
  and ``attestation create`` (``api.permissions.MATRIX``).
  API keys: the admin lets a regulator mint and revoke *company* keys only; regulator and
  customs keys are a superuser's (``compliance.admin.CompanyAPIKeyAdmin``).
- **Analyst**: read-only everywhere in the domain apps, CSV exports included (an export
  needs only the view permission); webhook subscriptions are left out (their receivers and
  event choices are each company's integration details), API keys because their names and
  prefixes are credentials' metadata an analyst has no use for.

The API gives the same users the same rights: :func:`staff_role` is what a staff session
acts as in ``/api/v1/`` (``api.principal``).

:func:`sync_groups` takes the model classes as arguments (``ensure_admin`` and the tests
call it; idempotent: it sets each group's permissions to exactly the rule's). Migrations
import nothing from here: each one that syncs the groups (compliance 0005, 0010, 0012)
carries a copy of the rules as they stood when it was written. A change to the rules below
therefore needs a new data migration with the new copy (a test compares the last copy with
these rules).
"""

from __future__ import annotations

DOMAIN_APPS = ("licences", "quotas", "compliance")
READ_ONLY_APPS = ("django_celery_beat", "django_celery_results")
ANALYST_HIDDEN_MODELS = ("webhooksubscription", "companyapikey")
#: Records only the customs authority asserts: the Regulator group may only view them.
CUSTOMS_MODELS = ("customsevent", "customsdirective")
#: Records only a company asserts, with no regulator decision on them: view only.
COMPANY_MODELS = ("shipment", "domesticcommitment")
#: Records a company asserts and the regulator decides on: no add (change carries the decisions).
COMPANY_DECIDED_MODELS = ("importlicence", "securityattestation")
#: Append-only ledgers, written only by the services in the transaction of each decision (the
#: decision ledgers, the hash-chained ledgers and their chains' heads): view only.
LEDGER_MODELS = ("licencedecision", "commitmentchange", "ledgerhead", "attestationreview", "findingtransition")

REGULATOR = "Regulator"
ANALYST = "Analyst"


def regulator_permission(app_label: str, codename: str, model: str) -> bool:
    """View/add/change on domain models (view only on their history tables); view on jobs."""
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


def analyst_permission(app_label: str, codename: str, model: str) -> bool:
    """View on every domain model except those whose form shows a secret."""
    if app_label not in DOMAIN_APPS or codename.split("_", 1)[0] != "view":
        return False
    return model not in ANALYST_HIDDEN_MODELS


GROUP_RULES = {REGULATOR: regulator_permission, ANALYST: analyst_permission}


def staff_role(user) -> str | None:
    """What an active staff user acts as: ``"regulator"`` (a superuser or the Regulator group),
    ``"analyst"`` (the Analyst group) or ``None`` (no rights in the domain)."""
    if user is None or not getattr(user, "is_active", False) or not getattr(user, "is_staff", False):
        return None
    if user.is_superuser:
        return REGULATOR.lower()
    names = set(user.groups.values_list("name", flat=True))
    if REGULATOR in names:
        return REGULATOR.lower()
    if ANALYST in names:
        return ANALYST.lower()
    return None


def holds_regulator_rights(user) -> bool:
    """May ``user`` own (and keep using) a regulator API key: active, and a superuser or in the
    Regulator group. Staff status is not required: the key, not the admin, is how it signs in."""
    if user is None or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name=REGULATOR).exists()


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
