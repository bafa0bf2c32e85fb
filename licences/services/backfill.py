"""Back-entry of paper-era licences with their real decision dates (issue 14).

A file (CSV with a header row, or JSON: a list of objects, or ``{"licences": [...]}``) holds one
licence per row with the columns of :data:`COLUMNS`: the company's slug, the chip's code, the
round's name, the licence number, the requested quantity (and unit value, default the chip's
reference value), the day it was applied for, and optionally its approval (day, granted
quantity, window), then a suspension, a reinstatement and a revocation, each with its day and
reason. ``reason`` is the late-entry reason of every decision (default :data:`DEFAULT_REASON`).

:func:`backfill_licences` validates every row first (fields, dates, order, known company,
chip and round, numbers unique), then replays each through the licence services (apply,
approve, suspend, reinstate, revoke with ``effective_on``, recorded now), so the ledger, the
round's counters and the releases are what the services make them. All or nothing: any
error, static or refused by a service, and nothing is written; every error is reported with
its row number (1 is the first data row) and a stable code. ``dry_run`` replays and rolls
back, reporting what would change. The same service answers ``manage.py backfill_licences`` and
``POST /api/v1/licences/backfill/`` (``api.v1.licences.backfill``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from common.api.limits import MAX_DATE, MAX_QUANTITY, MIN_DATE
from common.errors import DomainError, safe_text
from licences import identifiers
from licences.models import AllocationRound, ChipModel, Company, ImportLicence
from licences.services import licences as lifecycle

COLUMNS = (
    "company", "chip", "round", "number", "requested_quantity", "unit_value_usd", "applied_on",
    "approved_on", "granted_quantity", "valid_from", "valid_until",
    "suspended_on", "suspend_reason", "reinstated_on", "reinstate_reason", "revoked_on", "revoke_reason", "reason",
)  # fmt: skip
REQUIRED = ("company", "chip", "round", "number", "requested_quantity", "applied_on")
DATES = ("applied_on", "approved_on", "valid_from", "valid_until", "suspended_on", "reinstated_on", "revoked_on")
APPROVAL = ("approved_on", "granted_quantity", "valid_from", "valid_until")
DEFAULT_REASON = "Back-entry of a paper-era record"
ACTOR = "back-entry"
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DIGITS = re.compile(r"[0-9]{1,19}")
AMOUNT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")  # ImportLicence.unit_value_usd: 14 digits, 2 decimals
MAX_TEXT = 2000  # a reason, as the decision endpoints accept it


class BackfillRefused(DomainError):
    """At least one row is wrong: nothing was written. ``errors`` lists every one."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(
            f"{len(errors)} error(s) in the back-entry file; nothing was written.",
            code="backfill_invalid",
            fields=_by_row(errors),
        )
        self.errors = errors


def _by_row(errors: list[RowError]) -> dict[str, list[str]]:
    """``{"row 3": ["unknown_chip: no chip 'B200'", ...]}``: every error of every row."""
    fields: dict[str, list[str]] = {}
    for error in errors:
        fields.setdefault(f"row {error.row}", []).append(f"{error.code}: {error.message}")
    return fields


@dataclass(frozen=True)
class RowError:
    row: int
    code: str
    message: str
    field: str | None = None  # the column at fault, when there is one

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "code": self.code, "message": self.message}

    def __str__(self) -> str:
        return f"row {self.row}: {self.code}: {self.message}"


@dataclass(frozen=True)
class BackfillEntry:
    """One row's licence and the decisions replayed for it (``apply 2026-01-10``, ...)."""

    row: int
    company: str
    number: str
    decisions: list[str]


@dataclass
class BackfillReport:
    """What a back-entry wrote (or, in a dry run, would write)."""

    dry_run: bool
    lines: list[str] = field(default_factory=list)
    entries: list[BackfillEntry] = field(default_factory=list)
    licences: int = 0
    decisions: int = 0


def read_rows(name: str, content: str) -> list[dict[str, Any]]:
    """The rows of a ``.csv`` or ``.json`` file's text; ``backfill_bad_file`` when it cannot be read."""
    if name.lower().endswith(".json"):
        try:
            data = json.loads(content)
        except (ValueError, RecursionError) as error:
            raise DomainError(
                gettext("The JSON back-entry file cannot be parsed: %(error)s") % {"error": error},
                code="backfill_bad_file",
            ) from error
        rows = data.get("licences") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise DomainError(gettext("A JSON back-entry file is a list of objects."), code="backfill_bad_file")
        return rows
    if name.lower().endswith(".csv"):
        try:
            return list(csv.DictReader(io.StringIO(content)))
        except csv.Error as error:
            raise DomainError(
                gettext("The CSV back-entry file cannot be parsed: %(error)s") % {"error": error},
                code="backfill_bad_file",
            ) from error
    raise DomainError(gettext("A back-entry file is .csv or .json."), code="backfill_bad_file")


