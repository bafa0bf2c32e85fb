"""Load the demo world drawn from docs/domain.md: H200 Wave 1, four importers, their conditions.

Idempotent: the whole world is written in one transaction, and a second run finds it
(by its first company's slug) and changes nothing. Writes with rules go through the
services, as the API and admin do.

The story is written as of its own day, ``DEMO_DAY`` (28 November 2026): the wave opened on
23 January 2026, a shipment has been held for three weeks, ByteDance's licence expires in
three weeks. Loaded on another day, every date and time of the story moves by the whole
number of days between that day and ``DEMO_DAY`` (``DemoCalendar``), so the world always looks
as it did on its own day, relative to today; names that carry a year or a month (the
round, licence and declaration numbers, contract references) follow the moved dates.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from compliance import services as compliance_services
from compliance.models import SecurityRequirement
from licences import services as licence_services
from licences.models import AllocationRound, ChipModel, Company, CustomsDirective, Shipment
from quotas import services as quota_services
from quotas.models import DomesticCommitment, QuotaPolicy

D = Decimal

DEMO_DAY = dt.date(2026, 11, 28)

# slug, name, Chinese name, category, the language its compliance officers read alerts in
# (Chinese for most; DeepSeek's officers read English, so the demo shows both).
COMPANIES = [
    ("alibaba", "Alibaba Group", "阿里巴巴", Company.Category.INTERNET_PLATFORM, "zh-hans"),
    ("tencent", "Tencent Holdings", "腾讯控股", Company.Category.INTERNET_PLATFORM, "zh-hans"),
    ("bytedance", "ByteDance", "字节跳动", Company.Category.INTERNET_PLATFORM, "zh-hans"),
    ("deepseek", "DeepSeek", "深度求索", Company.Category.AI_STARTUP, "en"),
]

# code, name, vendor, origin, export-controlled, compute index (H20 = 1), unit value USD
CHIPS = [
    ("H200", "NVIDIA H200", "NVIDIA", "foreign", True, D("6.000"), D("30000.00")),
    ("H20", "NVIDIA H20", "NVIDIA", "foreign", True, D("1.000"), D("12000.00")),
    ("ASCEND-910B", "Huawei Ascend 910B", "Huawei", "domestic", False, D("1.000"), D("12000.00")),
    ("ASCEND-910C", "Huawei Ascend 910C", "Huawei", "domestic", False, D("1.200"), D("15000.00")),
    ("HYGON-K100", "Hygon DCU K100", "Hygon (Haiguang Information)", "domestic", False, D("0.600"), D("6000.00")),
]

REQUIREMENTS = [
    (
        "recipient-security-procedures",
        "Recipient security procedures",
        "company",
        "The customer demonstrates adequate security procedures for the chips it receives.",
    ),
    (
        "end-user-verification",
        "End-user verification",
        "company",
        "Every end user of the imported chips is identified and verified.",
    ),
    (
        "no-military-end-use",
        "No military end use",
        "company",
        "A signed undertaking that no chip serves a military end use or end user.",
    ),
    (
        "third-party-lot-testing",
        "Independent third-party testing of each lot",
        "shipment",
        "Each shipment's lot is tested by an independent laboratory before release.",
    ),
]


class DemoCalendar:
    """The story's calendar: dates written as of ``DEMO_DAY``, moved to ``today``.

    ``day(2026, 1, 23)`` is 23 January 2026 on the demo's own day, and as many days later
    (or earlier) as ``today`` is after (or before) ``DEMO_DAY``. ``ago`` and ``ahead`` count
    from ``today``, which is ``DEMO_DAY`` moved the same way.
    """

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.shift = today - DEMO_DAY

    def day(self, year: int, month: int, day: int) -> dt.date:
        return dt.date(year, month, day) + self.shift

    def ago(self, days: int) -> dt.date:
        return self.today - dt.timedelta(days=days)

    def ahead(self, days: int) -> dt.date:
        return self.today + dt.timedelta(days=days)

    @staticmethod
    def at(day: dt.date, hour: int = 10) -> dt.datetime:
        """``hour`` o'clock on ``day`` in the service time zone."""
        return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


