"""Issue an API key for a company's procurement system, or a regulator key. Printed once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.models import CompanyAPIKey
from licences.models import Company


class Command(BaseCommand):
    help = 'Issue an API key: --company SLUG --name "..." or --regulator --name "...". The key is shown once.'

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--company", help="Slug of the company the key acts for.")
        who.add_argument("--regulator", action="store_true", help="A regulator key: sees every company.")
        parser.add_argument("--name", required=True, help="What the key is for (at most 50 characters).")

    def handle(self, *args: Any, company: str | None, regulator: bool, name: str, **options: Any) -> None:
        name = name.strip()
        if not name or len(name) > 50:
            raise CommandError("--name must be 1 to 50 characters.")
        owner = None
        if company is not None:
            owner = Company.objects.filter(slug=company).first()
            if owner is None:
                raise CommandError(f"No company with slug {company!r}.")
        api_key, key = CompanyAPIKey.objects.create_key(name=name, company=owner, is_regulator=regulator)
        who = "the regulator" if regulator else owner.name
        self.stderr.write(f"Issued key {api_key.prefix} ({name}) for {who}. Store it now: it is not shown again.")
        self.stdout.write(key)
