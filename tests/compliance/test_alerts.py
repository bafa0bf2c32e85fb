"""Reminders before expiry and the daily digest: exact content, once per recipient."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from compliance.alerts import reminder_stage, send_daily_digest, send_reminders
from compliance.models import AlertEmail, DigestEmail, Finding
from tests.compliance.conftest import approved_licence, company_requirement, make_company, staff_reader
from tests.factories import FindingFactory, SecurityAttestationFactory, at

pytestmark = pytest.mark.django_db

D = dt.date
REGULATOR = "regulator@mofcom.example"


@pytest.fixture(autouse=True)
def _regulators(settings, db):
    """The regulator's address, read by a staff user who chose English."""
    settings.REGULATOR_ALERT_EMAILS = [REGULATOR]
    staff_reader(REGULATOR, "en")


@pytest.mark.parametrize(
    ("on", "stage"),
    [
        (D(2026, 2, 28), None),  # 31 days left
        (D(2026, 3, 1), None),  # 30 days: the opening alert was the 30-day reminder
        (D(2026, 3, 23), None),  # 8 days
        (D(2026, 3, 24), 7),
        (D(2026, 3, 29), 7),
        (D(2026, 3, 30), 1),
        (D(2026, 3, 31), 1),  # the last valid day: still the 1-day stage (sent once)
        (D(2026, 4, 1), None),  # expired
    ],
)
def test_reminder_stages_for_an_attestation_expiring_31_march(on, stage):
    assert reminder_stage(expires_on=D(2026, 3, 31), on=on, first_seen_on=D(2026, 3, 1)) == stage


def test_a_finding_opened_late_still_gets_the_next_stage():
    assert reminder_stage(expires_on=D(2026, 3, 31), on=D(2026, 3, 20), first_seen_on=D(2026, 3, 20)) is None
    assert reminder_stage(expires_on=D(2026, 3, 31), on=D(2026, 3, 25), first_seen_on=D(2026, 3, 20)) == 7


def test_reminders_at_seven_and_one_days_each_sent_once(sweep_on, travel):
    company = make_company("tencent", name="Tencent", emails=("sec@tencent.example",))
    approved_licence(company)
    SecurityAttestationFactory(company=company, requirement=company_requirement(), expires_on=D(2026, 3, 31))
    sweep_on(D(2026, 3, 1))
    finding = Finding.objects.get(rule="security_expiring")
    mail.outbox.clear()
    sent_by_day = {}
    for day in (D(2026, 3, 2), D(2026, 3, 23), D(2026, 3, 24), D(2026, 3, 25), D(2026, 3, 30), D(2026, 3, 31)):
        travel(day, hour=7)
        send_reminders()
        sent_by_day[day] = [message.subject for message in mail.outbox]
        mail.outbox.clear()
    subject = "[Compliance] Reminder, {}: Tencent's attestation of End user verification expires on 2026-03-31"
    assert sent_by_day == {
        D(2026, 3, 2): [],
        D(2026, 3, 23): [],
        D(2026, 3, 24): [subject.format("7 days left")] * 2,
        D(2026, 3, 25): [],
        D(2026, 3, 30): [subject.format("1 day left")] * 2,
        D(2026, 3, 31): [],
    }
    assert sorted(
        AlertEmail.objects.filter(finding=finding, event="reminder").values_list("event_key", "recipient")
    ) == [
        ("1d:2026-03-31", REGULATOR),
        ("1d:2026-03-31", "sec@tencent.example"),
        ("7d:2026-03-31", REGULATOR),
        ("7d:2026-03-31", "sec@tencent.example"),
    ]


