"""Writes with a business rule on security attestations and findings."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from common.errors import Conflict, DomainError
from compliance.models import (
    AttestationReview,
    Finding,
    FindingTransition,
    SecurityAttestation,
    SecurityRequirement,
    WebhookSubscription,
)
from licences.models import Company, Shipment

AttestationStatus = SecurityAttestation.Status
Transition = FindingTransition.Kind


def _actor(user: User | None, recorded_by: str) -> str:
    """Who a ledger row says acted: ``recorded_by`` if given (an API key's label), else the user's name."""
    if recorded_by:
        return recorded_by[:150]
    return user.get_username()[:150] if user is not None else ""


def _attestation_already(status: str) -> str:
    """The refusal of a second review, in the request's language (the status is a word in it)."""
    if status == AttestationStatus.ACCEPTED:
        return gettext("This attestation is already accepted.")
    if status == AttestationStatus.REJECTED:
        return gettext("This attestation is already rejected.")
    return gettext("This attestation is already %(status)s.") % {"status": status}


def _finding_not_open(status: str) -> str:
    """The refusal to acknowledge a finding that is not open, in the request's language."""
    if status == Finding.Status.ACKNOWLEDGED:
        return gettext("This finding is acknowledged; only open findings can be acknowledged.")
    if status == Finding.Status.RESOLVED:
        return gettext("This finding is resolved; only open findings can be acknowledged.")
    return gettext("This finding is %(status)s; only open findings can be acknowledged.") % {"status": status}


def attestation_submit(
    *,
    company: Company,
    requirement: SecurityRequirement,
    attested_on: dt.date,
    evidence_reference: str = "",
    evidence_file: File[bytes] | None = None,
    shipment: Shipment | None = None,
) -> SecurityAttestation:
    """Record a company's attestation against a requirement (status ``submitted``)."""
    if not evidence_reference and not evidence_file:
        raise DomainError(
            gettext("Give an evidence file or an evidence reference."),
            code="evidence_required",
            fields={"evidence_reference": [gettext("evidence file or reference required")]},
        )
    if requirement.scope == SecurityRequirement.Scope.SHIPMENT and shipment is None:
        raise DomainError(
            gettext("%(requirement)s is attested per shipment: name the shipment.") % {"requirement": requirement.code},
            code="shipment_required",
        )
    if requirement.scope == SecurityRequirement.Scope.COMPANY and shipment is not None:
        raise DomainError(
            gettext("%(requirement)s is attested per company, not per shipment.") % {"requirement": requirement.code},
            code="shipment_not_allowed",
        )
    if shipment is not None and shipment.company_id != company.pk:
        raise DomainError(
            gettext("That shipment belongs to another company."), code="shipment_not_found", status_code=404
        )
    attestation = SecurityAttestation(
        company=company,
        requirement=requirement,
        shipment=shipment,
        attested_on=attested_on,
        evidence_reference=evidence_reference,
    )
    if evidence_file:
        attestation.evidence_file = evidence_file
    attestation.save()
    return attestation


@transaction.atomic
def attestation_review(
    *,
    attestation: SecurityAttestation,
    accept: bool,
    reviewer: User | None = None,
    expires_on: dt.date | None = None,
    note: str = "",
    recorded_by: str = "",
    at: dt.datetime | None = None,
) -> SecurityAttestation:
    """Accept (with an expiry, by default the requirement's validity) or reject a submission.

    The review is also appended to the ``attestation_reviews`` ledger (hash-chained). It is
    recorded at ``at`` (default: now; only code replaying history, the demo world and tests,
    passes it: the API and the admin never do).
    """
    attestation = SecurityAttestation.objects.select_for_update().select_related("requirement").get(pk=attestation.pk)
    if attestation.status != AttestationStatus.SUBMITTED:
        raise Conflict(_attestation_already(attestation.status), code="invalid_transition")
    now = at or timezone.now()
    if accept:
        expires_on = expires_on or attestation.attested_on + dt.timedelta(days=attestation.requirement.validity_days)
        if expires_on < attestation.attested_on:
            raise DomainError(gettext("The expiry must not be before the attestation date."), code="invalid_expiry")
        attestation.status = AttestationStatus.ACCEPTED
        attestation.expires_on = expires_on
    else:
        if not note.strip():
            raise DomainError(gettext("Say why the attestation is rejected."), code="reason_required")
        attestation.status = AttestationStatus.REJECTED
    attestation.review_note = note
    attestation.reviewed_at = now
    attestation.reviewed_by = reviewer
    attestation.save()
    AttestationReview.objects.create(
        attestation=attestation,
        company_id=attestation.company_id,
        decision=attestation.status,
        expires_on=attestation.expires_on if accept else None,
        note=note,
        reviewed_at=now,
        reviewed_by=_actor(reviewer, recorded_by),
    )
    return attestation


def _record_transition(finding: Finding, kind: str, *, by: str, note: str = "") -> None:
    """Append a finding's new state to the ``finding_transitions`` ledger (hash-chained)."""
    FindingTransition.objects.create(
        finding=finding,
        company_id=finding.company_id,
        kind=kind,
        status=finding.status,
        severity=finding.severity,
        at=timezone.now(),
        by=by,
        note=note,
    )


@transaction.atomic
def finding_acknowledge(
    *, finding: Finding, user: User | None = None, note: str = "", recorded_by: str = ""
) -> Finding:
    """An officer has seen the finding: it stays listed but is not alerted again unless it worsens."""
    finding = Finding.objects.select_for_update().get(pk=finding.pk)
    if finding.status != Finding.Status.OPEN:
        raise Conflict(_finding_not_open(finding.status), code="invalid_transition")
    finding.status = Finding.Status.ACKNOWLEDGED
    finding.acknowledged_at = timezone.now()
    finding.acknowledged_by = user
    if note:
        finding.resolution_note = note
    finding.save()
    _record_transition(finding, Transition.ACKNOWLEDGED, by=_actor(user, recorded_by), note=note)
    return finding


@transaction.atomic
def finding_resolve(*, finding: Finding, note: str, user: User | None = None, recorded_by: str = "") -> Finding:
    """Close a finding by hand (a sweep re-opens it if the condition still holds)."""
    finding = Finding.objects.select_for_update().get(pk=finding.pk)
    if finding.status == Finding.Status.RESOLVED:
        raise Conflict(gettext("This finding is already resolved."), code="invalid_transition")
    if not note.strip():
        raise DomainError(gettext("Say how the finding was resolved."), code="reason_required")
    finding.status = Finding.Status.RESOLVED
    finding.resolved_at = timezone.now()
    finding.resolution_note = note
    finding.save()
    _record_transition(finding, Transition.RESOLVED, by=_actor(user, recorded_by), note=note)
    return finding


def webhook_subscription_create(*, company: Company | None = None, **fields: object) -> WebhookSubscription:
    """Create a webhook subscription, a company's at most ``WEBHOOK_MAX_PER_COMPANY``
    (regulator-wide ones, with no company, are not capped).

    The company's row is locked before its subscriptions are counted (on PostgreSQL), so
    requests arriving together are counted one after another and the cap holds: each one is a
    delivery per finding by the shared worker, and no company may queue thousands of calls to
    a slow host ahead of everyone else's.
    """
    with transaction.atomic():
        if company is not None:
            Company.objects.select_for_update(no_key=True).filter(pk=company.pk).values_list("pk").first()
            limit = settings.COMPLIANCE.get("WEBHOOK_MAX_PER_COMPANY", 20)
            if WebhookSubscription.objects.filter(company=company).count() >= limit:
                raise DomainError(
                    gettext("A company may have at most %(limit)d webhook subscriptions: delete one first.")
                    % {"limit": limit},
                    code="webhook_limit_reached",
                )
        return WebhookSubscription.objects.create(company=company, **fields)
