"""The benchmark data generator: deterministic from a seed, shaped like a national register.

A few giants and a long tail: shipments go to companies by a Zipf-like law (rank ``r``
weighs ``1 / (r + 1) ** 1.1``): of 10,000 companies and 1,000,000 shipments the largest
declares 15 % of them, the smallest a handful or none. Around them, every kind of record the rules
judge, in every state:

- licences: approved (most), suspended, revoked, expired, applied and rejected; some
  expiring within the warning window, some nearly drawn down;
- shipments: declared, inspecting, held (some for too long), cleared and rejected, each
  with its customs history (one to four ``CustomsEvent`` rows), some declared during an
  entry block (``CustomsDirective``);
- domestic commitments: pledged, contracted (some overdue), delivered and cancelled;
- US security attestations: per company for each mandatory requirement (accepted,
  expiring, expired, submitted, rejected or missing) and per shipment for lot testing;
- an active quota policy (30 % by compute on cleared quantity, 30 days' grace) unless a
  policy is already in force on :data:`ON`.

``with_compliance=False`` leaves out what only the compliance sweep reads (requirements,
attestations and the active policy): the quota benchmark passes its own draft policy.

Every company's records are drawn from its own random stream (``seed`` and its index), so
a world can be generated in parts (``part``, ``parts``: the companies whose index is
``part`` modulo ``parts``) and the union of the parts is the same world as one call. The
growth benchmark builds the world a tenth, then three tenths, then all of it this way.

Company 0 (the largest) always has one record of each kind the rules flag (a held
shipment, a shipment in an entry block, an expiring and a nearly exhausted licence, an
overdue commitment, a shipment without its lot test); companies 1 and 2 a missing and an
expiring attestation. So even a world of a handful of companies exercises every rule.

The calendar, the chips, the requirements and the shared catalogue rows are
:mod:`benchmarks.world`. Rows go in with ``COPY`` on PostgreSQL and ``bulk_create`` in
batches elsewhere (:mod:`benchmarks.loading`); history tables are not filled. Slugs,
licence and declaration numbers start with ``prefix``, so several worlds can share a database.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Max

from benchmarks.loading import BATCH, insert_rows, reset_sequence
from benchmarks.world import FIRST_DAY, H20_BLOCK, ON, Reference, reference
from compliance.models import SecurityAttestation
from licences import chain
from licences.models import CUSTOMS_EVENTS, Company, ImportLicence, Shipment
from licences.services import record_implied_decisions
from quotas.models import DomesticCommitment
from quotas.selectors import end_of_day
from quotas.services import record_implied_changes

D = Decimal
PORTS = ("Shanghai Pudong", "Shenzhen Bao'an", "Beijing Capital", "Guangzhou Baiyun", "Chengdu Tianfu")

ShipmentStatus = Shipment.Status
LicenceStatus = ImportLicence.Status
CommitmentStatus = DomesticCommitment.Status


def moment(day: dt.date, rng: random.Random) -> dt.datetime:
    """A random instant during ``day`` in the service time zone."""
    return end_of_day(day) - dt.timedelta(seconds=rng.randint(1, 86_400))


def _day(offset: int) -> dt.date:
    return FIRST_DAY + dt.timedelta(days=offset)


def shipment_counts(*, companies: int, shipments: int, seed: int) -> list[int]:
    """Shipments per company (by index): the long tail, drawn once for the whole world."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(companies)]
    counts = Counter(rng.choices(range(companies), weights=weights, k=shipments))
    return [counts[index] for index in range(companies)]


@dataclass
class _Lot:
    """One shipment before it has a licence and an id."""

    quantity: int
    declared_at: dt.datetime
    status: str
    changed_at: dt.datetime
    cleared_at: dt.datetime | None = None
    held_since: dt.datetime | None = None
    inspected: bool = False
    was_held: bool = False
    tested: bool = True
    port: str = PORTS[0]
    licence: int = -1  # index into the company's licences


