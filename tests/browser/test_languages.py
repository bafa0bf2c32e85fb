"""The cockpit and a licence decision in a real browser, in each language: no string of the
other language on the dashboard, a company page, a licence approval through the admin action
(its confirmation page and the message after it) and the policy-impact page (issue 15).

What "no string of the other language" means, precisely (:func:`foreign_text`):

- The text checked is what the page shows people: every visible text node and the label of
  every button, except inside an element marked ``translate="no"`` (HTML's own marker for
  content not to be translated: names, codes and what people typed, such as a port of entry
  or a reason) and the data the test world was loaded with (round, policy, requirement title
  and code, chip and user names: :func:`data_strings`), which is shown as it was entered.
- In Chinese, after that, no run of two or more Latin letters may remain, except tokens
  holding a digit (codes and numbers: ``LIC-2026-DSK-H200-001``, ``H20``, ``82.0``) and the
  names in :data:`ALLOWED_LATIN` (currency codes, file formats, brand names).
- In English, no CJK character (ideographs, CJK punctuation, full-width forms) may remain:
  company names are shown in English (``Company.display_name``), so there is no exception.

Screenshots of each page in each language are saved as ``<page>-<language>.png`` (under
var/screenshots, or docs/screenshots with SCREENSHOTS_DIR=docs/screenshots).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from compliance.models import SecurityRequirement
from licences.models import AllocationRound, ChipModel, Company, ImportLicence, Shipment
from quotas.models import QuotaPolicy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Latin words a Chinese page may carry: currency codes, file formats, names of products.
ALLOWED_LATIN = {"USD", "CNY", "CSV", "XLSX", "API", "Django", "Webhook", "SHA", "ID"}
LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z'\u2019-]*[A-Za-z]")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
CHINESE_NAMES = {"alibaba": "阿里巴巴", "tencent": "腾讯", "bytedance": "字节跳动", "deepseek": "深度求索"}
LOCALES = {"en": "en-GB", "zh-hans": "zh-CN"}

# The page's text for people: visible text nodes and button labels, outside translate="no".
VISIBLE_TEXT = """() => {
  const parts = [];
  const skipped = (element) => element.closest('[translate="no"], script, style, template, noscript');
  const visible = (element) => {
    const style = getComputedStyle(element);
    return style.display !== 'none' && style.visibility !== 'hidden' && element.getClientRects().length > 0;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || skipped(parent) || !node.textContent.trim()) continue;
    if (parent.closest('svg') ? !visible(parent.closest('svg')) : !visible(parent)) continue;
    parts.push(node.textContent.trim());
  }
  for (const input of document.querySelectorAll('input[type=submit], input[type=button]')) {
    if (!skipped(input) && visible(input)) parts.push(input.value);
  }
  return parts.join('\\n');
}"""


def data_strings() -> list[str]:
    """What the test world was loaded with and the pages show as entered, longest first."""
    strings = {
        *AllocationRound.objects.values_list("name", flat=True),
        *QuotaPolicy.objects.values_list("name", flat=True),
        *SecurityRequirement.objects.values_list("title", flat=True),
        *SecurityRequirement.objects.values_list("code", flat=True),
        *ChipModel.objects.values_list("name", flat=True),
        *ChipModel.objects.values_list("vendor", flat=True),
        *Shipment.objects.values_list("port_of_entry", flat=True),
        "regulator",
        "analyst",
    }
    return sorted((text for text in strings if text), key=len, reverse=True)


def _without_data(text: str) -> str:
    for data in data_strings():
        text = text.replace(data, " ")
    return text


def foreign_text(text: str, language: str) -> list[str]:
    """The runs of the other language left in ``text`` (see the module docstring)."""
    text = _without_data(text)
    if language == "en":
        return sorted({line.strip() for line in text.splitlines() if CJK.search(line)})
    found = set()
    for line in text.splitlines():
        for token in line.split():
            if re.search(r"\d", token):
                continue  # a code or a number
            for run in LATIN_RUN.findall(token):
                if run in ALLOWED_LATIN:
                    continue
                found.add(f"{run!r} in {line.strip()!r}")
    return sorted(found)


def assert_in_language(page, language: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", language)
    offending = foreign_text(page.evaluate(VISIBLE_TEXT), language)
    assert offending == [], f"{page.url}: {offending}"


@pytest.fixture
def page_in(browser, live_server):
    contexts = []

    def open_page(language: str):
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale=LOCALES[language])
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def chinese_names(demo_world):
    """The demo companies' Chinese names, where the demo loader has not set them."""
    for slug, name_zh in CHINESE_NAMES.items():
        Company.objects.filter(slug=slug, name_zh="").update(name_zh=name_zh)


HEADINGS = {
    "en": {"dashboard": "Regulator's dashboard", "impact": "Policy impact", "done": "approved"},
    "zh-hans": {"dashboard": "监管总览", "impact": "政策影响", "done": "已批准"},
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_cockpit_is_wholly_in_the_browser_s_language(language, chinese_names, page_in, live_server, screenshot):
    words = HEADINGS[language]
    page = page_in(language)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/cockpit/")
    assert_in_language(page, language)
    page.fill("#id_username", "regulator")
    page.fill("#id_password", "browser-test-pw")
    page.click("input[type=submit]")
    expect(page.locator("h1")).to_have_text(words["dashboard"])
    assert_in_language(page, language)
    screenshot(page, f"dashboard-{language}.png")

    alibaba = Company.objects.get(slug="alibaba")
    name = alibaba.name_zh if language == "zh-hans" else alibaba.name
    page.locator("#coverage table").get_by_role("link", name=name).click()
    expect(page.locator("h1")).to_have_text(name)
    assert_in_language(page, language)
    screenshot(page, f"company-{language}.png")

    # A licence decision: the admin action on the changelist, its confirmation page, the message.
    licence = ImportLicence.objects.get(number="LIC-2026-DSK-H200-001")
    page.goto(f"{live_server.url}/admin/licences/importlicence/")
    assert_in_language(page, language)
    page.check(f"input[name=_selected_action][value='{licence.pk}']")
    page.select_option("select[name=action]", "decide_approve")
    page.click("button[name=index]")
    expect(page.locator("#decision-form")).to_be_visible()
    assert_in_language(page, language)
    screenshot(page, f"licence-decision-{language}.png")
    page.click("input[name=_confirm]")
    expect(page.locator("ul.messagelist li.success")).to_contain_text(words["done"])
    assert_in_language(page, language)
    licence.refresh_from_db()
    assert licence.status == "approved"

    page.goto(f"{live_server.url}/admin/cockpit/policy-impact/")
    expect(page.locator("h1")).to_have_text(words["impact"])
    assert_in_language(page, language)
    screenshot(page, f"policy-impact-{language}.png")


def test_the_check_finds_english_in_chinese_and_chinese_in_english():
    assert foreign_text("监管总览\n许可证 LIC-2026-DSK-H200-001 已批准\n93.36亿美元 CSV", "zh-hans") == []
    assert foreign_text("配额状况\nQuota position 配额", "zh-hans") == [
        "'Quota' in 'Quota position 配额'",
        "'position' in 'Quota position 配额'",
    ]
    assert foreign_text("Regulator's dashboard\nUSD 9.336 bn", "en") == []
    assert foreign_text("Company page\n企业页面", "en") == ["企业页面"]
