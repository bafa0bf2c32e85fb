"""US security conditions: requirements and the companies' attestations against them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from licences.models import Company, Shipment


class SecurityRequirement(models.Model):
    """A procedure the US side requires of a Chinese customer (end-user verification, ...).

    ``scope`` says whether it is attested once per company or per shipment (lot testing).
    """

    class Scope(models.TextChoices):
        COMPANY = "company", _("Company")
        SHIPMENT = "shipment", _("Shipment")

    code = models.SlugField(max_length=64, unique=True, verbose_name=_("code"))
    title = models.CharField(max_length=200, verbose_name=_("title"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    mandatory = models.BooleanField(default=True, verbose_name=_("mandatory"))
    validity_days = models.PositiveIntegerField(default=365, verbose_name=_("validity days"))
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.COMPANY, verbose_name=_("scope"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("security requirement")
        verbose_name_plural = _("security requirements")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(validity_days__gt=0), name="requirement_validity_positive"),
        ]

    def __str__(self) -> str:
        return self.code


class SecurityAttestation(models.Model):
    """A company's evidence that it meets one requirement (for one shipment, if so scoped)."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")

    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="attestations", verbose_name=_("company")
    )
    requirement = models.ForeignKey(
        SecurityRequirement, on_delete=models.PROTECT, related_name="attestations", verbose_name=_("requirement")
    )
    shipment = models.ForeignKey(
        Shipment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="attestations",
        verbose_name=_("shipment"),
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTED, verbose_name=_("status"))
    evidence_file = models.FileField(upload_to="attestations/%Y/%m/", blank=True, verbose_name=_("evidence file"))
    evidence_reference = models.CharField(max_length=300, blank=True, verbose_name=_("evidence reference"))
    attested_on = models.DateField(verbose_name=_("attested on"))
    reviewed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reviewed at"))
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    review_note = models.TextField(blank=True, verbose_name=_("review note"))
    expires_on = models.DateField(null=True, blank=True, verbose_name=_("expires on"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("security attestation")
        verbose_name_plural = _("security attestations")
        ordering = ["-attested_on", "id"]
        indexes = [
            models.Index(fields=["company", "requirement", "status"]),
            # The shipment-condition rule's "no accepted attestation for this shipment" probe:
            # an index-only anti-join instead of hashing every attestation in the country.
            models.Index(
                fields=["shipment", "requirement"],
                name="attestation_shipment_accepted",
                condition=Q(status="accepted", shipment__isnull=False),
            ),
        ]
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
