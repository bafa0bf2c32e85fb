"""Review finding 10 (deployment): compose works as shipped behind a TLS proxy, the proxy SSL
header is trusted only when configured, /metrics needs a token or a superuser, media and Redis
data live in shared volumes, and ensure_admin neither sets demo passwords in production nor
resets an existing account."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.test_project import PRODUCTION_ENV, settings_in

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


# --- docker-compose.yml -------------------------------------------------------------------------


def test_gunicorn_is_not_published_and_only_the_tls_proxy_is():
    web = SERVICES["web"]
    assert "ports" not in web
    assert web["expose"] == ["8000"]
    published = {name: service["ports"] for name, service in SERVICES.items() if "ports" in service}
    assert published == {"proxy": ["80:80", "443:443"]}
    assert "0.0.0.0:8000" not in yaml.safe_dump(published)


def test_the_proxy_is_caddy_with_the_shipped_caddyfile_in_front_of_web():
    proxy = SERVICES["proxy"]
    assert proxy["image"].startswith("caddy:")
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    caddyfile = (ROOT / "Caddyfile").read_text()
    assert "reverse_proxy web:8000" in caddyfile
    assert "tls {$CADDY_TLS:internal}" in caddyfile
    # The proxy overwrites the forwarding headers a client may have sent.
    for header in ("X-Forwarded-Proto {scheme}", "X-Forwarded-For {remote_host}"):
        assert f"header_up {header}" in caddyfile


def test_the_app_trusts_forwarding_headers_only_from_the_proxy_s_fixed_address():
    app = COMPOSE["x-app"]["environment"]
    proxy_address = SERVICES["proxy"]["networks"]["backend"]["ipv4_address"]
    assert app["TRUSTED_PROXIES"] == proxy_address
    assert app["TRUST_PROXY_SSL_HEADER"] == "1"
    for name in ("web", "worker", "beat"):
        assert SERVICES[name]["networks"] == ["backend"]


def test_media_is_one_volume_shared_by_web_and_worker_and_redis_keeps_its_data():
    for name in ("web", "worker"):
        assert "media:/app/var/media" in SERVICES[name]["volumes"], name
        assert SERVICES[name]["environment"]["MEDIA_ROOT"] == "/app/var/media"
    assert "redisdata:/data" in SERVICES["redis"]["volumes"]
    assert {"pgdata", "media", "redisdata"} <= set(COMPOSE["volumes"])
    assert "mkdir -p /app/var/media" in (ROOT / "Dockerfile").read_text()  # the volume inherits app's ownership


def test_compose_gives_the_app_a_shared_redis_cache():
    env = SERVICES["web"]["environment"]
    assert env["CACHE_URL"] == "redis://redis:6379/1"  # its own database, not the broker's (0)
    assert env["REDIS_URL"] == "redis://redis:6379/0"


# --- The proxy SSL header ------------------------------------------------------------------------


def test_the_proxy_ssl_header_is_trusted_only_when_configured(tmp_path):
    env = {**PRODUCTION_ENV, "VAR_DIR": str(tmp_path)}
    assert settings_in(env, "settings.SECURE_PROXY_SSL_HEADER") is None
    trusted = settings_in({**env, "TRUST_PROXY_SSL_HEADER": "1"}, "settings.SECURE_PROXY_SSL_HEADER")
    assert trusted == ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.mark.django_db
def test_a_client_s_own_x_forwarded_proto_does_not_make_plain_http_secure(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = None  # the default without TRUST_PROXY_SSL_HEADER
    response = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
    assert (response.status_code, response["Location"]) == (301, "https://testserver/admin/login/")
    # Behind the proxy (compose), its header is believed.
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https").status_code == 200


# --- /metrics -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_need_the_bearer_token_or_a_superuser(client, settings, django_user_model):
    settings.METRICS_TOKEN = "scrape-secret-0123456789"
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic scrape-secret-0123456789").status_code == 404
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-0123456789")
    assert ok.status_code == 200
    assert b"django_http_requests" in ok.content

    staff = django_user_model.objects.create_user("staffer", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get("/metrics").status_code == 404  # staff is not enough
    admin = django_user_model.objects.create_user("root", password="x", is_staff=True, is_superuser=True)
    client.force_login(admin)
    assert client.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_without_a_token_metrics_are_superuser_only(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


# --- ensure_admin ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_ensure_admin_refuses_the_demo_passwords_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="demo password"):
        call_command("ensure_admin")
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_ensure_admin_creates_users_with_real_passwords_without_debug(settings, capsys):
    settings.DEBUG = False
    call_command(
        "ensure_admin",
        password="a-long-real-admin-secret-1",
        regulator_password="a-long-real-regulator-secret-2",
        analyst_password="a-long-real-analyst-secret-3",
    )
    out = capsys.readouterr().out
    assert "a-long-real" not in out  # not echoed in production
    assert get_user_model().objects.get(username="admin").check_password("a-long-real-admin-secret-1")


@pytest.mark.django_db
def test_ensure_admin_never_resets_an_existing_user(settings, django_user_model, capsys):
    settings.DEBUG = True
    django_user_model.objects.create_user("admin", password="operators-own-password", is_staff=False)
    call_command("ensure_admin")
    admin = django_user_model.objects.get(username="admin")
    assert admin.check_password("operators-own-password")
    assert (admin.is_staff, admin.is_superuser) == (False, False)
    assert "user 'admin' already exists, left unchanged" in capsys.readouterr().out
    # The missing ones were created, with the demo passwords (DEBUG).
    assert django_user_model.objects.get(username="analyst").check_password("h200-demo-analyst")
    # Without DEBUG an existing account is no reason to refuse: nothing would be set.
    settings.DEBUG = False
    call_command("ensure_admin")
    assert django_user_model.objects.get(username="admin").check_password("operators-own-password")
