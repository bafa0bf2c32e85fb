"""US security conditions (requirements and attestations), compliance findings, API access
and the delivery of alerts.

Split by concern (issue 13) into ``security``, ``findings``, ``ledgers`` (the hash-chained
attestation reviews and finding transitions), ``access`` and ``delivery``;
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
from compliance.models.ledgers import (
    ATTESTATION_REVIEWS,
    FINDING_TRANSITIONS,
    AttestationReview,
    FindingTransition,
)
from compliance.models.people import (
    StaffProfile,
)
from compliance.models.security import (
    SecurityAttestation,
    SecurityRequirement,
)

__all__ = [
    "ATTESTATION_REVIEWS",
    "FINDING_TRANSITIONS",
    "AlertEmail",
    "AttestationReview",
    "CompanyAPIKey",
    "DigestEmail",
    "Finding",
    "FindingTransition",
    "IdempotencyRecord",
    "IngestionBatch",
    "JobLock",
    "SecurityAttestation",
    "SecurityRequirement",
    "StaffProfile",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
