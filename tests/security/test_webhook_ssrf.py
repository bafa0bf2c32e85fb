"""Review finding 3: webhook SSRF. Receivers must resolve to public addresses, at registration
and again at every delivery; the connection goes to the checked address; no redirects; the
company reads a generic failure reason only.

Real peers throughout: local listeners on 127.0.0.1 (which the default settings refuse, and
these tests prove they are never reached), a real TLS listener, the real resolver.
"""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from compliance import webhooks
from compliance.models import CompanyAPIKey, Finding, WebhookAttempt, WebhookDelivery, WebhookSubscription
from compliance.webhook_targets import (
    FORBIDDEN_MESSAGE,
    WebhookTarget,
    WebhookUrlForbidden,
    check_webhook_url,
    connection_for,
    webhook_target,
)
from tests.compliance.conftest import make_company, subscription

pytestmark = pytest.mark.django_db

API = "/api/v1"
SECRET = "whsec-ssrf-test-0123456789"

# The review's list, then the same places reached by other spellings.
REVIEW_URLS = [
    "https://127.0.0.1:8443/hooks",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hooks",
    "https://10.0.0.5/hooks",
    "https://metadata.google.internal/computeMetadata/v1/",  # does not resolve here: refused as such
    "https://0.0.0.0/hooks",
]
OTHER_SPELLINGS = [
    "https://localhost/hooks",  # a name resolving to loopback
    "https://[::]/hooks",
    "https://[::ffff:127.0.0.1]/hooks",  # IPv4-mapped IPv6
    "https://[::ffff:169.254.169.254]/hooks",
    "https://[64:ff9b::a9fe:a9fe]/hooks",  # NAT64 of 169.254.169.254
    "https://[2002:7f00:1::]/hooks",  # 6to4 of 127.0.0.1
    "https://[fe80::1]/hooks",
    "https://[fc00::1]/hooks",
    "https://192.168.1.1/hooks",
    "https://172.16.0.1/hooks",
    "https://100.64.0.1/hooks",  # carrier-grade NAT
    "https://224.0.0.1/hooks",  # multicast
    "https://240.0.0.1/hooks",  # reserved
    "https://255.255.255.255/hooks",
    "https://nothing.invalid/hooks",
    "https://user:pw@8.8.8.8/hooks",  # credentials in the URL
]


@pytest.fixture(autouse=True)
def _default_receiver_settings(settings):
    """The production defaults: no trusted host, no private networks, https only."""
    settings.COMPLIANCE = {
        **settings.COMPLIANCE,
        "WEBHOOK_ALLOWED_HOSTS": [],
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False,
        "WEBHOOK_ALLOW_HTTP": False,
    }
    cache.clear()  # throttle counters
    yield
    cache.clear()


def company_client(company) -> APIClient:
    _, key = CompanyAPIKey.objects.create_key(name=f"{company.slug} key", company=company)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


# --- A tiny real listener ------------------------------------------------------------------------------


class Listener:
    """An HTTP(S) server on 127.0.0.1 recording every request; answers ``status`` (and
    ``location``, for a redirect)."""

    def __init__(self, *, status: int = 200, location: str = "", tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[dict] = []
        self.server_names: list[str | None] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                listener.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            tls.sni_callback = lambda sock, name, context: self.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as running:
        yield running


def pending_delivery(sub: WebhookSubscription, n: int = 1) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        subscription=sub, delivery_id=f"00000000-0000-0000-0000-{n:012d}", event_type="finding.opened",
        payload={"id": n},
    )  # fmt: skip


# --- Registration ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", REVIEW_URLS + OTHER_SPELLINGS)
def test_a_non_public_receiver_is_refused_at_registration_with_a_stable_code(url):
    company = make_company("alibaba")
    client = company_client(company)
    response = client.post(f"{API}/webhooks/", {"name": "hook", "url": url, "secret": SECRET}, format="json")
    assert response.status_code == 400, response.content
    assert response.json() == {
        "code": "webhook_url_forbidden",
        "detail": FORBIDDEN_MESSAGE,
        "errors": {"url": [FORBIDDEN_MESSAGE]},
    }
    assert WebhookSubscription.objects.count() == 0


@pytest.mark.parametrize("url", ["https://2130706433/hooks", "https://127.1/hooks", "https://0x7f.1/hooks"])
def test_numeric_spellings_of_loopback_are_refused_by_the_url_check_and_by_the_address_rule(url):
    """The API's URL validator already refuses these (400 validation_error); a URL stored some
    other way is still refused where it counts, by what it resolves to."""
    response = company_client(make_company("alibaba")).post(
        f"{API}/webhooks/", {"name": "hook", "url": url, "secret": SECRET}, format="json"
    )
    assert (response.status_code, response.json()["code"], list(response.json()["errors"])) == (
        400,
        "validation_error",
        ["url"],
    )
    with pytest.raises(WebhookUrlForbidden) as refused:
        check_webhook_url(url)
    host = url.split("/")[2]
    assert refused.value.reason == f"{host} resolves to a non-public address (127.0.0.1 is a loopback address)"


