"""Health check for the Celery broker (Redis, or the filesystem transport)."""

from __future__ import annotations

import dataclasses

from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable


@dataclasses.dataclass
class BrokerCheck(HealthCheck):
    """Open a connection to the Celery broker and make sure it answers."""

    def run(self) -> None:
        from config.celery import app

        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
        except Exception as exc:
            raise ServiceUnavailable("Broker unavailable") from exc