@pytest.fixture
def digest_world():
    """Alibaba: a high and an acknowledged warning; ByteDance: a warning; Tencent: a resolved one; Zhipu: none."""
    alibaba = make_company("alibaba", name="Alibaba", emails=("compliance@alibaba.example",))
    bytedance = make_company("bytedance", name="ByteDance", emails=("risk@bytedance.example",))
    tencent = make_company("tencent", name="Tencent", emails=("sec@tencent.example",))
    make_company("zhipu", name="Zhipu")
    FindingFactory(
        company=alibaba, rule="quota_shortfall", severity="high", subject="company:alibaba",
        summary="Alibaba is short of the domestic-purchase quota by 20,000 chips", first_seen_at=at(D(2026, 2, 20)),
    )  # fmt: skip
    FindingFactory(
        company=alibaba, rule="licence_expiring", severity="warning", subject="licence:LIC-ALI-1",
        summary="Alibaba's licence LIC-ALI-1 expires on 2026-03-31", status=Finding.Status.ACKNOWLEDGED,
        first_seen_at=at(D(2026, 3, 1)),
    )  # fmt: skip
    FindingFactory(
        company=bytedance, rule="customs_hold_overdue", severity="warning", subject="shipment:DEC-9",
        summary="ByteDance's shipment DEC-9 has been held at Shanghai Pudong since 2026-02-20 (9 days)",
        first_seen_at=at(D(2026, 3, 1), hour=13),
    )  # fmt: skip
    FindingFactory(
        company=tencent, rule="entry_block_shipment", severity="high", subject="shipment:DEC-7",
        summary="Tencent's shipment DEC-7 was declared during an entry block", status=Finding.Status.RESOLVED,
        first_seen_at=at(D(2026, 2, 1)), resolved_at=at(D(2026, 3, 1), hour=20),
    )  # fmt: skip


def test_daily_digest_content_for_the_regulator_and_each_company(travel, digest_world):
    travel(D(2026, 3, 2), hour=7)
    assert send_daily_digest() == 3  # the regulator, Alibaba, ByteDance (Tencent has nothing open)
    by_recipient = {message.to[0]: message for message in mail.outbox}
    assert set(by_recipient) == {REGULATOR, "compliance@alibaba.example", "risk@bytedance.example"}
    regulator = by_recipient[REGULATOR]
    assert regulator.subject == "[Compliance] Daily digest 2 Mar 2026"
    assert regulator.body.splitlines() == [
        "Compliance digest for 2 Mar 2026",
        "Companies: 4 (2 compliant, 1 at risk, 1 non-compliant)",
        "Findings: 3 open or acknowledged; last 24 hours: 2 opened, 1 resolved",
        "",
        "Non-compliant:",
        "* Alibaba (alibaba)",
        "  - [high] Short of the domestic-purchase quota: Alibaba is short of the domestic-purchase quota by "
        "20,000 chips (since 20 Feb 2026)",
        "  - [warning] Licence expiring with quantity unused: Alibaba's licence LIC-ALI-1 expires on 2026-03-31 "
        "(since 1 Mar 2026, acknowledged)",
        "",
        "At risk:",
        "* ByteDance (bytedance)",
        "  - [warning] Shipment held too long at customs: ByteDance's shipment DEC-9 has been held at Shanghai "
        "Pudong since 2026-02-20 (9 days) (since 1 Mar 2026)",
    ]
    bytedance = by_recipient["risk@bytedance.example"]
    assert bytedance.subject == "[Compliance] Daily digest 2 Mar 2026: ByteDance"
    assert bytedance.body.splitlines() == [
        "Compliance digest for 2 Mar 2026: ByteDance",
        "Findings: 1 open or acknowledged; last 24 hours: 1 opened, 0 resolved",
        "",
        "At risk:",
        "* ByteDance (bytedance)",
        "  - [warning] Shipment held too long at customs: ByteDance's shipment DEC-9 has been held at Shanghai "
        "Pudong since 2026-02-20 (9 days) (since 1 Mar 2026)",
    ]


def test_daily_digest_is_sent_once_a_day(travel, digest_world):
    travel(D(2026, 3, 2), hour=7)
    send_daily_digest()
    mail.outbox.clear()
    assert send_daily_digest() == 0
    assert mail.outbox == []
    assert DigestEmail.objects.filter(sent_at__isnull=False).count() == 3
    travel(D(2026, 3, 3), hour=7)
    assert send_daily_digest() == 3


def test_digest_with_nothing_open(travel):
    make_company("zhipu", name="Zhipu")
    travel(D(2026, 3, 2), hour=7)
    send_daily_digest()
    [message] = mail.outbox
    assert message.body.splitlines() == [
        "Compliance digest for 2 Mar 2026",
        "Companies: 1 (1 compliant, 0 at risk, 0 non-compliant)",
        "Findings: 0 open or acknowledged; last 24 hours: 0 opened, 0 resolved",
        "",
        "No open findings.",
    ]