# Company 0's first lots, one per situation the customs and lot-testing rules flag.
FORCED_LOTS = ("held_untested", "entry_block", "rejected", "declared")


def _lots(rng: random.Random, count: int, *, giant: bool) -> list[_Lot]:
    lots = []
    for number in range(count):
        forced = FORCED_LOTS[number] if giant and number < len(FORCED_LOTS) else None
        declared_on = _day(rng.randint(0, 145) if forced != "entry_block" else 38)  # 2 March: in the H20 block
        declared_at = moment(declared_on, rng)
        lot = _Lot(quantity=rng.randint(50, 2_000), declared_at=declared_at, status="", changed_at=declared_at)
        lot.port = rng.choice(PORTS)
        lot.tested = forced != "held_untested" and rng.random() < 0.97
        roll = rng.random()
        if forced == "held_untested" or (forced is None and roll < 0.01):
            lot.status, lot.inspected = ShipmentStatus.HELD, True
            lot.held_since = lot.changed_at = declared_at + dt.timedelta(hours=rng.randint(1, 48))
        elif forced == "rejected" or (forced is None and roll < 0.03):
            lot.status, lot.inspected = ShipmentStatus.REJECTED, rng.random() < 0.7
            lot.changed_at = declared_at + dt.timedelta(hours=rng.randint(2, 120))
        elif forced == "declared" or (forced is None and roll < 0.07):
            lot.status = ShipmentStatus.DECLARED
        elif forced == "entry_block" or roll < 0.11:
            lot.status, lot.inspected = ShipmentStatus.INSPECTING, True
            lot.changed_at = declared_at + dt.timedelta(hours=rng.randint(1, 24))
        else:
            lot.status, lot.inspected, lot.was_held = ShipmentStatus.CLEARED, rng.random() < 0.5, rng.random() < 0.05
            lot.cleared_at = lot.changed_at = declared_at + dt.timedelta(hours=rng.randint(2, 120))
        lots.append(lot)
    return lots


def _licences(
    rng: random.Random, index: int, company_id: int, prefix: str, lots: list[_Lot], ref: Reference
) -> list[ImportLicence]:
    """The company's licences; assigns each lot to one (``lot.licence``)."""
    h20 = next(chip for chip in ref.foreign if chip.code == "H20")
    if index == 0:
        count = 3
    elif lots:
        count = rng.randint(1, 3)
    else:
        count = 1 if index < 3 or rng.random() < 0.5 else 0
    for number, lot in enumerate(lots):
        lot.licence = 0 if index == 0 and number < len(FORCED_LOTS) else rng.randrange(count)
    licences = []
    for number in range(count):
        group = [lot for lot in lots if lot.licence == number]
        chip = h20 if (index == 0 and number == 0) else rng.choice(ref.foreign)
        reserved = sum(lot.quantity for lot in group if lot.status in ACTIVE_STATUSES)
        used = sum(lot.quantity for lot in group if lot.status == ShipmentStatus.CLEARED)
        drawn = reserved + used
        # One licence in five nearly drawn down (at least 90 %), the others with room to spare.
        slack = 1 + drawn // 20 if (index + number) % 5 == 1 else rng.randint(1, 5_000)
        granted = drawn + slack
        approved_at = moment(_day(rng.randint(-10, 0)), rng)
        # One licence in seven ends within the 30-day warning window after ``ON``.
        valid_until = ON + dt.timedelta(days=15) if (index + number) % 7 == 0 else dt.date(2026, 12, 31)
        status, ended = LicenceStatus.APPROVED, {}
        roll = rng.random() if index else 1.0
        if roll < 0.05:
            status, ended = LicenceStatus.SUSPENDED, {"suspended_at": moment(_day(rng.randint(30, 150)), rng)}
        elif roll < 0.08:
            status, ended = LicenceStatus.REVOKED, {"revoked_at": moment(_day(rng.randint(30, 150)), rng)}
        elif roll < 0.10:
            valid_until = ON - dt.timedelta(days=rng.randint(1, 20))
            status, ended = LicenceStatus.EXPIRED, {"expired_at": moment(valid_until + dt.timedelta(days=1), rng)}
        licences.append(
            ImportLicence(
                number=f"LIC-{prefix}{index:06d}-{number}",
                company_id=company_id,
                chip=chip,
                round=ref.wave,
                requested_quantity=granted,
                granted_quantity=granted,
                reserved_quantity=reserved,
                used_quantity=used,
                unit_value_usd=chip.reference_unit_value_usd - D(rng.randint(0, 300_000)) / 100,
                valid_from=FIRST_DAY,
                valid_until=valid_until,
                status=status,
                applied_at=approved_at - dt.timedelta(days=10),
                approved_at=approved_at,
                **ended,
            )
        )
    # Applications still pending, and some refused: never drawn on.
    roll = rng.random()
    if roll < 0.14:
        chip = rng.choice(ref.foreign)
        applied_at = moment(_day(rng.randint(60, 150)), rng)
        rejected = roll < 0.04
        licences.append(
            ImportLicence(
                number=f"LIC-{prefix}{index:06d}-{count}",
                company_id=company_id,
                chip=chip,
                round=ref.wave,
                requested_quantity=rng.randint(100, 20_000),
                unit_value_usd=chip.reference_unit_value_usd,
                status=LicenceStatus.REJECTED if rejected else LicenceStatus.APPLIED,
                applied_at=applied_at,
                rejected_at=applied_at + dt.timedelta(days=rng.randint(1, 20)) if rejected else None,
                status_reason="Bench: refused" if rejected else "",
            )
        )
    return licences


