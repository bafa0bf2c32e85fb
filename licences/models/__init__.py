"""The licences app's models, split by concern: ``core`` (companies, chips, rounds, licences),
``decisions`` (the licences' decision ledger) and ``shipments`` (shipments, customs events,
customs directives). Every model is imported here, so ``from licences.models import X`` and
the app label are unchanged.
"""

from licences.chain import LedgerHead
from licences.models.core import ZERO, AllocationRound, ChipModel, Company, ImportLicence
from licences.models.decisions import LICENCE_DECISIONS, LicenceDecision
from licences.models.shipments import CUSTOMS_EVENTS, CustomsDirective, CustomsEvent, Shipment

__all__ = [
    "CUSTOMS_EVENTS",
    "LICENCE_DECISIONS",
    "ZERO",
    "AllocationRound",
    "ChipModel",
    "Company",
    "CustomsDirective",
    "CustomsEvent",
    "ImportLicence",
    "LedgerHead",
    "LicenceDecision",
    "Shipment",
]
