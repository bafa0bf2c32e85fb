"""Alerts in the recipient's language: e-mails written to files by Django's file backend (what a
mail server would receive), the daily digest, and webhooks delivered to a real receiver."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path

import pytest

from compliance.alerts import send_daily_digest
from compliance.models import WebhookDelivery
from licences.models import Shipment
from tests.compliance.conftest import approved_licence, make_company, staff_reader, subscription
from tests.factories import FindingFactory, ShipmentFactory, at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_local_receivers")]

D = dt.date
CHINESE_REGULATOR = "duty-officer@mofcom.example"
ENGLISH_REGULATOR = "auditor@mofcom.example"
DEFAULT_REGULATOR = "shared-inbox@mofcom.example"


@pytest.fixture
def mail_dir(settings, tmp_path) -> Path:
    """Every e-mail sent is written as a file under the returned directory (Django's file backend)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    return tmp_path


def received(mail_dir: Path) -> dict[str, list[email.message.EmailMessage]]:
    """The messages written to ``mail_dir``, parsed as a mail server would, by recipient."""
    messages: dict[str, list[email.message.EmailMessage]] = {}
    for path in sorted(mail_dir.iterdir()):
        # The file backend writes each message followed by a line of dashes.
        for raw in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if raw.strip():
                message = email.message_from_bytes(raw, policy=email.policy.default)
                messages.setdefault(str(message["To"]), []).append(message)  # type: ignore[arg-type]
    return messages


def subject(message: email.message.EmailMessage) -> str:
    """The decoded subject (a long encoded one is folded onto continuation lines, which start with a space)."""
    return str(message["Subject"]).strip()


def body(message: email.message.EmailMessage) -> str:
    return message.get_content()  # type: ignore[no-any-return]


@pytest.fixture
def regulators(settings):
    """Three regulator addresses: one reads Chinese, one English, one chose nothing (the default, Chinese)."""
    settings.REGULATOR_ALERT_EMAILS = [CHINESE_REGULATOR, ENGLISH_REGULATOR, DEFAULT_REGULATOR]
    staff_reader(CHINESE_REGULATOR, "zh-hans")
    staff_reader(ENGLISH_REGULATOR, "en")
    staff_reader(DEFAULT_REGULATOR, "")


@pytest.fixture
def held_world():
    """Alibaba (reads Chinese) and Tencent (reads English), each with a shipment held since 1 Feb 2026."""
    alibaba = make_company(
        "alibaba", name="Alibaba Group", name_zh="阿里巴巴", language="zh-hans", emails=("compliance@alibaba.example",)
    )
    tencent = make_company("tencent", name="Tencent", name_zh="腾讯", language="en", emails=("sec@tencent.example",))
    for company, number in ((alibaba, "DEC-ALI-1"), (tencent, "DEC-TEN-1")):
        ShipmentFactory(
            licence=approved_licence(company, reserved_quantity=100), declaration_number=number,
            status=Shipment.Status.HELD, held_since=at(D(2026, 2, 1)), status_changed_at=at(D(2026, 2, 1)),
            declared_at=at(D(2026, 2, 1)), port_of_entry="Shanghai Pudong",
        )  # fmt: skip
    return alibaba, tencent


ALIBABA_ZH = "[合规] 新增合规事项（警告）：阿里巴巴的货物批次 DEC-ALI-1 自 2026年2月1日起在 Shanghai Pudong 被海关扣留"
ALIBABA_EN = (
    "[Compliance] New warning finding: Alibaba Group's shipment DEC-ALI-1 has been held at Shanghai Pudong since "
    "2026-02-01 (8 days)"
)
TENCENT_ZH = "[合规] 新增合规事项（警告）：腾讯的货物批次 DEC-TEN-1 自 2026年2月1日起在 Shanghai Pudong 被海关扣留"
TENCENT_EN = (
    "[Compliance] New warning finding: Tencent's shipment DEC-TEN-1 has been held at Shanghai Pudong since "
    "2026-02-01 (8 days)"
)


def test_an_alert_e_mail_in_each_recipients_language(mail_dir, regulators, held_world, sweep_on):
    sweep_on(D(2026, 2, 9))
    inbox = received(mail_dir)
    subjects = {address: sorted(subject(message) for message in messages) for address, messages in inbox.items()}
    assert subjects == {
        "compliance@alibaba.example": [ALIBABA_ZH],
        "sec@tencent.example": [TENCENT_EN],
        CHINESE_REGULATOR: sorted([ALIBABA_ZH, TENCENT_ZH]),
        ENGLISH_REGULATOR: sorted([ALIBABA_EN, TENCENT_EN]),
        DEFAULT_REGULATOR: sorted([ALIBABA_ZH, TENCENT_ZH]),
    }
    [chinese] = inbox["compliance@alibaba.example"]
    assert body(chinese).splitlines()[:8] == [
        "新增合规事项（警告）：阿里巴巴的货物批次 DEC-ALI-1 自 2026年2月1日起在 Shanghai Pudong 被海关扣留",
        "",
        "企业：      阿里巴巴 (alibaba)",
        "规则：      货物被海关扣留超期 (customs_hold_overdue)",
        "严重程度：  警告",
        "对象：      shipment:DEC-ALI-1",
        "状态：      未处理",
        "首次发现：  2026年2月9日 12:00",
    ]
    assert body(chinese).splitlines()[-1] == (
        f"合规事项编号 {held_world[0].findings.get().pk}。合规事项处于未处理或已确认状态期间，不会重复发送预警。"
    )
    [english] = inbox["sec@tencent.example"]
    assert body(english).splitlines()[:8] == [
        TENCENT_EN.removeprefix("[Compliance] "),
        "",
        "Company:    Tencent (tencent)",
        "Rule:       Shipment held too long at customs (customs_hold_overdue)",
        "Severity:   warning",
        "Subject:    shipment:DEC-TEN-1",
        "Status:     open",
        "First seen: 9 Feb 2026 12:00",
    ]


def test_the_language_default_for_alerts_is_a_setting(mail_dir, settings, regulators, held_world, sweep_on):
    settings.ALERT_DEFAULT_LANGUAGE = "en"
    sweep_on(D(2026, 2, 9))
    inbox = received(mail_dir)
    assert sorted(subject(message) for message in inbox[DEFAULT_REGULATOR]) == sorted([ALIBABA_EN, TENCENT_EN])
    assert sorted(subject(message) for message in inbox[CHINESE_REGULATOR]) == sorted([ALIBABA_ZH, TENCENT_ZH])


def test_the_daily_digest_in_each_language(mail_dir, regulators, travel):
    alibaba = make_company(
        "alibaba", name="Alibaba Group", name_zh="阿里巴巴", language="zh-hans", emails=("compliance@alibaba.example",)
    )
    FindingFactory(
        company=alibaba, rule="licence_expiring", severity="warning", subject="licence:LIC-ALI-1",
        summary="Alibaba Group's licence LIC-ALI-1 expires on 2026-03-31 with 400 units unused",
        details={"licence": "LIC-ALI-1", "expires_on": "2026-03-31", "days_left": 30, "remaining_quantity": 400},
        first_seen_at=at(D(2026, 3, 1)),
    )  # fmt: skip
    travel(D(2026, 3, 2), hour=7)
    assert send_daily_digest() == 4
    inbox = received(mail_dir)
    [company] = inbox["compliance@alibaba.example"]
    assert subject(company) == "[合规] 每日汇总 2026年3月2日：阿里巴巴"
    assert body(company).splitlines() == [
        "2026年3月2日 合规每日汇总：阿里巴巴",
        "合规事项：未处理或已确认 1 项；过去 24 小时新增 1 项，已解决 0 项",
        "",
        "存在风险：",
        "* 阿里巴巴 (alibaba)",
        "  - [警告] 许可证即将到期且尚有未使用数量：阿里巴巴的许可证 LIC-ALI-1 将于 2026年3月31日到期，"
        "尚有 400 片未使用（自 2026年3月1日起）",
    ]
    [chinese] = inbox[CHINESE_REGULATOR]
    assert subject(chinese) == "[合规] 每日汇总 2026年3月2日"
    assert body(chinese).splitlines()[:2] == [
        "2026年3月2日 合规每日汇总",
        "企业：1 家（合规 0 家，存在风险 1 家，不合规 0 家）",
    ]
    assert body(inbox[DEFAULT_REGULATOR][0]) == body(chinese)
    [english] = inbox[ENGLISH_REGULATOR]
    assert subject(english) == "[Compliance] Daily digest 2 Mar 2026"
    assert body(english).splitlines() == [
        "Compliance digest for 2 Mar 2026",
        "Companies: 1 (0 compliant, 1 at risk, 0 non-compliant)",
        "Findings: 1 open or acknowledged; last 24 hours: 1 opened, 0 resolved",
        "",
        "At risk:",
        "* Alibaba Group (alibaba)",
        "  - [warning] Licence expiring with quantity unused: Alibaba Group's licence LIC-ALI-1 expires on "
        "2026-03-31 with 400 units unused (since 1 Mar 2026)",
    ]


def test_a_webhook_carries_a_summary_in_the_subscriptions_language(
    held_world, receiver, sweep_on, eager_celery, django_capture_on_commit_callbacks
):
    alibaba, _ = held_world
    subscription(receiver.url, company=alibaba, name="zh", language="zh-hans")
    subscription(receiver.url, company=alibaba, name="en", language="en")
    with django_capture_on_commit_callbacks(execute=True):
        sweep_on(D(2026, 2, 9))
    assert WebhookDelivery.objects.filter(status=WebhookDelivery.Status.DELIVERED).count() == 2
    by_language = {payload["language"]: payload for payload in receiver.bodies()}
    assert set(by_language) == {"zh-hans", "en"}
    chinese, english = by_language["zh-hans"], by_language["en"]
    assert chinese["summary"] == ALIBABA_ZH.removeprefix("[合规] ")
    assert english["summary"] == ALIBABA_EN.removeprefix("[Compliance] ")
    # Every machine field is the same whatever the language (the delivery id differs per subscription).
    machine = ("type", "created_at", "finding")
    assert {key: chinese[key] for key in machine} == {key: english[key] for key in machine}
    assert chinese["finding"]["summary"] == english["finding"]["summary"] == ALIBABA_EN.split(": ", 1)[1]
    assert chinese["finding"]["company"] == {"id": alibaba.pk, "slug": "alibaba", "name": "Alibaba Group"}
    assert set(chinese) == set(english) == {"id", "type", "created_at", "language", "summary", "finding"}