ACTIVE_STATUSES = (ShipmentStatus.DECLARED, ShipmentStatus.INSPECTING, ShipmentStatus.HELD)


def _commitment_rows(rng: random.Random, index: int, company_id: int, imported: int, ref: Reference) -> list[tuple]:
    rows = []
    count = rng.randint(0, 4) if index else 2
    for number in range(count):
        chip = rng.choice(ref.domestic)
        quantity = max(1, int(imported * rng.uniform(0.02, 0.2)))
        pledged_on = _day(rng.randint(-20, 120))
        contracted_on = delivered_on = cancelled_on = due_date = None
        delivered = 0
        status = CommitmentStatus.PLEDGED
        roll = rng.random() if (index or number) else 0.0
        if roll < 0.7:
            status = CommitmentStatus.CONTRACTED
            contracted_on = pledged_on + dt.timedelta(days=rng.randint(0, 20))
            due_date = contracted_on + dt.timedelta(days=rng.randint(30, 240))
            if index == 0 and number == 0:  # overdue, half delivered
                due_date, delivered = ON - dt.timedelta(days=20), quantity // 2
            elif rng.random() < 0.3 and contracted_on + dt.timedelta(days=10) < ON:
                status, delivered = CommitmentStatus.DELIVERED, quantity
                delivered_on = min(ON, contracted_on + dt.timedelta(days=rng.randint(10, 90)))
            elif rng.random() < 0.4:
                delivered = rng.randint(0, quantity)
        if status != CommitmentStatus.DELIVERED and (index or number) and rng.random() < 0.1:
            status = CommitmentStatus.CANCELLED
            cancelled_on = (contracted_on or pledged_on) + dt.timedelta(days=rng.randint(1, 60))
        price = chip.reference_unit_value_usd
        rows.append(
            (company_id, chip.pk, quantity, price, "USD", price, status, pledged_on, contracted_on, delivered_on,
             cancelled_on, due_date, delivered, f"CTR-{index}-{number}")
        )  # fmt: skip
    return rows


