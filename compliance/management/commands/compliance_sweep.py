"""``manage.py compliance_sweep [--company SLUG ...]``: the sweep, in the foreground.

Runs the same code as the hourly task (chunk by chunk, under the same lock when sweeping
everyone) and prints what changed: findings opened, still open, escalated and resolved,
in total and by rule. Webhook deliveries are enqueued for the workers.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from compliance import locks
from compliance.chunks import company_chunks
from compliance.outcomes import SweepSummary
from compliance.sweep import run_sweep
from compliance.tasks import SWEEP_LOCK
from licences.models import Company


class Command(BaseCommand):
    help = "Judge companies against every compliance rule now and print a summary."

    def add_arguments(self, parser):
        parser.add_argument(
            "--company", action="append", metavar="SLUG", help="Only this company (repeat for several)."
        )

    def handle(self, *args, **options):
        slugs = options["company"]
        if slugs:
            companies = dict(Company.objects.filter(slug__in=slugs).values_list("slug", "pk"))
            unknown = sorted(set(slugs) - companies.keys())
            if unknown:
                raise CommandError(f"Unknown company: {', '.join(unknown)}")
            summary = run_sweep(company_ids=list(companies.values()))
        else:
            holder = locks.acquire_lock(SWEEP_LOCK, ttl_seconds=settings.COMPLIANCE["SWEEP_LOCK_SECONDS"])
            if holder is None:
                raise CommandError("A compliance sweep is already running; try again when it has finished.")
            try:
                summary = SweepSummary()
                for chunk in company_chunks():
                    summary = summary.merge(run_sweep(company_ids=chunk))
            finally:
                locks.release_lock(SWEEP_LOCK, holder)
        for line in summary.lines():
            self.stdout.write(line)
