"""The sweep's upsert: open and alert once, stay quiet, resolve by itself, respect acknowledgements."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance import sweep
from compliance.models import AlertEmail, Finding, WebhookDelivery
from compliance.selectors import company_compliance_statuses
from compliance.services import finding_acknowledge, finding_resolve
from licences.models import Shipment
from licences.services import customs_event_record
from quotas.models import QuotaPolicy
from tests.compliance.conftest import (
    approved_licence,
    company_requirement,
    make_company,
    shipment_requirement,
    staff_reader,
    subscription,
)
from tests.factories import (
    CustomsDirectiveFactory,
    DomesticCommitmentFactory,
    QuotaPolicyFactory,
    SecurityAttestationFactory,
    ShipmentFactory,
    at,
)

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


@pytest.fixture(autouse=True, params=SETTLE_WAYS)
def _settle(request, monkeypatch):
    """Every scenario runs each way the sweep can apply its hits: on PostgreSQL set-based in
    the database (new and unchanged findings) and the Python reference (the only way elsewhere)."""
    monkeypatch.setattr(sweep, "SETTLE_IN_DATABASE", request.param == "settled in the database")


def held_shipment(company, number: str, held_on: dt.date) -> Shipment:
    return ShipmentFactory(
        licence=approved_licence(company, reserved_quantity=100),
        declaration_number=number,
        status=Shipment.Status.HELD,
        held_since=at(held_on),
        status_changed_at=at(held_on),
        declared_at=at(held_on),
    )


@pytest.fixture
def world():
    """Two companies with two held shipments each, overdue from 9 Feb 2026; one regulator-wide webhook."""
    alibaba = make_company("alibaba", name="Alibaba", emails=("compliance@alibaba.example",))
    tencent = make_company("tencent", name="Tencent", emails=("a@tencent.example", "b@tencent.example"))
    for company in (alibaba, tencent):
        held_shipment(company, f"DEC-{company.slug}-1", D(2026, 2, 1))
        held_shipment(company, f"DEC-{company.slug}-2", D(2026, 2, 1))
    subscription("http://127.0.0.1:9/unused", name="Regulator hook")
    return alibaba, tencent


def counts() -> tuple[int, int, int, int]:
    return Finding.objects.count(), AlertEmail.objects.count(), WebhookDelivery.objects.count(), len(mail.outbox)


def test_first_sweep_opens_and_alerts_once_per_finding_and_recipient(sweep_on, world):
    summary = sweep_on(D(2026, 2, 9))
    assert summary.as_dict() == {
        "companies": 2,
        "opened": {"customs_hold_overdue": 4},
        "still_open": {},
        "escalated": {},
        "resolved": {},
    }
    # 4 findings; Alibaba's 2 x (1 contact + regulator) + Tencent's 2 x (2 contacts + regulator) = 10 e-mails.
    assert counts() == (4, 10, 4, 10)
    assert AlertEmail.objects.filter(sent_at__isnull=True).count() == 0
    assert sorted(mail.outbox[0].to + mail.outbox[1].to) == ["compliance@alibaba.example", REGULATOR]
    message = mail.outbox[0]
    assert message.subject == (
        "[Compliance] New warning finding: Alibaba's shipment DEC-alibaba-1 has been held at Shanghai Pudong "
        "since 2026-02-01 (8 days)"
    )
    assert "Rule:       Shipment held too long at customs (customs_hold_overdue)\n" in message.body
    assert set(WebhookDelivery.objects.values_list("event_type", "status")) == {("finding.opened", "pending")}


def test_a_heartbeat_is_written_at_most_once_per_heartbeat_interval(sweep_on, world, time_machine, settings):
    # A company changing continuously is re-checked minute after minute: rewriting every open
    # finding's last_seen_at each time is the largest write of a re-check of a company with
    # many open findings. last_seen_at moves once the interval has passed since it last moved.
    settings.COMPLIANCE = {**settings.COMPLIANCE, "HEARTBEAT_SECONDS": 600}
    sweep_on(D(2026, 2, 9))
    finding = Finding.objects.get(subject="shipment:DEC-alibaba-1")
    noon = at(D(2026, 2, 9))
    for minutes, seen in [
        (5, noon),
        (9, noon),
        (11, noon + dt.timedelta(minutes=11)),
        (20, noon + dt.timedelta(minutes=11)),
    ]:
        time_machine.move_to(noon + dt.timedelta(minutes=minutes), tick=False)
        summary = sweep.run_sweep()
        assert (summary.total("opened"), summary.total("still_open"), summary.total("resolved")) == (0, 4, 0)
        finding.refresh_from_db()
        assert (minutes, finding.last_seen_at) == (minutes, seen)
    # A finding whose figures changed is rewritten at once, its last_seen_at with it.
    time_machine.move_to(at(D(2026, 2, 10)) + dt.timedelta(minutes=1), tick=False)
    sweep.run_sweep()
    finding.refresh_from_db()
    assert (finding.summary.endswith("(9 days)"), finding.last_seen_at) == (
        True,
        at(D(2026, 2, 10)) + dt.timedelta(minutes=1),
    )


def test_second_sweep_creates_and_sends_nothing(sweep_on, world):
    sweep_on(D(2026, 2, 9))
    before = counts()
    summary = sweep_on(D(2026, 2, 9))
    assert counts() == before
    assert (summary.total("opened"), summary.total("still_open"), summary.total("resolved")) == (0, 4, 0)
    # The next day: still nothing new, only last_seen moves (and no history row for it).
    finding = Finding.objects.get(subject="shipment:DEC-alibaba-1")
    history_rows = finding.history.count()
    sweep_on(D(2026, 2, 10))
    assert counts() == before
    finding.refresh_from_db()
    assert finding.last_seen_at == at(D(2026, 2, 10))
    assert finding.first_seen_at == at(D(2026, 2, 9))
    assert finding.summary.endswith("(9 days)")
    assert finding.history.count() == history_rows


def test_condition_gone_resolves_automatically_and_says_so(sweep_on, world):
    sweep_on(D(2026, 2, 9))
    shipment = Shipment.objects.get(declaration_number="DEC-alibaba-1")
    customs_event_record(shipment=shipment, status=Shipment.Status.CLEARED, occurred_at=at(D(2026, 2, 10), 9))
    mail.outbox.clear()
    summary = sweep_on(D(2026, 2, 10))
    assert summary.resolved == {"customs_hold_overdue": 1}
    finding = Finding.objects.get(subject="shipment:DEC-alibaba-1")
    assert finding.status == Finding.Status.RESOLVED
    assert finding.resolved_at == at(D(2026, 2, 10))
    assert finding.resolution_note == (
        "Resolved automatically by the compliance sweep on 2026-02-10: the condition no longer holds."
    )
    assert sorted(m.to[0] for m in mail.outbox) == ["compliance@alibaba.example", REGULATOR]
    assert mail.outbox[0].subject.startswith("[Compliance] Finding resolved: ")
    assert WebhookDelivery.objects.filter(event_type="finding.resolved", finding=finding).count() == 1
    # Quiet again afterwards.
    before = counts()
    sweep_on(D(2026, 2, 11))
    assert counts() == before


def test_acknowledged_finding_is_not_alerted_again(sweep_on, world):
    sweep_on(D(2026, 2, 9))
    finding = Finding.objects.get(subject="shipment:DEC-tencent-1")
    finding_acknowledge(finding=finding, note="Customs broker is on it")
    before = counts()
    summary = sweep_on(D(2026, 2, 12))
    assert counts() == before
    finding.refresh_from_db()
    assert (finding.status, finding.last_seen_at) == (Finding.Status.ACKNOWLEDGED, at(D(2026, 2, 12)))
    assert summary.still_open == {"customs_hold_overdue": 4}


@pytest.fixture
def short_company():
    """One chip short of a 30 % quota with 10 days' grace from the approval on 23 January."""
    company = make_company("bytedance", name="ByteDance", emails=("risk@bytedance.example",))
    approved_licence(company)
    DomesticCommitmentFactory(company=company, quantity=299)
    QuotaPolicyFactory(name="Domestic rule", ratio=Decimal("0.3000"), grace_days=10)
    return company


