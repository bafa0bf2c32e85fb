"""E-mail alerts: on open, escalation and resolution of findings, reminders, and the daily digest.

Every e-mail is first recorded (``AlertEmail`` per finding, event and recipient;
``DigestEmail`` per day and recipient) under a unique constraint, then sent from those
records: a re-run sweep or a re-delivered task finds the row already there, or already
sent, and mails nobody twice. Recipients are the company's compliance contacts and
``settings.REGULATOR_ALERT_EMAILS``.

Each e-mail is written in its recipient's language (:func:`recipient_language`): a company's
contacts read ``Company.preferred_language``; a regulator address reads the language its
staff user chose (``StaffProfile.language``), else ``settings.ALERT_DEFAULT_LANGUAGE``.
Messages are rendered inside ``translation.override`` (:mod:`compliance.finding_text` writes
the findings for people); one e-mail per recipient, as before.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from common import bulk
from compliance import finding_text as text
from compliance.models import AlertEmail, DigestEmail, Finding, StaffProfile
from compliance.outcomes import FindingEvent
from compliance.selectors import ACTIVE, ComplianceStatus, company_compliance_statuses, status_from_counts
from licences.models import Company

logger = logging.getLogger(__name__)

Event = AlertEmail.Event
# Rules whose findings carry ``details["expires_on"]`` and get reminders before it.
REMINDER_RULES = ("security_expiring", "licence_expiring")
SEVERITY_ORDER = {
    Finding.Severity.CRITICAL: -1,
    Finding.Severity.HIGH: 0,
    Finding.Severity.WARNING: 1,
    Finding.Severity.INFO: 2,
}
# A critical finding counts with the high ones wherever a company's status is judged.
SEVERE = (Finding.Severity.HIGH, Finding.Severity.CRITICAL)


def _unique(addresses: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for address in addresses:
        if address and address.lower() not in {a.lower() for a in seen}:
            seen[address] = None
    return list(seen)


def recipients_for(company: Company) -> list[str]:
    """The company's compliance contacts, then regulator staff, without repeats."""
    return _unique([*company.contact_emails, *settings.REGULATOR_ALERT_EMAILS])


def staff_languages() -> dict[str, str]:
    """The chosen language of each active staff user's e-mail address (lower case)."""
    rows = (
        StaffProfile.objects.exclude(language="")
        .filter(user__is_active=True, user__is_staff=True)
        .exclude(user__email="")
        .order_by("pk")
        .values_list("user__email", "language")
    )
    languages: dict[str, str] = {}
    for email, language in rows:
        languages.setdefault(email.lower(), language)
    return languages


def recipient_language(address: str, company: Company | None, staff: dict[str, str]) -> str:
    """The language ``address`` reads alerts in: a regulator address its staff user's choice
    (else ``ALERT_DEFAULT_LANGUAGE``), a company contact the company's preferred language."""
    regulator = {a.lower() for a in settings.REGULATOR_ALERT_EMAILS}
    if address.lower() in regulator or company is None:
        return staff.get(address.lower(), settings.ALERT_DEFAULT_LANGUAGE)
    return company.preferred_language or settings.ALERT_DEFAULT_LANGUAGE


def _contacts(company_ids: Iterable[int]) -> dict[int, list[str]]:
    companies = Company.objects.filter(bulk.one_of(Company, "pk", set(company_ids))).only(
        "pk", "compliance_contact_emails"
    )
    return {company.pk: recipients_for(company) for company in companies}


def queue_emails(events: Sequence[FindingEvent]) -> int:
    """Record one ``AlertEmail`` per event and recipient (the outbox). Two queries at most."""
    if not events:
        return 0
    recipients = _contacts(event.company_id for event in events)
    rows = [
        AlertEmail(finding=event.finding, event=event.event, event_key=event.key, recipient=recipient)
        for event in events
        for recipient in recipients.get(event.company_id, [])
    ]
    AlertEmail.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _line(label: str, value: object) -> str:
    return f"{text.pad(label)}{value}"


def render_alert(alert: AlertEmail, language: str | None = None) -> EmailMessage:
    """The e-mail for one outbox row, in ``language`` (default: the active one)."""
    with translation.override(language or translation.get_language()):
        finding = alert.finding
        company = finding.company
        lines = [
            text.event_summary(alert.event, finding, alert.event_key),
            "",
            _line(gettext("Company:"), f"{text.company_name(company)} ({company.slug})"),
            _line(gettext("Rule:"), f"{text.rule_title(finding.rule)} ({finding.rule})"),
            _line(gettext("Severity:"), text.severity_word(finding.severity)),
            _line(gettext("Subject:"), finding.subject),
            _line(gettext("Status:"), text.status_word(finding.status)),
            _line(gettext("First seen:"), text.moment(finding.first_seen_at)),
        ]
        if alert.event == Event.RESOLVED and finding.resolution_note:
            lines.append(_line(gettext("Resolution:"), finding.resolution_note))
        for name, value in sorted((finding.details or {}).items()):
            lines.append(f"  {name}: {value}")
        lines += [
            "",
            gettext("Finding #%(id)s. Alerts are not repeated while a finding stays open or acknowledged.")
            % {"id": finding.pk},
        ]
        subject = gettext("[Compliance] %(headline)s: %(summary)s") % {
            "headline": text.headline(alert.event, finding, alert.event_key),
            "summary": text.summary(finding),
        }
        return EmailMessage(
            subject=subject[:250],
            body="\n".join(lines) + "\n",
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[alert.recipient],
        )


