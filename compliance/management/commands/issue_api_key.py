"""Issue an API key: a company's, a regulator user's or the customs authority's. Printed once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.groups import holds_regulator_rights
from compliance.models import CompanyAPIKey
from licences.models import Company


class Command(BaseCommand):
    help = (
        'Issue an API key: --company SLUG --name "...", --regulator --user USERNAME --name "..." '
        '(an active superuser or Regulator-group user) or --customs --name "...". The key is shown once.'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--company", help="Slug of the company the key acts for.")
        who.add_argument("--regulator", action="store_true", help="A regulator key for --user: sees every company.")
        who.add_argument("--customs", action="store_true", help="A customs key: records customs events and directives.")
        parser.add_argument("--user", help="With --regulator: the username the key belongs to (and dies with).")
        parser.add_argument("--name", required=True, help="What the key is for (at most 50 characters).")

    def handle(
        self,
        *args: Any,
        company: str | None,
        regulator: bool,
        customs: bool,
        user: str | None,
        name: str,
        **options: Any,
    ) -> None:
        name = name.strip()
        if not name or len(name) > 50:
            raise CommandError("--name must be 1 to 50 characters.")
        if user is not None and not regulator:
            raise CommandError("--user goes with --regulator only (company and customs keys belong to no user).")
        owner, holder = None, None
        if company is not None:
            kind = CompanyAPIKey.Kind.COMPANY
            owner = Company.objects.filter(slug=company).first()
            if owner is None:
                raise CommandError(f"No company with slug {company!r}.")
            who = owner.name
        elif regulator:
            kind = CompanyAPIKey.Kind.REGULATOR
            if not user:
                raise CommandError("--regulator requires --user USERNAME (the key stops working with that user).")
            holder = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: user}).first()
            if holder is None:
                raise CommandError(f"No user {user!r}.")
            if not holds_regulator_rights(holder):
                raise CommandError(f"User {user!r} is not an active superuser or member of the Regulator group.")
            who = f"the regulator (user {user})"
        else:
            kind = CompanyAPIKey.Kind.CUSTOMS
            who = "the customs authority"
        api_key, key = CompanyAPIKey.objects.create_key(name=name, kind=kind, company=owner, user=holder)
        self.stderr.write(f"Issued key {api_key.prefix} ({name}) for {who}. Store it now: it is not shown again.")
        self.stdout.write(key)
