"""Quota policies (versioned data, never constants) and domestic purchase commitments."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
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
        UNITS = "units", _("Units")
        VALUE = "value", _("Value (USD)")
        COMPUTE = "compute", _("Compute (H20 = 1)")

    class MeasuredOn(models.TextChoices):
        LICENSED = "licensed", _("Granted quantity of approved licences")
        CLEARED = "cleared", _("Quantity cleared through customs")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        RETIRED = "retired", _("Retired")

    name = models.CharField(_("name"), max_length=200)
    version = models.PositiveIntegerField(_("version"), default=1)
    ratio = models.DecimalField(
        _("ratio"), max_digits=7, decimal_places=4, help_text=_("Domestic : imported, e.g. 0.3000")
    )
    basis = models.CharField(_("basis"), max_length=16, choices=Basis.choices, default=Basis.UNITS)
    measured_on = models.CharField(
        _("measured on"), max_length=16, choices=MeasuredOn.choices, default=MeasuredOn.LICENSED
    )
    counts_pledged = models.BooleanField(_("counts pledged commitments"), default=False)
    counts_contracted = models.BooleanField(_("counts contracted commitments"), default=True)
    counts_delivered = models.BooleanField(_("counts delivered commitments"), default=True)
    grace_days = models.PositiveIntegerField(_("grace days"), default=0)
    effective_from = models.DateField(_("effective from"))
    effective_until = models.DateField(_("effective until"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("quota policy")
        verbose_name_plural = _("quota policies")
        ordering = ["-effective_from", "-version"]
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
        PLEDGED = "pledged", _("Pledged")
        CONTRACTED = "contracted", _("Contracted")
        DELIVERED = "delivered", _("Delivered")
        CANCELLED = "cancelled", _("Cancelled")

    company = models.ForeignKey(
        Company, verbose_name=_("company"), on_delete=models.PROTECT, related_name="commitments"
    )
    chip = models.ForeignKey(
        ChipModel, verbose_name=_("chip model"), on_delete=models.PROTECT, related_name="commitments"
    )
    quantity = models.PositiveBigIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    unit_price_usd = models.DecimalField(
        _("unit price (USD)"),
        max_digits=14,
        decimal_places=2,
        help_text=_("USD equivalent at contract: the weight on a value basis."),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PLEDGED)
    pledged_on = models.DateField(_("pledged on"))
    contracted_on = models.DateField(_("contracted on"), null=True, blank=True)
    delivered_on = models.DateField(_("delivered on"), null=True, blank=True)
    cancelled_on = models.DateField(_("cancelled on"), null=True, blank=True)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    delivered_quantity = models.PositiveBigIntegerField(_("delivered quantity"), default=0)
    contract_reference = models.CharField(_("contract reference"), max_length=100, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("domestic-chip purchase commitment")
        verbose_name_plural = _("domestic-chip purchase commitments")
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
        PLEDGE = "pledge", _("Pledge")
        CONTRACT = "contract", _("Contract")
        DELIVER = "deliver", _("Delivery")
        CANCEL = "cancel", _("Cancellation")
        # Reserved for a change of terms (quantity, price) once a service offers one.
        AMEND = "amend", _("Amendment")

    # No index of its own: the (commitment, effective_on, id) index below serves every look-up.
    commitment = models.ForeignKey(
        DomesticCommitment,
        verbose_name=_("commitment"),
        on_delete=models.PROTECT,
        related_name="changes",
        db_index=False,
    )
    # The chain's key; the unique (company, chain_seq) constraint below indexes it. A copy of the
    # parent's company, checked by verify_ledger rather than by a foreign key (``common.chain.Stream``).
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
        editable=False,
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=DomesticCommitment.Status.choices,
        help_text=_("The commitment's status after this change."),
    )
    effective_on = models.DateField(_("effective on"), help_text=_("Valid time: the day the change took effect."))
    recorded_at = models.DateTimeField(
        _("recorded at"), default=timezone.now, help_text=_("Transaction time: when the service recorded the change.")
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor = models.CharField(
        _("actor"), max_length=150, blank=True, help_text=_("Who recorded it: a user name or an API key.")
    )
    note = models.TextField(
        _("note"), blank=True, help_text=_("The contract reference, the cancellation's reason, ...")
    )
    quantity = models.PositiveBigIntegerField(_("quantity"), help_text=_("The committed quantity after this change."))
    delivered_quantity = models.PositiveBigIntegerField(
        _("delivered quantity"), default=0, help_text=_("Delivered so far, after this change.")
    )
    unit_price_usd = models.DecimalField(_("unit price (USD)"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("commitment change")
        verbose_name_plural = _("commitment changes")
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
        label=_("commitment changes"),
        parent="commitment_id",
    )
)  # fmt: skip
