"""The benchmarks' one Celery task: the alert-latency benchmark's limit (:mod:`benchmarks.latency`).

Registered only where the ``benchmarks`` app is installed (``config.settings_bench`` and the
test settings), so a production worker never knows it.
"""

from __future__ import annotations

import json

from celery import shared_task

from compliance import webhooks
from compliance.webhook_targets import connection_for, webhook_target

NOOP_SECRET = "bench-noop-secret"


@shared_task
def noop_post(url: str, sample: str) -> int:
    """Do nothing but POST a signed ``{"sample": ...}`` to ``url``, through the same checked
    connection a webhook delivery uses; returns the status code."""
    body = json.dumps({"sample": sample}).encode()
    target = webhook_target(url)
    connection = connection_for(target, timeout=10)
    try:
        headers = {
            "Content-Type": "application/json",
            "X-Compliance-Event": "bench.noop",
            "X-Compliance-Signature": webhooks.signature_header(NOOP_SECRET, body),
        }
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()
