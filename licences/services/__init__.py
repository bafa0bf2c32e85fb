"""Every write with a business rule on licences, shipments and customs.

Split by concern (issue 13): ``licences`` (licence lifecycle and its decision ledger), ``expiry``
(the daily expiry of licences past their window),
``ledger`` (the ledger rows of licences written without the services), ``shipments`` (single
shipments, customs events, directives) and the batches: ``ingestion`` (what both batch
services share), ``ingestion_shipments`` and ``ingestion_customs_events``. Every public name
is re-exported here, so ``from licences.services import x`` and ``services.x`` keep working.
"""

from licences.services.expiry import (
    EXPIRY_ACTOR,
    ExpiredLicence,
    licences_expire_due,
)
from licences.services.ingestion import (
    CUSTOMS_EVENT_COPY_COLUMNS,
    BatchOutcome,
    CustomsEventLine,
    ShipmentLine,
    batch_refusal,
    named_companies,
)
from licences.services.ingestion_customs_events import (
    SHIPMENT_STATE_FIELDS,
    CustomsEventPlan,
    customs_events_ingest,
    lock_shipment_states,
    plan_customs_events,
    write_customs_events,
)
from licences.services.ingestion_shipments import shipments_ingest
from licences.services.ledger import (
    decisions_implied_by,
    record_implied_decisions,
)
from licences.services.licences import (
    LICENCE_TRANSITIONS,
    LicenceStatus,
    licence_apply,
    licence_approve,
    licence_expire,
    licence_reinstate,
    licence_reject,
    licence_revoke,
    licence_suspend,
    release_remainder,
)
from licences.services.rounds import round_draw, round_release
from licences.services.shipments import (
    CUSTOMS_TRANSITIONS,
    CustomsStatus,
    customs_event_record,
    customs_event_refusal,
    directive_in_force,
    directive_issue,
    directive_lift,
    shipment_declare,
    shipment_refusal,
)

__all__ = [
    "CUSTOMS_EVENT_COPY_COLUMNS",
    "CUSTOMS_TRANSITIONS",
    "EXPIRY_ACTOR",
    "LICENCE_TRANSITIONS",
    "SHIPMENT_STATE_FIELDS",
    "BatchOutcome",
    "CustomsEventLine",
    "CustomsEventPlan",
    "CustomsStatus",
    "ExpiredLicence",
    "LicenceStatus",
    "ShipmentLine",
    "batch_refusal",
    "customs_event_record",
    "customs_event_refusal",
    "customs_events_ingest",
    "decisions_implied_by",
    "directive_in_force",
    "directive_issue",
    "directive_lift",
    "licence_apply",
    "licence_approve",
    "licence_expire",
    "licence_reinstate",
    "licence_reject",
    "licence_revoke",
    "licence_suspend",
    "licences_expire_due",
    "lock_shipment_states",
    "named_companies",
    "plan_customs_events",
    "record_implied_decisions",
    "release_remainder",
    "round_draw",
    "round_release",
    "shipment_declare",
    "shipment_refusal",
    "shipments_ingest",
    "write_customs_events",
]
