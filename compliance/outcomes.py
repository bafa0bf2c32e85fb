"""What recording findings yields: the events to alert about and a sweep's counts per rule.

:class:`FindingEvent` is what the sweep (:mod:`compliance.sweep`) hands to the alert outboxes
(:mod:`compliance.alerts` for e-mail, :mod:`compliance.webhook_outbox` for webhooks);
:class:`SweepSummary` is what a sweep changed, returned to its callers (the tasks, the
``compliance_sweep`` command, the admin action). Plain values below all of them, so the
outboxes need not import the sweep that feeds them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext, ngettext

from compliance.models import Finding


class FindingEvent:
    """Something to alert about: a finding opened, escalated or resolved (``key`` tells repeats apart).

    The finding may be given, or built on first use by ``build`` (with ``company_id``
    known up front): the outbox looks at the company first, so a sweep opening tens of
    thousands of findings with nobody to alert builds none of them.
    """

    __slots__ = ("_build", "_finding", "company_id", "event", "key")

    def __init__(
        self,
        finding: Finding | None = None,
        *,
        event: str,
        key: str,
        company_id: int | None = None,
        build: Callable[[], Finding] | None = None,
    ) -> None:
        if finding is None and (build is None or company_id is None):
            raise TypeError("A FindingEvent needs a finding, or a company id and a way to build the finding.")
        self._finding, self._build = finding, build
        self.company_id: int = finding.company_id if finding is not None else company_id  # type: ignore[assignment]
        self.event, self.key = event, key

    @property
    def finding(self) -> Finding:
        if self._finding is None:
            assert self._build is not None
            self._finding = self._build()
        return self._finding

    def __repr__(self) -> str:
        return f"FindingEvent({self.event} company={self.company_id} key={self.key})"


@dataclass
class SweepSummary:
    """What a sweep changed, per finding rule. JSON-friendly through :meth:`as_dict`."""

    companies: int = 0
    opened: Counter[str] = field(default_factory=Counter)
    still_open: Counter[str] = field(default_factory=Counter)
    escalated: Counter[str] = field(default_factory=Counter)
    resolved: Counter[str] = field(default_factory=Counter)

    COUNTS = ("opened", "still_open", "escalated", "resolved")

    def as_dict(self) -> dict[str, Any]:
        return {"companies": self.companies, **{name: dict(getattr(self, name)) for name in self.COUNTS}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepSummary:
        return cls(companies=data.get("companies", 0), **{name: Counter(data.get(name, {})) for name in cls.COUNTS})

    def merge(self, other: SweepSummary) -> SweepSummary:
        return SweepSummary(
            companies=self.companies + other.companies,
            **{name: getattr(self, name) + getattr(other, name) for name in self.COUNTS},
        )

    def total(self, name: str) -> int:
        return sum(getattr(self, name).values())

    def _counts(self, count: Callable[[str], int]) -> str:
        return gettext(
            "%(opened)d opened, %(still_open)d still open, %(escalated)d escalated, %(resolved)d resolved"
        ) % {name: count(name) for name in self.COUNTS}

    def lines(self) -> list[str]:
        """A human summary in the active language: totals, then one line per rule that had any finding."""
        lines = [
            ngettext(
                "%(companies)d company swept: %(counts)s", "%(companies)d companies swept: %(counts)s", self.companies
            )
            % {"companies": self.companies, "counts": self._counts(self.total)}
        ]
        by_rule = sorted(set().union(*(getattr(self, name).keys() for name in self.COUNTS)))
        for rule in by_rule:
            per_rule = {name: getattr(self, name)[rule] for name in self.COUNTS}
            lines.append(f"  {rule}: {self._counts(per_rule.__getitem__)}")
        return lines
