"""The licences' decision ledger: one append-only, hash-chained row per decision."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common import chain
from licences.chain import ChainedRecord
from licences.models.core import Company, ImportLicence


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
        APPLY = "apply", _("Application")
        APPROVE = "approve", _("Approval")
        REJECT = "reject", _("Rejection")
        SUSPEND = "suspend", _("Suspension")
        REINSTATE = "reinstate", _("Reinstatement")
        REVOKE = "revoke", _("Revocation")
        EXPIRE = "expire", _("Expiry")
        GRANT_CHANGE = "grant_change", _("Grant change")
        # The unused remainder of a revoked or expired licence returned to its round.
        RELEASE = "release", _("Release of remainder")

    # No index of its own: the (licence, effective_on, id) index below serves every look-up by licence.
    licence = models.ForeignKey(
        ImportLicence, verbose_name=_("licence"), on_delete=models.PROTECT, related_name="decisions", db_index=False
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
        choices=ImportLicence.Status.choices,
        help_text=_("The licence's status after this decision."),
    )
    effective_on = models.DateField(_("effective on"), help_text=_("Valid time: the day the decision took effect."))
    recorded_at = models.DateTimeField(
        _("recorded at"), default=timezone.now, help_text=_("Transaction time: when the service recorded the decision.")
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
    reason = models.TextField(_("reason"), blank=True)
    late_entry = models.BooleanField(
        _("late entry"), default=False, help_text=_("Recorded more than LICENCE_LATE_ENTRY_DAYS after it took effect.")
    )
    granted_quantity = models.PositiveBigIntegerField(
        _("granted quantity"), default=0, help_text=_("The grant after this decision.")
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    released_quantity = models.PositiveBigIntegerField(
        _("released quantity"),
        default=0,
        help_text=_("A release only: the unused units returned to the licence's round."),
    )

    class Meta:
        verbose_name = _("licence decision")
        verbose_name_plural = _("licence decisions")
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
        label=_("licence decisions"),
        parent="licence_id",
    )
)  # fmt: skip
