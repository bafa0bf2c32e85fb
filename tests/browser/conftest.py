"""A real headless Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright against
pytest-django's live server.

Without Chromium or Playwright the browser tests are skipped with how to install it; with
``REQUIRE_SERVICES=1`` (CI) they fail instead, so CI cannot pass by skipping. Never run
``playwright install``: it downloads a browser, which this project does not use.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from compliance.groups import ANALYST, REGULATOR, sync_groups

# The live server runs in a thread of this process; Playwright's sync API runs an event loop.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
# Every run saves its screenshots under var/ (git-ignored); SCREENSHOTS_DIR=docs/screenshots
# refreshes the ones the README shows.
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR", Path(settings.BASE_DIR) / "var" / "screenshots"))
PASSWORD = "browser-test-pw"


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs the playwright package (pip install -r requirements.txt)"
    if not Path(CHROMIUM).exists():
        return f"needs Chromium at {CHROMIUM}: apt-get install chromium"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _missing()
    if reason:
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but the browser tests {reason}")
        pytest.skip(f"browser tests {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-GB")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def demo_world(transactional_db, django_user_model, demo_day):
    """The demo world, its findings after one compliance sweep, and a regulator and an analyst."""
    call_command("load_demo", verbosity=0)
    from compliance.sweep import run_sweep

    run_sweep()
    sync_groups(group_model=Group, permission_model=Permission)  # a previous flush dropped them
    for username, group in (("regulator", REGULATOR), ("analyst", ANALYST)):
        user = django_user_model.objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=group))


@pytest.fixture
def log_in(page, live_server):
    """``log_in("regulator")``: sign in through the admin's login form."""

    def sign_in(username: str):
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")
        return page

    return sign_in


@pytest.fixture
def screenshot():
    def save(page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
