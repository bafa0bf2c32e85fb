"""What every benchmark world shares: its calendar, its chips and security requirements, and
the catalogue rows created once and referred to by every part of a world (:class:`Reference`).
The records themselves are drawn by :mod:`benchmarks.generator`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from compliance.models import SecurityRequirement
from licences.models import AllocationRound, ChipModel, CustomsDirective
from quotas.models import QuotaPolicy
from quotas.selectors import policy_in_force

D = Decimal
FOREIGN_CHIPS = {  # code: (name, vendor, compute index, reference unit value)
    "H200": ("NVIDIA H200", "NVIDIA", D("6.000"), D("32000.00")),
    "H20": ("NVIDIA H20", "NVIDIA", D("1.000"), D("12500.00")),
}
DOMESTIC_CHIPS = {
    "ASCEND-910B": ("Huawei Ascend 910B", "Huawei", D("1.000"), D("12000.00")),
    "HYGON-DCU": ("Hygon DCU", "Hygon", D("0.750"), D("7000.25")),
}
# Company-scope requirements attested once per company, and the per-lot one.
COMPANY_REQUIREMENTS = {
    "end-user-verification": "End-user verification",
    "no-military-end-use": "No military end use",
    "access-control": "Access control to the accelerators",
    "audit-rights": "Audit rights for the exporter",
}
LOT_REQUIREMENT = ("lot-testing", "Third-party lot testing")
FIRST_DAY = dt.date(2026, 1, 23)
ON = dt.date(2026, 6, 30)  # the day the benchmarks judge: every generated record is older
H20_BLOCK = (dt.date(2026, 3, 1), dt.date(2026, 3, 2))  # an entry block on the H20


@dataclass(frozen=True)
class Reference:
    """The shared catalogue rows a world refers to (created once, reused by every part)."""

    foreign: list[ChipModel]
    domestic: list[ChipModel]
    wave: AllocationRound
    h20_block: CustomsDirective
    company_requirements: list[int]
    lot_requirement: int | None


def ensure_chips() -> tuple[list[ChipModel], list[ChipModel]]:
    """The benchmark's foreign and domestic chips (created if missing)."""

    def ensure(code: str, spec: tuple, origin: str) -> ChipModel:
        name, vendor, compute, value = spec
        chip, _ = ChipModel.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "vendor": vendor,
                "origin": origin,
                "export_controlled": origin == ChipModel.Origin.FOREIGN,
                "compute_index": compute,
                "reference_unit_value_usd": value,
            },
        )
        if chip.origin != origin:
            raise ValueError(f"Chip {code} exists but is not {origin}.")
        return chip

    foreign = [ensure(code, spec, ChipModel.Origin.FOREIGN) for code, spec in FOREIGN_CHIPS.items()]
    domestic = [ensure(code, spec, ChipModel.Origin.DOMESTIC) for code, spec in DOMESTIC_CHIPS.items()]
    return foreign, domestic


def reference(seed: int, prefix: str, *, with_compliance: bool) -> Reference:
    foreign, domestic = ensure_chips()
    wave, _ = AllocationRound.objects.get_or_create(
        name=f"Bench wave {seed}",
        defaults={
            "unit_cap": 9_000_000_000_000,
            "value_cap_usd": D("9000000000000000.00"),
            "opens_on": FIRST_DAY,
            "closes_on": dt.date(2026, 12, 31),
        },
    )
    h20 = next(chip for chip in foreign if chip.code == "H20")
    block, _ = CustomsDirective.objects.get_or_create(
        reference=f"DIR-{prefix}H20",
        defaults={"chip": h20, "blocked_from": H20_BLOCK[0], "blocked_until": H20_BLOCK[1], "reason": "Bench"},
    )
    if with_compliance and policy_in_force(ON) is None:
        QuotaPolicy.objects.create(
            name="Bench domestic quota",
            ratio=D("0.3000"),
            basis=QuotaPolicy.Basis.COMPUTE,
            measured_on=QuotaPolicy.MeasuredOn.CLEARED,
            counts_contracted=True,
            counts_delivered=True,
            grace_days=30,
            effective_from=dt.date(2026, 1, 1),
            status=QuotaPolicy.Status.ACTIVE,
        )
    company_requirements: list[int] = []
    lot_requirement = None
    if with_compliance:
        for code, title in COMPANY_REQUIREMENTS.items():
            requirement, _ = SecurityRequirement.objects.get_or_create(
                code=code, defaults={"title": title, "scope": SecurityRequirement.Scope.COMPANY}
            )
            company_requirements.append(requirement.pk)
        code, title = LOT_REQUIREMENT
        lot, _ = SecurityRequirement.objects.get_or_create(
            code=code, defaults={"title": title, "scope": SecurityRequirement.Scope.SHIPMENT}
        )
        lot_requirement = lot.pk
    return Reference(foreign, domestic, wave, block, company_requirements, lot_requirement)
