"""Getting findings out: webhook subscriptions, deliveries and attempts, alert and digest
emails, and the lock that keeps one sweep at a time.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from compliance.models.findings import Finding
from licences.models import Company


class WebhookSubscription(models.Model):
    """A receiver of signed alert webhooks: a company's own, or regulator-wide (no company)."""

    company = models.ForeignKey(
        Company,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_subscriptions",
        verbose_name=_("company"),
    )
    name = models.CharField(max_length=200, verbose_name=_("name"))
    url = models.URLField(max_length=500, verbose_name=_("url"))
    event_types = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Event types to receive, e.g. finding.opened; empty means all."),
        verbose_name=_("event types"),
    )
    secret = models.CharField(
        max_length=128, help_text=_("Shared secret for the HMAC-SHA256 signature."), verbose_name=_("secret")
    )
    language = models.CharField(
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.ALERT_DEFAULT_LANGUAGE,
        db_default=settings.ALERT_DEFAULT_LANGUAGE,
        help_text=_("Language of the human summary in each payload; the machine fields never change."),
        verbose_name=_("language"),
    )
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    consecutive_failures = models.PositiveIntegerField(default=0, verbose_name=_("consecutive failures"))
    disabled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("disabled at"))
    disabled_reason = models.CharField(max_length=300, blank=True, verbose_name=_("disabled reason"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    history = HistoricalRecords(excluded_fields=["secret"])

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookDelivery(models.Model):
    """One event to deliver to one subscription. ``delivery_id`` lets receivers de-duplicate."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", pgettext_lazy("webhook delivery", "Delivered")
        FAILED = "failed", _("Failed")

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("subscription")
    )
    delivery_id = models.UUIDField(unique=True, verbose_name=_("delivery id"))
    event_type = models.CharField(max_length=64, verbose_name=_("event type"))
    finding = models.ForeignKey(
        Finding, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("finding")
    )
    payload = models.JSONField(verbose_name=_("payload"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))

    class Meta:
        verbose_name = _("webhook delivery")
        ordering = ["-created_at", "id"]
        verbose_name_plural = _("webhook deliveries")

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.subscription} ({self.status})"


class WebhookAttempt(models.Model):
    """The log of one HTTP attempt at a delivery: when, what came back, how long it took."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log", verbose_name=_("delivery")
    )
    attempted_at = models.DateTimeField(verbose_name=_("attempted at"))
    response_code = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("response code"))
    error = models.CharField(max_length=500, blank=True, verbose_name=_("error"))
    duration_ms = models.PositiveIntegerField(default=0, verbose_name=_("duration ms"))

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery_id", "attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.attempted_at}: {self.response_code or self.error}"


class AlertEmail(models.Model):
    """An e-mail alert sent (or to send) about a finding; unique per finding, event and
    recipient so a re-run sweep or a re-delivered task never mails twice."""

    class Event(models.TextChoices):
        OPENED = "opened", _("Opened")
        ESCALATED = "escalated", _("Severity raised")
        RESOLVED = "resolved", _("Resolved")
        REMINDER = "reminder", _("Reminder")

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="emails", verbose_name=_("finding"))
    event = models.CharField(max_length=16, choices=Event.choices, verbose_name=_("event"))
    event_key = models.CharField(
        max_length=64, blank=True, help_text=_("Distinguishes repeats, e.g. reminder-7d."), verbose_name=_("event key")
    )
    recipient = models.EmailField(verbose_name=_("recipient"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))

    class Meta:
        verbose_name = _("alert e-mail")
        verbose_name_plural = _("alert e-mails")
        constraints = [
            models.UniqueConstraint(
                fields=["finding", "event", "event_key", "recipient"], name="alert_email_once_per_event"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.finding_id} -> {self.recipient}"


class JobLock(models.Model):
    """A named lock shared by every worker process (a row, so it works on SQLite and PostgreSQL).

    Held by one holder until released or until ``expires_at``, so a crashed sweep never
    blocks the next one for longer than the lock's lifetime.
    """

    name = models.CharField(max_length=100, unique=True, verbose_name=_("name"))
    holder = models.CharField(max_length=64, verbose_name=_("holder"))
    acquired_at = models.DateTimeField(verbose_name=_("acquired at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))

    class Meta:
        verbose_name = _("job lock")
        verbose_name_plural = _("job locks")

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder} until {self.expires_at}"


class DigestEmail(models.Model):
    """A daily digest sent to one recipient on one day: unique, so a re-run never mails twice."""

    digest_on = models.DateField(verbose_name=_("digest on"))
    recipient = models.EmailField(verbose_name=_("recipient"))
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("company")
    )
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))

    class Meta:
        verbose_name = _("digest e-mail")
        verbose_name_plural = _("digest e-mails")
        constraints = [
            models.UniqueConstraint(fields=["digest_on", "recipient"], name="digest_email_once_per_day"),
        ]

    def __str__(self) -> str:
        return f"digest {self.digest_on} -> {self.recipient}"
