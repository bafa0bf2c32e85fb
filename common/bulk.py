"""Bulk writes at national scale: PostgreSQL binary ``COPY``, with simple_history rows per batch.

Django's ``bulk_create`` and ``bulk_update`` build their SQL and quote every value in
Python (``bulk_update`` even writes a ``CASE`` branch per row and field); at tens of
thousands of rows that costs more than the database's own work. On PostgreSQL these
helpers stream rows in ``COPY ... (FORMAT BINARY)``: new rows straight into their table
(with ids reserved from its sequence first, so the caller knows them), changed rows into
a temporary table and then one ``UPDATE ... FROM`` it. History rows are written the same
way, as simple_history would have written them (same columns, date, change reason and
user). On SQLite (the embedded default) each value is adapted once, as Django's own insert
adapts it (``get_db_prep_save``), and the rows go through one ``executemany`` of a prepared
``INSERT`` or ``UPDATE``: the rows Django's bulk methods and simple_history's would write,
without building their statements row by row. Models whose rows need more than their
values (a database default, a field filled at save, a filtering default manager), and
other engines, fall back to Django's bulk methods and simple_history's own.

Use them inside a transaction: a batch lands whole or not at all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import json
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections, models, transaction
from django.db.models.lookups import Lookup
from django.utils import timezone
from psycopg.types.json import Jsonb
from simple_history.utils import bulk_create_with_history

from common import json_text, sqlite_rows

M = TypeVar("M", bound=models.Model)
Row = Sequence[Any]


def _connection(model: type[models.Model]) -> Any:
    return connections[model._default_manager.db]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector around bulk work in memory.

    A batch holds tens of thousands of small objects at once (parsed items, rows, answers);
    the collector would walk them again and again as they are allocated, though none is
    cyclic garbage: reference counting frees them as usual. The collector resumes, with its
    normal thresholds, when the work is done.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def on_postgresql(model: type[models.Model]) -> bool:
    return bool(_connection(model).vendor == "postgresql")


#: Off (``generic_paths``): every helper takes its generic path on SQLite too (the tests
#: compare the two).
_sqlite_fast_paths = True


@contextlib.contextmanager
def generic_paths() -> Iterator[None]:
    """Make the helpers take Django's and simple_history's generic bulk methods on SQLite (for tests)."""
    global _sqlite_fast_paths
    was = _sqlite_fast_paths
    _sqlite_fast_paths = False
    try:
        yield
    finally:
        _sqlite_fast_paths = was


@functools.cache
def _plain(model: type[models.Model]) -> bool:
    """Whether a row of ``model`` is exactly its values: what ``executemany`` may write for Django's bulk methods.

    Not so when a field fills itself at save (``auto_now``, a file), takes a database
    default or is generated, when the model inherits a concrete parent, or when its default
    manager filters rows (``bulk_update`` would not touch the rows it hides).
    """
    for field in model._meta.concrete_fields:
        if (
            getattr(field, "auto_now", False)
            or getattr(field, "auto_now_add", False)
            or isinstance(field, models.FileField)
            or field.has_db_default()
            or field.generated
        ):
            return False
    return not model._meta.parents and not model._default_manager.get_queryset().query.where


def _on_sqlite(model: type[models.Model]) -> bool:
    """Whether ``model``'s rows take the SQLite fast path (see :func:`_plain`)."""
    return _sqlite_fast_paths and _connection(model).vendor == "sqlite" and _plain(model)


def _prepared(model: type[models.Model], columns: Sequence[str], rows: Iterable[Row]) -> list[tuple[Any, ...]]:
    """``rows`` with each value adapted as Django's own ``INSERT`` and ``UPDATE`` adapt it (``common.sqlite_rows``)."""
    return sqlite_rows.prepared(_connection(model), _columns(model), columns, rows)


