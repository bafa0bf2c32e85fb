"""JSON text for many values at once (a ``COPY`` of thousands of ``jsonb`` values)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def dumper(encoder_class: type[json.JSONEncoder]) -> Callable[[Any], str]:
    """``encoder_class().encode``, with the C encoder built once for every value (``encode``
    builds it again on each call, half the time of a sweep's small ``details`` dicts).

    Without the check for circular references, which rows read from JSON or built by the
    service never have (one would end in ``RecursionError`` instead of ``ValueError``).
    """
    encoder = encoder_class()
    make = json.encoder.c_make_encoder  # type: ignore[attr-defined]  # None without the C accelerator
    if make is None or encoder.indent is not None:
        return encoder.encode
    iterencode = make(
        None,  # no markers: no circular check (above)
        encoder.default,
        json.encoder.encode_basestring_ascii if encoder.ensure_ascii else json.encoder.encode_basestring,
        None,
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )
    join = "".join
    return lambda value: join(iterencode(value, 0))
