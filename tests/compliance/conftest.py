"""Fixtures for the compliance jobs: time travel, an eager Celery, a real local webhook receiver,
and small builders for the scenarios the rules judge."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from compliance.models import SecurityRequirement, StaffProfile, WebhookSubscription
from compliance.outcomes import SweepSummary
from compliance.sweep import run_sweep
from config import celery_app
from licences.models import ChipModel, Company, ImportLicence
from tests.factories import (
    ApprovedLicenceFactory,
    CompanyFactory,
    ForeignChipFactory,
    SecurityRequirementFactory,
    at,
)


@pytest.fixture
def travel(time_machine):
    """``travel(date, hour=12)``: freeze the clock at ``hour`` o'clock Asia/Shanghai on ``date``."""

    def go(day: dt.date, hour: int = 12) -> dt.datetime:
        moment = at(day, hour)
        time_machine.move_to(moment, tick=False)
        return moment

    return go


@pytest.fixture
def sweep_on(travel):
    """``sweep_on(date, company_ids=None)``: travel to noon on ``date`` and run the sweep."""

    def go(day: dt.date, company_ids: list[int] | None = None) -> SweepSummary:
        travel(day)
        return run_sweep(company_ids=company_ids)

    return go


@pytest.fixture
def eager_celery():
    """Run ``.delay`` / ``.apply_async`` / ``.apply`` in-process, retries included (without their
    countdowns). Errors are not propagated at once, so a retry can run: ``.get()`` re-raises them."""
    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = False
    yield celery_app
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


@pytest.fixture
def compliance_settings(settings):
    """``compliance_settings(KEY=value, ...)``: override keys of ``settings.COMPLIANCE`` for one test."""

    def override(**values):
        settings.COMPLIANCE = {**settings.COMPLIANCE, **values}
        return settings.COMPLIANCE

    return override


# --- Scenario builders --------------------------------------------------------------------------


def make_company(
    slug: str, *, emails: tuple[str, ...] = (), name: str | None = None, language: str = "en", name_zh: str = ""
) -> Company:
    """A company with compliance contacts, who read alerts in ``language`` (English unless a test
    asks otherwise: the model's default is Chinese)."""
    return CompanyFactory(
        slug=slug,
        name=name or slug.title(),
        name_zh=name_zh,
        compliance_contact_emails="\n".join(emails),
        preferred_language=language,
    )


def staff_reader(email: str, language: str) -> StaffProfile:
    """A staff user receiving alerts at ``email`` (one of ``REGULATOR_ALERT_EMAILS``) in ``language``."""
    user = User.objects.create_user(username=email, email=email, is_staff=True)
    return StaffProfile.objects.create(user=user, language=language)


def h200() -> ChipModel:
    return ForeignChipFactory()


def h20() -> ChipModel:
    """A foreign chip that is not export-controlled."""
    return ForeignChipFactory(
        code="H20", name="NVIDIA H20", export_controlled=False, compute_index=Decimal("1.000"),
        reference_unit_value_usd=Decimal("12000.00"),
    )  # fmt: skip


def approved_licence(company: Company, **overrides) -> ImportLicence:
    """An approved H200 licence of 1,000 units valid through 2026 (overridable)."""
    return ApprovedLicenceFactory(company=company, chip=h200(), **overrides)


def company_requirement(code: str = "end-user-verification") -> SecurityRequirement:
    return SecurityRequirementFactory(code=code, title=code.replace("-", " ").capitalize())


def shipment_requirement(code: str = "lot-testing") -> SecurityRequirement:
    return SecurityRequirementFactory(
        code=code, title="Independent third-party lot testing", scope=SecurityRequirement.Scope.SHIPMENT
    )


# --- A real HTTP receiver ---------------------------------------------------------------------------


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers with the scripted codes in turn (then 200)."""

    url: str
    script: list[int] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)

    def next_code(self) -> int:
        return self.script.pop(0) if self.script else 200

    def bodies(self) -> list[dict]:
        return [json.loads(request["body"]) for request in self.requests]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            code = receiver.next_code()
            receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body, "code": code})
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format, *args):  # keep test output quiet
            pass

    return Handler


@pytest.fixture
def allow_local_receivers(settings):
    """Let webhooks reach the local listener: plain http to 127.0.0.1, trusted by name. Off by
    default (production refuses both), so a test that delivers to ``receiver`` asks for it."""
    settings.COMPLIANCE = {**settings.COMPLIANCE, "WEBHOOK_ALLOWED_HOSTS": ["127.0.0.1"], "WEBHOOK_ALLOW_HTTP": True}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on a free port of 127.0.0.1, in a thread, for the test's duration."""
    box = Receiver(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(box))
    box.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/compliance"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def dead_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a port taken and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


def subscription(url: str, *, company: Company | None = None, secret: str = "s3cret-key", **extra):
    return WebhookSubscription.objects.create(
        company=company, name=extra.pop("name", f"hook {url}"), url=url, secret=secret, **extra
    )


def today() -> dt.date:
    return timezone.localdate()
