"""Helpers for migrations that need engine-specific SQL (triggers) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence


def run_per_vendor(statements_by_vendor: Mapping[str, Sequence[str]]) -> Callable:
    """A ``RunPython`` callable executing the statements written for the current engine."""

    def run(apps, schema_editor) -> None:
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run
