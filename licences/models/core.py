"""Companies, the chip catalogue, allocation rounds and import licences.

Quantities that must never be over-drawn are kept as counters on the row that owns them
(``ImportLicence.reserved_quantity`` / ``used_quantity``, ``AllocationRound.granted_*``)
and guarded by ``CheckConstraint``: services change them with conditional ``UPDATE``
statements, so even two racing requests cannot push them past their limit.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

ZERO = Decimal("0")


class Company(models.Model):
    """A licensee: an internet platform, an AI start-up, a cloud provider, ..."""

    class Category(models.TextChoices):
        INTERNET_PLATFORM = "internet_platform", _("Internet platform")
        AI_STARTUP = "ai_startup", _("AI start-up")
        CLOUD_PROVIDER = "cloud_provider", _("Cloud provider")
        RESEARCH = "research", _("Research institute")
        OTHER = "other", _("Other")

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_zh = models.CharField(
        _("Chinese name"),
        max_length=200,
        blank=True,
        db_default="",
        help_text=_("The company's Chinese name, shown when the language is Chinese."),
    )
    category = models.CharField(_("category"), max_length=32, choices=Category.choices, default=Category.OTHER)
    compliance_contact_emails = models.TextField(
        _("compliance contact e-mails"),
        blank=True,
        help_text=_("Compliance officers who receive alerts, one address per line."),
    )
    preferred_language = models.CharField(
        _("preferred language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.ALERT_DEFAULT_LANGUAGE,
        db_default=settings.ALERT_DEFAULT_LANGUAGE,
        help_text=_("Language of the alert e-mails and digests sent to the compliance contacts."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """The name for the active language: the Chinese name in Chinese when there is one."""
        if self.name_zh and (get_language() or "").lower().startswith("zh"):
            return self.name_zh
        return self.name

    @property
    def contact_emails(self) -> list[str]:
        return [line.strip() for line in self.compliance_contact_emails.splitlines() if line.strip()]


class ChipModel(models.Model):
    """A catalogue entry. ``compute_index`` is relative to the H20 (H20 = 1.0, H200 = 6.0)."""

    class Origin(models.TextChoices):
        FOREIGN = "foreign", _("Foreign")
        DOMESTIC = "domestic", _("Domestic")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    vendor = models.CharField(_("vendor"), max_length=100)
    origin = models.CharField(_("origin"), max_length=16, choices=Origin.choices)
    export_controlled = models.BooleanField(_("export-controlled"), default=False)
    compute_index = models.DecimalField(_("compute index (H20 = 1)"), max_digits=8, decimal_places=3)
    reference_unit_value_usd = models.DecimalField(_("reference unit value (USD)"), max_digits=14, decimal_places=2)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("chip model")
        verbose_name_plural = _("chip models")
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

    name = models.CharField(_("name"), max_length=100, unique=True)
    unit_cap = models.PositiveBigIntegerField(_("unit cap"))
    value_cap_usd = models.DecimalField(_("value cap (USD)"), max_digits=18, decimal_places=2)
    opens_on = models.DateField(_("opens on"))
    closes_on = models.DateField(_("closes on"))
    granted_units = models.PositiveBigIntegerField(_("granted units"), default=0, editable=False)
    granted_value_usd = models.DecimalField(
        _("granted value (USD)"), max_digits=18, decimal_places=2, default=ZERO, editable=False
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("allocation round")
        verbose_name_plural = _("allocation rounds")
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
        APPLIED = "applied", _("Applied")
        APPROVED = "approved", _("Approved")
        SUSPENDED = "suspended", _("Suspended")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")
        REJECTED = "rejected", _("Rejected")

    # Unique within its company only (``licence_number_unique_per_company``): a company can
    # neither learn that another's number exists nor take it first. See docs/identifiers.md.
    number = models.CharField(_("licence number"), max_length=64)
    company = models.ForeignKey(Company, verbose_name=_("company"), on_delete=models.PROTECT, related_name="licences")
    chip = models.ForeignKey(ChipModel, verbose_name=_("chip model"), on_delete=models.PROTECT, related_name="licences")
    round = models.ForeignKey(
        AllocationRound, verbose_name=_("allocation round"), on_delete=models.PROTECT, related_name="licences"
    )
    requested_quantity = models.PositiveBigIntegerField(_("requested quantity"), validators=[MinValueValidator(1)])
    granted_quantity = models.PositiveBigIntegerField(_("granted quantity"), default=0)
    reserved_quantity = models.PositiveBigIntegerField(_("reserved quantity"), default=0, editable=False)
    used_quantity = models.PositiveBigIntegerField(_("used quantity"), default=0, editable=False)
    unit_value_usd = models.DecimalField(_("unit value (USD)"), max_digits=14, decimal_places=2)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.APPLIED)
    status_reason = models.TextField(_("reason for status"), blank=True)
    applied_at = models.DateTimeField(_("applied at"))
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("rejected at"), null=True, blank=True)
    suspended_at = models.DateTimeField(_("suspended at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    expired_at = models.DateTimeField(_("expired at"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("import licence")
        verbose_name_plural = _("import licences")
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
