"""US security conditions (requirements and attestations) and compliance findings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from licences.models import Company, Shipment


class SecurityRequirement(models.Model):
    """A procedure the US side requires of a Chinese customer (end-user verification, ...).

    ``scope`` says whether it is attested once per company or per shipment (lot testing).
    """

    class Scope(models.TextChoices):
        COMPANY = "company", "Company"
        SHIPMENT = "shipment", "Shipment"

    code = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    mandatory = models.BooleanField(default=True)
    validity_days = models.PositiveIntegerField(default=365)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.COMPANY)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(validity_days__gt=0), name="requirement_validity_positive"),
        ]

    def __str__(self) -> str:
        return self.code


class SecurityAttestation(models.Model):
    """A company's evidence that it meets one requirement (for one shipment, if so scoped)."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="attestations")
    requirement = models.ForeignKey(SecurityRequirement, on_delete=models.PROTECT, related_name="attestations")
    shipment = models.ForeignKey(Shipment, null=True, blank=True, on_delete=models.PROTECT, related_name="attestations")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTED)
    evidence_file = models.FileField(upload_to="attestations/%Y/%m/", blank=True)
    evidence_reference = models.CharField(max_length=300, blank=True)
    attested_on = models.DateField()
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_note = models.TextField(blank=True)
    expires_on = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-attested_on", "id"]
        indexes = [models.Index(fields=["company", "requirement", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(evidence_file="") | ~Q(evidence_reference=""), name="attestation_has_evidence"
            ),
            models.CheckConstraint(
                condition=~Q(status="accepted") | Q(expires_on__isnull=False), name="attestation_accepted_expires"
            ),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gte=F("attested_on")),
                name="attestation_expiry_after_attested",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} / {self.requirement} ({self.status})"


class Finding(models.Model):
    """A flagged gap with a lifecycle. ``fingerprint`` (rule + company + subject) is unique:
    a sweep upserts on it instead of piling up duplicates."""

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        HIGH = "high", "High"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    rule = models.CharField(max_length=64)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="findings")
    subject = models.CharField(max_length=200, help_text="What the finding is about, e.g. licence:CN-H200-0001")
    fingerprint = models.CharField(max_length=300, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    summary = models.CharField(max_length=300)
    details = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
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
