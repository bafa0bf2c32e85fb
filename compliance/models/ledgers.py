"""Append-only, hash-chained ledgers of the compliance decisions: attestation reviews and finding transitions.

The attestation and finding rows keep their current state (and simple_history its
snapshots); these ledgers keep each decision as it was taken, one row each, chained per
company (``licences.chain``): a silent edit or deletion is found by ``verify_ledger``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from common import chain
from compliance.models.findings import Finding
from compliance.models.security import SecurityAttestation
from licences.chain import ChainedRecord
from licences.models import Company


class AttestationReview(ChainedRecord):
    """One review of a submitted attestation: accepted (until ``expires_on``) or rejected, by whom and why."""

    class Decision(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")

    attestation = models.ForeignKey(
        SecurityAttestation, on_delete=models.PROTECT, related_name="reviews", verbose_name=_("attestation")
    )
    # The chain's key; the unique (company, chain_seq) constraint indexes it. A copy of the
    # parent's company, checked by verify_ledger rather than by a foreign key (``common.chain.Stream``).
    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("company"),
    )
    decision = models.CharField(max_length=16, choices=Decision.choices, verbose_name=_("decision"))
    expires_on = models.DateField(null=True, blank=True, verbose_name=_("expires on"))
    note = models.TextField(blank=True, verbose_name=_("note"))
    reviewed_at = models.DateTimeField(verbose_name=_("reviewed at"))
    reviewed_by = models.CharField(
        max_length=150, blank=True, help_text=_("The reviewer (user name or API key)."), verbose_name=_("reviewed by")
    )

    class Meta:
        verbose_name = _("attestation review")
        verbose_name_plural = _("attestation reviews")
        ordering = ["company_id", "chain_seq"]
        constraints = [
            models.UniqueConstraint(fields=["company", "chain_seq"], name="attestation_review_chain_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.attestation_id}: {self.decision} at {self.reviewed_at:%Y-%m-%d %H:%M}"


class FindingTransition(ChainedRecord):
    """One change of a finding's state, as the sweep or an officer made it.

    ``kind`` says what happened (opened, re-opened, escalated, acknowledged, resolved);
    ``status`` and ``severity`` are the finding's after it. A heartbeat (the sweep seeing an
    unchanged finding again) is not a transition.
    """

    class Kind(models.TextChoices):
        OPENED = "opened", _("Opened")
        REOPENED = "reopened", _("Re-opened")
        ESCALATED = "escalated", _("Severity raised")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        RESOLVED = "resolved", _("Resolved")

    finding = models.ForeignKey(
        Finding, on_delete=models.PROTECT, related_name="transitions", verbose_name=_("finding")
    )
    # The chain's key; the unique (company, chain_seq) constraint indexes it. A copy of the
    # parent's company, checked by verify_ledger rather than by a foreign key (``common.chain.Stream``).
    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("company"),
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    status = models.CharField(max_length=16, choices=Finding.Status.choices, verbose_name=_("status"))
    severity = models.CharField(max_length=16, choices=Finding.Severity.choices, verbose_name=_("severity"))
    at = models.DateTimeField(verbose_name=_("at"))
    by = models.CharField(
        max_length=150,
        blank=True,
        help_text=_("Who made it: a user name, an API key or the sweep."),
        verbose_name=_("by"),
    )
    note = models.TextField(blank=True, verbose_name=_("note"))

    class Meta:
        verbose_name = _("finding transition")
        verbose_name_plural = _("finding transitions")
        ordering = ["company_id", "chain_seq"]
        constraints = [
            models.UniqueConstraint(fields=["company", "chain_seq"], name="finding_transition_chain_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.finding_id}: {self.kind} at {self.at:%Y-%m-%d %H:%M}"


ATTESTATION_REVIEWS = chain.register(
    chain.Stream(
        name="attestation_reviews",
        model=AttestationReview,
        fields=("company_id", "attestation_id", "decision", "expires_on", "note", "reviewed_at", "reviewed_by"),
        label=_("attestation reviews"),
        parent="attestation_id",
    )
)
FINDING_TRANSITIONS = chain.register(
    chain.Stream(
        name="finding_transitions",
        model=FindingTransition,
        fields=("company_id", "finding_id", "kind", "status", "severity", "at", "by", "note"),
        label=_("finding transitions"),
        parent="finding_id",
    )
)
