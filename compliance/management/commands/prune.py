"""Apply the retention settings now (the daily ``compliance.prune`` task does the same)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from compliance.retention import prune


class Command(BaseCommand):
    help = (
        "Drop stored batch answers and delete idempotency records, webhook attempts and old deliveries past retention."
    )

    def handle(self, *args, **options) -> None:
        summary = prune()
        for name, count in summary.as_dict().items():
            self.stdout.write(f"{name.replace('_', ' ')}: {count}")