def test_changing_the_url_of_a_subscription_to_a_private_address_is_refused_and_changes_nothing():
    company = make_company("alibaba")
    sub = subscription("https://hooks.example.com/ok", company=company, secret=SECRET)
    response = company_client(company).patch(
        f"{API}/webhooks/{sub.pk}/", {"url": "https://169.254.169.254/latest/"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "webhook_url_forbidden")
    sub.refresh_from_db()
    assert sub.url == "https://hooks.example.com/ok"


def test_the_refusal_message_is_the_same_whatever_the_reason():
    """Unresolvable, loopback, private: one message, so registration maps nothing for the company."""
    reasons = []
    for url in ("https://nothing.invalid/", "https://127.0.0.1/", "https://10.0.0.5/"):
        with pytest.raises(WebhookUrlForbidden) as refused:
            check_webhook_url(url)
        assert refused.value.message == FORBIDDEN_MESSAGE
        reasons.append(refused.value.reason)
    assert reasons == [
        reasons[0],  # the resolver's words vary by platform
        "127.0.0.1 is a loopback address",
        "10.0.0.5 is a private address",
    ]
    assert reasons[0].startswith("nothing.invalid does not resolve")


def test_plain_http_is_refused_by_default_even_to_a_public_address():
    company = make_company("alibaba")
    response = company_client(company).post(
        f"{API}/webhooks/", {"name": "hook", "url": "http://8.8.8.8/hooks", "secret": SECRET}, format="json"
    )
    assert (response.status_code, response.json()["code"], list(response.json()["errors"])) == (
        400,
        "validation_error",
        ["url"],
    )
    with pytest.raises(WebhookUrlForbidden) as refused:
        check_webhook_url("http://8.8.8.8/hooks")
    assert refused.value.reason == "scheme 'http' is not allowed (allowed: https)"


def test_a_public_address_is_accepted():
    check_webhook_url("https://8.8.8.8/hooks")  # an IP literal needs no resolver
    assert webhook_target("https://8.8.8.8:8443/a?b=1").addresses == ("8.8.8.8",)
    assert webhook_target("https://8.8.8.8:8443/a?b=1").path == "/a?b=1"


def test_a_trusted_host_or_private_networks_must_be_allowed_explicitly(settings, listener):
    url = f"http://127.0.0.1:{listener.port}/hooks"
    settings.COMPLIANCE = {**settings.COMPLIANCE, "WEBHOOK_ALLOW_HTTP": True}
    with pytest.raises(WebhookUrlForbidden):
        check_webhook_url(url)
    settings.COMPLIANCE = {**settings.COMPLIANCE, "WEBHOOK_ALLOWED_HOSTS": ["127.0.0.1"]}
    check_webhook_url(url)
    settings.COMPLIANCE = {**settings.COMPLIANCE, "WEBHOOK_ALLOWED_HOSTS": [], "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}
    check_webhook_url(url)


# --- Delivery --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("allow_http", [False, True], ids=["defaults", "http-allowed-address-still-private"])
def test_with_the_default_settings_a_delivery_to_the_local_listener_never_reaches_it(settings, listener, allow_http):
    settings.COMPLIANCE = {**settings.COMPLIANCE, "WEBHOOK_ALLOW_HTTP": allow_http, "WEBHOOK_MAX_ATTEMPTS": 1}
    sub = subscription(f"http://127.0.0.1:{listener.port}/hooks", secret=SECRET)  # stored without a check
    delivery = pending_delivery(sub)
    assert webhooks.attempt_delivery(delivery_pk=delivery.pk) == "failed"
    assert listener.requests == []
    attempt = WebhookAttempt.objects.get()
    assert attempt.response_code is None
    expected = "scheme 'http' is not allowed" if not allow_http else "127.0.0.1 is a loopback address"
    assert attempt.error.startswith("Refused before connecting: ") and expected in attempt.error


def test_a_receiver_accepted_at_registration_is_checked_again_at_delivery(settings, listener):
    """Registered while its host was trusted (as a name whose DNS answer later changes to a
    private address would be): the next delivery re-checks it and makes no connection."""
    company = make_company("alibaba")
    settings.COMPLIANCE = {**settings.COMPLIANCE, "WEBHOOK_ALLOWED_HOSTS": ["127.0.0.1"], "WEBHOOK_ALLOW_HTTP": True}
    url = f"http://127.0.0.1:{listener.port}/hooks"
    response = company_client(company).post(
        f"{API}/webhooks/", {"name": "hook", "url": url, "secret": SECRET}, format="json"
    )
    assert response.status_code == 201, response.content
    delivery = pending_delivery(WebhookSubscription.objects.get(pk=response.json()["id"]))
    settings.COMPLIANCE = {**settings.COMPLIANCE, "WEBHOOK_ALLOWED_HOSTS": [], "WEBHOOK_MAX_ATTEMPTS": 1}
    assert webhooks.attempt_delivery(delivery_pk=delivery.pk) == "failed"
    assert listener.requests == []


def test_the_connection_goes_to_the_checked_address_not_to_a_fresh_lookup(listener):
    """The name no longer resolves (or would now resolve elsewhere): the pinned connection still
    reaches the address that was checked, and the Host header still names the host."""
    target = WebhookTarget(
        scheme="http", host="receiver.invalid", port=listener.port, path="/hooks?x=1", addresses=("127.0.0.1",)
    )
    connection = connection_for(target, timeout=5)
    try:
        connection.request("POST", target.path, body=b"{}", headers={"Content-Type": "application/json"})
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    [request] = listener.requests
    assert (request["path"], request["headers"]["Host"]) == ("/hooks?x=1", f"receiver.invalid:{listener.port}")


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_to_the_pinned_address_sends_sni_and_verifies_the_certificate_for_the_name(tmp_path):
    cert, key = _self_signed(tmp_path, "receiver.test")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))
    with Listener(tls=server_context) as tls_listener:
        target = WebhookTarget(
            scheme="https", host="receiver.test", port=tls_listener.port, path="/", addresses=("127.0.0.1",)
        )
        connection = connection_for(target, timeout=5, tls_context=client_context)
        try:
            connection.request("POST", "/", body=b"{}")
            assert connection.getresponse().status == 200
        finally:
            connection.close()
        # The same address under another name: the certificate does not match, nothing is sent.
        wrong = WebhookTarget(
            scheme="https", host="other.test", port=tls_listener.port, path="/", addresses=("127.0.0.1",)
        )
        connection = connection_for(wrong, timeout=5, tls_context=client_context)
        with pytest.raises(ssl.SSLCertVerificationError):
            connection.request("POST", "/", body=b"{}")
        connection.close()
    assert tls_listener.server_names == ["receiver.test", "other.test"]
    assert len(tls_listener.requests) == 1
    assert tls_listener.requests[0]["headers"]["Host"] == f"receiver.test:{tls_listener.port}"


