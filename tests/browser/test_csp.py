"""Review finding 10 (no CSP): the admin, the cockpit and Swagger UI work in a real browser under
the Content-Security-Policy django-csp sends, with no violation reported."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def violations(page):
    """Every CSP violation the browser reports (console errors and securitypolicyviolation events)."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text) if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: seen.append(f"page error: {error}"))
    return seen


def test_admin_cockpit_and_swagger_ui_run_under_the_policy(demo_world, log_in, live_server, page, violations):
    response = page.goto(f"{live_server.url}/admin/login/")
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    # No inline script or <style> element without the nonce (a nonce appears once a page uses it).
    assert (policy["script-src"], policy["style-src"], policy["object-src"]) == ("'self'", "'self'", "'none'")

    log_in("regulator")
    page.click("text=Open the dashboard")
    expect(page.locator("h1")).to_have_text("Regulator's dashboard")
    # The cockpit's own <style> (with the nonce) applied: its bars are drawn in its colours.
    fill = page.locator("#coverage rect.chart-bar-short").first.evaluate("el => getComputedStyle(el).fill")
    assert fill not in ("", "none", "rgb(0, 0, 0)")

    page.goto(f"{live_server.url}/admin/licences/importlicence/")
    expect(page.locator("#result_list")).to_be_visible()
    page.locator("#changelist-filter").first.wait_for()

    page.goto(f"{live_server.url}/api/docs/")
    # Swagger UI's start-up script (a file, not inline) ran and rendered the operations.
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 20

    assert violations == []
