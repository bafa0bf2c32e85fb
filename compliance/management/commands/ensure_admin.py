"""Make sure a superuser exists for the demo, and print how to sign in."""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create (or reset) the demo superuser and print its sign-in details."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default=os.environ.get("ADMIN_USERNAME", "admin"))
        parser.add_argument("--password", default=os.environ.get("ADMIN_PASSWORD", "h200-demo-admin"))
        parser.add_argument("--email", default=os.environ.get("ADMIN_EMAIL", "admin@example.com"))
        parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/admin/")

    def handle(self, *args, username: str, password: str, email: str, url: str, **options) -> None:
        user, created = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
        user.is_staff = True
        user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(
            self.style.SUCCESS(
                f"Admin {'created' if created else 'ready'}: {url}  user {username!r}  password {password!r}"
            )
        )
