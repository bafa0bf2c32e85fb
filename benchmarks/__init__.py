"""The benchmark suite: a deterministic data generator and benchmarks of the service against its limits.

``python manage.py bench --companies N --shipments M --seed S --runs R [--only ...]`` under
``DJANGO_SETTINGS_MODULE=config.settings_bench`` (the only settings with this app, with the tests') runs
them (see ``benchmarks/management/commands/bench.py``); ``bench_quota`` runs the quota
benchmark alone. Figures measured on a real machine are in ``benchmarks/RESULTS.md``.

- :mod:`benchmarks.generator`: the one data generator (a few giants, a long tail), on
  :mod:`benchmarks.world` (calendar, chips, requirements, shared catalogue rows) and
  :mod:`benchmarks.loading` (``COPY`` / bulk inserts, ``ANALYZE``, row counts).
- :mod:`benchmarks.measure`: medians, query counts and the printed table.
- :mod:`benchmarks.quota`: ``quota_positions`` against one hand-written statement.
- :mod:`benchmarks.sweep`: the compliance sweep against the same rules in raw SQL, the
  unchanged re-sweep, and the sweep's growth with the data.
- :mod:`benchmarks.api`: API reads under load against a trivial endpoint.
- :mod:`benchmarks.ingest`: bulk customs-event ingestion against ``COPY``.
"""
