"""Measuring: medians over runs, queries per operation, and the table every benchmark prints."""

from __future__ import annotations

import gc
import math
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext


@dataclass
class Timing:
    """The median of several timed runs (seconds), every sample, and the queries of one run."""

    median: float
    samples: list[float]
    queries: int


def timed(
    operation: Callable[[], object], *, runs: int, setup: Callable[[], object] | None = None, warm: bool = True
) -> Timing:
    """Time ``operation`` ``runs`` times (``setup`` before each, untimed) and count its queries once.

    The queries are counted on an extra first run (which also warms the caches, unless
    ``warm`` is false: then the counted run is the first timed one, for operations whose
    first run differs from the next, like a sweep against an empty findings table).
    """
    if setup:
        setup()
    reset_queries()  # with DEBUG on, the query log is capped (9,000): a full log would count nothing
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        operation()
        first = time.perf_counter() - started
    samples = [] if warm else [first]
    while len(samples) < runs:
        if setup:
            setup()
        started = time.perf_counter()
        operation()
        samples.append(time.perf_counter() - started)
    return Timing(median=statistics.median(samples), samples=samples, queries=len(captured))


@dataclass
class Memory:
    """What one run of an operation held at its peak, in bytes, above what was held before it.

    ``python``: the peak of Python's own allocations (``tracemalloc``), the objects the
    operation built. ``process``: the rise of the process's resident set to its high-water
    mark (Linux ``VmHWM``, reset before the run), which also sees the database driver's
    buffers; ``None`` where ``/proc`` cannot reset the mark. The run is an extra one, never
    timed (``tracemalloc`` slows Python down).
    """

    python: int
    process: int | None


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_memory(operation: Callable[[], object], *, setup: Callable[[], object] | None = None) -> Memory:
    """Run ``operation`` once (``setup`` before it) and measure its peak memory (:class:`Memory`)."""
    if setup:
        setup()
    gc.collect()
    before = _status_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")  # resets VmHWM to the current resident set
    except OSError:
        before = None
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        operation()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    high = _status_kib("VmHWM")
    process = (high - before) * 1024 if before is not None and high is not None else None
    return Memory(python=peak, process=process)


def mib(size: int | None) -> str:
    return "n/a" if size is None else f"{size / 2**20:,.1f} MiB"


def timed_together(
    operations: list[Callable[[], object]],
    *,
    runs: int,
    setups: list[Callable[[], object] | None] | None = None,
    warm: bool = True,
) -> list[Timing]:
    """:func:`timed` for several operations whose runs alternate (a, b, a, b, ...).

    For a service and its limit measured side by side: a disturbance on this shared
    machine (a checkpoint after the previous benchmark's writes, another process) then
    lands on both rather than on whichever happened to be running. ``setups`` (one per
    operation, or ``None``) run untimed before each of its runs; ``warm`` as for :func:`timed`.
    """
    setups = setups or [None] * len(operations)
    queries = []
    samples: list[list[float]] = [[] for _ in operations]
    for operation, setup, taken in zip(operations, setups, samples, strict=True):  # counted once each
        if setup:
            setup()
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            operation()
            first = time.perf_counter() - started
        queries.append(len(captured))
        if not warm:
            taken.append(first)
    for _ in range(runs - (0 if warm else 1)):
        for operation, setup, taken in zip(operations, setups, samples, strict=True):
            if setup:
                setup()
            started = time.perf_counter()
            operation()
            taken.append(time.perf_counter() - started)
    return [
        Timing(median=statistics.median(taken), samples=taken, queries=count)
        for taken, count in zip(samples, queries, strict=True)
    ]


@dataclass
class Row:
    """One line of the results table."""

    benchmark: str
    measure: str
    seconds: float | None = None
    rows: float | None = None  # rows processed per operation, for the rate
    unit: str = "rows"
    queries: str = ""
    ratio: str = ""
    goal: str = ""
    met: str = ""
    note: str = ""
    per_second: float | None = None  # a measured rate (load tests), instead of rows / seconds

    @property
    def rate(self) -> str:
        per_second = self.per_second
        if per_second is None:
            if not self.seconds or self.rows is None:
                return ""
            per_second = self.rows / self.seconds
        return f"{per_second:,.0f} {self.unit}/s"


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest sample with at least ``fraction`` of them at or
    below it (p99 of 100 samples is the 99th smallest). Every benchmark's p50/p95/p99 uses it;
    wrk computes its own from its histogram."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered), max(1, math.ceil(fraction * len(ordered) - 1e-9))) - 1]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds >= 10:
        return f"{seconds:,.1f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.1f} ms"


def verdict(ratio: float, *, at_most: float | None = None, at_least: float | None = None) -> str:
    """``met`` or ``missed`` for a ratio against its goal."""
    if at_most is not None:
        return "met" if ratio <= at_most else "missed"
    return "met" if at_least is not None and ratio >= at_least else "missed"


@dataclass(frozen=True)
class Goal:
    """A ratio's goal: at most or at least ``bound``; its text for the table and its verdict."""

    bound: float
    at_most: bool

    @property
    def text(self) -> str:
        return f"{'<=' if self.at_most else '>='} {self.bound:g}x"

    def verdict(self, ratio: float) -> str:
        return verdict(ratio, at_most=self.bound) if self.at_most else verdict(ratio, at_least=self.bound)


# The goals the table shows: issue 16's ("closer to the limits"), the latest set for each row.
SWEEP_VS_RAW_SQL = Goal(1.5, at_most=True)
QUOTA_VS_STATEMENT = Goal(1.25, at_most=True)
API_VS_TRIVIAL = Goal(0.7, at_most=False)
INGEST_VS_DATABASE_SHARE = Goal(0.85, at_most=False)  # PostgreSQL
DATABASE_SHARE_VS_COPY = Goal(0.12, at_most=False)  # PostgreSQL
SQLITE_INGEST_VS_EXECUTEMANY = Goal(0.1, at_most=False)
MEMORY_GROWTH = Goal(1.5, at_most=True)


@dataclass
class Table:
    """The results of a benchmark run, printed as a Markdown table."""

    rows: list[Row] = field(default_factory=list)

    COLUMNS = ("benchmark", "measure", "median", "rate", "queries/op", "ratio", "goal", "met", "note")

    def add(self, *rows: Row) -> None:
        self.rows.extend(rows)

    def cells(self, row: Row) -> list[str]:
        return [
            row.benchmark, row.measure, duration(row.seconds), row.rate, row.queries, row.ratio, row.goal, row.met,
            row.note,
        ]  # fmt: skip

    def render(self) -> str:
        lines = [self.cells(row) for row in self.rows]
        widths = [max([len(name)] + [len(line[i]) for line in lines]) for i, name in enumerate(self.COLUMNS)]

        def line(cells: list[str] | tuple[str, ...]) -> str:
            return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

        out = [line(self.COLUMNS), "|" + "|".join("-" * (width + 2) for width in widths) + "|"]
        out.extend(line(cells) for cells in lines)
        return "\n".join(out)