def test_acknowledged_finding_is_alerted_again_when_its_severity_rises(sweep_on, short_company):
    sweep_on(D(2026, 2, 1))
    finding = Finding.objects.get()
    assert (finding.rule, finding.severity) == ("quota_at_risk", "warning")
    finding_acknowledge(finding=finding)
    mail.outbox.clear()
    assert sweep_on(D(2026, 2, 1)).total("escalated") == 0
    assert mail.outbox == []
    summary = sweep_on(D(2026, 2, 2))  # grace over
    assert summary.escalated == {"quota_shortfall": 1}
    finding.refresh_from_db()
    assert (finding.rule, finding.severity, finding.status) == ("quota_shortfall", "high", Finding.Status.OPEN)
    assert finding.acknowledged_at is None
    assert sorted(m.to[0] for m in mail.outbox) == [REGULATOR, "risk@bytedance.example"]
    assert mail.outbox[0].subject.startswith("[Compliance] Finding raised to high: ByteDance is short")
    assert AlertEmail.objects.filter(event=AlertEmail.Event.ESCALATED).count() == 2
    # The next sweep is quiet again.
    mail.outbox.clear()
    sweep_on(D(2026, 2, 3))
    assert mail.outbox == []


def test_severity_falling_is_not_alerted(sweep_on, short_company):
    sweep_on(D(2026, 2, 2))
    mail.outbox.clear()
    # A new policy version with a longer grace period: the same gap is only at risk; nothing is sent.
    QuotaPolicy.objects.update(effective_until=D(2026, 2, 2))
    QuotaPolicyFactory(name="Domestic rule", version=2, ratio=Decimal("0.3000"), grace_days=30,
                       effective_from=D(2026, 2, 3))  # fmt: skip
    summary = sweep_on(D(2026, 2, 3))
    assert (summary.total("escalated"), summary.total("still_open"), mail.outbox) == (0, 1, [])
    finding = Finding.objects.get()
    assert (finding.rule, finding.severity) == ("quota_at_risk", "warning")


