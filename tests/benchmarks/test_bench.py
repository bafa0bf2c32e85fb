"""The benchmark suite runs every benchmark at a tiny size and prints its table.

No test here asserts on a time: the figures are the benchmark's business. What is
asserted is that each benchmark runs, agrees with its limit (the same hits, the same
positions), that an unchanged re-sweep writes nothing, and that queries per operation do
not grow with the data.
"""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from compliance.models import Finding
from compliance.rules import SWEPT_RULES
from licences.models import Shipment

pytestmark = pytest.mark.django_db

TINY = {"runs": 1, "api_client": "inprocess", "api_seconds": 0.1}


def bench(companies: int, shipments: int, seed: int = 1, **options) -> str:
    out = StringIO()
    call_command("bench", companies=companies, shipments=shipments, seed=seed, stdout=out, **{**TINY, **options})
    output = out.getvalue()
    print(output)  # the table, for whoever runs the tests with -s
    return output


def table(output: str) -> dict[tuple[str, str], dict[str, str]]:
    """The printed table as ``{(benchmark, measure): {column: cell}}``."""
    lines = [line for line in output.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[1:]:
        cells = dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        rows[cells["benchmark"], cells["measure"].split(",")[0]] = cells
    return rows


def queries(rows: dict) -> dict[tuple[str, str], int]:
    """Queries per operation of every row that counts them (per chunk for the sweeps)."""
    counted = {}
    for key, cells in rows.items():
        match = re.match(r"(\d+)", cells["queries/op"])
        if match and not key[0].startswith("3."):
            counted[key] = int(match.group(1))
    return counted


def test_every_benchmark_runs_at_a_tiny_size_and_prints_its_table():
    output = bench(12, 150, ingest_events=200)
    rows = table(output)
    benchmarks = {benchmark for benchmark, _ in rows}
    assert {"0. generate", "1. full sweep", "2. unchanged re-sweep", "3. sweep growth 1x", "3. sweep growth 3x",
            "3. sweep growth 10x", "5. API quota", "5. API licences", "5. API chips",
            "6. bulk ingestion"} <= benchmarks  # fmt: skip
    assert any(name.startswith("4. quota positions") for name in benchmarks)
    # The world was built in three stages (a tenth, three tenths, all of it): the whole world.
    assert Shipment.objects.filter(company__slug__startswith="bench-1-").count() == 150
    assert "12 companies, 150 shipments;" in rows["3. sweep growth 10x", "service: compliance_sweep"]["note"]
    # The sweep's peak memory at each stage, the last against the first.
    peaks = {name: measure for name, measure in rows if name.startswith("3b.")}
    assert set(peaks) == {f"3b. sweep peak memory {label}" for label in ("1x", "3x", "10x")}
    assert all(re.fullmatch(r"Python heap peak: [\d,]+\.\d MiB", measure) for measure in peaks.values())
    last = rows["3b. sweep peak memory 10x", peaks["3b. sweep peak memory 10x"]]
    assert re.fullmatch(r"\d+\.\d\dx", last["ratio"]) and last["goal"] == "<= 1.5x"
    assert last["note"].startswith("150 shipments in 1 chunk(s); process resident set rose ")
    # Each benchmark agrees with its limit before it is timed.
    assert rows["1. full sweep", "limit: 9 rules as raw SQL upserts"]["note"] == "same hits as the service"
    assert re.search(r"\d\.\d\dx", rows["1. full sweep", "service: compliance_sweep"]["ratio"])
    quota = next(cells for (name, measure), cells in rows.items() if name.startswith("4.") and "limit" in measure)
    assert quota["note"] == "12 positions agree"
    # The unchanged re-sweep wrote nothing but the heartbeat.
    resweep = rows["2. unchanged re-sweep", "service: the same sweep again"]["note"]
    assert resweep.startswith("0 created/changed/history/alerts; ")
    # Each re-sweep, an hour after the one before, writes the heartbeats (the statement found
    # on either database, inside a WITH on PostgreSQL).
    heartbeats = re.search(r"([\d,]+) heartbeats in (\d+) UPDATE\(s\)$", resweep)
    assert heartbeats and int(heartbeats[1].replace(",", "")) > 0 and int(heartbeats[2]) >= 1, resweep
    assert "0 errors" in rows["5. API quota", "service: GET /api/v1/companies/<largest>/quota/"]["note"]
    ingest = rows["6. bulk ingestion", "service: POST /customs-events/batch/ x1 of 5"]
    assert "200 events for 50 shipments, every one accepted" in ingest["note"]
    share = rows["6. bulk ingestion", "extra: the database's share of the service"]
    assert re.fullmatch(r"\d+\.\d\dx", share["ratio"]) and share["rate"].endswith("events/s")
    own = rows["6. bulk ingestion", "extra: the service against its database share"]
    assert re.fullmatch(r"\d+\.\d\dx", own["ratio"]) and own["median"] == ""
    # Each ratio beside issue 16's goal for it, on this database, with its verdict.
    postgresql = connection.vendor == "postgresql"
    goals = {
        ("1. full sweep", "service: compliance_sweep"): "<= 1.5x",
        ("5. API quota", "service: GET /api/v1/companies/<largest>/quota/"): ">= 0.7x",
        ("5. API licences", "service: GET /api/v1/licences/"): ">= 0.7x",
        ("6. bulk ingestion", "service: POST /customs-events/batch/ x1 of 5"): "" if postgresql else ">= 0.1x",
        ("6. bulk ingestion", "extra: the database's share of the service"): ">= 0.12x" if postgresql else "",
        ("6. bulk ingestion", "extra: the service against its database share"): ">= 0.85x" if postgresql else "",
    }
    for key, goal in goals.items():
        assert rows[key]["goal"] == goal, key
        assert rows[key]["met"] in ({"met", "missed"} if goal else {""}), key
    quota_row = next(cells for (name, measure), cells in rows.items() if name.startswith("4.") and "service" in measure)
    assert quota_row["goal"] == "<= 1.25x" and quota_row["met"] in {"met", "missed"}
    # The share's run (declared before the last 50, which counted the queries) applied every event.
    ingested = Shipment.objects.filter(company__slug="bench-ingest").order_by("-pk")
    assert {shipment.status for shipment in ingested[50:100]} == {"cleared"}
    assert ingested.count() == 150  # the service's run, the share's run, the query count's
    # Every rule of the sweep has something to find, even in a world this small.
    assert set(Finding.objects.values_list("rule", flat=True)) >= SWEPT_RULES - {"quota_at_risk"}


@pytest.fixture
def sqlite_parameter_limit():
    """Let Django use the parameter limit this SQLite really has (32,766 since 3.32), not 999.

    With 999, Django splits every ``bulk_create`` / ``bulk_update`` of more than a few dozen
    rows into several statements on SQLite, so counts would grow with the data for a reason
    that is Django's, not the code's (PostgreSQL has no such limit).
    """
    if connection.vendor != "sqlite":
        yield
        return
    before = connection.features.max_query_params
    connection.features.max_query_params = 32_766
    yield
    connection.features.max_query_params = before


def test_queries_per_operation_do_not_grow_with_the_data(sqlite_parameter_limit):
    only = "sweep,quota,api,ingest"
    small = queries(table(bench(8, 100, seed=1, only=only, ingest_events=200)))
    # A second world beside the first: three times the companies and shipments in all.
    large = queries(table(bench(16, 200, seed=2, only=only, ingest_events=800)))
    assert Shipment.objects.filter(company__slug__regex=r"^bench-[12]-").count() == 300
    assert len(small) >= 10
    assert small == large


def test_bench_refuses_to_regenerate_a_seed_unless_reused():
    bench(6, 40, only="quota")
    with pytest.raises(CommandError, match="6 companies from seed 1 already exist"):
        bench(6, 40, only="quota")
    output = bench(6, 40, only="quota,growth", reuse=True)
    assert "reusing 6 companies from seed 1" in output
    assert "--reuse: growth builds the world itself" in output


def test_bench_refuses_an_unknown_benchmark():
    with pytest.raises(CommandError, match="Unknown benchmark: speed"):
        bench(6, 40, only="sweep,speed")


def test_timed_together_alternates_the_runs_and_counts_each_operations_queries():
    from benchmarks.measure import timed_together
    from licences.models import Company

    calls: list[str] = []

    def service() -> None:
        calls.append("service")
        Company.objects.count()

    def limit() -> None:
        calls.append("limit")

    service_timing, limit_timing = timed_together([service, limit], runs=3)
    assert calls == ["service", "limit"] * 4  # one counted (warming) round, then three alternating
    assert (service_timing.queries, limit_timing.queries) == (1, 0)
    assert len(service_timing.samples) == len(limit_timing.samples) == 3
    assert service_timing.median == sorted(service_timing.samples)[1]


def test_timed_together_cold_runs_each_operations_setup_before_every_run_and_times_the_counted_one():
    from benchmarks.measure import timed_together
    from licences.models import Company

    calls: list[str] = []

    def service() -> None:
        calls.append("service")
        Company.objects.count()

    service_timing, limit_timing = timed_together(
        [service, lambda: calls.append("limit")],
        runs=3,
        setups=[lambda: calls.append("reset"), None],
        warm=False,
    )
    # No warming round: the counted run is the first timed one (a first sweep after a reset).
    assert calls == ["reset", "service", "limit"] * 3
    assert (service_timing.queries, limit_timing.queries) == (1, 0)
    assert len(service_timing.samples) == len(limit_timing.samples) == 3


def test_a_world_grown_by_ingestion_runs_is_named_before_figures_that_it_skews():
    # The ingestion benchmark adds its shipments to the world (as the latency one does): a later
    # sweep, quota or API figure is measured on another world than a fresh one.
    assert "warning:" not in bench(6, 60, only="quota")
    bench(6, 60, only="ingest", ingest_events=40, reuse=True)
    added = Shipment.objects.filter(company__slug="bench-ingest").count()
    assert added == 30  # the service's run, the share's run, the query count's: 10 shipments each
    output = bench(6, 60, only="quota", reuse=True)
    assert f"warning: {added:,} shipments of earlier ingestion and latency runs are in this world" in output
    assert "warning:" not in bench(6, 60, only="ingest", ingest_events=40, reuse=True)


def test_the_percentiles_are_nearest_rank():
    from benchmarks.measure import percentile

    hundred = [float(n) for n in range(100, 0, -1)]
    assert (percentile(hundred, 0.5), percentile(hundred, 0.95), percentile(hundred, 0.99)) == (50.0, 95.0, 99.0)
    thirty = [float(n) for n in range(1, 31)]
    assert percentile(thirty, 0.95) == 29.0  # the 28.5th rank rounds up
    assert (percentile([7.0], 0.99), percentile([1.0, 2.0], 0.5)) == (7.0, 1.0)
    assert str(percentile([], 0.99)) == "nan"


def test_a_goal_reads_as_its_bound_and_judges_a_ratio_against_it():
    from benchmarks.measure import Goal

    at_most, at_least = Goal(1.25, at_most=True), Goal(0.12, at_most=False)
    assert (at_most.text, at_least.text) == ("<= 1.25x", ">= 0.12x")
    assert [at_most.verdict(ratio) for ratio in (1.0, 1.25, 1.2501)] == ["met", "met", "missed"]
    assert [at_least.verdict(ratio) for ratio in (0.5, 0.12, 0.1199)] == ["met", "met", "missed"]


def test_bench_on_a_database_without_the_schema_says_to_migrate_it(tmp_path):
    import os
    import subprocess
    import sys

    from django.conf import settings

    environment = {
        **os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings_bench", "DEBUG": "1",
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "manage.py", "bench", "--companies", "2", "--shipments", "2"],
        cwd=settings.BASE_DIR, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"CommandError: The database {tmp_path / 'empty.sqlite3'} has migrations to apply" in done.stderr
    assert "python manage.py migrate" in done.stderr
