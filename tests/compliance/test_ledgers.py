"""The hash-chained compliance ledgers (attestation reviews, finding transitions), ``verify_ledger``
on the demo and benchmark worlds, and the daily ``ledger_tampered`` check."""

from __future__ import annotations

import datetime as dt
import importlib
from io import StringIO
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from compliance import services, sweep, tasks
from compliance.models import (
    FINDING_TRANSITIONS,
    AttestationReview,
    Finding,
    FindingTransition,
    WebhookDelivery,
)
from licences import chain
from licences.models import CustomsEvent, ImportLicence, LicenceDecision, Shipment
from licences.services import customs_event_record
from quotas.models import CommitmentChange, DomesticCommitment
from tests.compliance.conftest import approved_licence, company_requirement, make_company, staff_reader, subscription
from tests.factories import SecurityAttestationFactory, ShipmentFactory, at

pytestmark = pytest.mark.django_db

D = dt.date
REGULATOR = "regulator@mofcom.example"


@pytest.fixture(autouse=True)
def _regulators(settings, db):
    """The regulator's address, read by a staff user who chose English."""
    settings.REGULATOR_ALERT_EMAILS = [REGULATOR]
    staff_reader(REGULATOR, "en")


SETTLE_WAYS = ["decided in Python"]
if connection.vendor == "postgresql":
    SETTLE_WAYS.insert(0, "settled in the database")


@pytest.fixture(params=SETTLE_WAYS)
def settle(request, monkeypatch):
    """Both ways the sweep applies its hits (see tests/compliance/test_sweep.py)."""
    monkeypatch.setattr(sweep, "SETTLE_IN_DATABASE", request.param == "settled in the database")


def verify() -> tuple[list[str], str | None]:
    out = StringIO()
    try:
        call_command("verify_ledger", stdout=out)
    except CommandError as error:
        return out.getvalue().splitlines(), str(error)
    return out.getvalue().splitlines(), None


def held_shipment(company, number: str, held_on: dt.date) -> Shipment:
    return ShipmentFactory(
        licence=approved_licence(company, reserved_quantity=100),
        declaration_number=number,
        status=Shipment.Status.HELD,
        held_since=at(held_on),
        status_changed_at=at(held_on),
        declared_at=at(held_on),
    )


def transitions(company) -> list[tuple[str, str, str, str, str, str]]:
    return list(
        FindingTransition.objects.filter(company=company)
        .order_by("chain_seq")
        .values_list("finding__subject", "kind", "status", "severity", "by", "note")
    )


# --- Attestation reviews -----------------------------------------------------------------------------


def test_each_review_is_appended_to_the_company_s_chain(travel):
    travel(D(2026, 3, 1))
    alibaba = make_company("alibaba")
    requirement = company_requirement()
    accepted, rejected = (
        SecurityAttestationFactory(company=alibaba, requirement=requirement, status="submitted", expires_on=None)
        for _ in range(2)
    )
    officer = get_user_model().objects.create_user("officer")
    services.attestation_review(attestation=accepted, accept=True, reviewer=officer, expires_on=D(2027, 1, 31))
    services.attestation_review(
        attestation=rejected, accept=False, reviewer=officer, note="Unsigned", recorded_by="api-key:reg"
    )
    rows = list(
        AttestationReview.objects.order_by("chain_seq").values_list(
            "chain_seq", "attestation_id", "company_id", "decision", "expires_on", "note", "reviewed_at", "reviewed_by"
        )
    )
    assert rows == [
        (1, accepted.pk, alibaba.pk, "accepted", D(2027, 1, 31), "", at(D(2026, 3, 1)), "officer"),
        (2, rejected.pk, alibaba.pk, "rejected", None, "Unsigned", at(D(2026, 3, 1)), "api-key:reg"),
    ]
    lines, error = verify()
    assert error is None
    assert lines[0] == "attestation_reviews (compliance.AttestationReview): 2 rows in 1 chain: ok"


# --- Finding transitions -------------------------------------------------------------------------------


