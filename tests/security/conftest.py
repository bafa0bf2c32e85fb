"""The security tests reuse the API tests' world (two companies, their records and keys).

The hostile-input fuzz (test_fuzz_inputs.py) records how many bad inputs each test tried
and how many answers were 5xx (``record_property``, which pytest-xdist carries back from
its workers); the totals are printed at the end of the run for the issue's closing note.
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import _fresh_throttle_cache, world  # noqa: F401 - fixtures


def pytest_terminal_summary(terminalreporter: Any) -> None:
    tried = server_errors = 0
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        if getattr(report, "when", "call") != "call":
            continue
        properties = dict(getattr(report, "user_properties", []))
        tried += properties.get("bad_inputs_tried", 0)
        server_errors += properties.get("server_errors", 0)
    if tried:
        terminalreporter.write_line(f"bad inputs tried: {tried}, 5xx: {server_errors}")
