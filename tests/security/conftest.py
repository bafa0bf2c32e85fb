"""The security tests reuse the API tests' world (two companies, their records and keys)."""

from tests.api.conftest import _fresh_throttle_cache, world  # noqa: F401 - fixtures
