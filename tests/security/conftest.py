"""The API world of ``tests/api/conftest.py`` (companies A and B, their records, keys), for the security tests."""

from tests.api.conftest import _fresh_throttle_cache, world  # noqa: F401