COMMITMENT_COLUMNS = [
    "company_id", "chip_id", "quantity", "unit_price", "currency", "unit_price_usd", "status", "pledged_on",
    "contracted_on", "delivered_on", "cancelled_on", "due_date", "delivered_quantity", "contract_reference",
]  # fmt: skip
SHIPMENT_COLUMNS = [
    "id", "declaration_number", "company_id", "licence_id", "chip_id", "quantity", "declared_value_usd",
    "port_of_entry", "status", "declared_at", "status_changed_at", "cleared_at", "held_since",
    "entry_block_directive_id",
]  # fmt: skip
ATTESTATION_COLUMNS = [
    "company_id", "requirement_id", "shipment_id", "status", "evidence_file", "evidence_reference", "attested_on",
    "reviewed_at", "review_note", "expires_on",
]  # fmt: skip


def _events(company_id: int, shipment_id: int, lot: _Lot) -> list[tuple]:
    """The customs history of one shipment, oldest first (recorded when it happened)."""
    steps = [(ShipmentStatus.DECLARED, lot.declared_at)]
    if lot.inspected:
        steps.append((ShipmentStatus.INSPECTING, lot.declared_at + dt.timedelta(minutes=30)))
    if lot.status == ShipmentStatus.HELD:
        steps.append((ShipmentStatus.HELD, lot.held_since))
    elif lot.was_held:
        steps.append((ShipmentStatus.HELD, lot.declared_at + dt.timedelta(minutes=60)))
    if lot.status in (ShipmentStatus.CLEARED, ShipmentStatus.REJECTED):
        steps.append((lot.status, lot.changed_at))
    return [(company_id, shipment_id, status, at, "", at, "bench") for status, at in steps]


def _company_attestations(rng: random.Random, index: int, company_id: int, ref: Reference) -> list[tuple]:
    """One company's attestations of the mandatory company-scope requirements (a few gaps)."""
    rows = []
    for number, requirement_id in enumerate(ref.company_requirements):
        roll = rng.random()
        if (index, number) == (1, 0) or (index != 2 and roll < 0.04):
            continue  # never attested
        attested_on = _day(rng.randint(-60, 100))
        status, expires_on, reviewed = "accepted", ON + dt.timedelta(days=rng.randint(31, 365)), True
        if (index, number) == (2, 1) or (index and roll < 0.10):
            expires_on = ON + dt.timedelta(days=rng.randint(1, 30))  # expiring within the warning window
        elif index and roll < 0.13:
            expires_on = ON - dt.timedelta(days=rng.randint(1, 60))  # expired
        elif index and roll < 0.15:
            status, expires_on, reviewed = "submitted", None, False
        elif index and roll < 0.17:
            status, expires_on = "rejected", None
        attested_on = min(attested_on, expires_on) if expires_on else attested_on
        rows.append(
            (company_id, requirement_id, None, status, "", f"EVD-{index}-{number}", attested_on,
             moment(attested_on, rng) if reviewed else None, "", expires_on)
        )  # fmt: skip
    return rows


@dataclass
class Generated:
    """What a call to :func:`generate` inserted."""

    companies: int = 0
    licences: int = 0
    shipments: int = 0
    events: int = 0
    commitments: int = 0
    attestations: int = 0

    def describe(self) -> str:
        return ", ".join(f"{getattr(self, name):,} {name}" for name in self.__dataclass_fields__)


