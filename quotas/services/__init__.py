"""Every write with a business rule on quota policies and domestic purchase commitments.

Split by concern: ``policies`` (versioned policies: draft, activate, revise, retire) and
``commitments`` (domestic purchase commitments and their change ledger); ``ledger`` (the
change rows of commitments written without the services); ``checks`` holds the input checks
both use. Every public name is re-exported here, so
``from quotas.services import x`` and ``services.x`` keep working.
"""

from quotas.services.commitments import (
    COMMITMENT_TRANSITIONS,
    ChangeKind,
    CommitmentStatus,
    commitment_cancel,
    commitment_contract,
    commitment_deliver,
    commitment_record,
)
from quotas.services.ledger import (
    changes_implied_by,
    record_implied_changes,
)
from quotas.services.policies import (
    IN_FORCE_STATUSES,
    POLICY_TERMS,
    POLICY_TRANSITIONS,
    RATIO_QUANTUM,
    UNSET,
    PolicyStatus,
    policy_activate,
    policy_create,
    policy_retire,
    policy_revise,
    policy_update,
)

__all__ = [
    "COMMITMENT_TRANSITIONS",
    "IN_FORCE_STATUSES",
    "POLICY_TERMS",
    "POLICY_TRANSITIONS",
    "RATIO_QUANTUM",
    "UNSET",
    "ChangeKind",
    "CommitmentStatus",
    "PolicyStatus",
    "changes_implied_by",
    "commitment_cancel",
    "commitment_contract",
    "commitment_deliver",
    "commitment_record",
    "policy_activate",
    "policy_create",
    "policy_retire",
    "policy_revise",
    "policy_update",
    "record_implied_changes",
]
