"""Back-entry of paper-era licences (issue 14): real decision dates through the services, all
or nothing with every error listed by row and code, a dry run that writes nothing."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from licences.models import AllocationRound, ImportLicence, LicenceDecision
from licences.services.backfill import BackfillRefused, backfill_licences
from quotas.selectors import licences_in_force
from tests.factories import AllocationRoundFactory, CompanyFactory, ForeignChipFactory

pytestmark = pytest.mark.django_db
D = dt.date
NOW = timezone.make_aware(dt.datetime(2026, 4, 1, 12))

P1 = {
    "company": "alibaba", "chip": "H200", "round": "Wave 1", "number": "LIC-P1", "requested_quantity": 1000,
    "applied_on": "2026-01-10", "approved_on": "2026-01-23", "granted_quantity": 800,
    "valid_from": "2026-01-23", "valid_until": "2026-12-31",
}  # fmt: skip
P2 = {
    "company": "alibaba", "chip": "H200", "round": "Wave 1", "number": "LIC-P2", "requested_quantity": 500,
    "applied_on": "2026-01-12", "approved_on": "2026-01-25", "granted_quantity": 500,
    "valid_from": "2026-01-25", "valid_until": "2026-12-31", "suspended_on": "2026-02-01", "suspend_reason": "Audit",
    "reinstated_on": "2026-02-10", "revoked_on": "2026-03-01", "revoke_reason": "Diversion",
}  # fmt: skip


@pytest.fixture
def world():
    with time_machine.travel(NOW, tick=False):
        CompanyFactory(slug="alibaba")
        ForeignChipFactory()
        yield AllocationRoundFactory(unit_cap=1_500)


def state(wave: AllocationRound) -> tuple:
    wave.refresh_from_db()
    return ImportLicence.objects.count(), LicenceDecision.objects.count(), wave.granted_units, wave.granted_value_usd


def test_back_entry_writes_the_history_with_its_real_dates(world):
    report = backfill_licences([P1, P2])
    assert (report.licences, report.decisions) == (2, 7)
    p2 = ImportLicence.objects.get(number="LIC-P2")
    rows = list(
        p2.decisions.order_by("pk").values_list("kind", "status", "effective_on", "late_entry", "released_quantity")
    )
    assert rows == [
        ("apply", "applied", D(2026, 1, 12), False, 0),
        ("approve", "approved", D(2026, 1, 25), True, 0),
        ("suspend", "suspended", D(2026, 2, 1), True, 0),
        ("reinstate", "approved", D(2026, 2, 10), True, 0),
        ("revoke", "revoked", D(2026, 3, 1), True, 0),
        ("release", "revoked", D(2026, 3, 1), True, 500),
    ]
    assert set(p2.decisions.values_list("recorded_at", flat=True)) == {NOW}
    # 800 + 500 granted, 500 released by the revocation.
    assert state(world)[2:] == (800, 800 * Decimal("32000.00"))

    # In force by the real dates: P2 counts on 25 January, not during its suspension, not after revocation.
    def in_force(day: dt.date) -> list[str]:
        return sorted(licences_in_force(day).values_list("number", flat=True))

    assert in_force(D(2026, 1, 24)) == ["LIC-P1"]
    assert in_force(D(2026, 1, 25)) == ["LIC-P1", "LIC-P2"]
    assert in_force(D(2026, 2, 5)) == ["LIC-P1"]
    assert in_force(D(2026, 2, 10)) == ["LIC-P1", "LIC-P2"]
    assert in_force(D(2026, 3, 1)) == ["LIC-P1"]


def test_a_dry_run_reports_and_writes_nothing(world):
    before = state(world)
    report = backfill_licences([P1, P2], dry_run=True)
    assert report.lines == [
        "row 1: alibaba LIC-P1: apply 2026-01-10, approve 2026-01-23 800 units 2026-01-23..2026-12-31",
        "row 2: alibaba LIC-P2: apply 2026-01-12, approve 2026-01-25 500 units 2026-01-25..2026-12-31, "
        "suspend 2026-02-01, reinstate 2026-02-10, revoke 2026-03-01",
    ]
    assert state(world) == before


def test_every_bad_row_is_listed_with_its_code_and_nothing_is_written(world):
    before = state(world)
    bad = [
        P1,
        {**P2, "company": ""},
        {**P2, "number": "LIC-P3", "chip": "B200", "applied_on": "2026-13-01"},
        {**P2, "number": "LIC-P4", "suspended_on": "2026-01-01"},
        {**P1},
        {**P2, "number": "LIC-P5", "approved_on": "", "colour": "red"},
    ]
    with pytest.raises(BackfillRefused) as refused:
        backfill_licences(bad)
    assert [(error.row, error.code) for error in refused.value.errors] == [
        (2, "missing_field"),
        (3, "invalid_date"),
        (3, "unknown_chip"),
        (4, "decisions_out_of_order"),
        (5, "duplicate_number"),
        (6, "unknown_column"),
        (6, "incomplete_approval"),
        (6, "decision_without_approval"),
    ]
    assert refused.value.code == "backfill_invalid"
    assert state(world) == before


def test_a_row_a_service_refuses_rolls_back_the_rows_before_it(world):
    before = state(world)
    too_big = {**P2, "number": "LIC-P9", "requested_quantity": 900, "granted_quantity": 900}  # 800 + 900 > 1,500
    with pytest.raises(BackfillRefused) as refused:
        backfill_licences([P1, too_big])
    assert [(error.row, error.code) for error in refused.value.errors] == [(2, "round_cap_exceeded")]
    assert state(world) == before


def test_the_command_reads_csv_and_json(world, tmp_path, capsys):
    import csv

    path = tmp_path / "paper.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(P2))
        writer.writeheader()
        writer.writerow(P2)
    with time_machine.travel(NOW, tick=False):
        call_command("backfill_licences", str(path), "--dry-run")
        assert capsys.readouterr().out.splitlines()[-1] == (
            "1 licences and 5 decisions would be written (dry run, nothing written)"
        )
        assert ImportLicence.objects.count() == 0
        json_path = tmp_path / "paper.json"
        json_path.write_text(json.dumps({"licences": [P1]}))
        call_command("backfill_licences", str(json_path))
        assert capsys.readouterr().out.splitlines()[-1] == "1 licences and 2 decisions written"
        json_path.write_text(json.dumps([{**P1, "number": "LIC-P7", "round": "Wave 9"}]))
        with pytest.raises(CommandError):
            call_command("backfill_licences", str(json_path))
        assert "row 1: unknown_round: no round 'Wave 9'" in capsys.readouterr().err
    assert ImportLicence.objects.count() == 1
