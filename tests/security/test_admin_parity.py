"""The admin gives each staff group the rights the API gives it (``compliance.groups``).

- customs events and entry-block directives are customs acts: the Regulator group views them only;
- Analysts do not see API keys (names and prefixes are credentials' metadata);
- migration ``compliance.0010`` maps ``is_regulator`` to ``kind`` and revokes the user-less
  regulator keys it finds.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from compliance.groups import ANALYST, REGULATOR, sync_groups
from tests.factories import CustomsDirectiveFactory, staff_user


def codenames(group: str) -> set[str]:
    if not Group.objects.filter(name=group).exists():  # a transactional test flushed the migration's groups
        sync_groups(group_model=Group, permission_model=Permission)
    return set(Group.objects.get(name=group).permissions.values_list("codename", flat=True))


@pytest.mark.django_db
def test_the_regulator_group_only_views_customs_acts() -> None:
    regulator = codenames(REGULATOR)
    assert {"view_customsdirective", "view_customsevent"} <= regulator
    assert (
        not {"add_customsdirective", "change_customsdirective", "add_customsevent", "change_customsevent"} & regulator
    )
    assert {"add_companyapikey", "change_companyapikey", "view_companyapikey"} <= regulator
    assert "delete_companyapikey" not in regulator


@pytest.mark.django_db
def test_analysts_have_no_permission_on_api_keys() -> None:
    assert not {name for name in codenames(ANALYST) if name.endswith("_companyapikey")}


@pytest.mark.django_db
def test_a_regulator_cannot_issue_or_lift_a_directive_in_the_admin() -> None:
    directive = CustomsDirectiveFactory(reference="GACC-2026-017", blocked_until=None)
    client = Client()
    client.force_login(staff_user("officer", group=REGULATOR))
    assert client.get("/admin/licences/customsdirective/add/").status_code == 403
    page = client.get(f"/admin/licences/customsdirective/{directive.pk}/change/")
    assert page.status_code == 200 and b'name="blocked_until"' not in page.content
    client.post(f"/admin/licences/customsdirective/{directive.pk}/change/", {"blocked_until": "2026-01-02"})
    directive.refresh_from_db()
    assert directive.blocked_until is None


@pytest.mark.django_db(transaction=True)
def test_migration_0010_maps_the_flag_to_a_kind_and_revokes_unowned_regulator_keys() -> None:
    before, after = [("compliance", "0009_finding_fillfactor")], [("compliance", "0010_api_key_kind_and_user")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    company = apps.get_model("licences", "Company").objects.create(slug="alibaba", name="Alibaba")
    keys = apps.get_model("compliance", "CompanyAPIKey").objects
    keys.create(id="c1", prefix="c1", hashed_key="x", name="procurement", company=company, is_regulator=False)
    keys.create(id="r1", prefix="r1", hashed_key="x", name="legacy regulator", is_regulator=True)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    apps = executor.loader.project_state(after).apps
    rows = (
        apps.get_model("compliance", "CompanyAPIKey")
        .objects.order_by("id")
        .values_list("id", "kind", "company_id", "user_id", "revoked")
    )
    assert list(rows) == [("c1", "company", company.pk, None, False), ("r1", "regulator", None, None, True)]
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