def read_file(name: str, data: bytes) -> list[dict[str, Any]]:
    """:func:`read_rows` of a file's bytes, UTF-8 (a leading byte-order mark is ignored)."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DomainError(gettext("A back-entry file is UTF-8 text."), code="backfill_bad_file") from error
    return read_rows(name, content)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _validate(
    number: int, raw: dict[str, Any], known: dict[str, dict[str, Any]], errors: list[RowError]
) -> dict[str, Any] | None:
    """A row's clean values, or ``None`` after appending its errors."""
    found: list[RowError] = []

    def fail(code: str, message: str, column: str | None = None) -> None:
        found.append(RowError(number, code, safe_text(message), column))

    # A CSV line with more values than the header puts the extra ones under the key None.
    unknown = sorted(safe_text(str(name)) for name in set(raw) - set(COLUMNS) if name is not None)
    if unknown:
        fail("unknown_column", f"unknown column(s): {', '.join(unknown)}", unknown[0] if len(unknown) == 1 else None)
    if None in raw:
        fail("unknown_column", "more values than the header has columns")
    row: dict[str, str | None] = {}
    for name in COLUMNS:
        value = raw.get(name)
        if isinstance(value, dict | list | bool):
            fail("invalid_value", f"{name} must be text or a number, not {type(value).__name__}", name)
            value = None
        text = None if _blank(value) else str(value).strip()
        if text is not None and (text != safe_text(text) or len(text) > MAX_TEXT):
            fail("invalid_value", f"{name} must be text of at most {MAX_TEXT} characters without NUL", name)
            text = None
        row[name] = text
    for name in REQUIRED:
        if row[name] is None and name in raw and not _blank(raw.get(name)):
            continue  # refused above for its value
        if row[name] is None:
            fail("missing_field", f"{name} is required", name)
    if row["number"] is not None and not identifiers.is_reference(row["number"]):
        reserved = ", ".join(sorted(identifiers.RESERVED_REFERENCES))
        fail(
            "invalid_number",
            f"number: 1 to 64 letters, digits, '-' and '_', starting with a letter or digit; not {reserved}",
            "number",
        )
    clean: dict[str, Any] = dict(row)
    for name in DATES:
        text = row[name]
        if text is not None:
            try:
                if not ISO_DATE.fullmatch(text):
                    raise ValueError
                clean[name] = dt.date.fromisoformat(text)
                if not MIN_DATE <= clean[name] <= MAX_DATE:
                    raise ValueError
            except ValueError:
                fail(
                    "invalid_date",
                    f"{name} is not a date (YYYY-MM-DD) between {MIN_DATE} and {MAX_DATE}: {text!r}",
                    name,
                )
                clean[name] = None
    for name in ("requested_quantity", "granted_quantity"):
        text = row[name]
        if text is not None:
            try:
                if not DIGITS.fullmatch(text):
                    raise ValueError
                clean[name] = int(text)
                if not 0 < clean[name] <= MAX_QUANTITY:
                    raise ValueError
            except ValueError:
                fail("invalid_quantity", f"{name} must be a whole number from 1 to {MAX_QUANTITY:,}: {text!r}", name)
                clean[name] = None
    if row["unit_value_usd"] is not None:
        text = row["unit_value_usd"]
        try:
            if not AMOUNT.fullmatch(text):
                raise InvalidOperation
            clean["unit_value_usd"] = Decimal(text)
        except InvalidOperation:
            fail(
                "invalid_amount",
                f"unit_value_usd must be an amount in USD (digits, at most 12 before the point and 2 after): {text!r}",
                "unit_value_usd",
            )
    for name, table in (("company", "companies"), ("chip", "chips"), ("round", "rounds")):
        key = row[name]
        if key is not None and key not in known[table]:
            fail(f"unknown_{name}", f"no {name} {key!r}", name)
        clean[name] = known[table].get(key) if key is not None else None
    today = timezone.localdate()
    if isinstance(clean["applied_on"], dt.date) and clean["applied_on"] > today:
        fail("future_effective_date", f"applied_on {clean['applied_on']} is after today ({today})", "applied_on")
    approval = [row[name] is not None for name in APPROVAL]
    if any(approval) and not all(approval):
        fail("incomplete_approval", "an approval needs approved_on, granted_quantity, valid_from and valid_until")
    if not all(approval) and any(row[name] is not None for name in ("suspended_on", "reinstated_on", "revoked_on")):
        fail("decision_without_approval", "only an approved licence can be suspended, reinstated or revoked")
    if row["reinstated_on"] is not None and row["suspended_on"] is None:
        fail("reinstate_without_suspension", "a reinstatement needs a suspension before it")
    days = [clean[name] for name in ("applied_on", "approved_on", "suspended_on", "reinstated_on", "revoked_on")]
    days = [day for day in days if isinstance(day, dt.date)]
    if days != sorted(days):
        fail("decisions_out_of_order", "applied, approved, suspended, reinstated and revoked must be in date order")
    errors.extend(found)
    return None if found else clean


