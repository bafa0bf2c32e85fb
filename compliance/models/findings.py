"""Compliance findings: a gap the rules found, and its acknowledgement and resolution."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from licences.models import Company


class Finding(models.Model):
    """A flagged gap with a lifecycle. ``fingerprint`` (rule + company + subject) is unique:
    a sweep upserts on it instead of piling up duplicates."""

    class Severity(models.TextChoices):
        INFO = "info", _("Info")
        WARNING = "warning", _("Warning")
        HIGH = "high", _("High")
        # Above every rule's: the service's own record is in doubt (``ledger_tampered``).
        CRITICAL = "critical", _("Critical")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        RESOLVED = "resolved", _("Resolved")

    rule = models.CharField(max_length=64, verbose_name=_("rule"))
    severity = models.CharField(max_length=16, choices=Severity.choices, verbose_name=_("severity"))
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="findings", verbose_name=_("company"))
    subject = models.CharField(
        max_length=200, help_text=_("What the finding is about, e.g. licence:CN-H200-0001"), verbose_name=_("subject")
    )
    fingerprint = models.CharField(max_length=300, unique=True, verbose_name=_("fingerprint"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, verbose_name=_("status"))
    summary = models.CharField(max_length=300, verbose_name=_("summary"))
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    first_seen_at = models.DateTimeField(verbose_name=_("first seen at"))
    last_seen_at = models.DateTimeField(verbose_name=_("last seen at"))
    acknowledged_at = models.DateTimeField(null=True, blank=True, verbose_name=_("acknowledged at"))
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))
    resolution_note = models.TextField(blank=True, verbose_name=_("resolution note"))
    # What the sweep knew when it last computed the figures in ``summary`` and ``details``:
    # ask for positions ``as_known_at`` this moment to reproduce them, whatever was
    # back-dated since. Empty for findings raised outside the sweep's rules before it existed.
    as_known_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("The moment whose records the figures were computed from."),
        verbose_name=_("as known at"),
    )
    # The history keeps the indexes something reads (id for a finding's own history,
    # company for the company page, history date and user); the sweep writes tens of
    # thousands of rows at a time, and an index per fingerprint or acknowledger costs
    # every one of them and serves no query.
    history = HistoricalRecords(no_db_index=["fingerprint", "acknowledged_by"])

    class Meta:
        verbose_name = _("finding")
        verbose_name_plural = _("findings")
        ordering = ["-last_seen_at", "id"]
        indexes = [
            models.Index(fields=["company", "status"]),
            models.Index(fields=["rule", "status"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(first_seen_at__lte=F("last_seen_at")), name="finding_seen_ordered"),
            models.CheckConstraint(
                condition=~Q(status="resolved") | Q(resolved_at__isnull=False), name="finding_resolved_has_date"
            ),
        ]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.rule}: {self.summary}"