def generate(
    *,
    companies: int,
    shipments: int,
    seed: int,
    prefix: str,
    part: int | Iterable[int] | None = None,
    parts: int = 1,
    with_compliance: bool = True,
) -> Generated:
    """Insert a world of ``companies`` and ``shipments`` (or the ``part`` of it out of ``parts``).

    Call inside a transaction; run ``ANALYZE`` afterwards on PostgreSQL.
    """
    wanted = set(range(parts)) if part is None else ({part} if isinstance(part, int) else set(part))
    indexes = [index for index in range(companies) if index % parts in wanted]
    ref = reference(seed, prefix, with_compliance=with_compliance)
    counts = shipment_counts(companies=companies, shipments=shipments, seed=seed)
    rngs = {index: random.Random(f"{seed}:{index}") for index in indexes}
    categories = list(Company.Category.values)
    company_rows = Company.objects.bulk_create(
        (
            Company(
                slug=f"{prefix}{index:06d}",
                name=f"Bench {seed} company {index:06d}",
                category=Company.Category.INTERNET_PLATFORM if index < 5 else rngs[index].choice(categories),
            )
            for index in indexes
        ),
        batch_size=BATCH,
    )
    company_ids = {index: company.pk for index, company in zip(indexes, company_rows, strict=True)}
    lots = {index: _lots(rngs[index], counts[index], giant=index == 0) for index in indexes}
    licence_lists = {
        index: _licences(rngs[index], index, company_ids[index], prefix, lots[index], ref) for index in indexes
    }
    ImportLicence.objects.bulk_create(
        [licence for index in indexes for licence in licence_lists[index]], batch_size=BATCH
    )  # fmt: skip
    # Each licence's decision ledger, as its timestamps imply (positions read the ledger).
    record_implied_decisions(licence for index in indexes for licence in licence_lists[index])

    shipment_rows, event_rows, attestation_rows, commitment_rows = [], [], [], []
    next_id = (Shipment.objects.aggregate(top=Max("pk"))["top"] or 0) + 1
    block = ref.h20_block
    for index in indexes:
        rng, company_id, licences = rngs[index], company_ids[index], licence_lists[index]
        for number, lot in enumerate(lots[index]):
            licence = licences[lot.licence]
            blocked = licence.chip_id == block.chip_id and H20_BLOCK[0] <= lot.declared_at.date() <= H20_BLOCK[1]
            shipment_rows.append(
                (next_id, f"DEC-{prefix}{index:06d}-{number}", company_id, licence.pk, licence.chip_id, lot.quantity,
                 licence.unit_value_usd * lot.quantity, lot.port, lot.status, lot.declared_at, lot.changed_at,
                 lot.cleared_at, lot.held_since, block.pk if blocked else None)
            )  # fmt: skip
            event_rows.extend(_events(company_id, next_id, lot))
            if ref.lot_requirement and lot.tested and lot.status != ShipmentStatus.REJECTED:
                tested_on = lot.declared_at.date()
                attestation_rows.append(
                    (company_id, ref.lot_requirement, next_id, "accepted", "", f"LOT-{next_id}", tested_on,
                     lot.declared_at, "", tested_on + dt.timedelta(days=365))
                )  # fmt: skip
            next_id += 1
        imported = sum(lot.quantity for lot in lots[index])
        commitment_rows.extend(_commitment_rows(rng, index, company_id, imported, ref))
        if ref.company_requirements and licences:
            attestation_rows.extend(_company_attestations(rng, index, company_id, ref))

    insert_rows(Shipment, SHIPMENT_COLUMNS, shipment_rows)
    reset_sequence(Shipment)
    chain.insert_rows(CUSTOMS_EVENTS, event_rows)  # hash-chained per company, as the services append them
    first_commitment = (DomesticCommitment.objects.aggregate(top=Max("pk"))["top"] or 0) + 1
    commitment_rows = [(first_commitment + number, *row) for number, row in enumerate(commitment_rows)]
    insert_rows(DomesticCommitment, ["id", *COMMITMENT_COLUMNS], commitment_rows)
    reset_sequence(DomesticCommitment)
    # Each commitment's change ledger, as its dates imply (positions as known at a moment read it).
    record_implied_changes(
        DomesticCommitment(**dict(zip(["id", *COMMITMENT_COLUMNS], row, strict=True))) for row in commitment_rows
    )
    if attestation_rows:
        insert_rows(SecurityAttestation, ATTESTATION_COLUMNS, attestation_rows)
    return Generated(
        companies=len(indexes),
        licences=sum(len(licences) for licences in licence_lists.values()),
        shipments=len(shipment_rows),
        events=len(event_rows),
        commitments=len(commitment_rows),
        attestations=len(attestation_rows),
    )
