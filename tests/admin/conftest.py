"""Users of the admin by role, and the demo world.

The "Regulator" and "Analyst" groups come from migration ``compliance.0005_admin_groups``;
``sync_groups`` re-creates them when a transactional test (the browser suite) has flushed
the tables since.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client

from compliance.groups import ANALYST, REGULATOR, sync_groups


@pytest.fixture
def groups(db) -> dict[str, Group]:
    sync_groups(group_model=Group, permission_model=Permission)
    return {name: Group.objects.get(name=name) for name in (REGULATOR, ANALYST)}


def _staff(django_user_model, username: str, group: Group):
    user = django_user_model.objects.create_user(username, f"{username}@example.com", "pw", is_staff=True)
    user.groups.add(group)
    return user


@pytest.fixture
def regulator(django_user_model, groups):
    return _staff(django_user_model, "regulator", groups[REGULATOR])


@pytest.fixture
def analyst(django_user_model, groups):
    return _staff(django_user_model, "analyst", groups[ANALYST])


@pytest.fixture
def regulator_client(regulator) -> Client:
    client = Client()
    client.force_login(regulator)
    return client


@pytest.fixture
def analyst_client(analyst) -> Client:
    client = Client()
    client.force_login(analyst)
    return client


@pytest.fixture
def demo(db, demo_day):
    """The demo world of ``load_demo`` (Wave 1 with 328,000 of 400,000 units granted)."""
    call_command("load_demo", verbosity=0)
