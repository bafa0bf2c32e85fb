"""Make sure the demo's staff users exist, and print how to sign in.

``admin`` is a superuser; ``regulator`` and ``analyst`` are staff in the "Regulator" and
"Analyst" groups (created by migration ``compliance.0005_admin_groups``; re-synced here).
"""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand

from compliance.groups import ANALYST, REGULATOR, sync_groups


class Command(BaseCommand):
    help = "Create (or reset) the demo superuser, regulator and analyst, and print their sign-in details."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default=os.environ.get("ADMIN_USERNAME", "admin"))
        parser.add_argument("--password", default=os.environ.get("ADMIN_PASSWORD", "h200-demo-admin"))
        parser.add_argument("--email", default=os.environ.get("ADMIN_EMAIL", "admin@example.com"))
        parser.add_argument("--regulator-password", default=os.environ.get("REGULATOR_PASSWORD", "h200-demo-regulator"))
        parser.add_argument("--analyst-password", default=os.environ.get("ANALYST_PASSWORD", "h200-demo-analyst"))
        parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/admin/")

    def handle(
        self,
        *args,
        username: str,
        password: str,
        email: str,
        regulator_password: str,
        analyst_password: str,
        url: str,
        **options,
    ) -> None:
        sync_groups(group_model=Group, permission_model=Permission)
        users = [
            (username, password, email, None),
            ("regulator", regulator_password, "regulator@example.com", REGULATOR),
            ("analyst", analyst_password, "analyst@example.com", ANALYST),
        ]
        for name, secret, address, group in users:
            user, created = get_user_model().objects.get_or_create(username=name, defaults={"email": address})
            user.is_staff = True
            user.is_superuser = group is None
            user.set_password(secret)
            user.save()
            if group:
                user.groups.set([Group.objects.get(name=group)])
            role = "Superuser" if group is None else f"{group} group"
            self.stdout.write(
                self.style.SUCCESS(
                    f"{role}: {url}  user {name!r}  password {secret!r}  ({'created' if created else 'ready'})"
                )
            )