def test_resolved_by_hand_while_the_gap_holds_is_reopened_and_alerted(sweep_on, world):
    sweep_on(D(2026, 2, 9))
    finding = Finding.objects.get(subject="shipment:DEC-alibaba-2")
    finding_resolve(finding=finding, note="Thought it was cleared")
    mail.outbox.clear()
    summary = sweep_on(D(2026, 2, 10))
    assert summary.opened == {"customs_hold_overdue": 1}
    finding.refresh_from_db()
    assert (finding.status, finding.resolved_at, finding.first_seen_at) == ("open", None, at(D(2026, 2, 10)))
    assert len(mail.outbox) == 2
    assert AlertEmail.objects.filter(finding=finding, event="opened").count() == 4  # two episodes x two recipients


def test_a_shipment_condition_finding_opens_beats_reopens_and_resolves(sweep_on):
    """The rule with the most hits by far (one per lot) through a finding's whole life."""
    company = make_company("bytedance", name="ByteDance", emails=("c@bytedance.example",))
    requirement = shipment_requirement()
    shipment = ShipmentFactory(licence=approved_licence(company), declaration_number="DEC-LOT-1")
    subject = "shipment:DEC-LOT-1:lot-testing"

    first = sweep_on(D(2026, 2, 9))
    assert first.opened == {"shipment_condition_gap": 1}
    finding = Finding.objects.get(subject=subject)
    assert (finding.fingerprint, finding.rule, finding.severity, finding.status) == (
        f"shipment_condition_gap:{company.pk}:{subject}",
        "shipment_condition_gap",
        "high",
        "open",
    )
    assert finding.summary == (
        "ByteDance's shipment DEC-LOT-1 of H200 lacks an accepted attestation of Independent third-party lot testing"
    )
    assert finding.details == {"shipment": "DEC-LOT-1", "requirement": "lot-testing", "chip": "H200"}
    assert list(finding.history.values_list("history_type", "history_change_reason")) == [
        ("+", "Opened by the compliance sweep")
    ]
    assert AlertEmail.objects.filter(finding=finding, event="opened").count() == 2  # company + regulator

    again = sweep_on(D(2026, 2, 10))
    assert (again.total("opened"), again.still_open) == (0, {"shipment_condition_gap": 1})
    finding.refresh_from_db()
    assert (finding.last_seen_at, finding.history.count()) == (at(D(2026, 2, 10)), 1)

    finding_resolve(finding=finding, note="Lot test booked")
    reopened = sweep_on(D(2026, 2, 11))
    assert reopened.opened == {"shipment_condition_gap": 1}
    finding.refresh_from_db()
    assert (finding.status, finding.first_seen_at, finding.resolved_at) == ("open", at(D(2026, 2, 11)), None)

    SecurityAttestationFactory(company=company, requirement=requirement, shipment=shipment)
    resolved = sweep_on(D(2026, 2, 12))
    assert resolved.resolved == {"shipment_condition_gap": 1}
    finding.refresh_from_db()
    assert (finding.status, finding.resolved_at) == ("resolved", at(D(2026, 2, 12)))
    assert AlertEmail.objects.filter(finding=finding).values_list("event").distinct().count() == 2


