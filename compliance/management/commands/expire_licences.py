"""Expire the licences past their validity window now (the daily ``compliance.expire_licences`` task does the same)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from compliance.expiry import run_expiry


class Command(BaseCommand):
    help = (
        "Expire every approved or suspended licence whose valid_until is before today (Asia/Shanghai): "
        "ledger rows, the unused remainder returned to its round, a licence_expired finding and its alerts."
    )

    def handle(self, *args, **options) -> None:
        summary = run_expiry()
        self.stdout.write(f"licences expired: {summary.expired}")
        self.stdout.write(f"units released to rounds: {summary.released_units:,}")
        self.stdout.write(f"findings opened: {summary.findings_opened}")
        for number in summary.licences:
            self.stdout.write(f"  {number}")
