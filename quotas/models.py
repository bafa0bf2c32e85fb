"""Quota policies (versioned data, never constants) and domestic purchase commitments."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from common import chain
from licences.chain import ChainedRecord
from licences.models import ChipModel, Company


class QuotaPolicy(models.Model):
    """A versioned domestic-purchase rule: ``required = ratio x imported`` on a basis.

    At most one *active* policy is in force on any date; drafts sit beside it for impact
    studies. A ratio change is a new version: an active policy's terms are never edited.
    """

    class Basis(models.TextChoices):
        UNITS = "units", "Units"
        VALUE = "value", "Value (USD)"
        COMPUTE = "compute", "Compute (H20 = 1)"

    class MeasuredOn(models.TextChoices):
        LICENSED = "licensed", "Granted quantity of approved licences"
        CLEARED = "cleared", "Quantity cleared through customs"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    ratio = models.DecimalField(max_digits=7, decimal_places=4, help_text="Domestic : imported, e.g. 0.3000")
    basis = models.CharField(max_length=16, choices=Basis.choices, default=Basis.UNITS)
    measured_on = models.CharField(max_length=16, choices=MeasuredOn.choices, default=MeasuredOn.LICENSED)
    counts_pledged = models.BooleanField(default=False)
    counts_contracted = models.BooleanField(default=True)
    counts_delivered = models.BooleanField(default=True)
    grace_days = models.PositiveIntegerField(default=0)
    effective_from = models.DateField()
    effective_until = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-effective_from", "-version"]
        verbose_name_plural = "quota policies"
        constraints = [
            models.CheckConstraint(condition=Q(ratio__gte=0) & Q(ratio__lte=100), name="policy_ratio_range"),
            models.CheckConstraint(
                condition=Q(effective_until__isnull=True) | Q(effective_from__lte=F("effective_until")),
                name="policy_window_ordered",
            ),
            models.UniqueConstraint(fields=["name", "version"], name="policy_name_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.ratio:%} by {self.basis}, {self.status})"

    @property
    def counted_statuses(self) -> list[str]:
        counted: list[str] = []
        if self.counts_pledged:
            counted.append(DomesticCommitment.Status.PLEDGED)
        if self.counts_contracted:
            counted.append(DomesticCommitment.Status.CONTRACTED)
        if self.counts_delivered:
            counted.append(DomesticCommitment.Status.DELIVERED)
        return counted


class DomesticCommitment(models.Model):
    """A company's commitment to buy domestic chips, the condition of its import licences.

    Only a domestic chip may be committed: besides the service check, a database trigger
    (migration 0002) refuses any row whose chip is not of domestic origin.
    """

    class Status(models.TextChoices):
        PLEDGED = "pledged", "Pledged"
        CONTRACTED = "contracted", "Contracted"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="commitments")
    chip = models.ForeignKey(ChipModel, on_delete=models.PROTECT, related_name="commitments")
    quantity = models.PositiveBigIntegerField()
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    unit_price_usd = models.DecimalField(
        max_digits=14, decimal_places=2, help_text="USD equivalent at contract: the weight on a value basis."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLEDGED)
    pledged_on = models.DateField()
    contracted_on = models.DateField(null=True, blank=True)
    delivered_on = models.DateField(null=True, blank=True)
    cancelled_on = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    delivered_quantity = models.PositiveBigIntegerField(default=0)
    contract_reference = models.CharField(max_length=100, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-pledged_on", "id"]
        indexes = [models.Index(fields=["company", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="commitment_quantity_positive"),
            models.CheckConstraint(
                condition=Q(delivered_quantity__gte=0) & Q(delivered_quantity__lte=F("quantity")),
                name="commitment_delivered_within_quantity",
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0) & Q(unit_price_usd__gte=0), name="commitment_price_not_negative"
            ),
            models.CheckConstraint(
                condition=~Q(status="contracted") | Q(contracted_on__isnull=False),
                name="commitment_contracted_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_on__isnull=False),
                name="commitment_cancelled_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status="delivered")
                | (Q(delivered_on__isnull=False) & Q(delivered_quantity=F("quantity"))),
                name="commitment_delivered_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} {self.quantity} x {self.chip} ({self.status})"

    @property
    def value_usd(self) -> Decimal:
        return self.unit_price_usd * self.quantity


class CommitmentChange(ChainedRecord):
    """One row of a commitment's change ledger: append-only, never edited or deleted.

    Every commitment service (record, contract, deliver, cancel) writes its rows in the
    transaction that changes the commitment: recording an already contracted commitment is
    two facts, a pledge and a contract, so two rows. ``effective_on`` is valid time (the
    pledge, contract, delivery or cancellation date the company gives), ``recorded_at``
    transaction time; ``status``, ``quantity``, ``delivered_quantity`` and ``unit_price_usd``
    are the commitment's after the change. Positions "as known at" a moment read it
    (``quotas.selectors.as_of``).

    Hash-chained per company (stream ``commitment_changes``, ``licences.chain``): ``company``
    is the commitment's, copied so that each company's chain has its own key and lock.
    """

    class Kind(models.TextChoices):
        PLEDGE = "pledge", "Pledge"
        CONTRACT = "contract", "Contract"
        DELIVER = "deliver", "Delivery"
        CANCEL = "cancel", "Cancellation"
        # Reserved for a change of terms (quantity, price) once a service offers one.
        AMEND = "amend", "Amendment"

    # No index of its own: the (commitment, effective_on, id) index below serves every look-up.
    commitment = models.ForeignKey(DomesticCommitment, on_delete=models.PROTECT, related_name="changes", db_index=False)
    # The chain's key; the unique (company, chain_seq) constraint below indexes it.
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="+", db_index=False, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(
        max_length=16,
        choices=DomesticCommitment.Status.choices,
        help_text="The commitment's status after this change.",
    )
    effective_on = models.DateField(help_text="Valid time: the day the change took effect.")
    recorded_at = models.DateTimeField(
        default=timezone.now, help_text="Transaction time: when the service recorded the change."
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.CharField(max_length=150, blank=True, help_text="Who recorded it: a user name or an API key.")
    note = models.TextField(blank=True, help_text="The contract reference, the cancellation's reason, ...")
    quantity = models.PositiveBigIntegerField(help_text="The committed quantity after this change.")
    delivered_quantity = models.PositiveBigIntegerField(default=0, help_text="Delivered so far, after this change.")
    unit_price_usd = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["commitment_id", "effective_on", "id"]
        indexes = [
            models.Index(
                fields=["commitment", "effective_on", "id"],
                include=["status", "recorded_at"],
                name="commitment_change_state_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["pledge", "contract", "deliver", "cancel", "amend"]),
                name="commitment_change_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(delivered_quantity__lte=F("quantity")), name="commitment_change_delivered_within_quantity"
            ),
            models.UniqueConstraint(fields=["company", "chain_seq"], name="commitment_change_chain_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.commitment_id}: {self.kind} effective {self.effective_on:%Y-%m-%d}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("Commitment changes are append-only: a recorded row is never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("Commitment changes are append-only: a recorded row is never deleted.")

    def prepare_chain(self) -> None:
        if self.company_id is None:
            self.company_id = self.commitment.company_id


#: Every column a commitment change is written with is hashed (``common.chain``).
COMMITMENT_CHANGES = chain.register(
    chain.Stream(
        name="commitment_changes",
        model=CommitmentChange,
        fields=(
            "company_id", "commitment_id", "kind", "status", "effective_on", "recorded_at", "recorded_by_id", "actor",
            "note", "quantity", "delivered_quantity", "unit_price_usd",
        ),
        label="commitment changes",
    )
)  # fmt: skip
