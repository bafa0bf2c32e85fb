"""Review finding 8: throttle counters per process, bad keys never throttled, no admin lockout.

Now: a shared cache (Redis when configured), failed API-key authentications limited per
client address, django-axes locking the admin login, and a client address that no header
from a stranger can change."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.test import RequestFactory
from rest_framework.test import APIClient

from api.throttling import ApiKeyRateThrottle
from compliance.client_ip import client_ip
from compliance.models import CompanyAPIKey
from tests.factories import CompanyFactory
from tests.test_project import PRODUCTION_ENV, settings_in

CHIPS = "/api/v1/chips/"
ATTACKER = "203.0.113.5"
NEIGHBOUR = "203.0.113.77"
T0 = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def good_key(db) -> str:
    _, key = CompanyAPIKey.objects.create_key(name="throttle", company=CompanyFactory())
    return key


def get(key: str | None, address: str, **headers):
    client = APIClient(REMOTE_ADDR=address)
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client.get(CHIPS, **headers)


# --- The cache the counters live in -----------------------------------------------------------


def test_the_cache_is_redis_when_redis_is_configured_and_local_memory_otherwise(tmp_path):
    env = {**PRODUCTION_ENV, "VAR_DIR": str(tmp_path)}
    expression = 'settings.CACHES["default"]'
    assert settings_in(env, expression)["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    on_redis = settings_in({**env, "REDIS_URL": "redis://cache.internal:6380/2"}, expression)
    assert on_redis == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://cache.internal:6380/2",
        "KEY_PREFIX": "compliance-cache",
    }
    own = settings_in({**env, "REDIS_URL": "redis://r:6379/0", "CACHE_URL": "redis://r:6379/1"}, expression)
    assert (own["BACKEND"], own["LOCATION"]) == ("django.core.cache.backends.redis.RedisCache", "redis://r:6379/1")


@pytest.mark.redis
@pytest.mark.django_db
def test_throttle_counters_live_in_redis_where_every_process_sees_them(settings, good_key) -> None:
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "3/minute"}}
    key_pk = CompanyAPIKey.objects.get().pk
    # Another process: its own connection to the same Redis, nothing shared in memory.
    other_process = RedisCache(settings.REDIS_URL, {"KEY_PREFIX": prefix})
    try:
        assert [get(good_key, ATTACKER).status_code for _ in range(3)] == [200, 200, 200]
        assert len(other_process.get(f"throttle_api_key:{key_pk}")) == 3
        assert get(good_key, ATTACKER).status_code == 429
        # What another process counts, this one obeys.
        other_process.delete(f"throttle_api_key:{key_pk}")
        assert get(good_key, ATTACKER).status_code == 200
    finally:
        other_process.delete_many([f"throttle_api_key:{key_pk}", f"throttle_authfail_{ATTACKER}"])


# --- Failed API-key authentication per address ------------------------------------------------------


@pytest.mark.django_db
def test_bad_keys_are_throttled_per_address_and_the_address_is_blocked_for_the_window(settings, good_key) -> None:
    settings.API_AUTH_FAILURE_LIMIT = 3
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 60
    with time_machine.travel(T0, tick=False):
        bad = [get(f"wrong.key{n}", ATTACKER) for n in range(3)]
        assert [(r.status_code, r.json()["code"]) for r in bad] == [(401, "authentication_failed")] * 3
        blocked = get("wrong.key9", ATTACKER)
        assert (blocked.status_code, blocked.json()["code"]) == (429, "too_many_failed_authentications")
        assert blocked["Retry-After"] == "60"
        # A good key from the blocked address waits too (no validity oracle while blocked).
        assert get(good_key, ATTACKER).json()["code"] == "too_many_failed_authentications"
        # A forged X-Forwarded-For does not change the address.
        spoofed = get(good_key, ATTACKER, HTTP_X_FORWARDED_FOR="198.51.100.1")
        assert spoofed.status_code == 429
        # Other addresses are not affected.
        assert get(good_key, NEIGHBOUR).status_code == 200
        assert get("wrong.key", NEIGHBOUR).status_code == 401
        # No key at all is not a failed authentication.
        assert get(None, ATTACKER).json()["code"] == "not_authenticated"
    with time_machine.travel(T0 + dt.timedelta(seconds=30), tick=False):
        assert get(good_key, ATTACKER)["Retry-After"] == "30"
    with time_machine.travel(T0 + dt.timedelta(seconds=61), tick=False):
        assert get(good_key, ATTACKER).status_code == 200


# --- The client address -------------------------------------------------------------------------------


def _request(remote: str, xff: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("trusted", "remote", "xff", "expected"),
    [
        ([], ATTACKER, "198.51.100.1", ATTACKER),  # no proxy trusted: the header is ignored
        (["192.0.2.10"], ATTACKER, "198.51.100.1", ATTACKER),  # not from the proxy: ignored
        (["192.0.2.10"], "192.0.2.10", ATTACKER, ATTACKER),  # from the proxy: its last hop
        (["192.0.2.10"], "192.0.2.10", f"198.51.100.1, {ATTACKER}", ATTACKER),  # a client's forged left part
        (["192.0.2.0/28"], "192.0.2.10", f"{ATTACKER}, 192.0.2.3", ATTACKER),  # a chain of trusted proxies
        (["192.0.2.10"], "192.0.2.10", "not-an-address", "192.0.2.10"),
        (["192.0.2.10"], "192.0.2.10", None, "192.0.2.10"),
    ],
)
def test_the_client_address_believes_x_forwarded_for_only_from_trusted_proxies(
    settings, trusted, remote, xff, expected
) -> None:
    settings.TRUSTED_PROXIES = trusted
    assert client_ip(_request(remote, xff)) == expected


def test_the_anonymous_throttle_identifies_by_the_client_address_not_the_header(settings) -> None:
    settings.TRUSTED_PROXIES = []
    assert ApiKeyRateThrottle().get_ident(_request(ATTACKER, "198.51.100.1")) == ATTACKER


# --- Admin login lockout (django-axes) ------------------------------------------------------------------


def login(client, password: str, address: str = ATTACKER, **headers):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "admin", "password": password},
        REMOTE_ADDR=address,
        **headers,
    )


@pytest.mark.django_db
def test_after_five_wrong_passwords_the_right_one_does_not_log_in(client, django_user_model, settings) -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    django_user_model.objects.create_superuser("admin", "admin@example.com", "the-right-password-42")
    with time_machine.travel(T0, tick=False):
        attempts = [login(client, f"guess-{n}", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(5)]
        assert attempts == [200, 200, 200, 200, 429]  # the login form again, then the lockout page
        locked = login(client, "the-right-password-42")
        assert locked.status_code == 429
        assert b"Sign-in temporarily locked" in locked.content
        assert "_auth_user_id" not in client.session
        # The lock is for this username from this address: the owner elsewhere still signs in.
        elsewhere = login(client.__class__(), "the-right-password-42", address=NEIGHBOUR)
        assert (elsewhere.status_code, elsewhere["Location"]) == (302, "/admin/")
    with time_machine.travel(T0 + dt.timedelta(hours=1, seconds=1), tick=False):
        assert login(client, "the-right-password-42").status_code == 302  # cool-off over
