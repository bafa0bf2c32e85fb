"""Values adapted for the database exactly as Django's own ``INSERT`` and ``UPDATE`` adapt them,
for one ``executemany`` of a prepared statement (``common.bulk``'s SQLite fast paths).

Each value goes through its field's ``get_db_prep_save``, except where the result is known
without the call chain: on SQLite, for Django's own field classes, an ``int`` to an integer
column, a ``str`` to a text column, ``None`` to either, and an aware ``datetime`` (the text of
its naive UTC time). The tests check both ways agree for every field of every ledger and
history model.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations

Row = Sequence[Any]


def _stock(field: models.Field[Any, Any], *bases: type[Any]) -> bool:
    """Whether ``field`` adapts values exactly as one of ``bases`` does (no override on the way)."""
    cls = type(field)
    return cls.get_db_prep_save is models.Field.get_db_prep_save and any(
        cls.get_prep_value is base.get_prep_value
        and cls.to_python is base.to_python
        and cls.get_db_prep_value in (base.get_db_prep_value, models.AutoField.get_db_prep_value)
        for base in bases
    )


_NONE = type(None)


def preparer(field: models.Field[Any, Any], connection: Any) -> Callable[[Any], Any]:
    """``field.get_db_prep_save(value, connection)``, with the common cases taken without its call chain."""
    return adaptation(field, connection)[0]


def adaptation(field: models.Field[Any, Any], connection: Any) -> tuple[Callable[[Any], Any], frozenset[type]]:
    """How ``field`` adapts a value for the database when saving, and the types it leaves as they are.

    On SQLite, for Django's own field classes, the adaptation of an ``int`` to an integer
    column, of a ``str`` to a text column and of ``None`` to either is the value itself, and
    an aware ``datetime`` becomes the text of its naive UTC time: that result is given
    directly, any other value goes through ``get_db_prep_save``. (The tests check both agree.)
    """
    generic = functools.partial(field.get_db_prep_save, connection=connection)
    if connection.vendor != "sqlite":
        return generic, frozenset()
    # Loaded with the connection (imported at the top, it would load the SQLite backend everywhere).
    from django.db.backends.sqlite3.operations import DatabaseOperations as SQLiteOperations

    if isinstance(field, models.ForeignKey) and type(field).get_db_prep_save is models.ForeignKey.get_db_prep_save:
        target, passes = adaptation(field.target_field, connection)

        def prepare_key(value: Any) -> Any:
            return None if value is None else target(value) if type(value) is int else generic(value)

        return prepare_key, frozenset({_NONE}) | (passes & {int})
    ops = type(connection.ops)
    if (
        _stock(field, models.IntegerField)
        and ops.adapt_integerfield_value is BaseDatabaseOperations.adapt_integerfield_value
        and ops.validate_autopk_value is BaseDatabaseOperations.validate_autopk_value
    ):
        return (lambda value: value if value is None or type(value) is int else generic(value)), frozenset({int, _NONE})
    if _stock(field, models.CharField, models.TextField):
        return (lambda value: value if value is None or type(value) is str else generic(value)), frozenset({str, _NONE})
    if (
        _stock(field, models.DateTimeField)
        and ops.adapt_datetimefield_value is SQLiteOperations.adapt_datetimefield_value
        and settings.USE_TZ
    ):
        zone = connection.timezone
        # A batch repeats its times (a history row's date, say). The key holds ``fold``: two
        # readings of an ambiguous local time compare equal but are different instants.
        seen: dict[tuple[dt.datetime, int], str] = {}

        def prepare_datetime(value: Any) -> Any:
            if value is None:
                return None
            if type(value) is not dt.datetime or value.utcoffset() is None:
                return generic(value)
            key = (value, value.fold)
            text = seen.get(key)
            if text is None:
                text = seen[key] = str(value.astimezone(zone).replace(tzinfo=None))
            return text

        return prepare_datetime, frozenset({_NONE})
    return generic, frozenset()


def prepared(
    connection: Any, fields: dict[str, models.Field[Any, Any]], columns: Sequence[str], rows: Iterable[Row]
) -> list[tuple[Any, ...]]:
    """``rows`` with each value adapted as Django's own ``INSERT`` and ``UPDATE`` adapt it.

    Column by column: a column whose values are all of types its field leaves as they are
    (:func:`adaptation`; found by one pass of ``type`` over it) is kept as it is.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return []
    adapted: list[Sequence[Any]] = []
    for column, values in zip(columns, zip(*rows, strict=True), strict=True):
        prepare, passes = adaptation(fields[column], connection)
        adapted.append(values if set(map(type, values)) <= passes else list(map(prepare, values)))
    return list(zip(*adapted, strict=True))
