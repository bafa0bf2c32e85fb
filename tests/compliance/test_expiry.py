"""The daily licence expiry job and the release of unused grant to the round (issue 14).

The world: a round, licences approved through the services on 23 January 2026 (so the round's
counters are real), the clock at noon on 1 April 2026 in Shanghai.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from compliance import tasks
from compliance.expiry import run_expiry
from compliance.models import AlertEmail, Finding
from compliance.sweep import run_sweep
from licences import chain, services
from licences.models import LICENCE_DECISIONS, AllocationRound, ImportLicence, LicenceDecision, Shipment
from tests.compliance.conftest import make_company
from tests.factories import AllocationRoundFactory, ForeignChipFactory, ShipmentFactory, at

pytestmark = pytest.mark.django_db

D = dt.date
TODAY = D(2026, 4, 1)
UNIT = Decimal("32000.00")


def granted(wave: AllocationRound) -> tuple[int, Decimal]:
    wave.refresh_from_db()
    return wave.granted_units, wave.granted_value_usd


def licence(company, wave, *, number: str, quantity: int, valid_until: dt.date) -> ImportLicence:
    applied = services.licence_apply(
        company=company, chip=ForeignChipFactory(), round=wave, requested_quantity=quantity, number=number,
        applied_at=at(D(2026, 1, 20)),
    )  # fmt: skip
    return services.licence_approve(
        licence=applied, granted_quantity=quantity, valid_from=D(2026, 1, 23), valid_until=valid_until,
        at=at(D(2026, 1, 23)),
    )  # fmt: skip


def use(licence_: ImportLicence, *, cleared: int = 0, reserved: int = 0) -> None:
    if cleared:
        ShipmentFactory(
            licence=licence_, quantity=cleared, status=Shipment.Status.CLEARED, cleared_at=at(D(2026, 2, 10))
        )
    if reserved:
        ImportLicence.objects.filter(pk=licence_.pk).update(reserved_quantity=reserved)


@pytest.fixture
def world(travel):
    """Five licences in one round of 400,000 units; the clock then at noon on 1 April 2026.

    - LIC-A: 1,000 granted, valid until 31 March (yesterday): 300 cleared, 200 reserved -> due, 500 released;
    - LIC-B: 800 granted, valid until 1 April (today): not due;
    - LIC-C: 400 granted, valid until 15 March, suspended on 1 March: due, effective 16 March, 400 released;
    - LIC-D: 700 granted, valid until 1 March, revoked on 20 February: not due (already out);
    - LIC-E: 600 granted, valid until 31 March, all 600 cleared: due, nothing to release.
    """
    travel(D(2026, 1, 23))
    wave = AllocationRoundFactory(unit_cap=400_000)
    alibaba = make_company("alibaba", emails=("compliance@alibaba.example",))
    tencent = make_company("tencent", emails=("compliance@tencent.example",))
    licences = {
        "A": licence(alibaba, wave, number="LIC-A", quantity=1_000, valid_until=D(2026, 3, 31)),
        "B": licence(alibaba, wave, number="LIC-B", quantity=800, valid_until=TODAY),
        "C": licence(alibaba, wave, number="LIC-C", quantity=400, valid_until=D(2026, 3, 15)),
        "D": licence(tencent, wave, number="LIC-D", quantity=700, valid_until=D(2026, 3, 1)),
        "E": licence(tencent, wave, number="LIC-E", quantity=600, valid_until=D(2026, 3, 31)),
    }
    use(licences["A"], cleared=300, reserved=200)
    use(licences["E"], cleared=600)
    travel(D(2026, 2, 20))
    services.licence_revoke(licence=licences["D"], reason="Diversion")
    travel(D(2026, 3, 1))
    services.licence_suspend(licence=licences["C"], reason="Audit")
    travel(TODAY)
    return wave, licences


def statuses() -> dict[str, str]:
    return dict(ImportLicence.objects.order_by("number").values_list("number", "status"))


def job_rows() -> list[tuple]:
    return list(
        LicenceDecision.objects.filter(actor="system: expiry job")
        .order_by("pk")
        .values_list("licence__number", "kind", "status", "effective_on", "late_entry", "released_quantity")
    )


def test_the_job_expires_exactly_the_licences_past_valid_until_and_releases_their_remainder(world):
    wave, _ = world
    # Revoking LIC-D released its 700 already: 1,000 + 800 + 400 + 600 remain granted.
    assert granted(wave) == (2_800, 2_800 * UNIT)
    summary = run_expiry()
    assert summary.as_dict() == {
        "expired": 3,
        "released_units": 900,
        "findings_opened": 3,
        "licences": ["LIC-A", "LIC-C", "LIC-E"],
    }
    # valid_until == today (LIC-B) is not expired; the revoked LIC-D is left alone.
    assert statuses() == {
        "LIC-A": "expired", "LIC-B": "approved", "LIC-C": "expired", "LIC-D": "revoked", "LIC-E": "expired",
    }  # fmt: skip
    assert job_rows() == [
        ("LIC-A", "expire", "expired", D(2026, 4, 1), False, 0),
        ("LIC-A", "release", "expired", D(2026, 4, 1), False, 500),
        ("LIC-C", "expire", "expired", D(2026, 3, 16), True, 0),
        ("LIC-C", "release", "expired", D(2026, 3, 16), True, 400),
        ("LIC-E", "expire", "expired", D(2026, 4, 1), False, 0),
    ]
    # 500 + 400 units back to the round: 2,800 - 900.
    assert granted(wave) == (1_900, 1_900 * UNIT)
    a = ImportLicence.objects.get(number="LIC-A")
    assert (a.granted_quantity, a.used_quantity, a.reserved_quantity, a.expired_at) == (1_000, 300, 200, at(TODAY))
    # The licence row's status is its latest ledger row's, and the history has the change.
    assert a.decisions.order_by("-effective_on", "-pk").first().status == "expired"
    assert a.history.order_by("-history_id").first().status == "expired"


def test_the_job_is_idempotent(world):
    wave, _ = world
    run_expiry()
    before = (statuses(), LicenceDecision.objects.count(), granted(wave), Finding.objects.count(), len(mail.outbox))
    summary = run_expiry()
    assert summary.as_dict() == {"expired": 0, "released_units": 0, "findings_opened": 0, "licences": []}
    after = (statuses(), LicenceDecision.objects.count(), granted(wave), Finding.objects.count(), len(mail.outbox))
    assert after == before


def test_the_boundary_licence_expires_the_next_day(world, travel):
    wave, _ = world
    run_expiry()
    travel(D(2026, 4, 2))
    summary = run_expiry()
    assert summary.licences == ["LIC-B"]
    assert job_rows()[-2:] == [
        ("LIC-B", "expire", "expired", D(2026, 4, 2), False, 0),
        ("LIC-B", "release", "expired", D(2026, 4, 2), False, 800),
    ]
    assert granted(wave) == (1_100, 1_100 * UNIT)


def test_one_finding_per_expired_licence_alerted_once_and_never_resolved_by_the_sweep(world, travel):
    run_expiry()
    findings = list(Finding.objects.filter(rule="licence_expired").order_by("subject"))
    assert [(f.subject, f.company.slug, f.severity, f.status) for f in findings] == [
        ("licence:LIC-A", "alibaba", "warning", "open"),
        ("licence:LIC-C", "alibaba", "warning", "open"),
        ("licence:LIC-E", "tencent", "warning", "open"),
    ]
    assert findings[0].summary == (
        "Alibaba's licence LIC-A expired on 2026-04-01 (valid until 2026-03-31); 500 unused units returned to its round"
    )
    assert findings[0].details == {
        "licence": "LIC-A", "valid_until": "2026-03-31", "expired_on": "2026-04-01", "granted": 1000, "used": 300,
        "reserved": 200, "released": 500,
    }  # fmt: skip
    # One alert e-mail per finding to the company's contacts, sent.
    assert AlertEmail.objects.filter(finding__rule="licence_expired").count() == 3
    assert sorted(message.to[0] for message in mail.outbox) == [
        "compliance@alibaba.example", "compliance@alibaba.example", "compliance@tencent.example",
    ]  # fmt: skip
    run_expiry()
    run_sweep()
    assert Finding.objects.filter(rule="licence_expired", status="open").count() == 3
    assert AlertEmail.objects.filter(finding__rule="licence_expired").count() == 3


def test_revocation_releases_granted_less_used_less_reserved(world):
    wave, licences = world
    b = licences["B"]
    use(b, cleared=100, reserved=50)
    services.licence_revoke(licence=b, reason="Diversion")
    # 800 - 100 - 50 = 650 back to the round.
    assert granted(wave) == (2_800 - 650, (2_800 - 650) * UNIT)
    row = b.decisions.order_by("-pk").first()
    assert (row.kind, row.status, row.effective_on, row.released_quantity) == ("release", "revoked", TODAY, 650)
    # The reservation stays with the licence: the shipment in flight may still clear.
    b.refresh_from_db()
    assert (b.granted_quantity, b.used_quantity, b.reserved_quantity) == (800, 100, 50)


def test_a_fully_used_revoked_licence_releases_nothing(world):
    wave, licences = world
    use(licences["B"], cleared=800)
    services.licence_revoke(licence=licences["B"], reason="Diversion")
    assert granted(wave) == (2_800, 2_800 * UNIT)
    assert not licences["B"].decisions.filter(kind="release").exists()


def test_a_licence_written_directly_is_counted_in_its_round_and_released_exactly(travel):
    """A licence written outside the services (a fixture, a bulk load) has its grant counted in
    its round, as approving draws it: releasing it brings the round back to exactly zero."""
    from tests.factories import ApprovedLicenceFactory

    travel(TODAY)
    written = ApprovedLicenceFactory(number="LIC-X", valid_until=D(2026, 3, 31))
    ApprovedLicenceFactory(number="LIC-Y", status="rejected", granted_quantity=0, valid_from=None, valid_until=None)
    assert granted(written.round) == (1_000, 1_000 * UNIT)
    assert run_expiry().released_units == 1_000
    assert granted(written.round) == (0, Decimal("0.00"))


def test_a_release_that_would_take_a_round_below_zero_raises_and_changes_nothing(world):
    """Releasing never floors at zero: a round counting less than its licences hold is an
    accounting bug, refused by the round's check constraints rather than hidden."""
    wave, licences = world
    AllocationRound.objects.filter(pk=wave.pk).update(granted_units=300, granted_value_usd=300 * UNIT)
    before = (statuses(), LicenceDecision.objects.count(), chain.heads_of(LICENCE_DECISIONS))
    with pytest.raises(IntegrityError):
        services.licence_revoke(licence=licences["B"], reason="Diversion")  # would release 800 of 300
    with pytest.raises(IntegrityError):
        run_expiry()  # would release 900 of 300
    assert (statuses(), LicenceDecision.objects.count(), chain.heads_of(LICENCE_DECISIONS)) == before
    assert granted(wave) == (300, 300 * UNIT)
    with pytest.raises(IntegrityError), transaction.atomic():
        services.round_release({wave.pk: (301, Decimal("0"))})
    with pytest.raises(IntegrityError), transaction.atomic():
        services.round_release({wave.pk: (1, 300 * UNIT + Decimal("0.01"))})
    assert services.round_release({wave.pk: (300, 300 * UNIT)}) == 1
    assert granted(wave) == (0, Decimal("0.00"))


