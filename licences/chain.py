"""The database side of the hash chains (``common.chain``): chained models, their heads, appending, reading.

- :class:`ChainedRecord`, the abstract model a ledger inherits: ``chain_seq``, ``prev_hash``
  and ``row_hash`` columns. Saving a new row (``save``, ``objects.create``,
  ``objects.bulk_create``) appends it to its chain in the same transaction; a saved row is
  never saved again (append-only).
- :class:`LedgerHead`, one row per chain (stream and key: a company): the chain's last
  ``seq`` and hash. Appending locks it first, so two transactions appending to the same
  chain queue and can never fork it (a unique ``(key, chain_seq)`` constraint on each
  ledger backs this up), while appends to other companies' chains do not wait.
- :func:`insert_rows`, the bulk path: rows as tuples, chained in Python after locking the
  heads of every chain involved (one statement), written by ``COPY`` on PostgreSQL and one
  ``executemany`` on SQLite (``common.bulk.append_rows``); :func:`insert_objects` the same
  for unsaved model objects.
- :func:`verify` / :func:`verify_all`: recompute every chain, streaming the rows in key and
  ``seq`` order through the unique index, and check every row's key against its parent's
  (:func:`key_mismatches`), in one consistent snapshot.

A stream is declared once, next to its model, with ``common.chain.register``. The heads are
locked last in every transaction that appends (after the rows the business rules lock), in
key order, so appending adds no deadlock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connections, models, router, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from common import bulk
from common.chain import GENESIS, Break, Stream, StreamReport, check, stream_of, streams

#: Rows read per round trip when verifying.
VERIFY_CHUNK = 10_000
# Heads per statement: 4 parameters each, well under SQLite's 999.
HEADS_PER_STATEMENT = 200


class AppendOnlyError(TypeError):
    """A chained (append-only) row was saved a second time or deleted."""


class LedgerHead(models.Model):
    """The end of one chain: its last ``seq`` and ``row_hash`` (``seq`` 0 and the genesis hash before any row)."""

    stream = models.CharField(_("stream"), max_length=64)
    key = models.BigIntegerField(_("key"), help_text=_("The chain's key in its stream: a company id."))
    seq = models.PositiveBigIntegerField(_("sequence"), default=0)
    hash = models.CharField(_("hash"), max_length=64, default=GENESIS)

    class Meta:
        verbose_name = _("ledger head")
        verbose_name_plural = _("ledger heads")
        constraints = [models.UniqueConstraint(fields=["stream", "key"], name="ledger_head_unique_per_stream_key")]

    def __str__(self) -> str:
        return f"{self.stream}/{self.key}: seq {self.seq} {self.hash[:12]}"


class ChainedQuerySet(models.QuerySet):
    """``bulk_create`` chains the new rows before inserting them."""

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        objs = list(objs)
        if not objs:
            return objs
        with transaction.atomic(using=self.db, savepoint=False):
            chain_objects(objs, using=self.db)
            return super().bulk_create(objs, *args, **kwargs)


class ChainedRecord(models.Model):
    """An append-only ledger row, hash-chained per company (``common.chain``).

    A subclass declares its stream with ``common.chain.register`` and a unique constraint on
    ``(<key>, chain_seq)``; :meth:`prepare_chain` may fill a hashed field derived from another.
    """

    chain_seq = models.PositiveBigIntegerField(
        _("chain sequence"), editable=False, help_text=_("The row's position in its chain: 1, 2, ...")
    )
    prev_hash = models.CharField(
        _("previous hash"), max_length=64, editable=False, help_text=_("The previous row's row_hash.")
    )
    row_hash = models.CharField(
        _("row hash"), max_length=64, editable=False, help_text=_("SHA-256 of prev_hash and this row.")
    )

    objects = ChainedQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only: a saved row is never saved again.")
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using, savepoint=False):
            chain_objects([self], using=using)
            super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only: a saved row is never deleted.")

    def prepare_chain(self) -> None:
        """Fill what the hash needs and the caller may leave out (e.g. the key from a parent row)."""


def chain_objects(objs: Sequence[ChainedRecord], *, using: str | None = None) -> None:
    """Give new rows (not yet saved, in append order) their ``chain_seq``, ``prev_hash`` and ``row_hash``."""
    model = type(objs[0])
    stream = stream_of(model)
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    fields = [by_attname[name] for name in stream.fields]
    rows = []
    for obj in objs:
        obj.prepare_chain()
        # As the database will give them back (a datetime typed as text is parsed, say), on the
        # row too: what is written is what is hashed.
        values = [field.to_python(getattr(obj, field.attname)) for field in fields]
        for field, value in zip(fields, values, strict=True):
            setattr(obj, field.attname, value)
        rows.append(values)
    for obj, (seq, prev, row_hash) in zip(objs, chain_values(stream, rows, using=using), strict=True):
        obj.chain_seq, obj.prev_hash, obj.row_hash = seq, prev, row_hash


def chain_values(
    stream: Stream, rows: Sequence[Sequence[Any]], *, using: str | None = None
) -> list[tuple[int, str, str]]:
    """``(seq, prev_hash, row_hash)`` for each row (values in ``stream.fields`` order), appended in order.

    Locks the heads of the chains involved and moves them past the rows: call inside the
    transaction that writes the rows, and write them.
    """
    if not rows:
        return []
    using = using or router.db_for_write(stream.model)
    key_at = stream.fields.index(stream.key)
    heads = lock_heads(stream, {row[key_at] for row in rows}, using=using)
    content, sha256, chained = stream.content, hashlib.sha256, []
    for row in rows:
        key = row[key_at]
        seq, prev = heads[key]
        seq += 1
        row_hash = sha256(prev.encode("ascii") + content(seq, row)).hexdigest()
        heads[key] = (seq, row_hash)
        chained.append((seq, prev, row_hash))
    _store_heads(stream, heads, using=using)
    return chained


def insert_rows(stream: Stream, rows: Sequence[Sequence[Any]]) -> int:
    """Append rows (values in ``stream.fields`` order) in bulk: chained, then written by
    ``common.bulk.append_rows`` (one ``COPY`` on PostgreSQL, one ``executemany`` on SQLite,
    a plain queryset's ``bulk_create`` elsewhere: the rows are chained already). Call inside
    a transaction."""
    if not rows:
        return 0
    columns = (*stream.fields, "chain_seq", "prev_hash", "row_hash")
    chained = [(*row, *links) for row, links in zip(rows, chain_values(stream, rows), strict=True)]
    return bulk.append_rows(stream.model, columns, chained)


def insert_objects(objs: Sequence[ChainedRecord]) -> int:
    """Append unsaved rows of one chained model in bulk, as :func:`insert_rows` does (one ``COPY``
    on PostgreSQL): their stream's fields read off them as the database will give them back,
    chained, written. The objects themselves are left as they were (no primary key, no chain
    columns). Call inside a transaction."""
    if not objs:
        return 0
    model = type(objs[0])
    stream = stream_of(model)
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    fields = [by_attname[name] for name in stream.fields]
    rows = []
    for obj in objs:
        obj.prepare_chain()
        rows.append(tuple(_plain(field.to_python(getattr(obj, field.attname))) for field in fields))
    return insert_rows(stream, rows)


def _plain(value: Any) -> Any:
    """A choice (``Kind.EXPIRE``, a ``str`` or ``int`` subclass) as the plain value ``COPY`` writes."""
    kind = type(value)
    if kind is not str and isinstance(value, str):
        return str.__str__(value)
    if kind is not int and kind is not bool and isinstance(value, int):
        return int(value)
    return value


def lock_heads(stream: Stream, keys: Iterable[int], *, using: str | None = None) -> dict[int, tuple[int, str]]:
    """Lock the heads of ``stream``'s chains for ``keys`` (creating missing ones), in key order: ``{key: (seq, hash)}``.

    One ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (on PostgreSQL for every key at
    once, from one array; elsewhere per 200 keys): it creates a head or locks the existing
    one, waiting for a concurrent appender to commit, and returns its latest values.
    """
    connection = connections[using or router.db_for_write(LedgerHead)]
    table = connection.ops.quote_name(LedgerHead._meta.db_table)
    ordered = sorted(set(keys))
    heads: dict[int, tuple[int, str]] = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f'INSERT INTO {table} (stream, "key", seq, hash) SELECT %s, k, 0, %s '  # noqa: S608 (table from metadata)
                "FROM unnest(%s::bigint[]) AS u(k) ORDER BY k "
                f'ON CONFLICT (stream, "key") DO UPDATE SET seq = {table}.seq RETURNING "key", seq, hash',
                [stream.name, GENESIS, ordered],
            )
            return {key: (seq, head_hash) for key, seq, head_hash in cursor.fetchall()}
        for start in range(0, len(ordered), HEADS_PER_STATEMENT):
            chunk = ordered[start : start + HEADS_PER_STATEMENT]
            values = ", ".join(["(%s, %s, 0, %s)"] * len(chunk))
            cursor.execute(
                f'INSERT INTO {table} (stream, "key", seq, hash) VALUES {values} '  # noqa: S608 (the table from metadata)
                f'ON CONFLICT (stream, "key") DO UPDATE SET seq = {table}.seq RETURNING "key", seq, hash',
                [value for key in chunk for value in (stream.name, key, GENESIS)],
            )
            heads.update({key: (seq, head_hash) for key, seq, head_hash in cursor.fetchall()})
    return heads


def _store_heads(stream: Stream, heads: dict[int, tuple[int, str]], *, using: str) -> None:
    connection = connections[using]
    table = connection.ops.quote_name(LedgerHead._meta.db_table)
    items = sorted(heads.items())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # the heads are locked: one UPDATE from three arrays
            cursor.execute(
                f"UPDATE {table} AS head SET seq = u.seq, hash = u.hash "  # noqa: S608 (the table from metadata)
                "FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS u(k, seq, hash) "
                'WHERE head.stream = %s AND head."key" = u.k',
                [[key for key, _ in items], [seq for _, (seq, _) in items], [h for _, (_, h) in items], stream.name],
            )
            return
        for start in range(0, len(items), HEADS_PER_STATEMENT):
            chunk = items[start : start + HEADS_PER_STATEMENT]
            values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f'INSERT INTO {table} (stream, "key", seq, hash) VALUES {values} '  # noqa: S608 (the table from metadata)
                f'ON CONFLICT (stream, "key") DO UPDATE SET seq = excluded.seq, hash = excluded.hash',
                [value for key, (seq, head_hash) in chunk for value in (stream.name, key, seq, head_hash)],
            )


# --- Verification --------------------------------------------------------------------------------


def heads_of(stream: Stream) -> dict[int, tuple[int, str]]:
    """Every chain head of ``stream``: ``{key: (seq, hash)}``."""
    return {
        key: (seq, head_hash)
        for key, seq, head_hash in LedgerHead.objects.filter(stream=stream.name).values_list("key", "seq", "hash")
    }


def chain_rows(stream: Stream, *, chunk_size: int = VERIFY_CHUNK) -> Iterator[tuple[Any, ...]]:
    """``(key, seq, pk, prev_hash, row_hash, *fields)`` of every row, by key and ``seq``, streamed in chunks."""
    return (
        stream.model._default_manager.order_by(stream.key, "chain_seq")
        .values_list(stream.key, "chain_seq", "pk", "prev_hash", "row_hash", *stream.fields)
        .iterator(chunk_size=chunk_size)
    )


def verify(stream: Stream, *, chunk_size: int = VERIFY_CHUNK) -> StreamReport:
    """Recompute ``stream``'s chains (see ``common.chain.check``) and check each row's key against its parent's.

    A chain is reported once, at its first break of either kind.
    """
    report = check(stream, chain_rows(stream, chunk_size=chunk_size), heads_of(stream))
    first = {found.key: index for index, found in enumerate(report.breaks)}
    for mismatch in key_mismatches(stream):
        index = first.get(mismatch.key)
        if index is None:
            first[mismatch.key] = len(report.breaks)
            report.breaks.append(mismatch)
        elif (report.breaks[index].seq or 0) > (mismatch.seq or 0):
            report.breaks[index] = mismatch
    return report


def key_mismatches(stream: Stream) -> list[Break]:
    """The first row of each chain whose key is not its parent's (``Stream.parent``), by key.

    The key has no foreign key of its own (the parent's vouches for it), so a writer putting a
    row in the wrong company's chain, or in the chain of a company that does not exist, is
    caught here. One statement, a join on the parent's primary key.
    """
    if not stream.parent:
        return []
    parent = stream.model._meta.get_field(stream.parent.removesuffix("_id")).name
    theirs = f"{parent}__{stream.key}"
    rows = (
        stream.model._default_manager.exclude(**{stream.key: F(theirs)})
        .order_by(stream.key, "chain_seq")
        .values_list(stream.key, "chain_seq", "pk", stream.parent, theirs)
    )
    label = stream.model._meta.label
    found: dict[Any, Break] = {}
    for key, seq, pk, parent_pk, parent_key in rows:
        if key not in found:
            reason = f"its {stream.key} is not its parent's ({stream.parent}={parent_pk} has {stream.key}={parent_key})"
            found[key] = Break(stream.name, label, key, pk, seq, reason, stream.key)
    return list(found.values())


def verify_all(*, chunk_size: int = VERIFY_CHUNK) -> list[StreamReport]:
    """Recompute every registered stream's chains, in one snapshot of the database."""
    with snapshot():
        return [verify(stream, chunk_size=chunk_size) for stream in streams()]


@contextmanager
def snapshot() -> Iterator[None]:
    """A read-only transaction seeing one state of the database throughout (rows and heads agree).

    PostgreSQL: ``REPEATABLE READ, READ ONLY`` (unless already inside a transaction, whose
    level is then its own). SQLite: a transaction, whose reads see one state.
    """
    connection = connections[router.db_for_read(LedgerHead)]
    outer = connection.in_atomic_block
    with transaction.atomic(using=connection.alias):
        if connection.vendor == "postgresql" and not outer:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def anchor(heads: Iterable[tuple[str, int, int, str]]) -> str:
    """One SHA-256 over every head ``(stream, key, seq, hash)``, sorted: a single value to publish."""
    digest = hashlib.sha256()
    for stream, key, seq, head_hash in sorted(heads):
        digest.update(f"{stream} {key} {seq} {head_hash}\n".encode("ascii"))
    return digest.hexdigest()


def all_heads() -> list[tuple[str, int, int, str]]:
    """``(stream, key, seq, hash)`` of every chain of every registered stream, sorted."""
    names = [stream.name for stream in streams()]
    return sorted(LedgerHead.objects.filter(stream__in=names).values_list("stream", "key", "seq", "hash"))


__all__ = [
    "AppendOnlyError",
    "ChainedQuerySet",
    "ChainedRecord",
    "LedgerHead",
    "all_heads",
    "anchor",
    "chain_objects",
    "chain_values",
    "heads_of",
    "insert_objects",
    "insert_rows",
    "key_mismatches",
    "lock_heads",
    "snapshot",
    "streams",
    "verify",
    "verify_all",
]
