"""A named lock shared by every process, kept in the database (works on SQLite and PostgreSQL).

Used so that two full sweeps never overlap: the fan-out takes the lock and the chord's
final task releases it. The lock expires on its own, so a sweep that died mid-way blocks
the next one for at most its time to live.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.models import JobLock


def acquire_lock(name: str, *, ttl_seconds: int, holder: str | None = None) -> str | None:
    """Take the lock ``name`` for ``ttl_seconds``; returns the holder token, or ``None`` if it is held."""
    now = timezone.now()
    holder = holder or uuid.uuid4().hex
    JobLock.objects.filter(name=name, expires_at__lte=now).delete()
    try:
        with transaction.atomic():
            JobLock.objects.create(
                name=name, holder=holder, acquired_at=now, expires_at=now + dt.timedelta(seconds=ttl_seconds)
            )
    except IntegrityError:
        return None
    return holder


def release_lock(name: str, holder: str) -> bool:
    """Release the lock if ``holder`` still holds it (an expired and re-taken lock is left alone)."""
    deleted, _ = JobLock.objects.filter(name=name, holder=holder).delete()
    return bool(deleted)


def lock_held(name: str) -> bool:
    """Is the lock currently held (and not expired)?"""
    return JobLock.objects.filter(name=name, expires_at__gt=timezone.now()).exists()
