"""Make sure the demo's staff users exist, and print how to sign in.

``admin`` is a superuser; ``regulator`` and ``analyst`` are staff in the "Regulator" and
"Analyst" groups (created by migration ``compliance.0005_admin_groups``; re-synced here).

Safe to run against production: a user that already exists is left exactly as it is (its
password is never reset), and without ``DEBUG`` the published demo passwords are refused
(set ``ADMIN_PASSWORD``, ``REGULATOR_PASSWORD`` and ``ANALYST_PASSWORD``, or pass them).
"""

from __future__ import annotations

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError

from compliance.groups import ANALYST, REGULATOR, sync_groups

# Printed in the README and in `make run`'s output: fine for a laptop, never for production.
DEMO_PASSWORDS = frozenset({"h200-demo-admin", "h200-demo-regulator", "h200-demo-analyst"})


class Command(BaseCommand):
    help = (
        "Create the demo superuser, regulator and analyst if missing (never resetting one), and print how to sign in."
    )

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
        users = [
            (username, password, email, None),
            ("regulator", regulator_password, "regulator@example.com", REGULATOR),
            ("analyst", analyst_password, "analyst@example.com", ANALYST),
        ]
        User = get_user_model()
        missing = [entry for entry in users if not User.objects.filter(username=entry[0]).exists()]
        if not settings.DEBUG:
            demo = [name for name, secret, *_ in missing if secret in DEMO_PASSWORDS or not secret]
            if demo:
                raise CommandError(
                    f"Refusing the published demo password for {', '.join(demo)} without DEBUG: set "
                    "ADMIN_PASSWORD, REGULATOR_PASSWORD and ANALYST_PASSWORD (or pass --password ...)."
                )
        sync_groups(group_model=Group, permission_model=Permission)
        for name, secret, address, group in users:
            role = "Superuser" if group is None else f"{group} group"
            if (name, secret, address, group) not in missing:
                # Never touch an existing account: its password and roles are its owner's.
                self.stdout.write(f"{role}: {url}  user {name!r} already exists, left unchanged")
                continue
            user = User(username=name, email=address, is_staff=True, is_superuser=group is None)
            user.set_password(secret)
            user.save()
            if group:
                user.groups.set([Group.objects.get(name=group)])
            shown = repr(secret) if settings.DEBUG else "(as given)"
            self.stdout.write(self.style.SUCCESS(f"{role}: {url}  user {name!r}  password {shown}  (created)"))
