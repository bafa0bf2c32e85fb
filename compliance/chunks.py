"""How a full sweep is cut into chunks: one Celery task and one transaction each.

A chunk's memory follows the findings it builds (about 1.7 KB of Python objects per hit,
all held until the chunk's alerts are queued), and the findings follow the company's
records, not the number of companies: one national giant can declare 15 % of all
shipments, while thousands of small companies declare a handful each. So a chunk is
bounded by a budget of *rows* (``COMPLIANCE["SWEEP_CHUNK_ROWS"]``), each company weighing
its shipments, licences and domestic commitments plus :data:`COMPANY_ROWS` for the
company itself, and by a number of companies (``COMPLIANCE["SWEEP_CHUNK_SIZE"]``),
whichever fills first. Then a sweep's peak memory is bounded by the chunk, not by the
data: ten times the companies make ten times the chunks, not a larger one.

Companies are taken in primary-key order, so a chunk is a run of consecutive ids (which
the rules ask for as a range: ``common.bulk.one_of``) and every company lands in exactly
one chunk. A company heavier than the whole budget forms a chunk of its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Count

from licences.models import Company, ImportLicence, Shipment
from quotas.models import DomesticCommitment

#: What a company weighs beyond its shipments, licences and commitments. Measured on the
#: benchmark world: about 0.05 findings per shipment, 0.3 per licence, 0.1 per commitment
#: and 1.9 per company (quota shortfall, security attestations), so a company's own
#: findings weigh about as much as 40-50 shipments' (benchmarks/RESULTS.md, issue 16).
COMPANY_ROWS = 50


def plan_chunks(weights: Iterable[tuple[int, int]], *, max_rows: int, max_companies: int) -> list[list[int]]:
    """Cut ``(company id, rows)`` pairs, in the order given, into chunks of ids.

    A chunk takes companies while its rows stay within ``max_rows`` and its companies
    within ``max_companies``; the company that would pass either limit starts the next
    chunk. A company over ``max_rows`` on its own is a chunk of one.
    """
    if max_rows < 1 or max_companies < 1:
        raise ValueError("A sweep chunk needs room for at least one row and one company.")
    chunks: list[list[int]] = []
    chunk: list[int] = []
    rows = 0
    for company_id, weight in weights:
        if chunk and (rows + weight > max_rows or len(chunk) >= max_companies):
            chunks.append(chunk)
            chunk, rows = [], 0
        chunk.append(company_id)
        rows += weight
    if chunk:
        chunks.append(chunk)
    return chunks


def company_rows() -> list[tuple[int, int]]:
    """Every company id, in primary-key order, with its weight in rows (see the module docstring).

    Three grouped counts, whatever the number of companies.
    """
    rows: Counter[int] = Counter()
    for model in (Shipment, ImportLicence, DomesticCommitment):
        counts = model.objects.order_by().values("company_id").annotate(rows=Count("*"))
        rows.update(dict(counts.values_list("company_id", "rows")))
    return [
        (company_id, COMPANY_ROWS + rows[company_id])
        for company_id in Company.objects.order_by("pk").values_list("pk", flat=True)
    ]


def company_chunks(*, max_rows: int | None = None, max_companies: int | None = None) -> list[list[int]]:
    """Every company id, in chunks for the fan-out of a full sweep (limits default to the settings)."""
    compliance = settings.COMPLIANCE
    return plan_chunks(
        company_rows(),
        max_rows=max_rows or compliance["SWEEP_CHUNK_ROWS"],
        max_companies=max_companies or compliance["SWEEP_CHUNK_SIZE"],
    )
