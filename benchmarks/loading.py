"""Loading a benchmark world fast, and looking at what is loaded: ``COPY`` on PostgreSQL
(psycopg 3's ``cursor.copy``), ``bulk_create`` in batches elsewhere; the planner's statistics
after a bulk load; row counts of the tables the benchmarks read.
"""

# The COPY statement interpolates only model metadata (table and column names).

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.management.color import no_style
from django.db import connection

from compliance.models import Finding, SecurityAttestation
from licences.models import Company, CustomsEvent, ImportLicence, Shipment
from quotas.models import DomesticCommitment

BATCH = 5_000


def insert_rows(model: type, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """Bulk insert: ``COPY`` on PostgreSQL, ``bulk_create`` in batches elsewhere. Returns the row count."""
    count = 0
    if connection.vendor == "postgresql":
        statement = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    batch: list = []
    for row in rows:
        batch.append(model(**dict(zip(columns, row, strict=True))))
        count += 1
        if len(batch) == BATCH:
            model.objects.bulk_create(batch)
            batch = []
    model.objects.bulk_create(batch)
    return count


def reset_sequence(model: type) -> None:
    """Move the primary-key sequence past rows inserted with explicit ids (PostgreSQL)."""
    statements = connection.ops.sequence_reset_sql(no_style(), [model])
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def analyze() -> None:
    """After a bulk load, what autovacuum would soon do: statistics for the planner and the
    visibility map for index-only scans (PostgreSQL; a no-op elsewhere). Inside a transaction
    (a test), where ``VACUUM`` cannot run, the statistics only."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")


#: The companies the ingestion and latency benchmarks create and keep adding shipments to.
INGEST_COMPANY, LATENCY_COMPANY = "bench-ingest", "bench-latency"


def shipments_added_by_runs() -> int:
    """Shipments the ingestion and latency benchmarks have added to this database's world: every
    run adds more, and with them the statistics and the rules' work change, so sweep, quota and
    API figures measured after them are not comparable with a fresh world's."""
    return Shipment.objects.filter(company__slug__in=(INGEST_COMPANY, LATENCY_COMPANY)).count()


def describe_database() -> dict[str, Any]:
    """Row counts of the tables the benchmarks read."""
    return {
        "companies": Company.objects.count(),
        "licences": ImportLicence.objects.count(),
        "shipments": Shipment.objects.count(),
        "customs events": CustomsEvent.objects.count(),
        "commitments": DomesticCommitment.objects.count(),
        "attestations": SecurityAttestation.objects.count(),
        "findings": Finding.objects.count(),
    }
