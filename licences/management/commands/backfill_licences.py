"""Load paper-era licences with their real decision dates, all or nothing (see ``licences.services.backfill``)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.errors import DomainError
from licences.services.backfill import COLUMNS, BackfillRefused, backfill_licences, read_file


class Command(BaseCommand):
    help = (
        "Back-enter historical licences from a .csv or .json file (columns: "
        + ", ".join(COLUMNS)
        + "). Every row is validated first; any error and nothing is written. --dry-run prints what would change."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a .csv (with a header row) or .json file")
        parser.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        try:
            rows = read_file(path.name, path.read_bytes())
            report = backfill_licences(rows, dry_run=options["dry_run"])
        except BackfillRefused as refused:
            for error in refused.errors:
                self.stderr.write(str(error))
            raise CommandError(refused.message) from refused
        except (DomainError, OSError, ValueError) as error:
            raise CommandError(str(error)) from error
        for line in report.lines:
            self.stdout.write(line)
        verb = "would be written (dry run, nothing written)" if report.dry_run else "written"
        self.stdout.write(f"{report.licences} licences and {report.decisions} decisions {verb}")