def execute_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Row]) -> int:
    """Insert rows of prepared values (:func:`_prepared`) into ``model``'s table: one ``executemany`` (SQLite)."""
    connection = _connection(model)
    quote = connection.ops.quote_name
    fields = _columns(model)
    statement = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(fields[c].column) for c in columns)}) "  # noqa: S608 (names from model metadata)
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    rows = rows if isinstance(rows, list) else list(rows)
    with transaction.atomic(using=connection.alias, savepoint=False), connection.cursor() as cursor:
        cursor.executemany(statement, rows)
    return len(rows)


def _complete(model: type[models.Model], columns: Sequence[str]) -> bool:
    """Whether ``columns`` name every concrete field of ``model`` but an automatic primary key."""
    pk = model._meta.pk
    expected = {f.attname for f in model._meta.concrete_fields if not (f is pk and _auto_pk(model))}
    return set(columns) == expected and len(columns) == len(expected)


def _auto_pk(model: type[models.Model]) -> bool:
    """Whether ``model``'s primary key is given by the database (an auto field)."""
    return isinstance(model._meta.pk, models.AutoField | models.BigAutoField | models.SmallAutoField)


def append_rows(model: type[models.Model], columns: Sequence[str], rows: Sequence[Row]) -> int:
    """Insert new rows (values in ``columns``' order) into ``model``'s table; their ids are not needed back.

    PostgreSQL: binary ``COPY``. SQLite: one ``executemany`` when ``columns`` are every field
    but the automatic primary key. Elsewhere: Django's ``bulk_create`` of the instances.
    Returns the number of rows written.
    """
    if not rows:
        return 0
    if on_postgresql(model):
        return copy_rows(model, columns, rows)
    if _on_sqlite(model) and _complete(model, columns):
        return execute_rows(model, columns, _prepared(model, columns, rows))
    queryset: models.QuerySet[Any] = models.QuerySet(model)  # a plain queryset: no model-specific bulk behaviour
    queryset.bulk_create(model(**dict(zip(columns, row, strict=True))) for row in rows)
    return len(rows)


@functools.cache
def _columns(model: type[models.Model]) -> dict[str, models.Field[Any, Any]]:
    """Every concrete field of ``model`` by attribute name (``company_id``) and by column."""
    fields: dict[str, models.Field[Any, Any]] = {}
    for field in model._meta.concrete_fields:
        fields[field.attname] = field
        fields[field.column] = field  # type: ignore[index] # concrete fields always have a column
    return fields


def _copy_type(model: type[models.Model], column: str) -> str:
    """The PostgreSQL type of a column for binary ``COPY`` (``varchar(64)`` -> ``varchar``)."""
    db_type = _columns(model)[column].db_type(_connection(model))
    assert db_type is not None, f"{column} has no database type"
    return re.sub(r"\(.*\)$", "", db_type)


def _adapter(field: models.Field[Any, Any]) -> Any:
    """How a Python value of ``field`` is passed to psycopg: JSON serialised once and sent as
    ``jsonb``, the rest as is (``None``)."""
    if isinstance(field, models.JSONField):
        dumps = json_text.dumper(field.encoder or json.JSONEncoder)

        def adapt(value: Any) -> Any:
            return None if value is None else Jsonb(dumps(value), dumps=str)

        return adapt
    return None


def adapt_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Row]) -> Iterator[Row]:
    """``rows`` with each value as psycopg takes it in a binary ``COPY`` (see :func:`_adapter`)."""
    fields = _columns(model)
    adapters = [(index, adapt) for index, column in enumerate(columns) if (adapt := _adapter(fields[column]))]
    if not adapters:
        yield from rows
        return
    for row in rows:
        row = list(row)
        for index, adapt in adapters:
            row[index] = adapt(row[index])
        yield row