def send_pending_emails(*, limit: int = 1000) -> int:
    """Send outbox e-mails not yet sent; returns how many went out.

    Rows are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two
    workers flushing at once never send the same row. A message the mail server refuses
    stays unsent and is tried again on the next flush.
    """
    with transaction.atomic():
        pending = list(
            AlertEmail.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(sent_at__isnull=True)
            .select_related("finding__company")
            .order_by("pk")[:limit]
        )
        if not pending:
            return 0
        sent: list[int] = []
        staff = staff_languages()
        with get_connection() as connection:
            for alert in pending:
                language = recipient_language(alert.recipient, alert.finding.company, staff)
                try:
                    connection.send_messages([render_alert(alert, language)])
                except Exception:  # a refused message must not stop the others
                    logger.exception("Could not send alert e-mail %s to %s", alert.pk, alert.recipient)
                    continue
                sent.append(alert.pk)
        AlertEmail.objects.filter(pk__in=sent).update(sent_at=timezone.now())
    return len(sent)


# --- Reminders --------------------------------------------------------------------------------


def reminder_stage(*, expires_on: dt.date, on: dt.date, first_seen_on: dt.date) -> int | None:
    """The reminder due on ``on`` for something expiring on ``expires_on``, if any.

    Stages are ``COMPLIANCE["REMINDER_DAYS"]`` (30, 7, 1): the stage is the smallest one
    with ``days left <= stage``. A stage that began on or before the finding opened is
    covered by the opening alert, so it is skipped (the 30-day reminder of an attestation
    is the alert that opened its ``security_expiring`` finding).
    """
    days_left = (expires_on - on).days
    if days_left < 0:
        return None
    stage = next((days for days in sorted(settings.COMPLIANCE["REMINDER_DAYS"]) if days_left <= days), None)
    if stage is None or first_seen_on >= expires_on - dt.timedelta(days=stage):
        return None
    return stage


def send_reminders(*, on: dt.date | None = None) -> int:
    """Queue and send the reminders due on ``on`` (open or acknowledged findings alike:
    acknowledging a deadline does not move it). Returns the number of e-mails queued."""
    on = on or timezone.localdate()
    findings = Finding.objects.filter(status__in=ACTIVE, rule__in=REMINDER_RULES).select_related("company")
    rows = []
    for finding in findings:
        expires_on = dt.date.fromisoformat(finding.details["expires_on"])
        stage = reminder_stage(expires_on=expires_on, on=on, first_seen_on=timezone.localdate(finding.first_seen_at))
        if stage is None:
            continue
        key = f"{stage}d:{expires_on.isoformat()}"
        rows += [
            AlertEmail(finding=finding, event=Event.REMINDER, event_key=key, recipient=recipient)
            for recipient in recipients_for(finding.company)
        ]
    AlertEmail.objects.bulk_create(rows, ignore_conflicts=True)
    send_pending_emails()
    return len(rows)


# --- The daily digest ----------------------------------------------------------------------------

STATUS_TITLES: dict[str, Any] = {
    ComplianceStatus.NON_COMPLIANT: _("Non-compliant:"),
    ComplianceStatus.AT_RISK: _("At risk:"),
}


def _finding_line(finding: Finding) -> str:
    values = {
        "severity": text.severity_word(finding.severity),
        "rule": text.rule_title(finding.rule),
        "summary": text.summary(finding),
        "since": text.day(timezone.localdate(finding.first_seen_at)),
    }
    if finding.status == Finding.Status.ACKNOWLEDGED:
        return gettext("  - [%(severity)s] %(rule)s: %(summary)s (since %(since)s, acknowledged)") % values
    return gettext("  - [%(severity)s] %(rule)s: %(summary)s (since %(since)s)") % values


def digest_title(on: dt.date, company: Company | None) -> str:
    if company is None:
        return gettext("Compliance digest for %(date)s") % {"date": text.day(on)}
    return gettext("Compliance digest for %(date)s: %(company)s") % {
        "date": text.day(on),
        "company": text.company_name(company),
    }


def digest_subject(on: dt.date, company: Company | None) -> str:
    if company is None:
        return gettext("[Compliance] Daily digest %(date)s") % {"date": text.day(on)}
    return gettext("[Compliance] Daily digest %(date)s: %(company)s") % {
        "date": text.day(on),
        "company": text.company_name(company),
    }


