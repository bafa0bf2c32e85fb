"""API access: company API keys, idempotency records and ingestion batches."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

from licences.models import Company


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
        COMPANY = "company", _("Company")
        REGULATOR = "regulator", _("Regulator")
        CUSTOMS = "customs", _("Customs")

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.COMPANY, verbose_name=_("kind"))
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("company")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="api_keys",
        help_text=_("Regulator keys only: the regulator user the key acts for (deactivate the user to stop it)."),
        verbose_name=_("user"),
    )
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used at"))

    class Meta(AbstractAPIKey.Meta):
        # The library's Meta says str; a lazy translation is one where it is used.
        verbose_name = _("API key")  # type: ignore[assignment]
        verbose_name_plural = _("API keys")  # type: ignore[assignment]
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

    api_key = models.ForeignKey(CompanyAPIKey, on_delete=models.CASCADE, related_name="+", verbose_name=_("api key"))
    key = models.CharField(max_length=200, verbose_name=_("key"))
    method = models.CharField(max_length=10, verbose_name=_("method"))
    path = models.CharField(max_length=500, verbose_name=_("path"))
    request_hash = models.CharField(max_length=64, verbose_name=_("request hash"))
    response_status = models.PositiveSmallIntegerField(verbose_name=_("response status"))
    response_body = models.JSONField(null=True, verbose_name=_("response body"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
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
        SHIPMENTS = "shipments", _("Shipments")
        CUSTOMS_EVENTS = "customs_events", _("Customs events")

    api_key = models.ForeignKey(
        CompanyAPIKey, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("api key")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("user"),
    )
    batch_id = models.CharField(max_length=200, verbose_name=_("batch id"))
    kind = models.CharField(max_length=32, choices=Kind.choices, verbose_name=_("kind"))
    request_hash = models.CharField(max_length=64, verbose_name=_("request hash"))
    received = models.PositiveIntegerField(default=0, verbose_name=_("received"))
    accepted = models.PositiveIntegerField(default=0, verbose_name=_("accepted"))
    refused = models.PositiveIntegerField(default=0, verbose_name=_("refused"))
    response_status = models.PositiveSmallIntegerField(
        default=0, help_text=_("0 while the batch is running."), verbose_name=_("response status")
    )
    # Text, not JSON: jsonb reorders keys, and a replay must answer byte for byte the same.
    response_body = models.TextField(
        blank=True, help_text=_("The JSON answer as sent."), verbose_name=_("response body")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("ingestion batch")
        verbose_name_plural = _("ingestion batches")
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
