"""The daily expiry job: expire the licences past their window and raise a finding for each.

:func:`run_expiry` runs :func:`licences.services.licences_expire_due` (one conditional
``UPDATE`` of the licences, one bulk insert of their ``expire`` and ``release`` ledger rows,
one ``UPDATE`` of the rounds) and, in the same transaction, opens a ``licence_expired``
finding per licence expired (warning; fingerprint ``licence_expired:<company>:licence:<number>``)
through the sweep's upsert, with the alert outbox written alongside: e-mails and webhooks go
out after commit, as for any finding. The rule is not one the sweep evaluates, so the sweep
never resolves these findings: an officer acknowledges or resolves them. Running the job
again expires nothing, opens nothing and alerts nobody.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from compliance import alerts, rules, webhook_outbox
from compliance.models import Finding
from compliance.sweep import upsert_findings
from licences.services import ExpiredLicence, licences_expire_due

RULE = "licence_expired"


@dataclass
class ExpirySummary:
    """What a run of the expiry job did."""

    expired: int = 0
    released_units: int = 0
    findings_opened: int = 0
    licences: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "expired": self.expired,
            "released_units": self.released_units,
            "findings_opened": self.findings_opened,
            "licences": self.licences,
        }


def expiry_hit(licence: ExpiredLicence) -> rules.Hit:
    """The finding an expired licence raises."""
    summary = (
        f"{licence.company_name}'s licence {licence.number} expired on {licence.effective_on:%Y-%m-%d} "
        f"(valid until {licence.valid_until:%Y-%m-%d}); {licence.released:,} unused units returned to its round"
    )
    return rules.Hit(
        family=RULE,
        rule=RULE,
        company_id=licence.company_id,
        subject=f"licence:{licence.number}",
        severity=Finding.Severity.WARNING,
        summary=summary[:300],
        details={
            "licence": licence.number,
            "valid_until": licence.valid_until.isoformat(),
            "expired_on": licence.effective_on.isoformat(),
            "granted": licence.granted,
            "used": licence.used,
            "reserved": licence.reserved,
            "released": licence.released,
        },
    )


def run_expiry(*, on: dt.date | None = None, now: dt.datetime | None = None) -> ExpirySummary:
    """Expire the licences due on ``on`` (default today, Asia/Shanghai), raise their findings, alert."""
    now = now or timezone.now()
    on = on or timezone.localdate(now, timezone.get_default_timezone())
    summary = ExpirySummary()
    delivery_pks: list[int] = []
    with transaction.atomic():
        expired = licences_expire_due(on=on, now=now)
        if expired:
            hits = [expiry_hit(licence) for licence in expired]
            companies = sorted({licence.company_id for licence in expired})
            events, upserted = upsert_findings(hits, company_ids=companies, on=on, now=now, resolve=False)
            alerts.queue_emails(events)
            delivery_pks = webhook_outbox.queue_deliveries(events, now=now)
            summary.findings_opened = upserted.total("opened") + upserted.total("escalated")
        summary.expired = len(expired)
        summary.released_units = sum(licence.released for licence in expired)
        summary.licences = [licence.number for licence in expired]
    if expired:
        alerts.send_pending_emails()
        webhook_outbox.schedule_deliveries(delivery_pks)
    return summary
