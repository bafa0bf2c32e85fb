"""Findings for people, in the active language: rule titles, severity and status words, dates,
company names, and a finding's one-line summary.

A finding stores its summary in English, written by the rule that raised it (the record, the
same for every reader; the API and the webhook's ``finding.summary`` carry it unchanged). In
English that stored text is what people read. In another language the summary is rebuilt
from the finding's machine fields (``details``, ``subject``) with a translated sentence per
rule; a rule without one (or details missing what it needs) shows its translated title and
subject instead. Call these inside ``translation.override(language)`` to write for someone
other than the current request's reader.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import dateformat, timezone, translation
from django.utils.translation import gettext, ngettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from compliance.models import AlertEmail, Finding
from licences.models import Company, Shipment

#: The human title of every finding rule (the rules' own and those raised outside them).
RULE_TITLES: dict[str, Any] = {
    "quota_shortfall": _("Short of the domestic-purchase quota"),
    "quota_at_risk": _("Domestic-purchase quota at risk"),
    "security_gap": _("Missing or expired US security attestation"),
    "security_expiring": _("Security attestation expiring"),
    "shipment_condition_gap": _("Shipment lacks a per-lot security condition"),
    "licence_expiring": _("Licence expiring with quantity unused"),
    "licence_nearly_exhausted": _("Licence nearly used up"),
    "licence_expired": _("Licence expired"),
    "customs_hold_overdue": _("Shipment held too long at customs"),
    "entry_block_shipment": _("Shipment declared during an entry block"),
    "commitment_overdue": _("Domestic commitment overdue"),
    "ledger_tampered": _("Ledger altered outside the service"),
    "webhook_disabled": _("Webhook subscription disabled"),
}

BASIS_UNITS: dict[str, Any] = {
    "units": _("chips"),
    "value": _("USD"),
    "compute": _("H20-equivalents"),
}


def is_english() -> bool:
    return (translation.get_language() or "en").split("-")[0] == "en"


def day(value: dt.date | str) -> str:
    """A date in the active language: ``23 Jan 2026`` / ``2026年1月23日``."""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    return dateformat.format(value, pgettext("alert date format", "j M Y"))


def moment(value: dt.datetime) -> str:
    """A moment in the service's time zone, in the active language: ``23 Jan 2026 14:05``."""
    return dateformat.format(timezone.localtime(value), pgettext("alert date and time format", "j M Y H:i"))


def company_name(company: Company) -> str:
    """The company's name in the active language (its Chinese name in Chinese, when it has one)."""
    if not is_english() and company.name_zh:
        return company.name_zh
    return company.name


def rule_title(rule: str) -> str:
    title = RULE_TITLES.get(rule)
    return str(title) if title is not None else rule


def severity_word(severity: str) -> str:
    """``high`` / ``高``: the severity's label, in lower case where the language has case."""
    try:
        return str(Finding.Severity(severity).label).lower()
    except ValueError:
        return severity


def status_word(status: str) -> str:
    try:
        return str(Finding.Status(status).label).lower()
    except ValueError:
        return status


def pad(label: str, width: int = 12) -> str:
    """``label`` followed by spaces up to ``width`` columns (a wide CJK character takes two)."""
    columns = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in label)
    return label + " " * max(1, width - columns)


def _amount(value: Any) -> str:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if number == number.to_integral_value():
        return f"{number.quantize(Decimal(1)):,}"
    return f"{number.normalize():,}"


def _percent(value: Any, places: int) -> str:
    try:
        return f"{Decimal(str(value)):.{places}%}"
    except (InvalidOperation, ValueError):
        return str(value)


#: A shipment's customs status inside a finding's sentence (the words of docs/glossary.md).
CUSTOMS_STATUSES: dict[str, Any] = {
    Shipment.Status.DECLARED: pgettext_lazy("customs status", "declared"),
    Shipment.Status.INSPECTING: pgettext_lazy("customs status", "inspecting"),
    Shipment.Status.HELD: pgettext_lazy("customs status", "held"),
    Shipment.Status.CLEARED: pgettext_lazy("customs status", "cleared"),
    Shipment.Status.REJECTED: pgettext_lazy("customs status", "rejected"),
}


def _customs_status(value: str) -> str:
    word = CUSTOMS_STATUSES.get(value)
    return str(word) if word is not None else value


def _quota(finding: Finding, name: str, details: dict[str, Any]) -> str:
    text = gettext(
        "%(company)s is short of the domestic-purchase quota by %(shortfall)s %(unit)s (%(coverage)s covered) "
        "under %(policy)s"
    ) % {
        "company": name,
        "shortfall": _amount(details["shortfall"]),
        "unit": str(BASIS_UNITS.get(details["basis"], details["basis"])),
        "coverage": _percent(details["coverage"], 2),
        "policy": details["policy"],
    }
    if finding.rule == "quota_at_risk":
        last_day = dt.date.fromisoformat(details["grace_ends_on"]) - dt.timedelta(days=1)
        text += gettext("; grace period until %(date)s") % {"date": day(last_day)}
    return text


def _requirement(finding: Finding) -> str:
    return str(finding.details.get("requirement") or finding.subject.partition(":")[2])


