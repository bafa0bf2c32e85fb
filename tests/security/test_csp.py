"""Review finding 10 (no CSP): every page carries django-csp's policy; the pages with inline
<style> elements carry the per-request nonce the header names; no page has an inline script.
(tests/browser/test_csp.py checks the same pages in Chromium, with no violation reported.)"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")


def policy_of(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "x"))
    return client


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/", "/health/"])
def test_every_page_sends_the_policy(client, path) -> None:
    policy = policy_of(client.get(path))
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["script-src"].startswith("'self'") and "unsafe" not in policy["script-src"]
    assert "unsafe" not in policy["style-src"]


@pytest.mark.parametrize("path", ["/admin/cockpit/", "/api/docs/"])
def test_inline_styles_carry_the_nonce_of_the_header_and_no_script_is_inline(superuser_client, path) -> None:
    response = superuser_client.get(path)
    assert response.status_code == 200
    nonce = re.search(r"'nonce-([^']+)'", policy_of(response)["style-src"]).group(1)
    styles = re.findall(rb"<style[^>]*>", response.content)
    assert styles and all(f'nonce="{nonce}"'.encode() in tag for tag in styles)
    assert INLINE_SCRIPT.findall(response.content) == []


def test_swagger_ui_s_start_up_script_is_served_as_a_file(client) -> None:
    page = client.get("/api/docs/").content.decode()
    script_url = re.search(r'<script src="(/api/docs/\?[^"]*script[^"]*)"', page).group(1)
    script = client.get(script_url.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content