def _replay(clean: dict[str, Any], now: dt.datetime, who: dict[str, Any]) -> list[str]:
    """Write one row through the services as ``who`` (``actor``, ``recorded_by``); what was done, for the report."""
    reason = clean["reason"] or DEFAULT_REASON
    applied_at = timezone.make_aware(dt.datetime.combine(clean["applied_on"], dt.time(12)))
    licence = lifecycle.licence_apply(
        company=clean["company"], chip=clean["chip"], round=clean["round"], number=clean["number"],
        requested_quantity=clean["requested_quantity"], unit_value_usd=clean["unit_value_usd"],
        applied_at=applied_at, recorded_at=now, **who,
    )  # fmt: skip
    done = [f"apply {clean['applied_on']}"]
    if clean["approved_on"] is None:
        return done
    licence = lifecycle.licence_approve(
        licence=licence, granted_quantity=clean["granted_quantity"], valid_from=clean["valid_from"],
        valid_until=clean["valid_until"], effective_on=clean["approved_on"], reason=reason, at=now, **who,
    )  # fmt: skip
    window = f"{clean['valid_from']}..{clean['valid_until']}"
    done.append(f"approve {clean['approved_on']} {clean['granted_quantity']:,} units {window}")
    for day, text, service, verb in (
        ("suspended_on", "suspend_reason", lifecycle.licence_suspend, "suspend"),
        ("reinstated_on", "reinstate_reason", lifecycle.licence_reinstate, "reinstate"),
        ("revoked_on", "revoke_reason", lifecycle.licence_revoke, "revoke"),
    ):
        if clean[day] is not None:
            licence = service(licence=licence, reason=clean[text] or reason, effective_on=clean[day], at=now, **who)
            done.append(f"{verb} {clean[day]}")
    return done


class _RollBack(Exception):
    pass


def backfill_licences(
    rows: list[dict[str, Any]],
    *,
    dry_run: bool = False,
    actor: str = ACTOR,
    recorded_by: AbstractBaseUser | None = None,
) -> BackfillReport:
    """Validate and write ``rows`` all or nothing (see the module docstring); raises :class:`BackfillRefused`.

    Every decision is recorded now by ``actor`` (default ``back-entry``) and ``recorded_by``.
    """
    who: dict[str, Any] = {"actor": actor[:150], "recorded_by": recorded_by}
    known: dict[str, dict[str, Any]] = {
        "companies": {company.slug: company for company in Company.objects.all()},
        "chips": {chip.code: chip for chip in ChipModel.objects.all()},
        "rounds": {wave.name: wave for wave in AllocationRound.objects.all()},
    }
    errors: list[RowError] = []
    validated = [(number, _validate(number, raw, known, errors)) for number, raw in enumerate(rows, start=1)]
    cleaned = [(number, clean) for number, clean in validated if clean is not None]
    seen: dict[tuple[str, str], int] = {}
    for number, clean in cleaned:
        key = (clean["company"].slug, clean["number"])
        if key in seen:
            errors.append(RowError(number, "duplicate_number", f"{key[1]} is also on row {seen[key]}"))
        seen.setdefault(key, number)
    taken = set(
        ImportLicence.objects.filter(number__in=[number for _, number in seen]).values_list("company__slug", "number")
    )
    for key, number in seen.items():
        if key in taken:
            errors.append(RowError(number, "duplicate_number", f"{key[0]} already has a licence {key[1]}"))
    if errors:
        raise BackfillRefused(sorted(errors, key=lambda error: error.row))
    report = BackfillReport(dry_run=dry_run)
    now = timezone.now()
    try:
        with transaction.atomic():
            for number, clean in cleaned:
                try:
                    with transaction.atomic():
                        done = _replay(clean, now, who)
                except DomainError as refused:
                    errors.append(RowError(number, refused.code, refused.message))
                    continue
                report.licences += 1
                report.decisions += len(done)
                report.lines.append(f"row {number}: {clean['company'].slug} {clean['number']}: {', '.join(done)}")
                report.entries.append(BackfillEntry(number, clean["company"].slug, clean["number"], done))
            if errors:
                raise BackfillRefused(errors)
            if dry_run:
                raise _RollBack
    except _RollBack:
        pass
    return report
