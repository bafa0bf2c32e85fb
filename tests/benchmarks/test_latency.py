"""The alert-latency benchmark end to end at a tiny size: gunicorn, a real Celery worker on
Redis, a receiver on 127.0.0.1 and the background load all run, on PostgreSQL.

No assertion on a time. What is asserted: every sample's signed webhook arrived and its
signature verified, the limit's no-op posts arrived, and while one company changed
continuously the coalesced queue never held more than one re-check of it.
"""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from tests import broker
from tests.benchmarks.test_bench import table


def bench(**options) -> dict:
    out = StringIO()
    call_command("bench", companies=4, shipments=30, seed=5, runs=1, stdout=out, only="latency", **options)
    print(out.getvalue())  # the table, for whoever runs the tests with -s
    return table(out.getvalue())


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_alert_latency_runs_end_to_end_at_a_tiny_size():
    with broker.exclusive():  # its worker consumes and purges the shared broker: no other test uses it meanwhile
        rows = bench(latency_samples=2, latency_churn_seconds=2, latency_batch=10, latency_connections=2)
    service = rows["7. alert latency", "service: POST /shipments/ to signed webhook"]
    assert re.search(r"^p50 [\d,]+ ms, p95 [\d,]+ ms; 2 samples, 0 lost, 2 signatures verified; ", service["note"])
    assert re.fullmatch(r"\d+\.\d\dx", service["ratio"]) and service["goal"] == "p95 <= 5x, < 5 s"
    assert service["met"] in {"met", "missed"}
    limit = rows["7. alert latency", "limit: no-op task after commit to POST"]
    assert re.search(r"; 2 samples; ", limit["note"])
    coalesced = rows["7b. re-check queue", "coalesced: deepest queue"]["note"]
    waiting = int(re.search(r"at most (\d+) re-checks of one company waiting", coalesced).group(1))
    assert waiting <= 1
    piled = rows["7b. re-check queue", "not coalesced (marker lifetime 0): deepest queue"]["note"]
    assert re.search(r"at most \d+ re-checks of one company waiting", piled)


@pytest.mark.django_db
def test_alert_latency_is_skipped_where_it_cannot_run():
    """On the embedded default (no PostgreSQL, no Redis), or inside a test's transaction the
    worker and the server could not see, the row says why instead of failing."""
    [(key, cells)] = [(key, cells) for key, cells in bench().items() if key[0] == "7. alert latency"]
    assert key[1] == "skipped"
    assert cells["note"] in {
        "needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)",
        "inside a transaction: the worker and the server would not see its writes",
    }
