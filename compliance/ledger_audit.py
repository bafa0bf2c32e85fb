"""The daily check of the hash-chained ledgers: recompute every chain, flag each broken one.

``verify_ledger`` (the command) recomputes the chains and reports; :func:`audit_ledgers`
(the daily task ``compliance.verify_ledgers``) does the same and raises one critical
``ledger_tampered`` finding per broken chain (a stream of one company) through the findings
machinery, so the usual alerts go out. It is idempotent: a chain still broken the next day
is the same finding seen again (nothing new is sent); an officer resolves it once the cause
is known, and a chain still broken after that re-opens it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.chain import Break, StreamReport
from compliance.models import Finding
from compliance.sweep import flag_finding
from licences import chain

RULE = "ledger_tampered"
ACTOR = "ledger verification"


@dataclass
class LedgerAudit:
    """What a check found: each stream's report and the findings flagged."""

    reports: list[StreamReport] = field(default_factory=list)
    flagged: list[Break] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "streams": {report.stream.name: {"rows": report.rows, "chains": report.chains} for report in self.reports},
            "broken": [brk.describe() for brk in self.flagged],
        }


def subject_of(brk: Break) -> str:
    """The finding's subject: one per stream and company (the fingerprint adds the rule and company)."""
    return f"ledger:{brk.stream}"


def audit_ledgers() -> LedgerAudit:
    """Verify every chain; flag a critical ``ledger_tampered`` finding on each broken one's company."""
    audit = LedgerAudit(reports=chain.verify_all())
    for report in audit.reports:
        for brk in report.breaks:
            label = report.stream.label or report.stream.name
            flag_finding(
                company_id=int(brk.key),
                rule=RULE,
                subject=subject_of(brk),
                severity=Finding.Severity.CRITICAL,
                summary=f"The {label} ledger failed verification: it was altered outside the service"[:300],
                details={
                    "stream": brk.stream,
                    "model": brk.model,
                    "pk": brk.pk,
                    "seq": brk.seq,
                    "reason": brk.reason,
                },
                by=ACTOR,
            )
            audit.flagged.append(brk)
    return audit