def copy_rows(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Row], *, table: str = "", adapted: bool = False
) -> int:
    """Append rows (values in ``columns``' order) to ``model``'s table, or to ``table``, by binary ``COPY``.

    PostgreSQL only. ``adapted`` says the rows went through :func:`adapt_rows` already.
    Returns the number of rows written. Database errors (a unique or check constraint
    refusing a row) surface as Django's exceptions, as from a query.
    """
    connection = _connection(model)
    quote = connection.ops.quote_name
    fields = _columns(model)
    statement = (
        f"COPY {quote(table or model._meta.db_table)} ({', '.join(quote(fields[c].column) for c in columns)}) "
        "FROM STDIN (FORMAT BINARY)"
    )
    count = 0
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        copy.set_types([_copy_type(model, column) for column in columns])
        for row in rows if adapted else adapt_rows(model, columns, rows):
            copy.write_row(row)
            count += 1
    return count


class _EqualsAny(Lookup):
    """``lhs = ANY(%s)`` with the right-hand side one array parameter (PostgreSQL)."""

    lookup_name = "equals_any"
    prepare_rhs = False  # the list is the parameter as is, not one value of the field

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, self.rhs)


def one_of(model: type[models.Model], field_name: str, values: Collection[Any]) -> Any:
    """A ``filter()`` argument: ``field_name`` is one of ``values``.

    ``<field>__in`` writes one placeholder per value: at thousands of values, building,
    quoting and parsing that statement costs more than running it. On PostgreSQL this is
    ``= ANY(%s)`` with the values as one array parameter (the same condition, the same index
    use, a statement of constant size); elsewhere ``__in``.

    Integers forming one unbroken run (a sweep chunk: every company id from one to another)
    are the same set as ``lo <= field <= hi``, which is how they are asked for: the planner
    estimates a range well and tests it per row in constant time, where a long array is
    searched per row (a national sweep runs about a fifth faster).
    """
    values = list(values)
    run = integer_run(values)
    if run is not None:
        low, high = run
        return models.Q(**{f"{field_name}__gte": low, f"{field_name}__lte": high})
    if not on_postgresql(model):
        return models.Q(**{f"{field_name}__in": values})
    return _EqualsAny(models.F(field_name), values)


#: Fewer values than this are asked for as a list even when they are consecutive.
RUN_MIN_VALUES = 16