class Command(BaseCommand):
    help = "Load the demo world (idempotent: a second run changes nothing)."

    def handle(self, *args, **options) -> None:
        calendar = DemoCalendar(timezone.localdate())
        with transaction.atomic():
            created = self._load(calendar)
        if created:
            self.stdout.write(self.style.SUCCESS("Demo world loaded."))
        else:
            self.stdout.write("Demo world already present: nothing changed.")

    def _load(self, cal: DemoCalendar) -> bool:
        day, ago, ahead, at = cal.day, cal.ago, cal.ahead, cal.at
        if Company.objects.filter(slug="alibaba").exists():
            return False
        companies = {}
        for slug, name, name_zh, category, language in COMPANIES:
            companies[slug] = Company.objects.create(
                slug=slug,
                name=name,
                name_zh=name_zh,
                category=category,
                compliance_contact_emails=f"compliance@{slug}.example",
                preferred_language=language,
            )
        chips = {}
        for code, name, vendor, origin, controlled, compute, value in CHIPS:
            chips[code] = ChipModel.objects.create(
                code=code,
                name=name,
                vendor=vendor,
                origin=origin,
                export_controlled=controlled,
                compute_index=compute,
                reference_unit_value_usd=value,
            )
        opens_on = day(2026, 1, 23)
        wave = AllocationRound.objects.create(
            name=f"Wave 1, {opens_on:%B %Y}",
            unit_cap=400_000,
            value_cap_usd=D("10000000000.00"),
            opens_on=opens_on,
            closes_on=day(2026, 12, 31),
        )
        # Before the approval, customs told agents the H200 was not permitted to enter.
        blocked_from = day(2026, 1, 1)
        CustomsDirective.objects.create(
            reference=f"GACC-{blocked_from.year}-001",
            chip=chips["H200"],
            blocked_from=blocked_from,
            blocked_until=day(2026, 1, 22),
            reason="H200 not permitted to enter until import licences are granted.",
            issued_by="demo",
        )
        # A temporary block on H20 entries, live now.
        blocked_from = ago(10)
        CustomsDirective.objects.create(
            reference=f"GACC-{blocked_from.year}-017",
            chip=chips["H20"],
            blocked_from=blocked_from,
            blocked_until=ahead(20),
            reason="Temporary entry block on H20 pending a classification review.",
            issued_by="demo",
        )

        def licence(serial, slug, code, requested, unit_value, *, grant=None, valid_until=None, applied=None):
            # Numbered in the wave's year: LIC-2026-ALI-H200-001 on the demo's own day.
            lic = licence_services.licence_apply(
                company=companies[slug],
                chip=chips[code],
                round=wave,
                requested_quantity=requested,
                unit_value_usd=unit_value,
                number=f"LIC-{opens_on.year}-{serial}",
                applied_at=at(applied or day(2026, 1, 10)),
            )
            if grant:
                lic = licence_services.licence_approve(
                    licence=lic,
                    granted_quantity=grant,
                    valid_from=opens_on,
                    valid_until=valid_until or day(2026, 12, 31),
                    at=at(opens_on),
                )
            return lic

        # Wave 1: 328,000 units, USD 9.336 billion granted of 400,000 / USD 10 billion.
        ali = licence("ALI-H200-001", "alibaba", "H200", 200_000, D("30000.00"), grant=200_000)
        bdc = licence("BDC-H200-001", "bytedance", "H200", 120_000, D("30000.00"), grant=100_000, valid_until=ahead(21))
        ten_h20 = licence("TEN-H20-001", "tencent", "H20", 20_000, D("12000.00"), grant=20_000)
        dsk_h20 = licence("DSK-H20-001", "deepseek", "H20", 8_000, D("12000.00"), grant=8_000)
        licence_services.licence_suspend(licence=dsk_h20, reason="End-user verification outstanding.", at=at(ago(40)))
        licence("DSK-H200-001", "deepseek", "H200", 10_000, D("30000.00"), applied=ago(6))
        # Approving Tencent's H200 application would push the wave past its USD 10 billion cap.
        licence("TEN-H200-001", "tencent", "H200", 80_000, D("30000.00"), applied=ago(3))
        rejected = licence("DSK-H200-000", "deepseek", "H200", 50_000, D("30000.00"))
        licence_services.licence_reject(licence=rejected, reason="Security procedures not demonstrated.")

        def shipment(serial, lic, quantity, declared, *steps, port="Shanghai Pudong"):
            # Numbered in the year of the declaration: DEC-2026-000101.
            ship = licence_services.shipment_declare(
                company=lic.company,
                licence=lic,
                quantity=quantity,
                declared_value_usd=lic.unit_value_usd * quantity,
                port_of_entry=port,
                declaration_number=f"DEC-{declared.year}-{serial}",
                declared_at=at(declared),
                recorded_by="demo",
            )
            for status, when in steps:
                licence_services.customs_event_record(
                    shipment=ship, status=status, occurred_at=at(when, 15), recorded_by="demo"
                )
            return ship

        S = Shipment.Status
        lot_tested = [
            shipment(
                "000101", ali, 40_000, day(2026, 2, 3), (S.INSPECTING, day(2026, 2, 4)), (S.CLEARED, day(2026, 2, 6))
            ),
            shipment("000102", ali, 40_000, day(2026, 3, 2), (S.CLEARED, day(2026, 3, 4)), port="Shenzhen Bao'an"),
            shipment("000103", ali, 40_000, day(2026, 5, 11), (S.CLEARED, day(2026, 5, 13))),
        ]
        shipment("000104", ali, 20_000, ago(2), (S.INSPECTING, ago(1)))
        # Held for three weeks: customs wants the lot-testing report.
        shipment("000105", ali, 10_000, ago(24), (S.HELD, ago(23)))
        shipment("000201", bdc, 50_000, day(2026, 2, 10), (S.CLEARED, day(2026, 2, 12)), port="Beijing Daxing")
        shipment("000202", bdc, 42_000, ago(4), port="Beijing Daxing")
        shipment("000203", bdc, 5_000, day(2026, 6, 1), (S.REJECTED, day(2026, 6, 3)), port="Beijing Daxing")
        # Declared while the H20 entry block is in force: recorded as held.
        shipment("000301", ten_h20, 5_000, ago(5), port="Guangzhou Baiyun")
        shipment("000302", ten_h20, 10_000, day(2026, 4, 7), (S.CLEARED, day(2026, 4, 9)), port="Guangzhou Baiyun")

        # The illustrative policy of docs/domain.md, and a draft the regulator is weighing.
        QuotaPolicy.objects.create(
            name="Domestic purchase rule",
            version=1,
            ratio=D("0.3000"),
            basis=QuotaPolicy.Basis.UNITS,
            measured_on=QuotaPolicy.MeasuredOn.LICENSED,
            counts_pledged=False,
            counts_contracted=True,
            counts_delivered=True,
            grace_days=30,
            effective_from=opens_on,
            status=QuotaPolicy.Status.ACTIVE,
            notes="Illustrative: 30 % of licensed units, contracted or delivered domestic chips.",
        )
        QuotaPolicy.objects.create(
            name="Domestic purchase rule",
            version=2,
            ratio=D("0.4000"),
            basis=QuotaPolicy.Basis.COMPUTE,
            measured_on=QuotaPolicy.MeasuredOn.LICENSED,
            grace_days=90,
            effective_from=day(2027, 1, 1),
            status=QuotaPolicy.Status.DRAFT,
            notes="Draft under study: 40 % by compute.",
        )

        C = DomesticCommitment.Status

        def commitment(slug, code, quantity, status, *, delivered=0, due=None, ref=""):
            # A contract is referenced in the year it was signed: HW-ALI-2026-01.
            chip = chips[code]
            contracted_on = day(2026, 1, 20) if status != C.PLEDGED else None
            # Written directly (a partial delivery has no date of its own here): its change
            # ledger is the rows its dates imply, each recorded on the day it happened.
            made = DomesticCommitment.objects.create(
                company=companies[slug],
                chip=chip,
                quantity=quantity,
                unit_price=chip.reference_unit_value_usd * D("7.10"),
                currency="CNY",
                unit_price_usd=chip.reference_unit_value_usd,
                status=status,
                pledged_on=day(2026, 1, 15),
                contracted_on=contracted_on,
                delivered_on=day(2026, 6, 30) if status == C.DELIVERED else None,
                delivered_quantity=quantity if status == C.DELIVERED else delivered,
                due_date=due or day(2026, 12, 31),
                contract_reference=f"{ref}-{contracted_on.year}-01" if ref and contracted_on else "",
            )
            quota_services.record_implied_changes([made])

        # Alibaba: docs/domain.md's worked example: 40,000 contracted + 10,000 pledged, 20,000 short.
        commitment("alibaba", "ASCEND-910B", 40_000, C.CONTRACTED, delivered=15_000, ref="HW-ALI")
        commitment("alibaba", "ASCEND-910C", 10_000, C.PLEDGED)
        # ByteDance: covered (32,000 against 30,000 required).
        commitment("bytedance", "ASCEND-910B", 20_000, C.CONTRACTED, ref="HW-BDC")
        commitment("bytedance", "HYGON-K100", 12_000, C.DELIVERED, ref="HG-BDC")
        # Tencent: exactly at the ratio (6,000 against 20,000 H20).
        commitment("tencent", "ASCEND-910B", 6_000, C.CONTRACTED, ref="HW-TEN")
        # DeepSeek: a contracted order past its due date, not fully delivered.
        commitment("deepseek", "HYGON-K100", 1_000, C.CONTRACTED, delivered=400, due=ago(28), ref="HG-DSK")

        requirements = {}
        for code, title, scope, description in REQUIREMENTS:
            requirements[code] = SecurityRequirement.objects.create(
                code=code, title=title, scope=scope, description=description, mandatory=True, validity_days=365
            )

        def attest(slug, code, attested, expires, *, reviewed=True, shipment=None):
            # Submitted and accepted (on the day attested) through the services, as a company
            # and the regulator would: each review is a row of the attestation-review ledger.
            submitted = compliance_services.attestation_submit(
                company=companies[slug],
                requirement=requirements[code],
                shipment=shipment,
                evidence_reference=f"{slug.upper()}-{code.upper()}-{attested:%Y%m%d}",
                attested_on=attested,
            )
            if reviewed:
                compliance_services.attestation_review(
                    attestation=submitted, accept=True, expires_on=expires, recorded_by="demo", at=at(attested)
                )

        year = dt.timedelta(days=365)
        for code in ("recipient-security-procedures", "end-user-verification", "no-military-end-use"):
            attest("alibaba", code, day(2026, 1, 12), day(2026, 1, 12) + year)
            # Tencent's security procedures expire in under three weeks.
            tencent_expires = ahead(19) if code == "recipient-security-procedures" else day(2026, 1, 14) + year
            attest("tencent", code, day(2026, 1, 14), tencent_expires)
        # ByteDance: end-user verification lapsed last month.
        attest("bytedance", "recipient-security-procedures", day(2026, 1, 11), day(2026, 1, 11) + year)
        attest("bytedance", "no-military-end-use", day(2026, 1, 11), day(2026, 1, 11) + year)
        attest("bytedance", "end-user-verification", day(2025, 11, 1), ago(27))
        # DeepSeek: no "no military end use" undertaking at all; a submission awaits review.
        attest("deepseek", "recipient-security-procedures", ago(60), ahead(305))
        attest("deepseek", "end-user-verification", ago(2), None, reviewed=False)
        # Lot testing for Alibaba's cleared shipments; the held one has none.
        for ship in lot_tested:
            attest(
                "alibaba",
                "third-party-lot-testing",
                timezone.localdate(ship.declared_at),
                day(2027, 6, 30),
                shipment=ship,
            )
        return True