def test_recheck_of_one_company_leaves_the_others_alone(sweep_on, world):
    alibaba, tencent = world
    sweep_on(D(2026, 2, 9), company_ids=[alibaba.pk])
    assert set(Finding.objects.values_list("company__slug", flat=True)) == {"alibaba"}
    sweep_on(D(2026, 2, 9))
    Shipment.objects.filter(company=tencent).update(status=Shipment.Status.CLEARED, cleared_at=at(D(2026, 2, 9)))
    summary = sweep_on(D(2026, 2, 10), company_ids=[alibaba.pk])
    assert summary.total("resolved") == 0
    assert Finding.objects.filter(company=tencent, status="open").count() == 2


def test_a_chunk_of_consecutive_companies_sweeps_exactly_those_companies(sweep_on):
    """A sweep chunk names every company id from one to another: it is asked for as a
    range (``bulk.one_of``), which must select the same companies as the list would."""
    companies = [make_company(f"chunk-{index:02d}") for index in range(24)]
    for company in companies:
        held_shipment(company, f"DEC-{company.slug}", D(2026, 2, 1))
    sweep_on(D(2026, 2, 9))
    assert Finding.objects.filter(status="open").count() == 24
    Shipment.objects.update(status=Shipment.Status.CLEARED, cleared_at=at(D(2026, 2, 9)))

    ids = sorted(company.pk for company in companies)
    run = ids[2:20]  # 18 consecutive ids: a range
    assert run == list(range(run[0], run[-1] + 1))
    summary = sweep_on(D(2026, 2, 10), company_ids=run)
    assert summary.resolved == {"customs_hold_overdue": 18}
    open_now = set(Finding.objects.filter(status="open").values_list("company_id", flat=True))
    assert open_now == {*ids[:2], *ids[20:]}

    # Enough ids for a range, but not one run (ids of no company pad it): asked for as a list.
    gapped = [*ids[:2], *ids[20:23], *range(ids[-1] + 100, ids[-1] + 112)]
    summary = sweep_on(D(2026, 2, 11), company_ids=gapped)
    assert summary.resolved == {"customs_hold_overdue": 5}
    assert set(Finding.objects.filter(status="open").values_list("company_id", flat=True)) == {ids[23]}


def test_compliance_statuses_from_active_findings(sweep_on, world):
    alibaba, tencent = world
    deepseek = make_company("deepseek", name="DeepSeek")
    ShipmentFactory(licence=approved_licence(deepseek), entry_block_directive=CustomsDirectiveFactory())
    make_company("zhipu", name="Zhipu")
    sweep_on(D(2026, 2, 9))
    finding_acknowledge(finding=Finding.objects.filter(company=tencent).first())
    finding_resolve(finding=Finding.objects.filter(company=alibaba).first(), note="Handled")
    rows = {row.slug: (row.status, row.high, row.warning) for row in company_compliance_statuses()}
    assert rows == {
        "alibaba": ("at_risk", 0, 1),
        "deepseek": ("non_compliant", 1, 0),
        "tencent": ("at_risk", 0, 2),
        "zhipu": ("compliant", 0, 0),
    }


