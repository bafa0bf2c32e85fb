"""Test settings: the real settings with test-friendly defaults from the environment.

``DATABASE_URL`` / ``REDIS_URL`` still choose PostgreSQL and Redis when set.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("STATICFILES_BACKEND", "django.contrib.staticfiles.storage.StaticFilesStorage")
os.environ.setdefault("EMAIL_URL", "memorymail://")
# The API tests register receivers on hooks.example.com, a reserved name (RFC 2606) that
# resolves nowhere, so registration would refuse it: trusted by name, nothing is ever
# delivered there. Loopback stays refused unless a test allows it (tests/compliance).
os.environ.setdefault("COMPLIANCE_WEBHOOK_ALLOWED_HOSTS", "hooks.example.com")

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS, STATIC_ROOT, VAR_DIR

INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks"]  # the suite runs `bench` and `bench_quota` tiny

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = VAR_DIR / "test-media"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing folder
# Tests keep their throttle counters in local memory (cleared per test) even when REDIS_URL is
# set; the shared Redis cache has its own test (tests/security/test_throttling.py).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
