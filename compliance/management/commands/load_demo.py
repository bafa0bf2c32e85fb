"""Load the demo world drawn from docs/domain.md: H200 Wave 1, four importers, their conditions.

Idempotent: the whole world is written in one transaction, and a second run finds it
(by its first company's slug) and changes nothing. Writes with rules go through the
services, as the API and admin do. Dates are laid out relative to the day the demo is
first loaded, so expiries and customs holds are live ("held for three weeks") whenever you try it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from compliance.models import SecurityAttestation, SecurityRequirement
from licences import services as licence_services
from licences.models import AllocationRound, ChipModel, Company, CustomsDirective, Shipment
from quotas import services as quota_services
from quotas.models import DomesticCommitment, QuotaPolicy

D = Decimal

COMPANIES = [
    ("alibaba", "Alibaba Group", Company.Category.INTERNET_PLATFORM),
    ("tencent", "Tencent Holdings", Company.Category.INTERNET_PLATFORM),
    ("bytedance", "ByteDance", Company.Category.INTERNET_PLATFORM),
    ("deepseek", "DeepSeek", Company.Category.AI_STARTUP),
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


class Command(BaseCommand):
    help = "Load the demo world (idempotent: a second run changes nothing)."

    def handle(self, *args, **options) -> None:
        today = timezone.localdate()
        with transaction.atomic():
            created = self._load(today)
        if created:
            self.stdout.write(self.style.SUCCESS("Demo world loaded."))
        else:
            self.stdout.write("Demo world already present: nothing changed.")

    def _at(self, day: dt.date, hour: int = 10) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))

    def _load(self, today: dt.date) -> bool:
        if Company.objects.filter(slug="alibaba").exists():
            return False
        companies = {}
        for slug, name, category in COMPANIES:
            companies[slug] = Company.objects.create(
                slug=slug, name=name, category=category, compliance_contact_emails=f"compliance@{slug}.example"
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
        wave = AllocationRound.objects.create(
            name="Wave 1, January 2026",
            unit_cap=400_000,
            value_cap_usd=D("10000000000.00"),
            opens_on=dt.date(2026, 1, 23),
            closes_on=dt.date(2026, 12, 31),
        )
        # Before the approval, customs told agents the H200 was not permitted to enter.
        CustomsDirective.objects.create(
            reference="GACC-2026-001",
            chip=chips["H200"],
            blocked_from=dt.date(2026, 1, 1),
            blocked_until=dt.date(2026, 1, 22),
            reason="H200 not permitted to enter until import licences are granted.",
            issued_by="demo",
        )
        # A temporary block on H20 entries, live now.
        CustomsDirective.objects.create(
            reference="GACC-2026-017",
            chip=chips["H20"],
            blocked_from=today - dt.timedelta(days=10),
            blocked_until=today + dt.timedelta(days=20),
            reason="Temporary entry block on H20 pending a classification review.",
            issued_by="demo",
        )

        def licence(number, slug, code, requested, unit_value, *, grant=None, valid_until=None, applied=None):
            lic = licence_services.licence_apply(
                company=companies[slug],
                chip=chips[code],
                round=wave,
                requested_quantity=requested,
                unit_value_usd=unit_value,
                number=number,
                applied_at=self._at(applied or dt.date(2026, 1, 10)),
            )
            if grant:
                lic = licence_services.licence_approve(
                    licence=lic,
                    granted_quantity=grant,
                    valid_from=dt.date(2026, 1, 23),
                    valid_until=valid_until or dt.date(2026, 12, 31),
                    at=self._at(dt.date(2026, 1, 23)),
                )
            return lic

        # Wave 1: 330,000 units, USD 9.54 billion granted of 400,000 / USD 10 billion.
        ali = licence("LIC-2026-ALI-H200-001", "alibaba", "H200", 200_000, D("30000.00"), grant=200_000)
        bdc = licence(
            "LIC-2026-BDC-H200-001",
            "bytedance",
            "H200",
            120_000,
            D("30000.00"),
            grant=100_000,
            valid_until=today + dt.timedelta(days=21),
        )
        ten_h20 = licence("LIC-2026-TEN-H20-001", "tencent", "H20", 20_000, D("12000.00"), grant=20_000)
        dsk_h20 = licence("LIC-2026-DSK-H20-001", "deepseek", "H20", 8_000, D("12000.00"), grant=8_000)
        licence_services.licence_suspend(
            licence=dsk_h20, reason="End-user verification outstanding.", at=self._at(today - dt.timedelta(days=40))
        )
        licence(
            "LIC-2026-DSK-H200-001", "deepseek", "H200", 10_000, D("30000.00"), applied=today - dt.timedelta(days=6)
        )
        # Approving Tencent's H200 application would push the wave past its USD 10 billion cap.
        licence("LIC-2026-TEN-H200-001", "tencent", "H200", 80_000, D("30000.00"), applied=today - dt.timedelta(days=3))
        rejected = licence("LIC-2026-DSK-H200-000", "deepseek", "H200", 50_000, D("30000.00"))
        licence_services.licence_reject(licence=rejected, reason="Security procedures not demonstrated.")

        def shipment(number, lic, quantity, declared, *steps, port="Shanghai Pudong"):
            ship = licence_services.shipment_declare(
                company=lic.company,
                licence=lic,
                quantity=quantity,
                declared_value_usd=lic.unit_value_usd * quantity,
                port_of_entry=port,
                declaration_number=number,
                declared_at=self._at(declared),
                recorded_by="demo",
            )
            for status, day in steps:
                licence_services.customs_event_record(
                    shipment=ship, status=status, occurred_at=self._at(day, 15), recorded_by="demo"
                )
            return ship

        S = Shipment.Status
        d = dt.date
        shipment(
            "DEC-2026-000101", ali, 40_000, d(2026, 2, 3), (S.INSPECTING, d(2026, 2, 4)), (S.CLEARED, d(2026, 2, 6))
        )
        shipment("DEC-2026-000102", ali, 40_000, d(2026, 3, 2), (S.CLEARED, d(2026, 3, 4)), port="Shenzhen Bao'an")
        shipment("DEC-2026-000103", ali, 40_000, d(2026, 5, 11), (S.CLEARED, d(2026, 5, 13)))
        shipment(
            "DEC-2026-000104", ali, 20_000, today - dt.timedelta(days=2), (S.INSPECTING, today - dt.timedelta(days=1))
        )
        # Held for three weeks: customs wants the lot-testing report.
        shipment("DEC-2026-000105", ali, 10_000, today - dt.timedelta(days=24), (S.HELD, today - dt.timedelta(days=23)))
        shipment("DEC-2026-000201", bdc, 50_000, d(2026, 2, 10), (S.CLEARED, d(2026, 2, 12)), port="Beijing Daxing")
        shipment("DEC-2026-000202", bdc, 42_000, today - dt.timedelta(days=4), port="Beijing Daxing")
        shipment("DEC-2026-000203", bdc, 5_000, d(2026, 6, 1), (S.REJECTED, d(2026, 6, 3)), port="Beijing Daxing")
        # Declared while the H20 entry block is in force: recorded as held.
        shipment("DEC-2026-000301", ten_h20, 5_000, today - dt.timedelta(days=5), port="Guangzhou Baiyun")
        shipment("DEC-2026-000302", ten_h20, 10_000, d(2026, 4, 7), (S.CLEARED, d(2026, 4, 9)), port="Guangzhou Baiyun")

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
            effective_from=dt.date(2026, 1, 23),
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
            effective_from=dt.date(2027, 1, 1),
            status=QuotaPolicy.Status.DRAFT,
            notes="Draft under study: 40 % by compute.",
        )

        C = DomesticCommitment.Status

        def commitment(slug, code, quantity, status, *, delivered=0, due=None, ref=""):
            chip = chips[code]
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
                pledged_on=dt.date(2026, 1, 15),
                contracted_on=dt.date(2026, 1, 20) if status != C.PLEDGED else None,
                delivered_on=dt.date(2026, 6, 30) if status == C.DELIVERED else None,
                delivered_quantity=quantity if status == C.DELIVERED else delivered,
                due_date=due or dt.date(2026, 12, 31),
                contract_reference=ref,
            )
            quota_services.record_implied_changes([made])

        # Alibaba: docs/domain.md's worked example: 40,000 contracted + 10,000 pledged, 20,000 short.
        commitment("alibaba", "ASCEND-910B", 40_000, C.CONTRACTED, delivered=15_000, ref="HW-ALI-2026-01")
        commitment("alibaba", "ASCEND-910C", 10_000, C.PLEDGED)
        # ByteDance: covered (32,000 against 30,000 required).
        commitment("bytedance", "ASCEND-910B", 20_000, C.CONTRACTED, ref="HW-BDC-2026-01")
        commitment("bytedance", "HYGON-K100", 12_000, C.DELIVERED, ref="HG-BDC-2026-01")
        # Tencent: exactly at the ratio (6,000 against 20,000 H20).
        commitment("tencent", "ASCEND-910B", 6_000, C.CONTRACTED, ref="HW-TEN-2026-01")
        # DeepSeek: a contracted order past its due date, not fully delivered.
        commitment(
            "deepseek",
            "HYGON-K100",
            1_000,
            C.CONTRACTED,
            delivered=400,
            due=today - dt.timedelta(days=28),
            ref="HG-DSK-2026-01",
        )

        requirements = {}
        for code, title, scope, description in REQUIREMENTS:
            requirements[code] = SecurityRequirement.objects.create(
                code=code, title=title, scope=scope, description=description, mandatory=True, validity_days=365
            )

        A = SecurityAttestation.Status

        def attest(slug, code, attested, expires, status=A.ACCEPTED, shipment=None):
            SecurityAttestation.objects.create(
                company=companies[slug],
                requirement=requirements[code],
                shipment=shipment,
                status=status,
                evidence_reference=f"{slug.upper()}-{code.upper()}-{attested:%Y%m%d}",
                attested_on=attested,
                expires_on=expires if status == A.ACCEPTED else None,
                reviewed_at=self._at(attested) if status != A.SUBMITTED else None,
            )

        year = dt.timedelta(days=365)
        for code in ("recipient-security-procedures", "end-user-verification", "no-military-end-use"):
            attest("alibaba", code, dt.date(2026, 1, 12), dt.date(2026, 1, 12) + year)
            attest("tencent", code, dt.date(2026, 1, 14), dt.date(2026, 1, 14) + year)
        # ByteDance: end-user verification lapsed last month.
        attest("bytedance", "recipient-security-procedures", dt.date(2026, 1, 11), dt.date(2026, 1, 11) + year)
        attest("bytedance", "no-military-end-use", dt.date(2026, 1, 11), dt.date(2026, 1, 11) + year)
        attest("bytedance", "end-user-verification", dt.date(2025, 11, 1), today - dt.timedelta(days=27))
        # Tencent's security procedures expire in under three weeks.
        SecurityAttestation.objects.filter(
            company=companies["tencent"], requirement=requirements["recipient-security-procedures"]
        ).update(expires_on=today + dt.timedelta(days=19))
        # DeepSeek: no "no military end use" undertaking at all; a submission awaits review.
        attest(
            "deepseek", "recipient-security-procedures", today - dt.timedelta(days=60), today + dt.timedelta(days=305)
        )
        attest("deepseek", "end-user-verification", today - dt.timedelta(days=2), None, status=A.SUBMITTED)
        # Lot testing for Alibaba's cleared shipments; the held one has none.
        for number in ("DEC-2026-000101", "DEC-2026-000102", "DEC-2026-000103"):
            ship = Shipment.objects.get(declaration_number=number)
            attest(
                "alibaba",
                "third-party-lot-testing",
                timezone.localdate(ship.declared_at),
                dt.date(2027, 6, 30),
                shipment=ship,
            )
        return True
