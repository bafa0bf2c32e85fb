"""Companies, the chip catalogue, allocation rounds, import licences, shipments and customs.

Quantities that must never be over-drawn are kept as counters on the row that owns them
(``ImportLicence.reserved_quantity`` / ``used_quantity``, ``AllocationRound.granted_*``)
and guarded by ``CheckConstraint``: services change them with conditional ``UPDATE``
statements, so even two racing requests cannot push them past their limit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from common import chain
from licences.chain import ChainedRecord, LedgerHead  # noqa: F401 (LedgerHead: one of this app's models)

ZERO = Decimal("0")


class Company(models.Model):
    """A licensee: an internet platform, an AI start-up, a cloud provider, ..."""

    class Category(models.TextChoices):
        INTERNET_PLATFORM = "internet_platform", "Internet platform"
        AI_STARTUP = "ai_startup", "AI start-up"
        CLOUD_PROVIDER = "cloud_provider", "Cloud provider"
        RESEARCH = "research", "Research institute"
        OTHER = "other", "Other"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    name_zh = models.CharField(
        max_length=200,
        blank=True,
        db_default="",
        help_text="The company's Chinese name, shown when the language is Chinese.",
    )
    category = models.CharField(max_length=32, choices=Category.choices, default=Category.OTHER)
    compliance_contact_emails = models.TextField(
        blank=True, help_text="Compliance officers who receive alerts, one address per line."
    )
    preferred_language = models.CharField(
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.ALERT_DEFAULT_LANGUAGE,
        db_default=settings.ALERT_DEFAULT_LANGUAGE,
        help_text="Language of the alert e-mails and digests sent to the compliance contacts.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name

    @property
    def contact_emails(self) -> list[str]:
        return [line.strip() for line in self.compliance_contact_emails.splitlines() if line.strip()]


class ChipModel(models.Model):
    """A catalogue entry. ``compute_index`` is relative to the H20 (H20 = 1.0, H200 = 6.0)."""

    class Origin(models.TextChoices):
        FOREIGN = "foreign", "Foreign"
        DOMESTIC = "domestic", "Domestic"

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    vendor = models.CharField(max_length=100)
    origin = models.CharField(max_length=16, choices=Origin.choices)
    export_controlled = models.BooleanField(default=False)
    compute_index = models.DecimalField(max_digits=8, decimal_places=3)
    reference_unit_value_usd = models.DecimalField(max_digits=14, decimal_places=2)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(compute_index__gt=0), name="chip_compute_index_positive"),
            models.CheckConstraint(
                condition=Q(reference_unit_value_usd__gte=0), name="chip_reference_value_not_negative"
            ),
            models.CheckConstraint(condition=Q(origin__in=["foreign", "domestic"]), name="chip_origin_valid"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_domestic(self) -> bool:
        return self.origin == self.Origin.DOMESTIC


class AllocationRound(models.Model):
    """A wave: a national cap on the units and value its licences may grant in total.

    ``granted_units`` / ``granted_value_usd`` are the running totals of approved grants,
    moved only by ``licence_approve`` with a conditional update; the check constraints make
    exceeding the cap impossible whatever the code path.
    """

    name = models.CharField(max_length=100, unique=True)
    unit_cap = models.PositiveBigIntegerField()
    value_cap_usd = models.DecimalField(max_digits=18, decimal_places=2)
    opens_on = models.DateField()
    closes_on = models.DateField()
    granted_units = models.PositiveBigIntegerField(default=0, editable=False)
    granted_value_usd = models.DecimalField(max_digits=18, decimal_places=2, default=ZERO, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["opens_on", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(unit_cap__gt=0), name="round_unit_cap_positive"),
            models.CheckConstraint(condition=Q(value_cap_usd__gt=0), name="round_value_cap_positive"),
            models.CheckConstraint(condition=Q(opens_on__lte=F("closes_on")), name="round_window_ordered"),
            models.CheckConstraint(condition=Q(granted_units__lte=F("unit_cap")), name="round_units_within_cap"),
            models.CheckConstraint(
                condition=Q(granted_value_usd__gte=0) & Q(granted_value_usd__lte=F("value_cap_usd")),
                name="round_value_within_cap",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ImportLicence(models.Model):
    """A company's right to import up to ``granted_quantity`` of one chip model in a round.

    Shipments draw it down: ``reserved_quantity`` is declared but not yet cleared,
    ``used_quantity`` is cleared. ``reserved + used <= granted`` is a database constraint.
    """

    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        APPROVED = "approved", "Approved"
        SUSPENDED = "suspended", "Suspended"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"
        REJECTED = "rejected", "Rejected"

    # Unique within its company only (``licence_number_unique_per_company``): a company can
    # neither learn that another's number exists nor take it first. See docs/identifiers.md.
    number = models.CharField(max_length=64)
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="licences")
    chip = models.ForeignKey(ChipModel, on_delete=models.PROTECT, related_name="licences")
    round = models.ForeignKey(AllocationRound, on_delete=models.PROTECT, related_name="licences")
    requested_quantity = models.PositiveBigIntegerField(validators=[MinValueValidator(1)])
    granted_quantity = models.PositiveBigIntegerField(default=0)
    reserved_quantity = models.PositiveBigIntegerField(default=0, editable=False)
    used_quantity = models.PositiveBigIntegerField(default=0, editable=False)
    unit_value_usd = models.DecimalField(max_digits=14, decimal_places=2)
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.APPLIED)
    status_reason = models.TextField(blank=True)
    applied_at = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-applied_at", "number"]
        indexes = [
            models.Index(fields=["company", "status"]),
            models.Index(fields=["status", "valid_until"]),
            # The licence list's default order: a page is read off the index, not sorted.
            models.Index(fields=["-applied_at", "number"], name="licence_applied_number_idx"),
        ]
        constraints = [
            # Number first: the one index serves the look-up by number alone (a URL without
            # ?company=) as well as by company and number.
            models.UniqueConstraint(fields=["number", "company"], name="licence_number_unique_per_company"),
            models.CheckConstraint(condition=Q(requested_quantity__gt=0), name="licence_requested_positive"),
            models.CheckConstraint(
                condition=Q(granted_quantity__lte=F("requested_quantity")), name="licence_granted_within_requested"
            ),
            models.CheckConstraint(
                condition=Q(reserved_quantity__gte=0)
                & Q(used_quantity__gte=0)
                & Q(granted_quantity__gte=F("reserved_quantity") + F("used_quantity")),
                name="licence_never_overdrawn",
            ),
            models.CheckConstraint(condition=Q(unit_value_usd__gte=0), name="licence_unit_value_not_negative"),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_from__lte=F("valid_until")),
                name="licence_validity_ordered",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["applied", "rejected"])
                | (Q(granted_quantity__gt=0) & Q(valid_from__isnull=False) & Q(valid_until__isnull=False)),
                name="licence_decided_has_grant_and_window",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def remaining_quantity(self) -> int:
        return self.granted_quantity - self.reserved_quantity - self.used_quantity

    @property
    def granted_value_usd(self) -> Decimal:
        return self.unit_value_usd * self.granted_quantity


class LicenceDecision(ChainedRecord):
    """One row of a licence's decision ledger: append-only, never edited or deleted.

    Every service that changes a licence's status or grant (apply, approve, reject,
    suspend, reinstate, revoke, expire, grant change) writes exactly one row (a revocation
    or expiry leaving grant unused a second, its ``release`` with ``released_quantity``), in the
    transaction that changes the licence, so the licence row's status is always the
    ``status`` of its latest row. Two times per row (see ``quotas.selectors.as_of``):
    ``effective_on`` is *valid time*, the day the decision took effect (a paper licence
    issued in January and entered in March is effective in January); ``recorded_at`` is
    *transaction time*, when the service learned it. ``status``, ``granted_quantity`` and
    the validity window are the licence's as they stood after the decision, so the ledger
    alone answers "was this licence in force on D, as known at K".

    Hash-chained per company (stream ``licence_decisions``, ``licences.chain``): ``company``
    is the licence's, copied so that each company's chain has its own key and lock.
    """

    class Kind(models.TextChoices):
        APPLY = "apply", "Application"
        APPROVE = "approve", "Approval"
        REJECT = "reject", "Rejection"
        SUSPEND = "suspend", "Suspension"
        REINSTATE = "reinstate", "Reinstatement"
        REVOKE = "revoke", "Revocation"
        EXPIRE = "expire", "Expiry"
        GRANT_CHANGE = "grant_change", "Grant change"
        # The unused remainder of a revoked or expired licence returned to its round.
        RELEASE = "release", "Release of remainder"

    # No index of its own: the (licence, effective_on, id) index below serves every look-up by licence.
    licence = models.ForeignKey(ImportLicence, on_delete=models.PROTECT, related_name="decisions", db_index=False)
    # The chain's key; the unique (company, chain_seq) constraint below indexes it.
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="+", db_index=False, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(
        max_length=16, choices=ImportLicence.Status.choices, help_text="The licence's status after this decision."
    )
    effective_on = models.DateField(help_text="Valid time: the day the decision took effect.")
    recorded_at = models.DateTimeField(
        default=timezone.now, help_text="Transaction time: when the service recorded the decision."
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.CharField(max_length=150, blank=True, help_text="Who recorded it: a user name or an API key.")
    reason = models.TextField(blank=True)
    late_entry = models.BooleanField(
        default=False, help_text="Recorded more than LICENCE_LATE_ENTRY_DAYS after it took effect."
    )
    granted_quantity = models.PositiveBigIntegerField(default=0, help_text="The grant after this decision.")
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    released_quantity = models.PositiveBigIntegerField(
        default=0, help_text="A release only: the unused units returned to the licence's round."
    )

    class Meta:
        ordering = ["licence_id", "effective_on", "id"]
        indexes = [
            # The licence's state on a date (the latest row by effective_on, then id) as one
            # backward index probe; on PostgreSQL without visiting the table.
            models.Index(
                fields=["licence", "effective_on", "id"],
                include=["status", "recorded_at"],
                name="licence_decision_state_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "apply",
                        "approve",
                        "reject",
                        "suspend",
                        "reinstate",
                        "revoke",
                        "expire",
                        "grant_change",
                        "release",
                    ]
                ),
                name="licence_decision_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_from__lte=F("valid_until")),
                name="licence_decision_window_ordered",
            ),
            models.CheckConstraint(
                condition=(Q(kind="release") & Q(released_quantity__gt=0))
                | (~Q(kind="release") & Q(released_quantity=0)),
                name="licence_decision_release_has_quantity",
            ),
            models.UniqueConstraint(fields=["company", "chain_seq"], name="licence_decision_chain_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.licence_id}: {self.kind} effective {self.effective_on:%Y-%m-%d}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("Licence decisions are append-only: a recorded row is never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("Licence decisions are append-only: a recorded row is never deleted.")

    def prepare_chain(self) -> None:
        if self.company_id is None:
            self.company_id = self.licence.company_id


#: Every column a licence decision is written with is hashed (``common.chain``).
LICENCE_DECISIONS = chain.register(
    chain.Stream(
        name="licence_decisions",
        model=LicenceDecision,
        fields=(
            "company_id", "licence_id", "kind", "status", "effective_on", "recorded_at", "recorded_by_id", "actor",
            "reason", "late_entry", "granted_quantity", "valid_from", "valid_until", "released_quantity",
        ),
        label="licence decisions",
    )
)  # fmt: skip


class Shipment(models.Model):
    """A customs declaration: a consignment of one chip model drawn against one licence."""

    class Status(models.TextChoices):
        DECLARED = "declared", "Declared"
        INSPECTING = "inspecting", "Inspecting"
        HELD = "held", "Held"
        CLEARED = "cleared", "Cleared"
        REJECTED = "rejected", "Rejected"

    # Unique within its company only (``shipment_declaration_unique_per_company``).
    declaration_number = models.CharField(max_length=64)
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="shipments")
    licence = models.ForeignKey(ImportLicence, on_delete=models.PROTECT, related_name="shipments")
    chip = models.ForeignKey(ChipModel, on_delete=models.PROTECT, related_name="shipments")
    quantity = models.PositiveBigIntegerField(validators=[MinValueValidator(1)])
    declared_value_usd = models.DecimalField(max_digits=18, decimal_places=2)
    port_of_entry = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DECLARED)
    declared_at = models.DateTimeField()
    status_changed_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    held_since = models.DateTimeField(null=True, blank=True)
    entry_block_directive = models.ForeignKey(
        "CustomsDirective",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="blocked_shipments",
        help_text="The entry directive in force for this chip when the shipment was declared.",
    )
    # One history row per customs event, written in bulk: the history table keeps only the
    # indexes something reads (history_id; id for a shipment's own history; company_id for
    # the company history page; history_date; history_user). An index per copied foreign
    # key or per declaration number would cost every batch and serve no query.
    history = HistoricalRecords(no_db_index=["chip", "licence", "entry_block_directive", "declaration_number"])

    class Meta:
        ordering = ["-declared_at", "declaration_number"]
        indexes = [
            models.Index(fields=["company", "status"]),
            models.Index(fields=["licence", "status"]),
            models.Index(fields=["status", "held_since"]),
            # A company's cleared quantity (quota positions, the quota endpoint, the sweep's
            # quota rule) from the index alone on PostgreSQL, without visiting the table.
            models.Index(
                fields=["company", "cleared_at"],
                include=["chip", "licence", "quantity"],
                name="shipment_company_cleared_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["declaration_number", "company"], name="shipment_declaration_unique_per_company"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shipment_quantity_positive"),
            models.CheckConstraint(condition=Q(declared_value_usd__gte=0), name="shipment_value_not_negative"),
            models.CheckConstraint(
                condition=~Q(status="cleared") | Q(cleared_at__isnull=False), name="shipment_cleared_has_date"
            ),
        ]

    def __str__(self) -> str:
        return self.declaration_number


class CustomsEvent(ChainedRecord):
    """One step of a shipment's customs history. Append-only: never edited or deleted.

    Hash-chained per company (stream ``customs_events``, ``licences.chain``): ``company`` is
    the shipment's, copied so that each company's chain has its own key and lock.
    """

    # No index of its own: the (shipment, occurred_at) index below serves every lookup by shipment.
    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="events", db_index=False)
    # No index of its own either: the unique (company, chain_seq) constraint below serves it.
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="+", db_index=False, editable=False)
    status = models.CharField(max_length=16, choices=Shipment.Status.choices)
    occurred_at = models.DateTimeField()
    note = models.TextField(blank=True)
    # Set when the row is built (not at insert, as ``auto_now_add`` would): the hash covers it.
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    recorded_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["shipment_id", "occurred_at", "id"]
        indexes = [models.Index(fields=["shipment", "occurred_at"])]
        constraints = [
            models.UniqueConstraint(fields=["company", "chain_seq"], name="customs_event_chain_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id}: {self.status} at {self.occurred_at:%Y-%m-%d %H:%M}"

    def prepare_chain(self) -> None:
        if self.company_id is None:
            self.company_id = self.shipment.company_id


#: Every column a customs event is written with is hashed (``common.chain``).
CUSTOMS_EVENTS = chain.register(
    chain.Stream(
        name="customs_events",
        model=CustomsEvent,
        fields=("company_id", "shipment_id", "status", "occurred_at", "note", "recorded_at", "recorded_by"),
        label="customs events",
    )
)


class CustomsDirective(models.Model):
    """An entry block: a chip model may not enter between two dates (``blocked_until`` open-ended)."""

    reference = models.CharField(max_length=64, unique=True)
    chip = models.ForeignKey(ChipModel, on_delete=models.PROTECT, related_name="directives")
    blocked_from = models.DateField()
    blocked_until = models.DateField(null=True, blank=True)
    reason = models.TextField(blank=True)
    issued_by = models.CharField(max_length=150, blank=True, help_text="Who recorded the directive.")
    lifted_at = models.DateTimeField(null=True, blank=True, help_text="When the block was lifted (a customs act).")
    lifted_by = models.CharField(max_length=150, blank=True, help_text="Who lifted the block.")
    lift_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-blocked_from", "reference"]
        constraints = [
            models.CheckConstraint(
                condition=Q(blocked_until__isnull=True) | Q(blocked_from__lte=F("blocked_until")),
                name="directive_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.reference
