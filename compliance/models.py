"""US security conditions (requirements and attestations) and compliance findings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from rest_framework_api_key.models import AbstractAPIKey
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
    # The history keeps the indexes something reads (id for a finding's own history,
    # company for the company page, history date and user); the sweep writes tens of
    # thousands of rows at a time, and an index per fingerprint or acknowledger costs
    # every one of them and serves no query.
    history = HistoricalRecords(no_db_index=["fingerprint", "acknowledged_by"])

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


class CompanyAPIKey(AbstractAPIKey):
    """An API key: a company's procurement system, a regulator's system or a customs authority's.

    ``kind`` says which principal the key acts as (see ``api.permissions.MATRIX``):

    - ``company``: belongs to one company; sees and writes only that company's records;
    - ``regulator``: belongs to a user (a superuser or a member of the Regulator group) and
      stops authenticating as soon as that user is deactivated or loses the regulator's rights;
    - ``customs``: the customs authority (or a broker acting for it); belongs to no company and
      no user; records customs events and entry-block directives.

    Only a hash is stored (djangorestframework-api-key); the key is shown once when issued.
    """

    class Kind(models.TextChoices):
        COMPANY = "company", "Company"
        REGULATOR = "regulator", "Regulator"
        CUSTOMS = "customs", "Customs"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.COMPANY)
    company = models.ForeignKey(Company, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="api_keys",
        help_text="Regulator keys only: the regulator user the key acts for (deactivate the user to stop it).",
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        constraints = [
            # A regulator key without a user can only be a revoked legacy key (migration 0010).
            models.CheckConstraint(
                condition=(Q(kind="company") & Q(company__isnull=False) & Q(user__isnull=True))
                | (Q(kind="regulator") & Q(company__isnull=True) & (Q(user__isnull=False) | Q(revoked=True)))
                | (Q(kind="customs") & Q(company__isnull=True) & Q(user__isnull=True)),
                name="api_key_owner_matches_kind",
            ),
        ]


class IdempotencyRecord(models.Model):
    """The first answer to a POST sent with an ``Idempotency-Key``: a retry gets it again."""

    api_key = models.ForeignKey(CompanyAPIKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique_per_api_key"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class IngestionBatch(models.Model):
    """One bulk-ingestion request (shipments or customs events), remembered by its ``batch_id``.

    The batch id is unique per caller (an API key, or a staff user in the browsable API):
    the row is inserted before the batch's work, in the same transaction, so a concurrent
    replay waits on the unique index and then answers from ``response_body``; a replay
    with another body is refused (``request_hash`` is the SHA-256 of the canonical JSON).
    """

    class Kind(models.TextChoices):
        SHIPMENTS = "shipments", "Shipments"
        CUSTOMS_EVENTS = "customs_events", "Customs events"

    api_key = models.ForeignKey(CompanyAPIKey, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    batch_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    request_hash = models.CharField(max_length=64)
    received = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(default=0, help_text="0 while the batch is running.")
    # Text, not JSON: jsonb reorders keys, and a replay must answer byte for byte the same.
    response_body = models.TextField(blank=True, help_text="The JSON answer as sent.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "batch_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "batch_id"],
                condition=Q(api_key__isnull=False),
                name="ingestion_batch_unique_per_api_key",
            ),
            models.UniqueConstraint(
                fields=["user", "batch_id"], condition=Q(user__isnull=False), name="ingestion_batch_unique_per_user"
            ),
            models.CheckConstraint(
                condition=(Q(api_key__isnull=False) & Q(user__isnull=True))
                | (Q(api_key__isnull=True) & Q(user__isnull=False)),
                name="ingestion_batch_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} batch {self.batch_id}"


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