def integer_run(values: list[Any]) -> tuple[int, int] | None:
    """``(lo, hi)`` when ``values`` are exactly the integers ``lo..hi`` (repeats allowed), else ``None``."""
    if len(values) < RUN_MIN_VALUES or any(type(value) is not int for value in values):
        return None
    low, high = min(values), max(values)
    return (low, high) if high - low + 1 == len(set(values)) else None


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` fresh primary keys from ``model``'s identity sequence (PostgreSQL), in one query."""
    if count <= 0:
        return []
    connection = _connection(model)
    with connection.cursor() as cursor:
        # The sequence named once, as a constant: ``nextval(pg_get_serial_sequence(...))``
        # looks the name up again for every id (a tenth of a national sweep's first pass).
        cursor.execute(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [_sequence(connection, model), count]
        )
        return [pk for (pk,) in cursor.fetchall()]


_SEQUENCES: dict[tuple[str, str], str] = {}


def _sequence(connection: Any, model: type[models.Model]) -> str:
    """The identity sequence of ``model``'s primary key (PostgreSQL), looked up once per database."""
    key = (connection.alias, model._meta.db_table)
    if key not in _SEQUENCES:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_get_serial_sequence(%s, %s)",
                [connection.ops.quote_name(model._meta.db_table), model._meta.pk.column],
            )
            _SEQUENCES[key] = cursor.fetchone()[0]
    return _SEQUENCES[key]


def create_with_history(objs: list[M], *, change_reason: str, date: dt.datetime | None = None) -> list[M]:
    """Insert new model instances and their ``+`` history rows; the instances get their primary keys.

    PostgreSQL: one query reserving the ids, then a binary ``COPY`` each for the rows and
    their history. SQLite: one ``executemany`` each, the ids read back from the last one
    inserted (consecutive: the transaction holds the database's write lock). Elsewhere:
    simple_history's ``bulk_create_with_history``.
    """
    if not objs:
        return objs
    model = type(objs[0])
    date = date or timezone.now()
    if not on_postgresql(model):
        if _on_sqlite(model) and _auto_pk(model) and _history_plain(model) and all(obj.pk is None for obj in objs):
            return _create_with_history_sqlite(objs, change_reason=change_reason, date=date)
        created: list[M] = bulk_create_with_history(objs, model, default_change_reason=change_reason, default_date=date)
        return created
    for obj, pk in zip(objs, reserve_ids(model, len(objs)), strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = model._default_manager.db
    names = [field.attname for field in model._meta.concrete_fields]
    rows = list(adapt_rows(model, names, ([getattr(obj, name) for name in names] for obj in objs)))
    copy_rows(model, names, rows, adapted=True)
    positions = [names.index(name) for name in tracked_fields(model)]
    history: list[Row] = [[row[index] for index in positions] for row in rows]
    record_history(model, history, history_type="+", change_reason=change_reason, date=date, adapted=True)
    return objs


def _create_with_history_sqlite(objs: list[M], *, change_reason: str, date: dt.datetime) -> list[M]:
    """:func:`create_with_history` on SQLite: what ``bulk_create_with_history`` writes, by two ``executemany``."""
    model = type(objs[0])
    connection = _connection(model)
    pk = model._meta.pk
    fields = [field for field in model._meta.concrete_fields if field is not pk]
    names = [field.attname for field in fields]
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
    rows = _prepared(model, names, ([field.pre_save(obj, True) for field in fields] for obj in objs))
    with transaction.atomic(using=connection.alias, savepoint=False):
        execute_rows(model, names, rows)
        with connection.cursor() as cursor:
            cursor.execute("SELECT last_insert_rowid()")
            (last,) = cursor.fetchone()
        for obj, new_pk in zip(objs, range(last - len(objs) + 1, last + 1), strict=True):
            obj.pk = new_pk
            obj._state.adding = False
            obj._state.db = connection.alias
        if getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
            # As ``bulk_history_create`` reads them: an instance's own user, reason and date first.
            historical = model.history.model  # type: ignore[attr-defined]
            user = _history_user_id(model, objs[0])
            history = [
                [getattr(obj, name) for name in tracked_fields(model)]
                + [
                    getattr(obj, "_history_date", date),
                    getattr(obj, "_change_reason", None) or change_reason,
                    "+",
                    _user_id(getattr(obj, "_history_user", user)),
                ]
                for obj in objs
            ]
            execute_rows(historical, _history_columns(model), _prepared(historical, _history_columns(model), history))
    return objs


def _user_id(user: Any) -> Any:
    return user.pk if isinstance(user, models.Model) else user


def _history_user_id(model: type[models.Model], instance: models.Model) -> Any:
    """The user simple_history records when none is given: the request's (its middleware), by id."""
    return _user_id(model.history.model.get_default_history_user(instance))  # type: ignore[attr-defined]


@functools.cache
def _history_columns(model: type[models.Model]) -> tuple[str, ...]:
    """The columns of ``model``'s history rows as :func:`record_history` writes them."""
    return (*tracked_fields(model), "history_date", "history_change_reason", "history_type", "history_user_id")


@functools.cache
def _history_plain(model: type[models.Model]) -> bool:
    """Whether ``model``'s history rows are exactly :func:`_history_columns` (no extra field), plain ones."""
    historical = model.history.model  # type: ignore[attr-defined]
    return _plain(historical) and _complete(historical, _history_columns(model))


@functools.cache
def tracked_fields(model: type[models.Model]) -> tuple[str, ...]:
    """The columns simple_history records for ``model`` (``id`` first), in its historical model's order."""
    return tuple(field.attname for field in model.history.model.tracked_fields)  # type: ignore[attr-defined]


def record_history(
    model: type[models.Model],
    rows: Sequence[Row],
    *,
    history_type: str,
    change_reason: str,
    date: dt.datetime | None = None,
    adapted: bool = False,
) -> None:
    """One simple_history row per state given (rows of :func:`tracked_fields`), for a whole batch.

    The user is the one simple_history would record (the request's, from its middleware).
    PostgreSQL: one binary ``COPY`` (``adapted`` as for :func:`copy_rows`); SQLite: one
    ``executemany`` of the values adapted once; elsewhere simple_history's ``bulk_history_create``.
    """
    if not rows:
        return
    manager = model.history  # type: ignore[attr-defined]
    historical = manager.model
    names = tracked_fields(model)
    date = date or timezone.now()
    if not on_postgresql(historical) and _on_sqlite(historical) and _history_plain(model):
        if not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
            return  # as ``bulk_history_create``
        user = _history_user_id(model, model(**dict(zip(names, rows[0], strict=True))))
        same = (date, change_reason, history_type, user)
        every = _history_columns(model)
        execute_rows(historical, every, _prepared(historical, every, [(*row, *same) for row in rows]))
        return
    if not on_postgresql(historical):
        instances = [model(**dict(zip(names, row, strict=True))) for row in rows]
        manager.bulk_history_create(
            instances, update=history_type == "~", default_change_reason=change_reason, default_date=date
        )
        return
    user = historical.get_default_history_user(model(**dict(zip(names, rows[0], strict=True))))
    extra = (date, change_reason, history_type, user.pk if user is not None else None)
    columns = [*names, "history_date", "history_change_reason", "history_type", "history_user_id"]
    copy_rows(historical, columns, ((*row, *extra) for row in rows), adapted=adapted)


def update_rows(model: type[models.Model], columns: Sequence[str], rows: list[Row]) -> None:
    """Set ``columns[1:]`` on the rows whose primary key is ``columns[0]``, one row per tuple (one tuple per key).

    PostgreSQL: a binary ``COPY`` into a temporary table, then one ``UPDATE ... FROM`` it.
    SQLite: one ``executemany`` of ``UPDATE ... SET ... WHERE pk = ?`` with the values adapted
    once. Elsewhere: Django's ``bulk_update``.
    """
    if not rows:
        return
    key, *changed = columns
    if not on_postgresql(model) and _on_sqlite(model) and _columns(model)[key].primary_key:
        connection = _connection(model)
        quote = connection.ops.quote_name
        fields = _columns(model)
        assignments = ", ".join(f"{quote(fields[c].column)} = %s" for c in changed)
        statement = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(fields[key].column)} = %s"  # noqa: S608 (names from model metadata)
        prepared = _prepared(model, [*changed, key], ([*row[1:], row[0]] for row in rows))
        with transaction.atomic(using=connection.alias, savepoint=False), connection.cursor() as cursor:
            cursor.executemany(statement, prepared)
        return
    if not on_postgresql(model):
        instances = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model._default_manager.bulk_update(instances, changed)
        return
    connection = _connection(model)
    quote = connection.ops.quote_name
    fields = _columns(model)
    scratch = quote(f"bulk_update_{model._meta.db_table}")
    definition = ", ".join(f"{quote(fields[c].column)} {fields[c].db_type(connection)}" for c in columns)
    assignments = ", ".join(f"{quote(fields[c].column)} = v.{quote(fields[c].column)}" for c in changed)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {scratch}")
        cursor.execute(f"CREATE TEMPORARY TABLE {scratch} ({definition}) ON COMMIT DROP")
        copy_rows(model, columns, rows, table=scratch.strip('"'))
        cursor.execute(
            f"UPDATE {quote(model._meta.db_table)} AS t SET {assignments} "  # noqa: S608 (names from model metadata)
            f"FROM {scratch} AS v WHERE t.{quote(fields[key].column)} = v.{quote(fields[key].column)}"
        )
        cursor.execute(f"DROP TABLE {scratch}")
