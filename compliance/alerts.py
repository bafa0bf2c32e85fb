"""E-mail alerts: on open, escalation and resolution of findings, reminders, and the daily digest.

Every e-mail is first recorded (``AlertEmail`` per finding, event and recipient;
``DigestEmail`` per day and recipient) under a unique constraint, then sent from those
records: a re-run sweep or a re-delivered task finds the row already there, or already
sent, and mails nobody twice. Recipients are the company's compliance contacts and
``settings.REGULATOR_ALERT_EMAILS``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.utils import timezone

from common import bulk
from compliance.models import AlertEmail, DigestEmail, Finding
from compliance.outcomes import FindingEvent
from compliance.selectors import ACTIVE, ComplianceStatus, company_compliance_statuses, status_from_counts
from licences.models import Company

logger = logging.getLogger(__name__)

Event = AlertEmail.Event
SUBJECT_PREFIX = "[Compliance]"
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


def render_alert(alert: AlertEmail) -> EmailMessage:
    """The e-mail for one outbox row."""
    finding = alert.finding
    company = finding.company
    if alert.event == Event.OPENED:
        headline = f"New {finding.severity} finding"
    elif alert.event == Event.ESCALATED:
        headline = f"Finding raised to {finding.severity}"
    elif alert.event == Event.RESOLVED:
        headline = "Finding resolved"
    else:
        days = alert.event_key.split("d:", 1)[0]
        headline = f"Reminder, {days} days left"
    lines = [
        f"{headline}: {finding.summary}",
        "",
        f"Company:    {company.name} ({company.slug})",
        f"Rule:       {finding.rule}",
        f"Severity:   {finding.severity}",
        f"Subject:    {finding.subject}",
        f"Status:     {finding.status}",
        f"First seen: {timezone.localtime(finding.first_seen_at):%Y-%m-%d %H:%M}",
    ]
    if alert.event == Event.RESOLVED and finding.resolution_note:
        lines.append(f"Resolution: {finding.resolution_note}")
    for name, value in sorted((finding.details or {}).items()):
        lines.append(f"  {name}: {value}")
    lines += ["", f"Finding #{finding.pk}. Alerts are not repeated while a finding stays open or acknowledged."]
    return EmailMessage(
        subject=f"{SUBJECT_PREFIX} {headline}: {finding.summary}"[:250],
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
        with get_connection() as connection:
            for alert in pending:
                try:
                    connection.send_messages([render_alert(alert)])
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

STATUS_TITLES = {ComplianceStatus.NON_COMPLIANT: "Non-compliant", ComplianceStatus.AT_RISK: "At risk"}


def _finding_line(finding: Finding) -> str:
    since = timezone.localdate(finding.first_seen_at)
    acknowledged = ", acknowledged" if finding.status == Finding.Status.ACKNOWLEDGED else ""
    return f"  - [{finding.severity}] {finding.rule}: {finding.summary} (since {since:%Y-%m-%d}{acknowledged})"


def digest_lines(*, on: dt.date, now: dt.datetime, company: Company | None = None) -> list[str]:
    """The digest's text, line by line: the regulator's (every company) or one company's.

    Opened and resolved counts cover the 24 hours before ``now``.
    """
    findings = Finding.objects.select_related("company").order_by("company__name", "company__slug", "rule", "subject")
    since = now - dt.timedelta(days=1)
    if company is not None:
        findings = findings.filter(company=company)
    active = list(findings.filter(status__in=ACTIVE))
    opened = findings.filter(first_seen_at__gte=since).count()
    resolved = findings.filter(status=Finding.Status.RESOLVED, resolved_at__gte=since).count()

    lines = [f"Compliance digest for {on:%Y-%m-%d}" + (f": {company.name}" if company else "")]
    if company is None:
        statuses = company_compliance_statuses()
        tally = {status: sum(1 for row in statuses if row.status == status) for status in ComplianceStatus.values}
        lines.append(
            f"Companies: {len(statuses)} ({tally[ComplianceStatus.COMPLIANT]} compliant, "
            f"{tally[ComplianceStatus.AT_RISK]} at risk, {tally[ComplianceStatus.NON_COMPLIANT]} non-compliant)"
        )
    lines.append(f"Findings: {len(active)} open or acknowledged; last 24 hours: {opened} opened, {resolved} resolved")

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
        sections[status].append(f"* {owner.name} ({owner.slug})")
        company_findings.sort(key=lambda finding: (SEVERITY_ORDER[finding.severity], finding.rule, finding.subject))
        sections[status] += [_finding_line(finding) for finding in company_findings]
    for status, section in sections.items():
        if section:
            lines += ["", f"{STATUS_TITLES[status]}:", *section]
    if not active:
        lines += ["", "No open findings."]
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
    """
    now = now or timezone.now()
    on = on or timezone.localdate(now)
    audiences: list[tuple[Company | None, list[str]]] = [(None, _unique(settings.REGULATOR_ALERT_EMAILS))]
    companies = Company.objects.filter(findings__status__in=ACTIVE).distinct().order_by("name", "slug")
    audiences += [(company, _unique(company.contact_emails)) for company in companies]
    sent = 0
    for company, recipients in audiences:
        if not recipients:
            continue
        body: str | None = None
        for recipient in recipients:
            record = _claim_digest(on=on, recipient=recipient, company=company)
            if record is None:
                continue
            if body is None:
                body = "\n".join(digest_lines(on=on, now=now, company=company)) + "\n"
            title = f"{SUBJECT_PREFIX} Daily digest {on:%Y-%m-%d}" + (f": {company.name}" if company else "")
            try:
                EmailMessage(title, body, settings.DEFAULT_FROM_EMAIL, [recipient]).send()
            except Exception:  # one refused address must not stop the rest
                logger.exception("Could not send the digest to %s", recipient)
                continue
            DigestEmail.objects.filter(pk=record.pk).update(sent_at=timezone.now())
            sent += 1
    return sent
