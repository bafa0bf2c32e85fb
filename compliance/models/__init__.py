"""US security conditions (requirements and attestations), compliance findings, API access
and the delivery of alerts.

Split by concern (issue 13) into ``security``, ``findings``, ``access`` and ``delivery``;
every model is imported here, so the app label and ``from compliance.models import X`` are
unchanged.
"""

from compliance.models.access import (
    CompanyAPIKey,
    IdempotencyRecord,
    IngestionBatch,
)
from compliance.models.delivery import (
    AlertEmail,
    DigestEmail,
    JobLock,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from compliance.models.findings import (
    Finding,
)
from compliance.models.security import (
    SecurityAttestation,
    SecurityRequirement,
)

__all__ = [
    "AlertEmail",
    "CompanyAPIKey",
    "DigestEmail",
    "Finding",
    "IdempotencyRecord",
    "IngestionBatch",
    "JobLock",
    "SecurityAttestation",
    "SecurityRequirement",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