def test_the_job_s_rows_are_appended_to_their_companies_chains_and_verify(world):
    alibaba, tencent = (licences.company for licences in (world[1]["A"], world[1]["E"]))
    heads = chain.heads_of(LICENCE_DECISIONS)
    # Alibaba: LIC-A, B and C applied and approved, C suspended; Tencent: D and E applied and
    # approved, D revoked and released.
    assert {key: seq for key, (seq, _) in heads.items()} == {alibaba.pk: 7, tencent.pk: 6}
    run_expiry()
    appended = list(
        LicenceDecision.objects.filter(actor="system: expiry job")
        .order_by("company_id", "chain_seq")
        .values_list("company_id", "chain_seq", "licence__number", "kind")
    )
    assert appended == [
        (alibaba.pk, 8, "LIC-A", "expire"), (alibaba.pk, 9, "LIC-A", "release"),
        (alibaba.pk, 10, "LIC-C", "expire"), (alibaba.pk, 11, "LIC-C", "release"),
        (tencent.pk, 7, "LIC-E", "expire"),
    ]  # fmt: skip
    first = LicenceDecision.objects.get(company=alibaba, chain_seq=8)
    assert first.prev_hash == heads[alibaba.pk][1]
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert "licence_decisions (licences.LicenceDecision): 18 rows in 2 chains: ok" in out.getvalue().splitlines()


def test_the_job_costs_the_same_number_of_queries_for_more_licences(travel):
    def expire_many(count: int, slug: str) -> int:
        travel(D(2026, 1, 23))
        wave = AllocationRoundFactory(name=f"Wave {slug}", unit_cap=400_000)
        company = make_company(slug, emails=(f"ops@{slug}.example",))
        for n in range(count):
            licence(company, wave, number=f"LIC-{slug}-{n}", quantity=10, valid_until=D(2026, 3, 31))
        travel(TODAY)
        with CaptureQueriesContext(connection) as queries:
            assert run_expiry().expired == count
        return len(queries)

    assert expire_many(2, "small") == expire_many(12, "large")


def test_the_task_and_the_command_run_the_job(world, eager_celery, capsys):
    result = tasks.expire_licences.delay().get()
    assert (result["expired"], result["released_units"], result["findings_opened"]) == (3, 900, 3)
    call_command("expire_licences")
    out = capsys.readouterr().out
    assert out.splitlines() == ["licences expired: 0", "units released to rounds: 0", "findings opened: 0"]