def test_a_redirect_is_not_followed(settings):
    settings.COMPLIANCE = {**settings.COMPLIANCE, "WEBHOOK_ALLOWED_HOSTS": ["127.0.0.1"], "WEBHOOK_ALLOW_HTTP": True}
    with Listener() as elsewhere:
        with Listener(status=307, location=f"http://127.0.0.1:{elsewhere.port}/stolen") as redirecting:
            sub = subscription(f"http://127.0.0.1:{redirecting.port}/hooks", secret=SECRET)
            delivery = pending_delivery(sub)
            assert webhooks.attempt_delivery(delivery_pk=delivery.pk) == "failed"
        assert len(redirecting.requests) == 1
        assert elsewhere.requests == []
    assert list(WebhookAttempt.objects.values_list("response_code", "error")) == [(307, "HTTP 307 Temporary Redirect")]


# --- What the company reads ----------------------------------------------------------------------------


def test_the_company_reads_a_generic_failure_reason_and_the_regulator_the_details(settings, client):
    """A receiver that refuses connections: the disabled subscription and its finding say
    "delivery failed"; the precise error is only in the regulator's admin."""
    settings.COMPLIANCE = {
        **settings.COMPLIANCE,
        "WEBHOOK_ALLOWED_HOSTS": ["127.0.0.1"],
        "WEBHOOK_ALLOW_HTTP": True,
        "WEBHOOK_MAX_ATTEMPTS": 1,
        "WEBHOOK_DISABLE_AFTER_FAILURES": 2,
    }
    import socket

    with socket.socket() as sock:  # a port taken and released: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    company = make_company("alibaba")
    sub = subscription(f"http://127.0.0.1:{port}/hooks", company=company, secret=SECRET, name="ops hook")
    for n in (1, 2):
        assert webhooks.attempt_delivery(delivery_pk=pending_delivery(sub, n).pk) == "failed"
    generic = "Disabled after 2 consecutive failed deliveries: delivery failed."

    api = company_client(company)
    body = api.get(f"{API}/webhooks/{sub.pk}/").json()
    assert (body["is_active"], body["disabled_reason"]) == (False, generic)
    assert "secret" not in body
    finding = Finding.objects.get(rule="webhook_disabled")
    finding_body = api.get(f"{API}/findings/{finding.pk}/").json()
    assert finding_body["details"]["reason"] == generic
    for text in (str(body), str(finding_body)):
        assert "refused" not in text.lower() and "errno" not in text.lower()

    # The regulator's admin shows the precise error of the last attempt.
    errors = list(WebhookAttempt.objects.values_list("error", flat=True))
    assert len(errors) == 2 and all(error.startswith("ConnectionRefusedError:") for error in errors)
    from django.contrib.auth import get_user_model

    superuser = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(superuser)
    page = client.get(reverse("admin:compliance_webhooksubscription_change", args=[sub.pk]))
    assert page.status_code == 200
    assert "ConnectionRefusedError" in page.content.decode()
