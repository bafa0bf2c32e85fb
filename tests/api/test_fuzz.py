"""Schema-driven fuzzing of the running API (schemathesis over WSGI, with each operation's author's key).

Every operation gets a bounded number of generated requests; none may answer 5xx and every
response must match the schema (including the error envelope of the 4xx answers).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from config.wsgi import application
from tests.api.conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_schema(world: World):
    # Requests go straight to the WSGI app, which closes "old" connections when a request
    # starts and finishes; inside the test's transaction that would close the test's own
    # connection. Django's test client detaches the same handlers for the same reason.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def keys(world: World, settings) -> dict[str, str]:
    # Fuzzing sends hundreds of requests a minute with one key: lift the throttle.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "100000/minute"}}
    return world.keys


COMPANY_WRITES = ("/api/v1/licences/", "/api/v1/shipments/", "/api/v1/shipments/batch/", "/api/v1/attestations/")


def author(method: str, path: str) -> str:
    """A principal allowed to call the operation (``api.permissions.MATRIX``), so the
    generated bodies reach validation instead of a 403."""
    if method.upper() in ("GET", "HEAD", "OPTIONS"):
        return "regulator"
    if path.endswith("/events/") or path.startswith("/api/v1/customs-"):
        return "customs"
    if path in COMPANY_WRITES or path.startswith("/api/v1/commitments/") or path.endswith("/acknowledge/"):
        return "a"
    return "regulator"


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_responses_match_the_schema(case, keys: dict[str, str]) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Api-Key {keys[author(case.method, case.path)]}"},
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance],
    )
