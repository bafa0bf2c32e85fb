"""Bounds on input values: far beyond any real record, far from where arithmetic overflows."""

from __future__ import annotations

import datetime as dt

# Quantities of chips: at least one, at most a trillion (no request is that large).
MAX_QUANTITY = 10**12
# Dates accepted in input: far enough either side of today for any real record, and far
# from the calendar's ends so date arithmetic (expiry = date + validity) cannot overflow.
MIN_DATE = dt.date(1990, 1, 1)
MAX_DATE = dt.date(2200, 12, 31)
