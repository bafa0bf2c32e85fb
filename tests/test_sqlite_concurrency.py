"""The embedded default (SQLite) shared by several processes, as ``make run`` shares it between
the web server, the Celery worker and beat.

A transaction that reads and then writes used to fail at once with "database is locked" when
another process was writing: SQLite cannot let a deferred transaction wait to upgrade its read
lock, so the busy timeout never applied (the ``make run`` worker logged it and retried its tasks).
Transactions now take the write lock when they begin and wait for it, and the file is in WAL mode.
Real processes on a real file: three writers, each running a read-then-write transaction 100
times at once."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from django.conf import settings

WRITER = """
import sys
import django
django.setup()
from django.db import OperationalError, connection, transaction
failed = 0
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS tally (id integer PRIMARY KEY, writer text)")
for _ in range(100):
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM tally")  # a read first: the lock upgrade
            cursor.execute("INSERT INTO tally (writer) VALUES (%s)", [sys.argv[1]])
    except OperationalError as error:
        failed += 1
        print(error, file=sys.stderr)
print(failed)
"""


def test_processes_that_read_then_write_the_same_sqlite_file_wait_for_each_other(tmp_path: Path) -> None:
    database = tmp_path / "shared.sqlite3"
    sqlite3.connect(database).execute("CREATE TABLE tally (id integer PRIMARY KEY, writer text)").connection.close()
    environment = {
        **os.environ, "DATABASE_URL": f"sqlite:///{database}", "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1", "LOG_LEVEL": "ERROR",
    }  # fmt: skip
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, name],
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("web", "worker", "beat")
    ]
    outcomes = [writer.communicate(timeout=120) for writer in writers]
    assert [(writer.returncode, out.strip()) for writer, (out, _) in zip(writers, outcomes, strict=True)] == [
        (0, "0"),
        (0, "0"),
        (0, "0"),
    ], [err[-500:] for _, err in outcomes]
    with sqlite3.connect(database) as check:
        assert check.execute("SELECT writer, count(*) FROM tally GROUP BY writer ORDER BY writer").fetchall() == [
            ("beat", 100),
            ("web", 100),
            ("worker", 100),
        ]
        assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_the_embedded_default_takes_the_write_lock_when_a_transaction_begins() -> None:
    # The settings as a fresh clone gets them (no DATABASE_URL): the options above, and nothing
    # of them on PostgreSQL (where they mean nothing).
    probe = (
        "import django; django.setup(); from django.conf import settings; "
        "print(sorted(settings.DATABASES['default'].get('OPTIONS', {}).items()))"
    )
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    sqlite_options = subprocess.run(
        [sys.executable, "-c", probe], cwd=settings.BASE_DIR, capture_output=True, text=True, check=True,
        env={**environment, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1"},
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    assert sqlite_options == (
        "[('init_command', 'PRAGMA journal_mode=WAL;'), ('timeout', 20), ('transaction_mode', 'IMMEDIATE')]"
    )
    postgres_options = subprocess.run(
        [sys.executable, "-c", probe], cwd=settings.BASE_DIR, capture_output=True, text=True, check=True,
        env={**environment, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1",
             "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused"},
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    assert "transaction_mode" not in postgres_options and "init_command" not in postgres_options
