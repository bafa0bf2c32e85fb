"""The interface layer on top of the domain apps: the REST API.

Every resource's viewsets build on :mod:`api.base`: API-key authentication,
tenant scoping in one queryset method, pagination that refuses unordered querysets,
atomic writes with ``Idempotency-Key`` replay, per-key throttling and the one error
envelope (:mod:`common.api.errors`). ``api/v1/`` holds one module per domain app.
"""
