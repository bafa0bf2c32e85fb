"""The admin and cockpit in both languages: the browser's language, the header's switch, the
remembered choice, Chinese company names, formats and export headers (issue 15)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from compliance.models import StaffProfile
from licences.models import Company, ImportLicence
from tests.admin_exports import export_rows

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


def test_without_accept_language_the_cockpit_is_english(regulator_client, demo):
    page = regulator_client.get(reverse("cockpit:dashboard")).content.decode()
    assert "<h1>Regulator&#x27;s dashboard</h1>" in page and "监管总览" not in page
    assert '<html lang="en"' in page


def test_the_browser_s_chinese_gives_the_cockpit_in_chinese(regulator_client, demo):
    page = regulator_client.get(reverse("cockpit:dashboard"), **ZH).content.decode()
    assert '<html lang="zh-hans"' in page
    assert "<h1>监管总览</h1>" in page
    assert "截至 2026年" in page  # the as-of date in the Chinese format
    assert "数量：上限 400,000 片，已核定 328,000 片（82.0 %）" in page
    assert "金额：上限 100亿美元，已核定 93.36亿美元（93.4 %）" in page
    assert "Regulator" not in page.split("<h1>")[1].split("</h1>")[0]


def test_chinese_company_names_in_chinese_english_names_in_english(regulator_client, demo):
    Company.objects.filter(slug="alibaba").update(name_zh="阿里巴巴")
    zh = regulator_client.get(reverse("cockpit:company", args=["alibaba"]), **ZH).content.decode()
    assert "<h1>阿里巴巴</h1>" in zh
    changelist = regulator_client.get(reverse("admin:licences_company_changelist"), **ZH).content.decode()
    assert "阿里巴巴" in changelist
    en = regulator_client.get(reverse("cockpit:company", args=["alibaba"])).content.decode()
    assert "<h1>Alibaba Group</h1>" in en and "阿里巴巴" not in en
    company = Company.objects.get(slug="alibaba")
    with translation.override("zh-hans"):
        assert (company.display_name, str(company)) == ("阿里巴巴", "阿里巴巴")
    with translation.override("en"):
        assert (company.display_name, str(company)) == ("Alibaba Group", "Alibaba Group")


def test_the_header_switch_changes_the_language_and_remembers_it(regulator, regulator_client, demo):
    dashboard = reverse("cockpit:dashboard")
    page = regulator_client.get(dashboard).content.decode()
    assert 'id="language-switch"' in page and 'action="/i18n/setlang/"' in page
    response = regulator_client.post(reverse("set_language"), {"language": "zh-hans", "next": dashboard})
    assert (response.status_code, response["Location"]) == (302, dashboard)
    assert StaffProfile.objects.get(user=regulator).language == "zh-hans"
    assert "<h1>监管总览</h1>" in regulator_client.get(dashboard).content.decode()
    # Another browser (no cookie, English Accept-Language): the remembered choice wins.
    elsewhere = Client(HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    elsewhere.force_login(regulator)
    assert "<h1>监管总览</h1>" in elsewhere.get(dashboard).content.decode()
    # Switching back is remembered too.
    elsewhere.post(reverse("set_language"), {"language": "en", "next": dashboard})
    assert StaffProfile.objects.get(user=regulator).language == "en"
    third = Client(**ZH)
    third.force_login(regulator)
    assert "<h1>Regulator&#x27;s dashboard</h1>" in third.get(dashboard).content.decode()


def test_a_user_without_a_chosen_language_follows_the_browser(regulator, regulator_client, demo):
    StaffProfile.objects.create(user=regulator, language="")
    client = Client(**ZH)
    client.force_login(regulator)
    assert "<h1>监管总览</h1>" in client.get(reverse("cockpit:dashboard")).content.decode()
    assert "<h1>Regulator&#x27;s dashboard</h1>" in regulator_client.get(reverse("cockpit:dashboard")).content.decode()


def test_an_unknown_language_is_not_stored(regulator, regulator_client):
    regulator_client.post(reverse("set_language"), {"language": "xx", "next": "/admin/"})
    assert not StaffProfile.objects.filter(user=regulator).exists()


def test_the_api_follows_accept_language_not_the_remembered_choice(regulator, regulator_client, demo):
    StaffProfile.objects.create(user=regulator, language="zh-hans")
    client = Client()
    client.force_login(regulator)
    response = client.get("/api/v1/licences/?page=1")
    assert response.headers.get("Content-Language", "en") == "en"


def test_licence_decision_in_chinese_confirmation_and_message(regulator_client, demo):
    licence = ImportLicence.objects.get(number="LIC-2026-DSK-H200-001")
    url = reverse("admin:licences_importlicence_decide", args=[licence.pk, "approve"])
    page = regulator_client.get(url, **ZH).content.decode()
    assert "批准以下进口许可证：" in page and "申请 10,000 片" in page and 'value="确认批准"' in page
    response = regulator_client.post(
        url,
        {"granted_quantity": "10000", "valid_from": "2026-01-23", "valid_until": "2026-12-31"},
        follow=True,
        **ZH,
    )
    messages = [str(message) for message in response.context["messages"]]
    assert messages == ["LIC-2026-DSK-H200-001：已批准。"]


def test_admin_action_confirmation_in_chinese(regulator_client, demo):
    pks = list(ImportLicence.objects.filter(status="applied").order_by("pk").values_list("pk", flat=True))
    page = regulator_client.post(
        reverse("admin:licences_importlicence_changelist"),
        {"action": "decide_approve", "_selected_action": [str(pk) for pk in pks]},
        **ZH,
    ).content.decode()
    assert f"批准以下 {len(pks)} 项进口许可证：" in page
    assert "核定数量" in page and "有效期至" in page and "不，返回" in page


@pytest.mark.parametrize(("language", "expected"), [("en", "granted_quantity"), ("zh-hans", "核定数量")])
def test_export_headers_in_the_language(regulator_client, demo, language, expected):
    licence = ImportLicence.objects.get(number="LIC-2026-ALI-H200-001")
    regulator_client.cookies["django_language"] = language
    rows = export_rows(regulator_client, "licences_importlicence", [licence.pk])
    assert expected in rows[0]


def test_policy_impact_csv_headers_in_chinese(regulator_client, demo):
    from quotas.models import QuotaPolicy

    draft = QuotaPolicy.objects.filter(status="draft").first()
    response = regulator_client.get(reverse("cockpit:policy-impact"), {"draft": draft.pk, "format": "csv"}, **ZH)
    header = next(csv.reader(io.StringIO(response.content.decode())))
    assert header[:3] == ["企业", "企业代码", "现行政策"]


def test_dates_and_numbers_per_language():
    from django.utils.formats import date_format, number_format

    day = dt.date(2026, 1, 23)
    with translation.override("en"):
        assert date_format(day) == "23 Jan 2026"
        assert number_format(1234567, force_grouping=True) == "1,234,567"
    with translation.override("zh-hans"):
        assert date_format(day) == "2026年1月23日"
        assert number_format(1234567, force_grouping=True) == "1,234,567"


def test_money_carries_its_currency_in_each_language():
    from cockpit import charts

    with translation.override("en"):
        assert [charts.usd(9_336_000_000), charts.usd(2_400_000), charts.usd(950)] == [
            "USD 9.336 bn",
            "USD 2.4 m",
            "USD 950",
        ]
    with translation.override("zh-hans"):
        assert [charts.usd(9_336_000_000), charts.usd(2_400_000), charts.usd(950)] == [
            "93.36亿美元",
            "240万美元",
            "950美元",
        ]


def test_time_zone_is_shanghai_in_either_language(settings):
    assert settings.TIME_ZONE == "Asia/Shanghai"


def test_the_quota_heading_names_the_basis_and_measure_in_each_language(regulator_client, demo):
    url = reverse("cockpit:company", args=["alibaba"])
    en = regulator_client.get(url).content.decode()
    assert "(30.0 % by Units, on granted quantity of approved licences)</h2>" in en
    zh = regulator_client.get(url, **ZH).content.decode()
    assert "（按数量（片）计 30.0 %，依据已批准许可证的核定数量）</h2>" in zh


def test_a_refused_decision_reads_in_chinese(regulator_client, demo):
    licence = ImportLicence.objects.get(number="LIC-2026-TEN-H200-001")
    url = reverse("admin:licences_importlicence_decide", args=[licence.pk, "approve"])
    response = regulator_client.post(
        url, {"granted_quantity": "80000", "valid_from": "2026-01-23", "valid_until": "2026-12-31"}, follow=True, **ZH
    )
    [message] = [str(message) for message in response.context["messages"]]
    assert message.startswith("LIC-2026-TEN-H200-001：已驳回。核定 80,000 片（2,400,000,000.00 美元）将超出 ")
    assert "上限" in message and "Granting" not in message
    english = regulator_client.post(
        url, {"granted_quantity": "80000", "valid_from": "2026-01-23", "valid_until": "2026-12-31"}, follow=True
    )
    [message] = [str(message) for message in english.context["messages"]]
    assert message.startswith(
        "LIC-2026-TEN-H200-001: refused. Granting 80,000 units (USD 2,400,000,000.00) would exceed"
    )


def test_the_services_change_reasons_show_in_the_page_s_language(regulator_client, demo):
    """The sweep stores its change reasons in English (a fixed message each); the company page's
    history shows them translated."""
    from compliance.sweep import run_sweep

    run_sweep()
    page = reverse("cockpit:company", args=["alibaba"])
    zh = regulator_client.get(page, **ZH).content.decode()
    assert "由合规检查开立" in zh and "Opened by the compliance sweep" not in zh
    en = regulator_client.get(page).content.decode()
    assert "Opened by the compliance sweep" in en and "由合规检查开立" not in en
