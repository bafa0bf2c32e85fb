"""Findings written for people: in English the summary the rule recorded, in Chinese a sentence
rebuilt from the finding's machine fields, one per rule (none falls back to the title)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import translation

from compliance import finding_text
from compliance.rules import SWEPT_RULES
from tests.compliance.conftest import make_company
from tests.factories import FindingFactory, at

pytestmark = pytest.mark.django_db

# rule, subject, details (as the rule writes them), the Chinese sentence
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "quota_shortfall",
        "company:alibaba",
        {"policy": "Domestic purchase rule v1", "basis": "units", "shortfall": "20000", "coverage": "0.7142857",
         "grace_ends_on": "2026-03-01"},
        "阿里巴巴的国产芯片采购配额缺口为 20,000 片（已覆盖 71.43%），依据配额政策 Domestic purchase rule v1",
    ),
    (
        "quota_at_risk",
        "company:alibaba",
        {"policy": "Compute rule v2", "basis": "compute", "shortfall": "1500.5", "coverage": "0.5",
         "grace_ends_on": "2026-03-01"},
        "阿里巴巴的国产芯片采购配额缺口为 1,500.5 H20 当量（已覆盖 50.00%），依据配额政策 Compute rule v2"
        "；宽限期至 2026年2月28日",
    ),
    (
        "security_gap",
        "requirement:end-user-verification",
        {"requirement": "end-user-verification"},
        "阿里巴巴持有出口管制芯片的许可证，但缺少 end-user-verification 的有效安全合规证明",
    ),
    (
        "security_expiring",
        "requirement:end-user-verification",
        {"requirement": "end-user-verification", "expires_on": "2026-03-31", "days_left": 30},
        "阿里巴巴的 end-user-verification 安全合规证明将于 2026年3月31日到期",
    ),
    (
        "shipment_condition_gap",
        "shipment:DEC-1:lot-testing",
        {"shipment": "DEC-1", "requirement": "lot-testing", "chip": "H200"},
        "阿里巴巴的 H200 货物批次 DEC-1 缺少已通过审核的 lot-testing 安全合规证明",
    ),
    (
        "licence_expiring",
        "licence:LIC-1",
        {"licence": "LIC-1", "expires_on": "2026-03-31", "days_left": 9, "remaining_quantity": 12000},
        "阿里巴巴的许可证 LIC-1 将于 2026年3月31日到期，尚有 12,000 片未使用",
    ),
    (
        "licence_nearly_exhausted",
        "licence:LIC-1",
        {"licence": "LIC-1", "granted": 200000, "reserved": 30000, "used": 155000},
        "阿里巴巴的许可证 LIC-1 已使用 92.5%（核定数量 200,000 片，已预留或使用 185,000 片）",
    ),
    (
        "customs_hold_overdue",
        "shipment:DEC-9",
        {"shipment": "DEC-9", "held_since": "2026-02-20", "port_of_entry": "Shanghai Pudong"},
        "阿里巴巴的货物批次 DEC-9 自 2026年2月20日起在 Shanghai Pudong 被海关扣留",
    ),
    (
        "entry_block_shipment",
        "shipment:DEC-7",
        {"shipment": "DEC-7", "directive": "GACC-2026-017", "chip": "H20", "status": "held"},
        "阿里巴巴的 H20 货物批次 DEC-7 在禁止入境指令 GACC-2026-017 生效期间申报（当前状态：扣留）",
    ),
    (
        "commitment_overdue",
        "commitment:5",
        {"commitment": 5, "contract_reference": "CTR-9", "due_date": "2026-01-31", "quantity": 10000,
         "delivered_quantity": 2500},
        "阿里巴巴的国产芯片采购承诺 CTR-9（10,000 片）应于 2026年1月31日前交付，已交付 2,500 片",
    ),
    (
        "licence_expired",
        "licence:LIC-1",
        {"licence": "LIC-1", "valid_until": "2026-01-31", "expired_on": "2026-02-01", "granted": 100, "used": 60,
         "reserved": 0},
        "阿里巴巴的许可证 LIC-1 已于 2026年2月1日失效（有效期至 2026年1月31日）；未使用数量已退回其分配轮次",
    ),
    (
        "ledger_tampered",
        "ledger:customs_events",
        {"stream": "customs_events", "model": "licences.customsevent", "pk": 3, "seq": 2, "reason": "hash"},
        "customs_events 账本校验未通过：记录在系统之外被改动",
    ),
    (
        "webhook_disabled",
        "webhook:4",
        {"subscription": 4, "url": "https://hooks.example.com/", "reason": "Disabled after 5 failures"},
        "回调通知（Webhook）订阅 #4 已停用：接收端持续投递失败",
    ),
]  # fmt: skip


def test_every_rule_has_a_sentence_and_a_title() -> None:
    rules = {rule for rule, *_ in CASES}
    assert rules >= SWEPT_RULES
    assert rules == set(finding_text.SENTENCES) == set(finding_text.RULE_TITLES)


@pytest.mark.parametrize(("rule", "subject", "details", "chinese"), CASES, ids=[case[0] for case in CASES])
def test_a_finding_in_chinese_and_in_english(rule: str, subject: str, details: dict[str, Any], chinese: str) -> None:
    company = make_company("alibaba", name="Alibaba Group", name_zh="阿里巴巴")
    finding = FindingFactory(
        company=company, rule=rule, subject=subject, details=details, summary="The rule's own English text",
        first_seen_at=at(dt.date(2026, 2, 1)),
    )  # fmt: skip
    with translation.override("zh-hans"):
        assert finding_text.summary(finding) == chinese
    with translation.override("en"):
        assert finding_text.summary(finding) == "The rule's own English text"


def test_details_of_another_shape_fall_back_to_the_title_in_chinese() -> None:
    company = make_company("tencent", name="Tencent", name_zh="")
    finding = FindingFactory(company=company, rule="licence_expiring", subject="licence:LIC-9", details={})
    with translation.override("zh-hans"):
        assert finding_text.summary(finding) == "Tencent：许可证即将到期且尚有未使用数量（licence:LIC-9）"


def test_dates_and_words_in_each_language() -> None:
    with translation.override("zh-hans"):
        assert finding_text.day(dt.date(2026, 1, 23)) == "2026年1月23日"
        assert finding_text.moment(at(dt.date(2026, 1, 23), hour=9)) == "2026年1月23日 09:00"
        assert [finding_text.severity_word(s) for s in ("info", "warning", "high", "critical")] == [
            "提示", "警告", "高", "严重",
        ]  # fmt: skip
        assert [finding_text.status_word(s) for s in ("open", "acknowledged", "resolved")] == [
            "未处理", "已确认", "已解决",
        ]  # fmt: skip
    with translation.override("en"):
        assert finding_text.day(dt.date(2026, 1, 23)) == "23 Jan 2026"
        assert finding_text.moment(at(dt.date(2026, 1, 23), hour=9)) == "23 Jan 2026 09:00"
        assert finding_text.severity_word("high") == "high"
