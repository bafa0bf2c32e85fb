"""Bench settings: the real settings plus the dev-only ``benchmarks`` app (``bench``, ``bench_quota``).

``make bench`` uses them; the production settings never install the app.
"""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks"]
