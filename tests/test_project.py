"""The project's shape: settings from the environment, deploy checks, health, migrations,
and the docker-compose file users run (parsed, since no Docker engine runs here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "0",
    "SECRET_KEY": "x9!pQ2#vL7zR4&mW8^tY1@kN6*bH3$fJ5(cD0)gS-eA+uO=iP_qT~wE[rU]oI{yX}",
    "ALLOWED_HOSTS": "compliance.example.gov",
    "PATH": os.environ["PATH"],
}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def settings_in(env: dict[str, str], expression: str):
    code = f"import django, json; django.setup(); from django.conf import settings; print(json.dumps({expression}))"
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_settings_read_database_broker_email_and_hosts_from_the_environment(tmp_path):
    env = {
        **PRODUCTION_ENV,
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": "postgres://ledger:s3cret@db.internal:5433/ledger",
        "REDIS_URL": "redis://cache.internal:6380/2",
        "EMAIL_URL": "smtp+tls://alerts:pw@mail.internal:587",
        "ALLOWED_HOSTS": "a.example,b.example",
    }
    got = settings_in(
        env,
        '{"db": settings.DATABASES["default"], "broker": settings.CELERY_BROKER_URL, '
        '"email": [settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS], '
        '"hosts": settings.ALLOWED_HOSTS, "tz": settings.TIME_ZONE, "debug": settings.DEBUG}',
    )
    assert got["db"]["ENGINE"] == "django.db.backends.postgresql"
    assert (got["db"]["NAME"], got["db"]["USER"], got["db"]["HOST"], got["db"]["PORT"]) == (
        "ledger",
        "ledger",
        "db.internal",
        5433,
    )
    assert got["broker"] == "redis://cache.internal:6380/2"
    assert got["email"] == ["mail.internal", 587, True]
    assert got["hosts"] == ["a.example", "b.example"]
    assert (got["tz"], got["debug"]) == ("Asia/Shanghai", False)


def test_embedded_default_is_sqlite_and_the_filesystem_broker(tmp_path):
    env = {**PRODUCTION_ENV, "DEBUG": "1", "VAR_DIR": str(tmp_path)}
    del env["SECRET_KEY"]
    got = settings_in(env, '[settings.DATABASES["default"]["NAME"], settings.CELERY_BROKER_URL, settings.DEBUG]')
    assert got == [str(tmp_path / "db.sqlite3"), "filesystem://", True]
    assert (tmp_path / "celery-broker" / "queue").is_dir()


def test_production_without_secret_key_refuses_to_start(tmp_path):
    env = {**PRODUCTION_ENV, "VAR_DIR": str(tmp_path)}
    del env["SECRET_KEY"]
    result = run_python("import django; django.setup()", env)
    assert result.returncode != 0
    assert "Set the SECRET_KEY environment variable" in result.stderr


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {**PRODUCTION_ENV, "VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.django_db
def test_migrations_match_the_models():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_health_endpoint_reports_database_and_broker(client):
    response = client.get("/health/?format=json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"Database(alias='default')", "BrokerCheck()"}
    assert set(body.values()) == {"OK"}


def test_docker_compose_names_the_six_services_sharing_one_definition():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert set(compose["services"]) == {"postgres", "redis", "web", "worker", "beat", "proxy"}
    app = compose["x-app"]
    for name in ("web", "worker", "beat"):
        service = compose["services"][name]
        # YAML merge keys resolve to the shared definition's values.
        assert service["image"] == app["image"] == "chip-import-compliance:latest"
        assert service["environment"]["DATABASE_URL"].startswith("postgres://")
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in compose["services"]:
        assert "healthcheck" in compose["services"][name], name
    # Only the TLS proxy is published (tests/security/test_deployment.py checks the rest).
    assert [name for name, service in compose["services"].items() if "ports" in service] == ["proxy"]


def test_procfile_starts_web_worker_and_beat():
    processes = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert set(processes) == {"web", "worker", "beat"}
    assert "celery -A config worker" in processes["worker"]
    assert "celery -A config beat" in processes["beat"]


PACKAGES = ("common", "licences", "quotas", "compliance", "api", "cockpit", "config", "benchmarks", "tools")
MAX_MODULE_LINES = 500  # README, "Architecture"


def test_no_module_outside_migrations_and_tests_is_over_500_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }
    assert len(sizes) > 100  # the walk found the code
    assert {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES} == {}
