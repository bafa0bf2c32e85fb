"""Reading the real Celery broker's default queue, for tests that count what was enqueued.

Works on both brokers the project runs on: the embedded filesystem broker (one file per
message in its queue folder) and Redis (a list per queue). Messages are read, never
consumed, so a worker elsewhere is not disturbed; :func:`remove` takes out only the
messages a test itself published (by task id), never anyone else's.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from celery.signals import after_task_publish

from config import celery_app

QUEUE = "celery"


@dataclass(frozen=True)
class Message:
    """One queued task message: its id, task name and arguments (from the message headers)."""

    task_id: str
    task: str
    argsrepr: str
    kwargsrepr: str


def _filesystem_folder() -> Path | None:
    if not str(celery_app.conf.broker_url).startswith("filesystem"):
        return None
    return Path(celery_app.conf.broker_transport_options["data_folder_in"])


def _redis():  # the broker's own Redis client (the broker URL names the database)
    import redis

    return redis.Redis.from_url(celery_app.conf.broker_url)


def _raw() -> Iterator[tuple[object, dict]]:
    """Every message of the default queue as (where it is, the decoded payload)."""
    folder = _filesystem_folder()
    if folder is not None:
        for path in sorted(folder.glob(f"*.{QUEUE}.msg")):
            try:
                yield path, json.loads(path.read_bytes())
            except FileNotFoundError:  # taken by a worker meanwhile
                continue
        return
    for raw in _redis().lrange(QUEUE, 0, -1):
        yield raw, json.loads(raw)


def queued() -> list[Message]:
    """The messages waiting in the default queue now."""
    return [
        Message(h["id"], h["task"], h.get("argsrepr", ""), h.get("kwargsrepr", ""))
        for _, payload in _raw()
        for h in [payload["headers"]]
    ]


def remove(task_ids: set[str]) -> None:
    """Take the messages with these task ids out of the queue (a test's own, at its end)."""
    folder = _filesystem_folder()
    client = None if folder is not None else _redis()
    for where, payload in list(_raw()):
        if payload["headers"]["id"] not in task_ids:
            continue
        if isinstance(where, Path):
            where.unlink(missing_ok=True)
        else:
            client.lrem(QUEUE, 1, where)


@dataclass
class Published:
    """What was published to the broker while recording: ``(task name, args, kwargs, task id)``."""

    messages: list[tuple[str, list, dict, str]] = field(default_factory=list)

    def of(self, task: str) -> list[tuple[list, dict, str]]:
        return [(args, kwargs, task_id) for name, args, kwargs, task_id in self.messages if name == task]

    @property
    def task_ids(self) -> set[str]:
        return {task_id for *_, task_id in self.messages}


@contextmanager
def publishing() -> Iterator[Published]:
    """Record every task message Celery sends to the broker in this process (its
    ``after_task_publish`` signal, sent once the broker took the message); on leaving, the
    recorded messages still queued are removed, so a test leaves the queue as it found it."""
    published = Published()
    with exclusive():
        yield from _record(published)


def _record(published: Published) -> Iterator[Published]:
    def record(sender=None, headers=None, body=None, **kwargs):
        args, task_kwargs, _ = body
        published.messages.append((sender, list(args), dict(task_kwargs), headers["id"]))

    after_task_publish.connect(record, weak=False)
    try:
        yield published
    finally:
        after_task_publish.disconnect(record)
        remove(published.task_ids)


@contextmanager
def exclusive() -> Iterator[None]:
    """Hold the broker for the block against the other test processes (pytest-xdist) that use
    the same broker URL: a test that starts a worker would otherwise consume another test's
    messages, and a purge would drop them. A lock file, released when the block ends or the
    process dies."""
    digest = hashlib.sha256(str(celery_app.conf.broker_url).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"compliance-tests-broker-{digest}.lock"
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
