"""The API's generic plumbing: the error envelope, parsers, pagination, filters, limits."""