def test_every_change_of_a_finding_is_a_transition_and_a_heartbeat_is_not(travel, settle):
    alibaba = make_company("alibaba", emails=("compliance@alibaba.example",))
    first = held_shipment(alibaba, "DEC-1", D(2026, 2, 1))
    held_shipment(alibaba, "DEC-2", D(2026, 2, 1))
    travel(D(2026, 2, 9))
    sweep.run_sweep()
    assert FindingTransition.objects.count() == 2
    sweep.run_sweep()  # unchanged: heartbeats only
    assert FindingTransition.objects.count() == 2
    one, two = Finding.objects.order_by("subject")
    officer = get_user_model().objects.create_user("officer")
    services.finding_acknowledge(finding=one, user=officer, note="Seen")
    services.finding_resolve(finding=two, note="Paperwork sent", recorded_by="api-key:reg")
    travel(D(2026, 2, 10))
    sweep.run_sweep()  # two is re-opened: the shipment is still held
    customs_event_record(shipment=first, status="cleared", occurred_at=at(D(2026, 2, 10)))
    travel(D(2026, 2, 11))
    sweep.run_sweep()  # one is resolved: cleared
    subject_one, subject_two = one.subject, two.subject
    auto = "Resolved automatically by the compliance sweep on 2026-02-11: the condition no longer holds."
    assert sorted(transitions(alibaba), key=lambda row: row[0]) == sorted(
        [
            (subject_one, "opened", "open", "warning", "compliance sweep", ""),
            (subject_two, "opened", "open", "warning", "compliance sweep", ""),
            (subject_one, "acknowledged", "acknowledged", "warning", "officer", "Seen"),
            (subject_two, "resolved", "resolved", "warning", "api-key:reg", "Paperwork sent"),
            (subject_two, "reopened", "open", "warning", "compliance sweep", ""),
            (subject_one, "resolved", "resolved", "warning", "compliance sweep", auto),
        ],
        key=lambda row: row[0],
    )
    assert [kind for _, kind, *_ in transitions(alibaba)][2:] == ["acknowledged", "resolved", "reopened", "resolved"]
    lines, error = verify()
    assert error is None
    assert lines[3] == "finding_transitions (compliance.FindingTransition): 6 rows in 1 chain: ok"


def test_the_backfill_migration_derives_the_transitions_from_the_history(travel):
    alibaba = make_company("alibaba")
    held_shipment(alibaba, "DEC-1", D(2026, 2, 1))
    travel(D(2026, 2, 9))
    sweep.run_sweep()
    finding = Finding.objects.get()
    services.finding_acknowledge(finding=finding, note="Seen")
    services.finding_resolve(finding=finding, note="Done")
    travel(D(2026, 2, 10))
    sweep.run_sweep()
    appended = [row[1:4] for row in transitions(alibaba)]
    assert appended == [("opened", "open", "warning"), ("acknowledged", "acknowledged", "warning"),
                        ("resolved", "resolved", "warning"), ("reopened", "open", "warning")]  # fmt: skip
    FindingTransition.objects.all().delete()
    chain.LedgerHead.objects.filter(stream=FINDING_TRANSITIONS.name).delete()
    backfill = importlib.import_module("compliance.migrations.0015_ledgers_backfill")
    backfill.fill_ledgers(apps, SimpleNamespace(connection=connection))
    assert [row[1:4] for row in transitions(alibaba)] == appended
    assert verify()[1] is None


# --- The daily check ------------------------------------------------------------------------------------