SENTENCES: dict[str, Callable[[Finding, str, dict[str, Any]], str]] = {
    "quota_shortfall": _quota,
    "quota_at_risk": _quota,
    "security_gap": lambda finding, name, details: (
        gettext(
            "%(company)s holds a licence for an export-controlled chip without a valid attestation of %(requirement)s"
        )
        % {"company": name, "requirement": _requirement(finding)}
    ),
    "security_expiring": lambda finding, name, details: (
        gettext("%(company)s's attestation of %(requirement)s expires on %(date)s")
        % {"company": name, "requirement": _requirement(finding), "date": day(details["expires_on"])}
    ),
    "shipment_condition_gap": lambda finding, name, details: (
        gettext("%(company)s's shipment %(shipment)s of %(chip)s lacks an accepted attestation of %(requirement)s")
        % {
            "company": name,
            "shipment": details["shipment"],
            "chip": details["chip"],
            "requirement": _requirement(finding),
        }
    ),
    "licence_expiring": lambda finding, name, details: (
        gettext("%(company)s's licence %(licence)s expires on %(date)s with %(remaining)s units unused")
        % {
            "company": name,
            "licence": details["licence"],
            "date": day(details["expires_on"]),
            "remaining": _amount(details["remaining_quantity"]),
        }
    ),
    "licence_nearly_exhausted": lambda finding, name, details: (
        gettext(
            "%(company)s's licence %(licence)s is %(ratio)s drawn (%(drawn)s of %(granted)s units reserved or used)"
        )
        % {
            "company": name,
            "licence": details["licence"],
            "ratio": _percent(Decimal(details["reserved"] + details["used"]) / details["granted"], 1),
            "drawn": _amount(details["reserved"] + details["used"]),
            "granted": _amount(details["granted"]),
        }
    ),
    "licence_expired": lambda finding, name, details: (
        gettext(
            "%(company)s's licence %(licence)s expired on %(date)s (valid until %(valid_until)s); its unused units "
            "returned to its round"
        )
        % {
            "company": name,
            "licence": details["licence"],
            "date": day(details["expired_on"]),
            "valid_until": day(details["valid_until"]),
        }
    ),
    "customs_hold_overdue": lambda finding, name, details: (
        gettext("%(company)s's shipment %(shipment)s has been held at %(port)s since %(date)s")
        % {
            "company": name,
            "shipment": details["shipment"],
            "port": details["port_of_entry"],
            "date": day(details["held_since"]),
        }
    ),
    "entry_block_shipment": lambda finding, name, details: (
        gettext(
            "%(company)s's shipment %(shipment)s of %(chip)s was declared during entry block %(directive)s "
            "(now %(status)s)"
        )
        % {
            "company": name,
            "shipment": details["shipment"],
            "chip": details["chip"],
            "directive": details["directive"],
            "status": _customs_status(details["status"]),
        }
    ),
    "commitment_overdue": lambda finding, name, details: (
        gettext(
            "%(company)s's commitment %(reference)s for %(quantity)s units was due %(date)s; %(delivered)s delivered"
        )
        % {
            "company": name,
            "reference": details.get("contract_reference") or details["commitment"],
            "quantity": _amount(details["quantity"]),
            "date": day(details["due_date"]),
            "delivered": _amount(details["delivered_quantity"]),
        }
    ),
    "ledger_tampered": lambda finding, name, details: (
        gettext("The %(ledger)s ledger failed verification: it was altered outside the service")
        % {"ledger": details["stream"]}
    ),
    "webhook_disabled": lambda finding, name, details: (
        gettext("Webhook subscription #%(subscription)s was disabled: its receiver keeps failing")
        % {"subscription": details["subscription"]}
    ),
}


def summary(finding: Finding, company: Company | None = None) -> str:
    """The finding's one-line summary in the active language (see the module's docstring).
    ``company``: the finding's company, if the caller has it at hand (saves a query)."""
    if is_english():
        return finding.summary
    name = company_name(company or finding.company)
    sentence = SENTENCES.get(finding.rule)
    if sentence is not None:
        try:
            return sentence(finding, name, finding.details or {})
        except (KeyError, TypeError, ValueError, ArithmeticError):
            pass  # details of an older shape: the title says enough
    return gettext("%(company)s: %(rule)s (%(subject)s)") % {
        "company": name,
        "rule": rule_title(finding.rule),
        "subject": finding.subject,
    }


def headline(event: str, finding: Finding, event_key: str = "") -> str:
    """What happened to the finding, in the active language: ``New high finding``."""
    severity = severity_word(finding.severity)
    if event == AlertEmail.Event.OPENED:
        return gettext("New %(severity)s finding") % {"severity": severity}
    if event == AlertEmail.Event.ESCALATED:
        return gettext("Finding raised to %(severity)s") % {"severity": severity}
    if event == AlertEmail.Event.RESOLVED:
        return gettext("Finding resolved")
    days = int(event_key.split("d:", 1)[0])
    return ngettext("Reminder, %(days)d day left", "Reminder, %(days)d days left", days) % {"days": days}


def event_summary(event: str, finding: Finding, event_key: str = "", company: Company | None = None) -> str:
    """``<headline>: <the finding's summary>`` in the active language (a webhook's ``summary``)."""
    return gettext("%(headline)s: %(summary)s") % {
        "headline": headline(event, finding, event_key),
        "summary": summary(finding, company),
    }
