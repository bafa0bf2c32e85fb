"""Shipments (customs declarations), their hash-chained customs events and customs directives."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from common import chain
from licences.chain import ChainedRecord
from licences.models.core import ChipModel, Company, ImportLicence


class Shipment(models.Model):
    """A customs declaration: a consignment of one chip model drawn against one licence."""

    class Status(models.TextChoices):
        DECLARED = "declared", _("Declared")
        INSPECTING = "inspecting", _("Inspecting")
        HELD = "held", _("Held")
        CLEARED = "cleared", _("Cleared")
        REJECTED = "rejected", _("Rejected")

    # Unique within its company only (``shipment_declaration_unique_per_company``).
    declaration_number = models.CharField(_("declaration number"), max_length=64)
    # No index of their own: the composite indexes below lead with each (a second index on the
    # column alone cost every write, and steered the planner away from shipment_company_cleared_idx
    # once other companies' late clearances skewed its statistics: 17 ms instead of 0.05 ms for a
    # quota position).
    company = models.ForeignKey(
        Company, verbose_name=_("company"), on_delete=models.PROTECT, related_name="shipments", db_index=False
    )
    licence = models.ForeignKey(
        ImportLicence, verbose_name=_("licence"), on_delete=models.PROTECT, related_name="shipments", db_index=False
    )
    chip = models.ForeignKey(
        ChipModel, verbose_name=_("chip model"), on_delete=models.PROTECT, related_name="shipments"
    )
    quantity = models.PositiveBigIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    declared_value_usd = models.DecimalField(_("declared value (USD)"), max_digits=18, decimal_places=2)
    port_of_entry = models.CharField(_("port of entry"), max_length=100)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DECLARED)
    declared_at = models.DateTimeField(_("declared at"))
    status_changed_at = models.DateTimeField(_("status changed at"))
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    held_since = models.DateTimeField(_("held since"), null=True, blank=True)
    entry_block_directive = models.ForeignKey(
        "CustomsDirective",
        verbose_name=_("entry block directive"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="blocked_shipments",
        help_text=_("The entry directive in force for this chip when the shipment was declared."),
        db_index=False,  # shipment_blocked_company_idx below: only the blocked shipments, by company
    )
    # One history row per declaration (the customs events are the shipment's customs history
    # and write none), written in bulk by batches: the history table keeps only the
    # indexes something reads (history_id; id for a shipment's own history; company_id for
    # the company history page; history_date; history_user). An index per copied foreign
    # key or per declaration number would cost every batch and serve no query.
    history = HistoricalRecords(no_db_index=["chip", "licence", "entry_block_directive", "declaration_number"])

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["-declared_at", "declaration_number"]
        indexes = [
            models.Index(fields=["company", "status"]),
            models.Index(fields=["licence", "status"]),
            models.Index(fields=["status", "held_since"]),
            # The sweep asks per chunk of companies for held and for blocked shipments: these two
            # read only the chunk's (every held shipment, or every blocked one, once per chunk
            # before: 8 times in a national sweep), and hold only the few rows they are about,
            # so a customs event that neither holds nor blocks writes nothing to them.
            models.Index(
                fields=["company", "held_since"], condition=Q(status="held"), name="shipment_held_company_idx"
            ),
            models.Index(
                fields=["entry_block_directive", "company"],
                condition=Q(entry_block_directive__isnull=False),
                name="shipment_blocked_company_idx",
            ),
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
    shipment = models.ForeignKey(
        Shipment, verbose_name=_("shipment"), on_delete=models.PROTECT, related_name="events", db_index=False
    )
    # No index of its own either: the unique (company, chain_seq) constraint below serves it. A copy
    # of the shipment's company, checked by verify_ledger rather than by a foreign key
    # (``common.chain.Stream``).
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
        editable=False,
    )
    status = models.CharField(_("status"), max_length=16, choices=Shipment.Status.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    note = models.TextField(_("note"), blank=True)
    # Set when the row is built (not at insert, as ``auto_now_add`` would): the hash covers it.
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now, editable=False)
    recorded_by = models.CharField(_("recorded by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("customs event")
        verbose_name_plural = _("customs events")
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
        label=_("customs events"),
        parent="shipment_id",
    )
)


class CustomsDirective(models.Model):
    """An entry block: a chip model may not enter between two dates (``blocked_until`` open-ended)."""

    reference = models.CharField(_("reference"), max_length=64, unique=True)
    chip = models.ForeignKey(
        ChipModel, verbose_name=_("chip model"), on_delete=models.PROTECT, related_name="directives"
    )
    blocked_from = models.DateField(_("blocked from"))
    blocked_until = models.DateField(_("blocked until"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    issued_by = models.CharField(_("issued by"), max_length=150, blank=True, help_text=_("Who recorded the directive."))
    lifted_at = models.DateTimeField(
        _("lifted at"), null=True, blank=True, help_text=_("When the block was lifted (a customs act).")
    )
    lifted_by = models.CharField(_("lifted by"), max_length=150, blank=True, help_text=_("Who lifted the block."))
    lift_reason = models.TextField(_("lift reason"), blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("customs directive")
        verbose_name_plural = _("customs directives")
        ordering = ["-blocked_from", "reference"]
        constraints = [
            models.CheckConstraint(
                condition=Q(blocked_until__isnull=True) | Q(blocked_from__lte=F("blocked_until")),
                name="directive_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.reference
