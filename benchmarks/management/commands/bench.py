"""``manage.py bench``: the benchmark suite, each figure beside the limit it is compared with.

    python manage.py bench --companies 10000 --shipments 1000000 --seed 1 --runs 3

Generates a deterministic world (``benchmarks.generator``: a few giants, a long tail, every
record in every state), then runs on the same database, in one run:

1. the full compliance sweep against the same rules as raw SQL upserts (goal: within 2x);
2. an unchanged re-sweep against the first sweep (writes nothing but heartbeats; faster);
3. the sweep at 1x, 3x and 10x the data (grows no faster than the data);
4. ``quota_positions`` for all companies against one hand-written statement (within 1.5x);
5. API reads under load (gunicorn and wrk) against a trivial endpoint (at least half);
6. customs events through the batch endpoint against ``COPY`` (at least a quarter);
7. alert latency, a change through the API to the signed webhook received, against the
   same path doing nothing, under load (PostgreSQL and Redis only: gunicorn, a Celery
   worker, a receiver on 127.0.0.1), and how deep the re-check queue gets while one company
   changes continuously, with and without coalescing.

and prints a table: medians over ``--runs``, rows per second, queries per operation and
the ratios. ``--only sweep,growth,quota,api,ingest,latency`` picks benchmarks. Run it against a
scratch database (``createdb bench_full``, ``migrate``), never production: it deletes and
rewrites findings. ``--reuse`` runs on a world generated earlier with the same seed (the
growth benchmark then has nothing to grow and is skipped).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from benchmarks import sweep as sweeps
from benchmarks.generator import Generated, generate
from benchmarks.loading import analyze, describe_database, shipments_added_by_runs
from benchmarks.measure import Row, Table
from benchmarks.quota import bench_policy, bench_quota_positions
from benchmarks.world import ON
from licences.models import Company
from quotas.models import QuotaPolicy

BENCHMARKS = ("sweep", "growth", "quota", "api", "ingest", "latency")
GROWTH_STAGES = (("1x", {0}), ("3x", {1, 2}), ("10x", {3, 4, 5, 6, 7, 8, 9}))  # parts out of ten


class Command(BaseCommand):
    help = "Run the benchmark suite: the service against its limits, printed as a table."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--companies", type=int, default=10_000)
        parser.add_argument("--shipments", type=int, default=1_000_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--runs", type=int, default=3, help="Timed runs per figure (the median is shown).")
        parser.add_argument("--only", default=",".join(BENCHMARKS), help=f"Comma-separated: {', '.join(BENCHMARKS)}.")
        parser.add_argument("--reuse", action="store_true", help="Use this seed's world if already generated.")
        parser.add_argument("--api-seconds", type=int, default=10, help="Load duration per API endpoint.")
        parser.add_argument("--api-connections", type=int, default=16)
        parser.add_argument("--api-workers", type=int, default=2, help="gunicorn workers.")
        parser.add_argument(
            "--api-client",
            choices=("wrk", "python", "inprocess"),
            default=None,
            help="Load generator: wrk (default when installed), a Python loop over HTTP, or the "
            "Django test client in this process (no server; for tiny runs and tests).",
        )
        parser.add_argument("--ingest-events", type=int, default=100_000)
        parser.add_argument("--latency-samples", type=int, default=30, help="Alert latency samples per path.")
        parser.add_argument(
            "--latency-churn-seconds", type=float, default=15, help="Continuous change per re-check queue run."
        )
        parser.add_argument("--latency-batch", type=int, default=500, help="Items per background ingestion request.")
        parser.add_argument("--latency-concurrency", type=int, default=2, help="Celery worker processes.")
        parser.add_argument("--latency-connections", type=int, default=4, help="Background read connections.")

    def handle(self, *args: Any, **options: Any) -> None:
        companies, shipments, seed, runs = options["companies"], options["shipments"], options["seed"], options["runs"]
        if companies < 1 or shipments < 0 or runs < 1:
            raise CommandError("--companies and --runs must be positive, --shipments not negative.")
        only = [name.strip() for name in options["only"].split(",") if name.strip()]
        unknown = sorted(set(only) - set(BENCHMARKS))
        if unknown:
            raise CommandError(f"Unknown benchmark: {', '.join(unknown)} (choose from {', '.join(BENCHMARKS)}).")
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise CommandError(
                f"The database {connection.settings_dict['NAME']} has migrations to apply: run "
                "`python manage.py migrate` (with the same settings) first."
            )
        prefix = f"bench-{seed}-"
        table = Table()
        existing = Company.objects.filter(slug__startswith=prefix).count()
        if existing and not options["reuse"]:
            raise CommandError(f"{existing} companies from seed {seed} already exist: pass --reuse or use a new seed.")
        self.stdout.write(f"{connection.vendor} database {connection.settings_dict['NAME']}")

        def load(part: Any = None) -> Generated:
            started = time.perf_counter()
            with transaction.atomic():
                made = generate(companies=companies, shipments=shipments, seed=seed, prefix=prefix, part=part,
                                parts=10 if part is not None else 1)  # fmt: skip
            analyze()
            seconds = time.perf_counter() - started
            rows = sum(vars(made).values())
            self.stdout.write(f"generated {made.describe()} in {seconds:.1f} s")
            table.add(Row("0. generate", f"{connection.vendor} bulk load", seconds, rows, "rows", note=made.describe()))
            return made

        if existing:
            self.stdout.write(f"reusing {existing:,} companies from seed {seed}")
            if "growth" in only:
                table.add(Row("3. sweep growth", "skipped", note="--reuse: growth builds the world itself"))
        elif "growth" in only:

            def stage(parts: set[int]) -> Any:
                def grow() -> dict[str, int]:
                    load(parts)
                    return describe_database()

                return grow

            table.add(*sweeps.bench_growth([(label, stage(parts)) for label, parts in GROWTH_STAGES], runs=runs))
        else:
            load()

        counts = describe_database()
        self.stdout.write(", ".join(f"{count:,} {name}" for name, count in counts.items()))
        added = shipments_added_by_runs()
        if added and {"sweep", "quota", "api"} & set(only):
            self.stdout.write(self.style.WARNING(
                f"warning: {added:,} shipments of earlier ingestion and latency runs are in this world: the "
                "sweep, quota and API figures are not comparable with a fresh world's (generate the world "
                "again in a new database for them, and run ingest and latency last)."
            ))  # fmt: skip
        try:
            if "sweep" in only:
                table.add(*sweeps.bench_sweeps(runs=runs, shipments=counts["shipments"]))
            if "quota" in only:
                policy = bench_policy(
                    seed=seed, basis=QuotaPolicy.Basis.COMPUTE, measured_on=QuotaPolicy.MeasuredOn.CLEARED
                )
                table.add(*bench_quota_positions(policy=policy, on=ON, runs=runs))
            if "api" in only:
                from benchmarks.api import bench_api

                table.add(
                    *bench_api(
                        largest=f"{prefix}000000",  # company 0 is the largest (see the generator)
                        seconds=options["api_seconds"],
                        connections=options["api_connections"],
                        workers=options["api_workers"],
                        client=options["api_client"],
                        runs=runs,
                    )
                )
            if "ingest" in only:
                from benchmarks.ingest import bench_ingest

                table.add(*bench_ingest(events=options["ingest_events"], runs=runs))
            if "latency" in only:
                from benchmarks.latency import bench_latency

                table.add(
                    *bench_latency(
                        samples=options["latency_samples"],
                        churn_seconds=options["latency_churn_seconds"],
                        batch=options["latency_batch"],
                        workers=options["api_workers"],
                        concurrency=options["latency_concurrency"],
                        connections=options["latency_connections"],
                        client=options["api_client"],
                    )
                )
        finally:  # what was measured is printed even if a later benchmark fails
            self.stdout.write("")
            self.stdout.write(table.render())
