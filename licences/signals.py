"""Signals the licences app sends for changes that bypass ``post_save``.

Bulk writes (``bulk_create``, ``UPDATE`` statements) fire no ``post_save``; a batch service
sends one of these instead, once per batch, so the higher apps can react (``compliance``
re-checks each company once the transaction commits) without ``licences`` importing them.
"""

from __future__ import annotations

from django.dispatch import Signal

#: Sent once per bulk ingestion with ``company_ids``: the set of companies whose shipments
#: (and so licence counters) changed. Sent inside the writing transaction.
shipments_changed = Signal()
