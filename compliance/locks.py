"""Named locks and markers shared by every process, kept in the database (SQLite and PostgreSQL).

Two uses, one table (``JobLock``):

- the sweep lock, so that two full sweeps never overlap: the fan-out takes the lock and the
  chord's final task releases it;
- the per-company "re-check pending" markers (:mod:`compliance.signals`), so that a company
  changing continuously has at most one re-check waiting in the broker.

Each row expires on its own, so a sweep or a re-check that died mid-way blocks the next one
for at most its time to live. Taking one is a single ``INSERT ... ON CONFLICT`` statement
(it takes over an expired row in the same statement), so two processes racing for it get
exactly one winner, with no failed statement in the database's log for the loser.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import connection
from django.utils import timezone

from compliance.models import JobLock


def acquire_lock(name: str, *, ttl_seconds: int, holder: str | None = None) -> str | None:
    """Take the lock ``name`` for ``ttl_seconds``; returns the holder token, or ``None`` if it is held."""
    now = timezone.now()
    holder = holder or uuid.uuid4().hex
    table = connection.ops.quote_name(JobLock._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, holder, acquired_at, expires_at) VALUES (%s, %s, %s, %s) "  # noqa: S608
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, "
            f"expires_at = excluded.expires_at WHERE {table}.expires_at <= excluded.acquired_at",
            [name, holder, adapt(now), adapt(now + dt.timedelta(seconds=ttl_seconds))],
        )
        taken = cursor.rowcount == 1
    return holder if taken else None


def release_lock(name: str, holder: str) -> bool:
    """Release the lock if ``holder`` still holds it (an expired and re-taken lock is left alone)."""
    deleted, _ = JobLock.objects.filter(name=name, holder=holder).delete()
    return bool(deleted)


def lock_held(name: str) -> bool:
    """Is the lock currently held (and not expired)?"""
    return JobLock.objects.filter(name=name, expires_at__gt=timezone.now()).exists()
