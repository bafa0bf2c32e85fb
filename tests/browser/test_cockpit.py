"""The regulator's cockpit in a real browser, on the demo world."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from licences.models import AllocationRound, ImportLicence

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dashboard_charts_show_the_demo_numbers(demo_world, log_in, live_server, screenshot):
    page = log_in("regulator")
    page.click("text=Open the dashboard")
    expect(page.locator("h1")).to_have_text("Regulator's dashboard")
    rounds = page.locator("#rounds svg")
    expect(rounds.nth(0)).to_contain_text("Units: 328,000 of 400,000 granted (82.0 %)")
    expect(rounds.nth(0)).to_contain_text("+ 90,000 units pending in 2 application(s)")
    expect(rounds.nth(1)).to_contain_text("Value: USD 9.336 bn of USD 10 bn granted (93.4 %)")
    coverage = page.locator("#coverage svg")
    expect(coverage).to_contain_text("Alibaba Group")
    expect(coverage).to_contain_text("66.7 % · short 20,000 units")
    expect(coverage).to_contain_text("106.7 % · covered")
    expect(page.locator("#customs svg")).to_contain_text("5 · 180,000 u.")
    expect(page.locator("#customs table")).to_contain_text("DEC-2026-000105")
    expect(page.locator("#findings svg")).to_contain_text("quota shortfall")
    expect(page.locator("#expiring-licences")).to_contain_text("LIC-2026-BDC-H200-001")
    expect(page.locator("#expiring-attestations")).to_contain_text("Recipient security procedures")
    # The bars are drawn: Alibaba's coverage bar is red and two thirds of the way to the target.
    assert page.locator("#coverage rect.chart-bar-short").count() == 1
    screenshot(page, "dashboard.png")


def test_company_page_from_the_dashboard(demo_world, log_in, screenshot):
    page = log_in("regulator")
    page.click("#dashboard-link")
    page.locator("#coverage table").get_by_role("link", name="Alibaba Group").click()
    expect(page.locator("h1")).to_have_text("Alibaba Group")
    expect(page.locator("#licences")).to_contain_text("120,000 used, 30,000 reserved, 50,000 remaining")
    expect(page.locator("#quota")).to_contain_text("66.7 % · short 20,000 units")
    expect(page.locator("#company-status")).to_have_text("Non-compliant")
    screenshot(page, "company.png")
    page.fill("#id_commit_quantity", "20000")
    page.select_option("#id_commit_chip", "ASCEND-910B")
    page.click("text=What if?")
    expect(page.locator("#position-what-if")).to_contain_text("100.0 %")


def test_regulator_approves_deepseeks_licence(demo_world, log_in, live_server):
    page = log_in("regulator")
    page.goto(f"{live_server.url}/admin/cockpit/company/deepseek/")
    page.locator("#licence-LIC-2026-DSK-H200-001 a.decision-approve").click()
    expect(page.locator("#id_granted_quantity")).to_have_value("10000")
    page.click("input[name=_confirm]")
    expect(page.locator("ul.messagelist li.success")).to_have_text("LIC-2026-DSK-H200-001: approved.")
    assert ImportLicence.objects.get(number="LIC-2026-DSK-H200-001").status == "approved"
    assert AllocationRound.objects.get().granted_units == 338_000


def test_tencents_cap_breaking_approval_is_refused_with_a_readable_message(demo_world, log_in, live_server):
    page = log_in("regulator")
    page.goto(f"{live_server.url}/admin/cockpit/company/tencent/")
    page.locator("#licence-LIC-2026-TEN-H200-001 a.decision-approve").click()
    page.click("input[name=_confirm]")
    error = page.locator("ul.messagelist li.error")
    expect(error).to_contain_text("LIC-2026-TEN-H200-001: refused.")
    expect(error).to_contain_text(
        "Granting 80,000 units (USD 2,400,000,000.00) would exceed Wave 1, January 2026's cap"
    )
    expect(page.locator("body")).not_to_contain_text("Traceback")
    assert ImportLicence.objects.get(number="LIC-2026-TEN-H200-001").status == "applied"
    assert AllocationRound.objects.get().granted_units == 328_000


def test_regulator_resolves_a_finding(demo_world, log_in, live_server):
    page = log_in("regulator")
    page.goto(f"{live_server.url}/admin/cockpit/company/alibaba/")
    row = page.locator("#findings tr", has_text="short of the domestic-purchase quota")
    row.locator("a.decision-resolve").click()
    page.fill("#id_reason", "Contract for 20,000 Ascend 910B signed.")
    page.click("input[name=_confirm]")
    expect(page.locator("ul.messagelist li.success")).to_contain_text("resolved")
    expect(page.locator("body")).to_contain_text("Contract for 20,000 Ascend 910B signed.")
    page.goto(f"{live_server.url}/admin/cockpit/company/alibaba/")
    expect(page.locator("#findings")).not_to_contain_text("short of the domestic-purchase quota")


def test_analyst_reads_everything_but_finds_no_decision_buttons(demo_world, log_in, live_server):
    page = log_in("analyst")
    page.click("#dashboard-link")
    expect(page.locator("#rounds svg").nth(0)).to_contain_text("328,000 of 400,000")
    for slug in ("deepseek", "tencent", "alibaba"):
        page.goto(f"{live_server.url}/admin/cockpit/company/{slug}/")
        expect(page.locator("h1")).to_be_visible()
        assert page.locator(".decision-button").count() == 0
        assert page.locator("#run-check").count() == 0
    licence = ImportLicence.objects.get(number="LIC-2026-DSK-H200-001")
    page.goto(f"{live_server.url}/admin/licences/importlicence/{licence.pk}/change/")
    expect(page.locator("#content")).to_contain_text("LIC-2026-DSK-H200-001")
    assert page.locator(".decision-button").count() == 0
    assert page.locator("input[name=_save]").count() == 0
    page.goto(f"{live_server.url}/admin/licences/importlicence/")
    options = page.locator("select[name=action] option").all_inner_texts()
    assert not [option for option in options if re.search(r"Approve|Suspend|Revoke|Reject|Reinstate", option)]
    assert "Export selected import licences" in options  # CSV or XLSX, on the next page
