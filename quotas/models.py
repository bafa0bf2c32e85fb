"""Quota policies (versioned data, never constants) and domestic purchase commitments."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

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
        counted = []
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
