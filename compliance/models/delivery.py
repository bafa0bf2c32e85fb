"""Getting findings out: webhook subscriptions, deliveries and attempts, alert and digest
emails, and the lock that keeps one sweep at a time.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from compliance.models.findings import Finding
from licences.models import Company


class WebhookSubscription(models.Model):
    """A receiver of signed alert webhooks: a company's own, or regulator-wide (no company)."""

    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    name = models.CharField(max_length=200)
    url = models.URLField(max_length=500)
    event_types = models.JSONField(
        default=list, blank=True, help_text="Event types to receive, e.g. finding.opened; empty means all."
    )
    secret = models.CharField(max_length=128, help_text="Shared secret for the HMAC-SHA256 signature.")
    language = models.CharField(
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.ALERT_DEFAULT_LANGUAGE,
        db_default=settings.ALERT_DEFAULT_LANGUAGE,
        help_text="Language of the human summary in each payload; the machine fields never change.",
    )
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["secret"])

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookDelivery(models.Model):
    """One event to deliver to one subscription. ``delivery_id`` lets receivers de-duplicate."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=64)
    finding = models.ForeignKey(Finding, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.subscription} ({self.status})"


class WebhookAttempt(models.Model):
    """The log of one HTTP attempt at a delivery: when, what came back, how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery_id", "attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.attempted_at}: {self.response_code or self.error}"


class AlertEmail(models.Model):
    """An e-mail alert sent (or to send) about a finding; unique per finding, event and
    recipient so a re-run sweep or a re-delivered task never mails twice."""

    class Event(models.TextChoices):
        OPENED = "opened", "Opened"
        ESCALATED = "escalated", "Severity raised"
        RESOLVED = "resolved", "Resolved"
        REMINDER = "reminder", "Reminder"

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="emails")
    event = models.CharField(max_length=16, choices=Event.choices)
    event_key = models.CharField(max_length=64, blank=True, help_text="Distinguishes repeats, e.g. reminder-7d.")
    recipient = models.EmailField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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

    name = models.CharField(max_length=100, unique=True)
    holder = models.CharField(max_length=64)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder} until {self.expires_at}"


class DigestEmail(models.Model):
    """A daily digest sent to one recipient on one day: unique, so a re-run never mails twice."""

    digest_on = models.DateField()
    recipient = models.EmailField()
    company = models.ForeignKey(Company, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["digest_on", "recipient"], name="digest_email_once_per_day"),
        ]

    def __str__(self) -> str:
        return f"digest {self.digest_on} -> {self.recipient}"
