"""The project's gettext catalogues: find them, check them, compile them without system gettext.

Every package that owns people-facing strings keeps ``<package>/locale/zh_Hans/LC_MESSAGES/django.po``
(English is the source language, so there is no ``en`` catalogue). The compiled ``django.mo``
beside each is committed: ``make run`` and ``make test`` need only Python and make, and a
fresh machine has no ``msgfmt``. ``make messages`` (a developer step, needs system gettext for
``makemessages``) re-extracts the strings and then compiles with this module (pure Python,
polib), which rewrites a ``.mo`` only when its messages change, so the file does not churn.

    python -m tools.catalogues compile   # .po -> .mo for every catalogue
    python -m tools.catalogues check     # what tests/i18n/test_catalogues.py asserts, as a report
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE_DIR = "zh_Hans"
# Folders never searched for catalogues: virtual environments, caches and run-time files.
SKIP_PARTS = {".venv", "venv", "var", "node_modules", ".git", ".mypy_cache", ".ruff_cache", "__pycache__"}


def catalogues(root: Path = ROOT) -> list[Path]:
    """Every project ``django.po`` of the Chinese catalogue, found by globbing the repository."""
    found = []
    for po in sorted(root.glob(f"**/locale/{LANGUAGE_DIR}/LC_MESSAGES/django.po")):
        if SKIP_PARTS.isdisjoint(po.relative_to(root).parts):
            found.append(po)
    return found


@dataclass(frozen=True)
class Problem:
    catalogue: Path
    msgid: str
    what: str

    def __str__(self) -> str:
        where = self.catalogue.relative_to(ROOT) if self.catalogue.is_relative_to(ROOT) else self.catalogue
        return f"{where}: {self.what}: {self.msgid!r}"


def translation_problems(po_path: Path) -> list[Problem]:
    """Entries that are fuzzy, untranslated (empty, or a plural form left empty)."""
    problems = []
    for entry in polib.pofile(str(po_path)):
        if entry.obsolete:
            continue
        if "fuzzy" in entry.flags:
            problems.append(Problem(po_path, entry.msgid, "fuzzy"))
        elif entry.msgid_plural:
            if not entry.msgstr_plural or not all(entry.msgstr_plural.values()):
                problems.append(Problem(po_path, entry.msgid, "untranslated plural"))
        elif not entry.msgstr:
            problems.append(Problem(po_path, entry.msgid, "untranslated"))
    return problems


def disagreements(paths: list[Path]) -> list[str]:
    """Messages (context and msgid) that two catalogues translate differently.

    At run time Django merges every catalogue into one, so one of the two translations would
    silently win on every page: the same words meaning different things need a context
    (``pgettext``), the same words meaning the same thing need the same translation.
    """
    seen: dict[tuple[str | None, str], dict[str, str]] = {}
    for path in paths:
        owner = str(path.relative_to(ROOT).parts[0]) if path.is_relative_to(ROOT) else str(path)
        for entry in polib.pofile(str(path)):
            if entry.obsolete or entry.msgid_plural or not entry.msgstr:
                continue
            seen.setdefault((entry.msgctxt, entry.msgid), {})[owner] = entry.msgstr
    return [
        f"{msgid!r} (context {context!r}): " + ", ".join(f"{owner} {text!r}" for owner, text in sorted(by.items()))
        for (context, msgid), by in sorted(seen.items(), key=lambda item: (item[0][0] or "", item[0][1]))
        if len(set(by.values())) > 1
    ]


def _messages(catalogue: polib._BaseFile) -> dict[tuple[str | None, str], object]:
    """Context and msgid -> translation (a string, or the plural forms), header left out."""
    messages: dict[tuple[str | None, str], object] = {}
    for entry in catalogue:
        if entry.obsolete or "fuzzy" in entry.flags or not entry.msgid:
            continue
        if entry.msgid_plural:
            messages[(entry.msgctxt, entry.msgid)] = (
                entry.msgid_plural,
                tuple(entry.msgstr_plural[index] for index in sorted(entry.msgstr_plural)),
            )
        elif entry.msgstr:
            messages[(entry.msgctxt, entry.msgid)] = entry.msgstr
    return messages


def compiled_differs(po_path: Path) -> bool:
    """Whether the committed ``.mo`` holds other messages than the ``.po`` compiles to (or is missing)."""
    mo_path = po_path.with_suffix(".mo")
    if not mo_path.exists():
        return True
    return _messages(polib.pofile(str(po_path))) != _messages(polib.mofile(str(mo_path)))


def compile_catalogue(po_path: Path) -> bool:
    """Write the ``.mo`` if its messages changed; True if written."""
    if not compiled_differs(po_path):
        return False
    polib.pofile(str(po_path)).save_as_mofile(str(po_path.with_suffix(".mo")))
    return True


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "compile":
        for po in catalogues():
            if compile_catalogue(po):
                print(f"compiled {po.relative_to(ROOT).with_suffix('.mo')}")
        return 0
    if command == "check":
        failed = False
        for po in catalogues():
            for problem in translation_problems(po):
                print(problem)
                failed = True
            if compiled_differs(po):
                print(f"{po.relative_to(ROOT)}: the committed .mo is stale: run `make messages`")
                failed = True
        return 1 if failed else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
