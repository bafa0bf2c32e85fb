"""The REST API's shared plumbing and the compliance-level endpoints.

Every app's viewsets build on :mod:`compliance.api.base`: API-key authentication,
tenant scoping in one queryset method, pagination that refuses unordered querysets,
atomic writes with ``Idempotency-Key`` replay, per-key throttling and the one error
envelope (:mod:`common.api.errors`).
"""