def digest_lines(*, on: dt.date, now: dt.datetime, company: Company | None = None) -> list[str]:
    """The digest's text, line by line, in the active language: the regulator's (every company)
    or one company's.

    Opened and resolved counts cover the 24 hours before ``now``.
    """
    findings = Finding.objects.select_related("company").order_by("company__name", "company__slug", "rule", "subject")
    since = now - dt.timedelta(days=1)
    if company is not None:
        findings = findings.filter(company=company)
    active = list(findings.filter(status__in=ACTIVE))
    opened = findings.filter(first_seen_at__gte=since).count()
    resolved = findings.filter(status=Finding.Status.RESOLVED, resolved_at__gte=since).count()

    lines = [digest_title(on, company)]
    if company is None:
        statuses = company_compliance_statuses()
        tally = {status: sum(1 for row in statuses if row.status == status) for status in ComplianceStatus.values}
        lines.append(
            gettext(
                "Companies: %(total)d (%(compliant)d compliant, %(at_risk)d at risk, %(non_compliant)d non-compliant)"
            )
            % {
                "total": len(statuses),
                "compliant": tally[ComplianceStatus.COMPLIANT],
                "at_risk": tally[ComplianceStatus.AT_RISK],
                "non_compliant": tally[ComplianceStatus.NON_COMPLIANT],
            }
        )
    lines.append(
        gettext("Findings: %(active)d open or acknowledged; last 24 hours: %(opened)d opened, %(resolved)d resolved")
        % {"active": len(active), "opened": opened, "resolved": resolved}
    )

    by_company: dict[int, list[Finding]] = defaultdict(list)
    for finding in active:
        by_company[finding.company_id].append(finding)
    sections: dict[str, list[str]] = {ComplianceStatus.NON_COMPLIANT: [], ComplianceStatus.AT_RISK: []}
    for company_findings in by_company.values():
        severities = [finding.severity for finding in company_findings]
        status = status_from_counts(
            high=sum(map(SEVERE.__contains__, severities)), warning=severities.count(Finding.Severity.WARNING)
        )
        if status not in sections:
            continue
        owner = company_findings[0].company
        sections[status].append(f"* {text.company_name(owner)} ({owner.slug})")
        company_findings.sort(key=lambda finding: (SEVERITY_ORDER[finding.severity], finding.rule, finding.subject))
        sections[status] += [_finding_line(finding) for finding in company_findings]
    for status, section in sections.items():
        if section:
            lines += ["", str(STATUS_TITLES[status]), *section]
    if not active:
        lines += ["", gettext("No open findings.")]
    return lines


def _claim_digest(*, on: dt.date, recipient: str, company: Company | None) -> DigestEmail | None:
    """Record the digest for ``recipient`` on ``on``; ``None`` if it is already sent."""
    try:
        with transaction.atomic():
            return DigestEmail.objects.create(digest_on=on, recipient=recipient, company=company)
    except IntegrityError:
        record = DigestEmail.objects.get(digest_on=on, recipient=recipient)
        return None if record.sent_at else record


def send_daily_digest(*, on: dt.date | None = None, now: dt.datetime | None = None) -> int:
    """Mail the day's digest: the whole picture to regulator staff, and to each company with
    open or acknowledged findings its own part. Once per recipient per day; returns how many went out.

    A recipient who is both regulator staff and a company contact gets the regulator's digest only.
    Each reads it in their language (:func:`recipient_language`); the body is written once per
    audience and language.
    """
    now = now or timezone.now()
    on = on or timezone.localdate(now)
    audiences: list[tuple[Company | None, list[str]]] = [(None, _unique(settings.REGULATOR_ALERT_EMAILS))]
    companies = Company.objects.filter(findings__status__in=ACTIVE).distinct().order_by("name", "slug")
    audiences += [(company, _unique(company.contact_emails)) for company in companies]
    sent = 0
    staff = staff_languages()
    for company, recipients in audiences:
        if not recipients:
            continue
        bodies: dict[str, tuple[str, str]] = {}
        for recipient in recipients:
            record = _claim_digest(on=on, recipient=recipient, company=company)
            if record is None:
                continue
            language = recipient_language(recipient, company, staff)
            if language not in bodies:
                with translation.override(language):
                    bodies[language] = (
                        digest_subject(on, company),
                        "\n".join(digest_lines(on=on, now=now, company=company)) + "\n",
                    )
            title, body = bodies[language]
            try:
                EmailMessage(title, body, settings.DEFAULT_FROM_EMAIL, [recipient]).send()
            except Exception:  # one refused address must not stop the rest
                logger.exception("Could not send the digest to %s", recipient)
                continue
            DigestEmail.objects.filter(pk=record.pk).update(sent_at=timezone.now())
            sent += 1
    return sent
