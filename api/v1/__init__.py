"""Version 1 of the REST API: one module per domain app (licences, quotas, compliance)."""
