"""Benchmark ``quota_positions`` against one hand-written SQL statement (the lower bound).

    python manage.py bench_quota --companies 10000 --shipments 1000000 --seed 1 --runs 5

Generates deterministic data from the seed (a few giants and a long tail of companies,
licences, shipments and domestic commitments), then, on the same database in the same
run, times ``quota_positions`` for every company and a single hand-written SQL statement
computing the same numbers, checks that both agree company by company, and prints both
median times, their ratio and the queries per call.

Data comes from the suite's one generator (``benchmarks.generator``) and goes in with bulk
inserts (``COPY`` on PostgreSQL, ``bulk_create`` in batches elsewhere) under company slugs
``bench-<seed>-*``; the statement and the comparison are ``benchmarks.quota``'s. The
whole suite (sweep, API, ingestion) is ``manage.py bench``; a second run with ``--reuse`` skips the
generation. Run it against a scratch database, never production::

    createdb bench_quota
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_quota python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_quota python manage.py bench_quota ...
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from benchmarks.generator import generate
from benchmarks.loading import analyze
from benchmarks.quota import bench_policy, compare, raw_positions
from licences.models import Company, ImportLicence, Shipment
from quotas.models import DomesticCommitment, QuotaPolicy
from quotas.selectors import quota_positions


class Command(BaseCommand):
    help = "Time quota_positions for every company against one hand-written SQL statement."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--companies", type=int, default=10_000)
        parser.add_argument("--shipments", type=int, default=1_000_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--runs", type=int, default=5)
        parser.add_argument("--basis", choices=QuotaPolicy.Basis.values, default=QuotaPolicy.Basis.COMPUTE)
        parser.add_argument(
            "--measured-on", choices=QuotaPolicy.MeasuredOn.values, default=QuotaPolicy.MeasuredOn.CLEARED
        )
        parser.add_argument("--on", type=dt.date.fromisoformat, default=dt.date(2026, 6, 30))
        parser.add_argument("--reuse", action="store_true", help="Use this seed's data if already generated.")

    def handle(self, *args: Any, **options: Any) -> None:
        companies, shipments, seed = options["companies"], options["shipments"], options["seed"]
        if companies < 1 or shipments < 0 or options["runs"] < 1:
            raise CommandError("--companies and --runs must be positive, --shipments not negative.")
        prefix = f"bench-{seed}-"
        existing = Company.objects.filter(slug__startswith=prefix).count()
        if existing and not options["reuse"]:
            raise CommandError(f"{existing} companies from seed {seed} already exist: pass --reuse or use a new seed.")
        if not existing:
            started = time.perf_counter()
            with transaction.atomic():
                generate(companies=companies, shipments=shipments, seed=seed, prefix=prefix, with_compliance=False)
            self.stdout.write(f"generated {companies:,} companies / {shipments:,} shipments in "
                              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
            analyze()
        policy = bench_policy(seed=seed, basis=options["basis"], measured_on=options["measured_on"])
        self.report(policy=policy, on=options["on"], runs=options["runs"])

    def report(self, *, policy: QuotaPolicy, on: dt.date, runs: int) -> None:
        counts = {
            "companies": Company.objects.count(),
            "licences": ImportLicence.objects.count(),
            "shipments": Shipment.objects.count(),
            "commitments": DomesticCommitment.objects.count(),
        }
        self.stdout.write(f"{connection.vendor}: " + ", ".join(f"{count:,} {name}" for name, count in counts.items()))
        self.stdout.write(f"policy: {policy.ratio} by {policy.basis}, measured on {policy.measured_on}, on {on}")

        def orm() -> list:
            return quota_positions(on=on, policy=policy)

        def raw() -> list:
            return raw_positions(policy=policy, on=on)

        with CaptureQueriesContext(connection) as captured:
            positions = orm()
        expected = raw()
        disagreements = compare(positions, expected)
        if disagreements:
            for line in disagreements[:10]:
                self.stderr.write(line)
            raise CommandError(f"quota_positions and the SQL disagree for {len(disagreements)} companies.")
        self.stdout.write(f"agree: {len(positions):,} positions identical to the hand-written SQL")
        orm_time = median_time(orm, runs)
        raw_time = median_time(raw, runs)
        short = sum(1 for position in positions if position.is_short)
        self.stdout.write(f"short companies: {short:,}")
        self.stdout.write(f"quota_positions: {orm_time * 1000:9.1f} ms (median of {runs}), {len(captured)} queries")
        self.stdout.write(f"hand-written SQL: {raw_time * 1000:8.1f} ms (median of {runs}), 1 query")
        self.stdout.write(f"ratio: {orm_time / raw_time:.2f}x")


def median_time(function: Callable[[], object], runs: int) -> float:
    function()  # warm the caches once
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)
