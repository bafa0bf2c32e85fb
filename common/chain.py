"""Hash chains over append-only records: the canonical form of a row, its SHA-256 link, the
registry of chained streams and the check of a chain (model-free: no model, no query here).

A *stream* is an append-only table (customs events, finding transitions, ...) split into
chains by a key, the company: each company's rows form one chain, ordered by their sequence
number ``seq`` (1, 2, 3, ... with no gap). Each row stores the hash of the row before it in
its chain (``prev_hash``; :data:`GENESIS` for the first) and its own::

    row_hash = SHA-256( prev_hash  ||  canonical content )   (lower-case hex, 64 characters)

where ``prev_hash`` is taken as its 64 ASCII characters and the canonical content is the
row as JSON with sorted keys, no whitespace and ASCII only (other characters escaped)::

    {"row":{<field>:<value>,...},"seq":<n>,"stream":"<stream name>"}

over the stream's declared fields (attribute names: ``company_id``, not ``company``). Values
are written as: ``None`` null; booleans and integers as JSON; text as a JSON string; a
``Decimal`` as a string without exponent or trailing zeros (``"1250.5"``, ``"10"``); a
datetime (which must carry a time zone) as a string in UTC with microseconds
(``"2026-03-01T02:00:00.000000+00:00"``); a date as ``"2026-03-01"``. Any other type is
refused, so what is hashed is exactly what the database stores and gives back.

Anyone holding the rows can recompute the chain with this description alone. Editing a row's
content, deleting or inserting a row breaks the chain at that point unless every later hash
is recomputed too; publishing the chains' heads (``verify_ledger --print-heads``) makes even
a consistent rewrite detectable. The database side (the abstract model, the per-stream lock,
appending and reading) is ``licences.chain``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils.functional import Promise

#: ``prev_hash`` of the first row of every chain.
GENESIS = "0" * 64

_UTC = dt.UTC
_sha256 = hashlib.sha256
# A JSON string, ASCII only: what ``json.dumps(..., ensure_ascii=True)`` writes for text (in C).
_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii


# The last datetimes encoded: a batch stamps thousands of rows with the same moment.
_DATETIMES: dict[dt.datetime, str] = {}
_DATETIMES_KEPT = 1024


def _datetime(value: dt.datetime) -> str:
    known = _DATETIMES.get(value)  # equal datetimes are the same instant, whatever their zone
    if known is not None:
        return known
    if value.tzinfo is None:
        raise TypeError(f"A chained datetime needs a time zone: {value!r}")
    text = (value if value.tzinfo is _UTC else value.astimezone(_UTC)).isoformat(timespec="microseconds")
    if len(_DATETIMES) >= _DATETIMES_KEPT:
        _DATETIMES.clear()
    _DATETIMES[value] = text
    return text


def _decimal(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _same(value: Any) -> Any:
    return value


_ENCODERS: dict[type, Callable[[Any], Any]] = {
    type(None): _same,
    bool: _same,
    int: _same,
    str: _same,
    Decimal: _decimal,
    dt.datetime: _datetime,
    dt.date: dt.date.isoformat,
    uuid.UUID: str,
}


def encode(value: Any) -> Any:
    """``value`` as it appears in the canonical JSON (see the module docstring)."""
    encoder = _ENCODERS.get(type(value))
    if encoder is not None:
        return encoder(value)
    # Subclasses of the plain types: the choices of a model field (``Shipment.Status.HELD``).
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f"Cannot hash a {type(value).__name__} in a chained row: {value!r}")


def _json(value: Any) -> str:
    """The JSON text of ``encode(value)``, as ``json.dumps`` writes it (built directly: faster)."""
    kind = type(value)
    if kind is str:
        return _quote(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    encoded = encode(value)
    return _quote(encoded) if type(encoded) is str else int.__repr__(encoded)


@dataclass(frozen=True)
class Stream:
    """A chained, append-only table: its name, model, hashed fields and key.

    ``fields`` are attribute names (``company_id``) of every column a row is written with
    besides its primary key and chain columns (the key field among them); ``key`` names the
    field splitting the stream into chains, a company's id, so appends for different
    companies never wait for each other.

    ``parent`` names the foreign key (an attribute among ``fields``: ``finding_id``) to the
    row whose history this stream records. The key is a copy of the parent's own key (a
    transition's company is its finding's): the database keeps the parent's foreign key but
    none on the key, whose value the parent already vouches for; verification checks that
    every row's key is its parent's (``licences.chain.verify``). A foreign-key check per row
    on the copy would cost the bulk writers (the sweep, ingestion) a lookup and a row lock
    for nothing the chain and that check do not already catch.
    """

    name: str
    model: type[models.Model]
    fields: tuple[str, ...]
    key: str = "company_id"
    label: str | Promise = ""  # what the rows are, for people ("customs events"; gettext_lazy)
    parent: str = ""
    _in_sorted_order: Callable[[Sequence[Any]], tuple[Any, ...]] = field(init=False, repr=False, compare=False)
    _template: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.key not in self.fields:
            raise ValueError(f"Stream {self.name}: the key {self.key} must be one of the hashed fields.")
        if len(set(self.fields)) != len(self.fields):
            raise ValueError(f"Stream {self.name}: a field is named twice.")
        if len(self.fields) < 2:
            raise ValueError(f"Stream {self.name}: hash the key and at least one other field.")
        if self.parent and (self.parent not in self.fields or self.parent == self.key):
            raise ValueError(f"Stream {self.name}: the parent {self.parent} must be a hashed field other than the key.")
        order = sorted(range(len(self.fields)), key=self.fields.__getitem__)
        object.__setattr__(self, "_in_sorted_order", operator.itemgetter(*order))
        # The JSON with its keys in sorted order, a ``%s`` for each value and ``%d`` for seq.
        row = ",".join(_quote(self.fields[index]).replace("%", "%%") + ":%s" for index in order)
        stream = _quote(self.name).replace("%", "%%")
        object.__setattr__(self, "_template", f'{{"row":{{{row}}},"seq":%d,"stream":{stream}}}')

    def content(self, seq: int, values: Sequence[Any]) -> bytes:
        """The canonical content of a row whose ``fields`` hold ``values`` (in ``fields``' order).

        The same text as ``json.dumps({"row": {...}, "seq": seq, "stream": name}, sort_keys=True,
        separators=(",", ":"))`` over the encoded values, written from a template.
        """
        return (self._template % (*map(_json, self._in_sorted_order(values)), seq)).encode("ascii")

    def link(self, prev_hash: str, seq: int, values: Sequence[Any]) -> str:
        """The hash of row ``seq`` holding ``values``, after a row hashed ``prev_hash``."""
        return link(prev_hash, self.content(seq, values))


def link(prev_hash: str, content: bytes) -> str:
    """SHA-256 of ``prev_hash`` (its 64 ASCII characters) followed by ``content``, in hex."""
    return _sha256(prev_hash.encode("ascii") + content).hexdigest()


# --- The registry -------------------------------------------------------------------------------

_STREAMS: dict[str, Stream] = {}


def register(stream: Stream) -> Stream:
    """Declare a chained stream (once, next to its model). Re-registering the same is a no-op."""
    known = _STREAMS.get(stream.name)
    if known is not None and known != stream:
        raise ValueError(f"A different stream is already registered as {stream.name}.")
    _STREAMS[stream.name] = stream
    return stream


def streams() -> list[Stream]:
    """Every registered stream, by name."""
    return [_STREAMS[name] for name in sorted(_STREAMS)]


def stream_of(model: type[models.Model]) -> Stream:
    """The stream ``model`` is registered as."""
    for stream in _STREAMS.values():
        if stream.model is model:
            return stream
    raise LookupError(f"{model.__name__} is not a registered chained stream.")


# --- Checking a chain ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """The first row at which one chain stops holding: what, where and why."""

    stream: str
    model: str  # app_label.Model
    key: Any  # the chain's key value (a company id)
    pk: Any  # the row's primary key; ``None`` when the row is missing (the chain ends early)
    seq: int | None
    reason: str
    key_field: str = "company_id"

    def describe(self) -> str:
        where = f"row pk={self.pk} (seq {self.seq})" if self.pk is not None else f"seq {self.seq}"
        return f"{self.stream} ({self.model}), chain {self.key_field}={self.key}: {where}: {self.reason}"


@dataclass
class StreamReport:
    """What checking one stream found: how much was read and the first break of each broken chain."""

    stream: Stream
    rows: int = 0
    chains: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def model_label(self) -> str:
        return self.stream.model._meta.label

    @property
    def ok(self) -> bool:
        return not self.breaks

    def line(self) -> str:
        state = "ok" if self.ok else f"BROKEN in {len(self.breaks)} chain(s)"
        chains = f"{self.chains:,} chain{'' if self.chains == 1 else 's'}"
        return f"{self.stream.name} ({self.model_label}): {self.rows:,} rows in {chains}: {state}"


def check(
    stream: Stream, rows: Iterable[Sequence[Any]], heads: Mapping[Any, tuple[int, str]], model_label: str = ""
) -> StreamReport:
    """Recompute a stream's chains from its rows and compare their ends with the recorded heads.

    ``rows`` are ``(key, seq, pk, prev_hash, row_hash, *values)`` with ``values`` in the
    stream's ``fields`` order, sorted by key then ``seq`` (read in chunks: nothing is kept
    but the current chain's last hash). ``heads`` maps each key to its head ``(seq, hash)``
    as appends left it. A chain breaks at its first row that does not hold: a ``seq`` not
    following the one before (a row deleted or inserted), a ``prev_hash`` not the hash of the
    row before, or a ``row_hash`` that its content does not give (the row was edited). A chain
    whose last row is not its head lost its end (or its head was moved); a head with no
    row lost every row. Only the first break of each chain is reported.
    """
    report = StreamReport(stream)
    label = model_label or stream.model._meta.label
    content, heads_left = stream.content, dict(heads)
    key: Any = object()
    seq, prev, broken = 0, GENESIS, False

    def close_chain() -> None:
        head = heads_left.pop(key, None)
        if broken:
            return
        if head is None:
            report.breaks.append(
                Break(stream.name, label, key, None, seq, "no head recorded for this chain", stream.key)
            )
        elif head != (seq, prev):
            head_seq, head_hash = head
            reason = (
                f"the chain ends at seq {seq} but its head is seq {head_seq}"
                if head_seq != seq
                else f"the last row's hash is not the head's ({head_hash[:12]}...)"
            )
            report.breaks.append(
                Break(stream.name, label, key, None if head_seq != seq else pk, head_seq, reason, stream.key)
            )

    pk: Any = None
    for row in rows:
        if row[0] != key:
            if report.chains:
                close_chain()
            key, seq, prev, broken = row[0], 0, GENESIS, False
            report.chains += 1
        report.rows += 1
        if broken:
            continue
        row_seq, pk, prev_hash, row_hash = row[1], row[2], row[3], row[4]
        reason = None
        if row_seq != seq + 1:
            reason = f"seq {row_seq} follows seq {seq}: a row is missing or was inserted"
        elif prev_hash != prev:
            reason = "prev_hash is not the previous row's hash"
        elif link(prev_hash, content(row_seq, row[5:])) != row_hash:
            reason = "its content does not give its row_hash: the row was changed"
        if reason is not None:
            report.breaks.append(Break(stream.name, label, key, pk, row_seq, reason, stream.key))
            broken = True
            continue
        seq, prev = row_seq, row_hash
    if report.chains:
        close_chain()
    for lost_key, (head_seq, _hash) in sorted(heads_left.items()):
        if head_seq:
            report.breaks.append(
                Break(
                    stream.name, label, lost_key, None, 1, f"its head is seq {head_seq} but it has no row", stream.key
                )
            )
    return report