# --- Scale ---------------------------------------------------------------------------------------------


def company_with_every_gap(index: int):
    """A company that trips most rules: held shipment, nearly exhausted and expiring licence,
    overdue commitment, security gap, quota shortfall."""
    company = make_company(f"co-{index:03d}", emails=(f"officer@co{index}.example",))
    licence = approved_licence(company, valid_until=D(2026, 3, 1), used_quantity=950)
    ShipmentFactory(
        licence=licence, quantity=10, status=Shipment.Status.HELD, held_since=at(D(2026, 2, 1)),
        declared_at=at(D(2026, 2, 1)), status_changed_at=at(D(2026, 2, 1)),
    )  # fmt: skip
    DomesticCommitmentFactory(company=company, quantity=100, due_date=D(2026, 2, 1))
    return company


def statements(queries: list[dict]) -> list[str]:
    """The statements a sweep ran, with savepoint names blanked and a bulk insert or update
    split into batches counted once: SQLite caps a statement at 999 parameters, so Django
    cuts a bulk write of many rows into several (a batch per ~100 rows, never one per row).
    An ``executemany`` (the SQLite bulk paths, ``common.bulk``) is one statement whatever the
    number of rows: its log's ``<n> times:`` prefix is dropped."""
    shapes: list[str] = []
    for query in queries:
        sql = re.sub(r"^(\d+|\?) times: ", "", query["sql"])
        if "SAVEPOINT" in sql:
            shapes.append(sql.split('"')[0])
            continue
        shape = sql[:60]
        if sql.startswith(("INSERT", "UPDATE")) and shapes and shapes[-1] == shape:
            continue
        shapes.append(shape)
    return shapes


def test_sweep_query_count_does_not_grow_with_the_number_of_companies(travel, world):
    from compliance.sweep import run_sweep

    QuotaPolicyFactory(name="Domestic rule", ratio=Decimal("0.3000"))
    company_requirement()
    SecurityAttestationFactory(company=make_company("attested"), requirement=company_requirement())
    subscription("http://127.0.0.1:9/co", name="Company hook", company=make_company("co-hook"))
    few = [company_with_every_gap(i).pk for i in range(5)]
    many = [company_with_every_gap(i).pk for i in range(5, 55)]
    travel(D(2026, 2, 20))

    def measured(company_ids):
        with CaptureQueriesContext(connection) as queries:
            summary = run_sweep(company_ids=company_ids)
        return queries.captured_queries, summary

    first_few, few_summary = measured(few)
    first_many, many_summary = measured(many)
    assert few_summary.total("opened") == 5 * 6
    assert many_summary.total("opened") == 50 * 6
    assert len(mail.outbox) == 55 * 6 * 2
    assert statements(first_few) == statements(first_many)
    again_few, _ = measured(few)
    again_many, _ = measured(many)
    assert statements(again_few) == statements(again_many)
    if connection.vendor == "postgresql":  # no parameter cap: exactly the same number of queries
        assert (len(first_few), len(again_few)) == (len(first_many), len(again_many))
    print(f"sweep queries: first {len(first_few)} / {len(first_many)}, again {len(again_few)} (5 / 50 companies)")


# --- The command ------------------------------------------------------------------------------------------


def test_compliance_sweep_command_prints_a_summary(travel, world):
    travel(D(2026, 2, 9))
    out = StringIO()
    call_command("compliance_sweep", stdout=out)
    assert out.getvalue().splitlines() == [
        "2 companies swept: 4 opened, 0 still open, 0 escalated, 0 resolved",
        "  customs_hold_overdue: 4 opened, 0 still open, 0 escalated, 0 resolved",
    ]
    out = StringIO()
    call_command("compliance_sweep", "--company", "tencent", stdout=out)
    assert out.getvalue().splitlines() == [
        "1 company swept: 0 opened, 2 still open, 0 escalated, 0 resolved",
        "  customs_hold_overdue: 0 opened, 2 still open, 0 escalated, 0 resolved",
    ]


def test_compliance_sweep_command_refuses_an_unknown_company(world):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Unknown company: nobody"):
        call_command("compliance_sweep", "--company", "nobody", stdout=StringIO())
