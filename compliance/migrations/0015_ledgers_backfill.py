"""Fill the two new ledgers (0013) with the decisions taken before them, chained per company,
and re-sync the staff groups (``compliance.groups``: the ledgers are view only).

- ``attestation_reviews``: one row per reviewed attestation (accepted or rejected), as its
  review fields say, in the order of ``reviewed_at``.
- ``finding_transitions``: one row per change of a finding's status (or rise of its severity)
  in its simple_history rows, in the order they were written; a finding with no history row
  gets one row for its current state.

The hashing is common/chain.py's as of this migration, copied (frozen): a migration imports
nothing from the apps' live code; so are the staff groups' rules.
"""

import datetime as dt
import hashlib
import json
from decimal import Decimal

from django.contrib.auth.management import create_permissions
from django.db import migrations


GENESIS = "0" * 64
CHUNK = 5000
REVIEWS = (
    "attestation_reviews",
    ("company_id", "attestation_id", "decision", "expires_on", "note", "reviewed_at", "reviewed_by"),
)
TRANSITIONS = ("finding_transitions", ("company_id", "finding_id", "kind", "status", "severity", "at", "by", "note"))
RANK = {"info": 0, "warning": 1, "high": 2, "critical": 3}


def _encode(value):
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is Decimal:
        return format(value.normalize(), "f")
    if type(value) is dt.datetime:
        if value.tzinfo is None:
            raise TypeError(f"A chained datetime needs a time zone: {value!r}")
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if type(value) is dt.date:
        return value.isoformat()
    raise TypeError(f"Cannot hash a {type(value).__name__} in a chained row: {value!r}")


def _row_hash(stream, fields, prev_hash, seq, values):
    row = {name: _encode(value) for name, value in sorted(zip(fields, values, strict=True))}
    text = json.dumps({"row": row, "seq": seq, "stream": stream}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(prev_hash.encode("ascii") + text.encode("ascii")).hexdigest()


def _append(apps, model, stream, rows):
    """Chain ``rows`` (values in the stream's field order, company first) and insert them with their heads."""
    name, fields = stream
    LedgerHead = apps.get_model("licences", "LedgerHead")
    heads = {
        key: (seq, head) for key, seq, head in LedgerHead.objects.filter(stream=name).values_list("key", "seq", "hash")
    }
    batch = []
    for values in rows:
        seq, prev = heads.get(values[0], (0, GENESIS))
        seq += 1
        row_hash = _row_hash(name, fields, prev, seq, values)
        heads[values[0]] = (seq, row_hash)
        batch.append(model(**dict(zip(fields, values, strict=True)), chain_seq=seq, prev_hash=prev, row_hash=row_hash))
        if len(batch) == CHUNK:
            model._base_manager.bulk_create(batch)  # the plain manager: the rows are chained already
            batch = []
    model._base_manager.bulk_create(batch)
    LedgerHead.objects.filter(stream=name).delete()
    LedgerHead.objects.bulk_create(
        [LedgerHead(stream=name, key=key, seq=seq, hash=head) for key, (seq, head) in sorted(heads.items())],
        batch_size=CHUNK,
    )


def _reviews(apps):
    SecurityAttestation = apps.get_model("compliance", "SecurityAttestation")
    reviewed = (
        SecurityAttestation.objects.filter(status__in=["accepted", "rejected"], reviewed_at__isnull=False)
        .order_by("reviewed_at", "pk")
        .values_list("company_id", "pk", "status", "expires_on", "review_note", "reviewed_at", "reviewed_by__username")
    )
    for company_id, pk, status, expires_on, note, reviewed_at, username in reviewed.iterator(chunk_size=CHUNK):
        yield (company_id, pk, status, expires_on if status == "accepted" else None, note, reviewed_at, username or "")


def _kind(before, status, severity):
    if before is None:
        return {"open": "opened", "acknowledged": "acknowledged", "resolved": "resolved"}[status]
    old_status, old_severity = before
    if status != old_status:
        if status == "open":
            return "reopened" if old_status == "resolved" else "escalated"
        return status  # acknowledged, resolved
    if RANK.get(severity, 0) > RANK.get(old_severity, 0):
        return "escalated"
    return None


def _transitions(apps):
    Finding = apps.get_model("compliance", "Finding")
    HistoricalFinding = apps.get_model("compliance", "HistoricalFinding")
    state = {}  # finding id: (status, severity) as its history last said
    last = 0
    while True:
        rows = list(
            HistoricalFinding.objects.filter(history_id__gt=last)
            .order_by("history_id")
            .values_list(
                "history_id",
                "id",
                "company_id",
                "status",
                "severity",
                "history_date",
                "history_user__username",
                "resolution_note",
            )[:CHUNK]
        )
        if not rows:
            break
        for _, pk, company_id, status, severity, at, username, note in rows:
            kind = _kind(state.get(pk), status, severity)
            state[pk] = (status, severity)
            if kind is not None:
                note = note if kind in ("acknowledged", "resolved") else ""
                yield (company_id, pk, kind, status, severity, at, username or "", note)
        last = rows[-1][0]
    unrecorded = Finding.objects.exclude(pk__in=HistoricalFinding.objects.values("id")).order_by("pk")
    for finding in unrecorded.iterator(chunk_size=CHUNK):
        at = finding.resolved_at or finding.acknowledged_at or finding.first_seen_at
        note = finding.resolution_note if finding.status != "open" else ""
        yield (finding.company_id, finding.pk, _kind(None, finding.status, finding.severity), finding.status,
               finding.severity, at, "", note)  # fmt: skip


def fill_ledgers(apps, schema_editor):
    _append(apps, apps.get_model("compliance", "AttestationReview"), REVIEWS, _reviews(apps))
    _append(apps, apps.get_model("compliance", "FindingTransition"), TRANSITIONS, _transitions(apps))


def empty_ledgers(apps, schema_editor):
    for model, (name, _fields) in (("AttestationReview", REVIEWS), ("FindingTransition", TRANSITIONS)):
        apps.get_model("compliance", model).objects.all().delete()
        apps.get_model("licences", "LedgerHead").objects.filter(stream=name).delete()


# --- The staff groups' rules as of this migration (compliance.groups holds today's) ---

DOMAIN_APPS = ("licences", "quotas", "compliance")
READ_ONLY_APPS = ("django_celery_beat", "django_celery_results")
ANALYST_HIDDEN_MODELS = ("webhooksubscription", "companyapikey")
# Records only the customs authority asserts: the Regulator group may only view them.
CUSTOMS_MODELS = ("customsevent", "customsdirective")
# Records only a company asserts, with no regulator decision on them: view only.
COMPANY_MODELS = ("shipment", "domesticcommitment")
# Append-only ledgers (the decision ledgers, the hash-chained ledgers and their chains' heads): view only.
LEDGER_MODELS = ("licencedecision", "commitmentchange", "ledgerhead", "attestationreview", "findingtransition")
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
        ("compliance", "0014_ledgers_attestation_reviews_finding_transitions"),
    ]

    operations = [
        migrations.RunPython(fill_ledgers, empty_ledgers),
        migrations.RunPython(resync_groups, migrations.RunPython.noop),
    ]
