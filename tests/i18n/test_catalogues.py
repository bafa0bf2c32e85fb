"""Every project zh_Hans catalogue is complete, and its committed .mo is what it compiles to.

Catalogues are found by globbing the repository (``tools.catalogues``), so a package's new
catalogue is checked without being listed anywhere.
"""

from __future__ import annotations

import polib
import pytest

from tools import catalogues

CATALOGUES = catalogues.catalogues()


def test_the_project_has_catalogues_for_its_packages():
    owners = {po.relative_to(catalogues.ROOT).parts[0] for po in CATALOGUES}
    assert {"licences", "quotas", "cockpit", "common", "config"} <= owners
    assert not any(".venv" in po.parts for po in CATALOGUES)


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda po: str(po.relative_to(catalogues.ROOT)))
def test_every_message_is_translated_and_none_is_fuzzy(po):
    assert [str(problem) for problem in catalogues.translation_problems(po)] == []


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda po: str(po.relative_to(catalogues.ROOT)))
def test_the_committed_mo_is_what_the_po_compiles_to(po):
    assert not catalogues.compiled_differs(po), f"{po.with_suffix('.mo')} is stale: run `make messages`"


def test_no_two_catalogues_translate_the_same_message_differently():
    assert catalogues.disagreements(CATALOGUES) == []


def test_disagreeing_catalogues_are_caught(tmp_path):
    first, second = tmp_path / "a.po", tmp_path / "b.po"
    for path, text in ((first, "未处理"), (second, "打开")):
        po = polib.POFile()
        po.append(polib.POEntry(msgid="Open", msgstr=text))
        po.append(polib.POEntry(msgid="Open", msgctxt="link", msgstr=text))  # a context keeps meanings apart
        po.append(polib.POEntry(msgid="Same", msgstr="相同"))
        po.save(str(path))
    found = catalogues.disagreements([first, second])
    assert len(found) == 2
    assert found[0].startswith("'Open' (context None): ") and "'未处理'" in found[0] and "'打开'" in found[0]
    assert found[1].startswith("'Open' (context 'link'): ")


def _sample(tmp_path, entries):
    catalogue = polib.POFile()
    catalogue.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Plural-Forms": "nplurals=1; plural=0;"}
    for entry in entries:
        catalogue.append(entry)
    path = tmp_path / "django.po"
    catalogue.save(str(path))
    return path


def test_the_check_catches_missing_fuzzy_and_untranslated_plurals(tmp_path):
    path = _sample(
        tmp_path,
        [
            polib.POEntry(msgid="Licence", msgstr="许可证"),
            polib.POEntry(msgid="Quota", msgstr=""),
            polib.POEntry(msgid="Customs", msgstr="海关", flags=["fuzzy"]),
            polib.POEntry(msgid="%(n)s licence", msgid_plural="%(n)s licences", msgstr_plural={0: ""}),
        ],
    )
    problems = [(problem.what, problem.msgid) for problem in catalogues.translation_problems(path)]
    assert problems == [("untranslated", "Quota"), ("fuzzy", "Customs"), ("untranslated plural", "%(n)s licence")]


def test_a_stale_or_missing_mo_is_caught_and_compiling_fixes_it(tmp_path):
    path = _sample(tmp_path, [polib.POEntry(msgid="Licence", msgstr="许可证")])
    assert catalogues.compiled_differs(path)  # no .mo yet
    assert catalogues.compile_catalogue(path)
    assert not catalogues.compiled_differs(path)
    assert not catalogues.compile_catalogue(path)  # unchanged messages: the file is left alone
    catalogue = polib.pofile(str(path))
    catalogue[0].msgstr = "进口许可证"
    catalogue.save(str(path))
    assert catalogues.compiled_differs(path)
