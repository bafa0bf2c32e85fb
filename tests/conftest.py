"""Shared fixtures and the service gates.

Tests marked ``postgres`` or ``redis`` need the real service. Without ``DATABASE_URL`` /
``REDIS_URL`` they are skipped (a newcomer's machine); with ``REQUIRE_SERVICES=1`` (CI) a
missing service fails them instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import translation

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def _service_missing(marker: str) -> str | None:
    if marker == "postgres" and connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if marker == "redis" and not settings.REDIS_URL:
        return "needs Redis: set REDIS_URL=redis://..."
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in ("postgres", "redis"):
        if item.get_closest_marker(marker) is None:
            continue
        reason = _service_missing(marker)
        if reason is None:
            continue
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but this test {reason}")
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Uploaded evidence files go to a per-test folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _language_reset():
    """LocaleMiddleware leaves a request's language active in the thread: every test starts in
    the default language, whatever language the previous test's last request asked for."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


# The demo world (``load_demo``) tells a story written as of its own day (``load_demo.DEMO_DAY``)
# and moved whole to the day it is loaded on; the tests that read it assert names and figures
# of that day (LIC-2026-ALI-H200-001, "Wave 1, January 2026", which licence expires within the
# warning window, how long a shipment has been held). They run on the demo's own calendar: the
# clock starts at this instant and ticks on, so tests never change meaning as the real date
# moves on. tests/compliance/test_load_demo_any_day.py loads it on other days.
DEMO_DAY = dt.datetime(2026, 11, 28, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def demo_day():
    with time_machine.travel(DEMO_DAY, tick=True):
        yield DEMO_DAY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The hostile-input fuzz's totals (tests/security/test_fuzz_inputs.py), for the closing note.

    Each fuzz test records how many bad inputs it tried and how many answers were 5xx with
    ``record_property`` (pytest-xdist carries those back from its workers). Here, in the
    root conftest, because only it is loaded by xdist's controller process.
    """
    tried = server_errors = 0
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        if getattr(report, "when", "call") != "call":
            continue
        properties = dict(getattr(report, "user_properties", []))
        tried += properties.get("bad_inputs_tried", 0)
        server_errors += properties.get("server_errors", 0)
    if tried:
        terminalreporter.write_line(f"bad inputs tried: {tried}, 5xx: {server_errors}")
