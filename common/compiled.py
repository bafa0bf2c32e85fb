"""SQL compiled once per shape: a hot read's queryset built and compiled by the ORM on the first
call of each shape, its parameters filled in on every later one.

Building a queryset of a few grouped sums and compiling it can cost more than running it: one
company's quota position took 4.0 ms in process, 2.7 ms of it building and compiling its
statement (measured on the benchmark world, 2026-12-04).
Its SQL depends only on the read's *shape* (which columns and conditions, how many ids in a
list); the *inputs* (a date, a moment, the ids) only fill parameters. So
:class:`CompiledStatements` keeps, per shape, the SQL and a template of its parameters:
constants as they are, and a :class:`Slot` where an input goes.

The template is found, not declared: the queryset is built once with the real inputs and
once with sentinel inputs (values no real input takes); a parameter holding a sentinel's
value is that input's slot. The template is kept only if filling it with the real inputs
gives back exactly the parameters of the real compile, and the two SQL texts are the same;
otherwise the shape is compiled on every call, as without this module.

The caller owns the contract the cache relies on: the shape key names everything the SQL
text depends on, and ``slots`` gives every input's parameter value as the database
adapter would (``connection.ops.adapt_datefield_value`` and the like).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db.models import QuerySet

Inputs = TypeVar("Inputs")
Statement = tuple[str, list[Any]]


@dataclass(frozen=True, slots=True)
class Slot:
    """Where an input's value goes in a parameter template."""

    name: Hashable


@dataclass(frozen=True, slots=True)
class _Template:
    sql: str | None  # None: the query can match nothing (Django raised EmptyResultSet)
    params: tuple[Any, ...]

    def fill(self, values: Mapping[Hashable, Any]) -> Statement | None:
        if self.sql is None:
            return None
        return self.sql, [values[param.name] if isinstance(param, Slot) else param for param in self.params]


def compile_queryset(queryset: QuerySet[Any]) -> Statement | None:
    """The queryset's SQL and parameters, ``None`` when it can match nothing."""
    try:
        sql, params = queryset.query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:
        return None
    return sql, list(params)


class CompiledStatements(Generic[Inputs]):
    """A bounded cache of compiled statements per shape (least recently used out first)."""

    def __init__(
        self,
        build: Callable[[Inputs], QuerySet[Any]],
        slots: Callable[[Inputs], Mapping[Hashable, Any]],
        size: int = 256,
    ) -> None:
        self.build = build
        self.slots = slots
        self.size = size
        self._templates: OrderedDict[Hashable, _Template | None] = OrderedDict()  # None: not cacheable
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._templates)

    def clear(self) -> None:
        with self._lock:
            self._templates.clear()

    def statement(self, shape: Hashable, inputs: Inputs, sentinel: Inputs) -> Statement | None:
        """The SQL and parameters of ``build(inputs)``; ``sentinel``: inputs of the same shape
        that no real call passes, used once per shape to find the slots."""
        with self._lock:
            known = shape in self._templates
            template = self._templates.get(shape)
            if known:
                self._templates.move_to_end(shape)
        if template is not None:
            return template.fill(self.slots(inputs))
        compiled = compile_queryset(self.build(inputs))
        if not known:
            found = self._template(compiled, inputs, sentinel)
            with self._lock:
                self._templates[shape] = found
                while len(self._templates) > self.size:
                    self._templates.popitem(last=False)
        return compiled

    def _template(self, compiled: Statement | None, inputs: Inputs, sentinel: Inputs) -> _Template | None:
        """The shape's template, or ``None`` if the sentinel compile does not explain the real one
        (or fails: finding a template must never fail the read it would speed up)."""
        try:
            marked = compile_queryset(self.build(sentinel))
        except Exception:  # noqa: BLE001 - any failure only leaves the shape uncached
            return None
        if (compiled is None) != (marked is None):
            return None
        if compiled is None or marked is None:
            return _Template(None, ())
        by_value: dict[Any, Hashable] = {}
        for name, value in self.slots(sentinel).items():
            if not _hashable(value) or (type(value), value) in by_value:
                return None  # an input that cannot be found by its value, or two told apart by nothing
            by_value[type(value), value] = name
        params = tuple(
            Slot(by_value[type(param), param]) if _hashable(param) and (type(param), param) in by_value else param
            for param in marked[1]
        )
        template = _Template(marked[0], params)
        if template.fill(self.slots(inputs)) != compiled:
            return None
        return template


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