def test_the_daily_job_raises_exactly_one_critical_ledger_tampered_finding(travel, django_capture_on_commit_callbacks):
    alibaba = make_company("alibaba", emails=("compliance@alibaba.example",))
    subscription("https://hooks.example.com/regulator", name="Regulator hook")
    shipment = held_shipment(alibaba, "DEC-1", D(2026, 3, 1))
    travel(D(2026, 3, 2))
    customs_event_record(shipment=shipment, status="inspecting", occurred_at=at(D(2026, 3, 2)))
    customs_event_record(shipment=shipment, status="cleared", occurred_at=at(D(2026, 3, 2), 13))
    assert tasks.verify_ledgers() == {
        "streams": {
            "attestation_reviews": {"rows": 0, "chains": 0},
            "commitment_changes": {"rows": 0, "chains": 0},
            "customs_events": {"rows": 2, "chains": 1},
            "finding_transitions": {"rows": 0, "chains": 0},
            "licence_decisions": {"rows": 2, "chains": 1},  # the licence's application and approval
        },
        "broken": [],
    }
    assert not Finding.objects.exists()
    tampered = CustomsEvent.objects.get(status="cleared")
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(CustomsEvent._meta.db_table)
        cursor.execute(f"UPDATE {table} SET status = 'rejected' WHERE id = %s", [tampered.pk])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False):
        first = tasks.verify_ledgers()
        second = tasks.verify_ledgers()
    reason = (
        f"customs_events (licences.CustomsEvent), chain company_id={alibaba.pk}: row pk={tampered.pk} (seq 2): "
        "its content does not give its row_hash: the row was changed"
    )
    assert first["broken"] == second["broken"] == [reason]
    finding = Finding.objects.get()
    assert (finding.rule, finding.severity, finding.status, finding.company_id, finding.subject) == (
        "ledger_tampered", "critical", "open", alibaba.pk, "ledger:customs_events",
    )  # fmt: skip
    assert finding.summary == "The customs events ledger failed verification: it was altered outside the service"
    assert finding.details == {
        "stream": "customs_events", "model": "licences.CustomsEvent", "pk": tampered.pk, "seq": 2,
        "reason": "its content does not give its row_hash: the row was changed",
    }  # fmt: skip
    # Alerted once, as any new finding: the company's contact and the regulator, and the regulator's webhook.
    assert sorted(address for message in mail.outbox for address in message.to) == [
        "compliance@alibaba.example",
        REGULATOR,
    ]
    assert mail.outbox[0].subject.startswith("[Compliance] New critical finding: The customs events ledger")
    assert WebhookDelivery.objects.count() == 1
    assert transitions(alibaba) == [
        ("ledger:customs_events", "opened", "open", "critical", "ledger verification", ""),
    ]
    # Resolved by an officer while the chain is still broken: the next day's check re-opens it.
    services.finding_resolve(finding=finding, note="Investigating")
    tasks.verify_ledgers()
    assert Finding.objects.get().status == "open"
    assert [row[1] for row in transitions(alibaba)] == ["opened", "resolved", "reopened"]


# --- The demo and benchmark worlds ------------------------------------------------------------------------


@pytest.mark.usefixtures("demo_day")
def test_verify_ledger_passes_on_the_demo_world():
    call_command("load_demo", stdout=StringIO())
    call_command("compliance_sweep", stdout=StringIO())
    lines, error = verify()
    assert error is None
    assert lines == [
        # Ten company attestations accepted and three lot tests; one submission awaits review.
        "attestation_reviews (compliance.AttestationReview): 13 rows in 4 chains: ok",
        # Six commitments: a pledge each, a contract for five, a delivery for one.
        "commitment_changes (quotas.CommitmentChange): 12 rows in 4 chains: ok",
        "customs_events (licences.CustomsEvent): 20 rows in 3 chains: ok",
        f"finding_transitions (compliance.FindingTransition): {Finding.objects.count()} rows in 4 chains: ok",
        # Seven applications, four approvals, a suspension and a rejection.
        "licence_decisions (licences.LicenceDecision): 13 rows in 4 chains: ok",
    ]


def test_verify_ledger_passes_on_a_benchmark_world(travel):
    from benchmarks.generator import ON, generate

    travel(ON)
    with transaction.atomic():
        generated = generate(companies=12, shipments=150, seed=1, prefix="t")
    sweep.run_sweep(on=ON)
    lines, error = verify()
    assert error is None
    companies_with_events = CustomsEvent.objects.values("company_id").distinct().count()
    assert (
        lines[2]
        == f"customs_events (licences.CustomsEvent): {generated.events} rows in {companies_with_events} chains: ok"
    )
    assert lines[3].endswith(
        f": {Finding.objects.count()} rows in {Finding.objects.values('company_id').distinct().count()} chains: ok"
    )
    # Every licence and commitment of the world, with the rows their dates imply, in each company's chain.
    decisions, changes = LicenceDecision.objects.count(), CommitmentChange.objects.count()
    assert decisions > generated.licences and changes >= generated.commitments > 0
    with_licences = ImportLicence.objects.values("company_id").distinct().count()
    with_commitments = DomesticCommitment.objects.values("company_id").distinct().count()
    assert lines[1] == f"commitment_changes (quotas.CommitmentChange): {changes} rows in {with_commitments} chains: ok"
    assert lines[4] == f"licence_decisions (licences.LicenceDecision): {decisions} rows in {with_licences} chains: ok"
