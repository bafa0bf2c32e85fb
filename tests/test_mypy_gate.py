"""The type gate's bookkeeping: which modules are strict, how errors are keyed."""

from __future__ import annotations

from tools import mypy_gate


def test_the_strict_modules_are_read_from_pyproject() -> None:
    patterns = mypy_gate.strict_patterns()
    assert "common.*" in patterns
    assert "compliance.services" in patterns


def test_a_package_pattern_covers_the_package_and_its_modules_only() -> None:
    patterns = ["common.*", "compliance.services"]
    assert mypy_gate.is_strict("common/__init__.py", patterns)
    assert mypy_gate.is_strict("common/api/errors.py", patterns)
    assert mypy_gate.is_strict("compliance/services.py", patterns)
    assert not mypy_gate.is_strict("compliance/services_extra.py", patterns)
    assert not mypy_gate.is_strict("commonplace/x.py", patterns)


def test_an_error_line_is_keyed_without_its_line_number() -> None:
    line = 'api/batch.py:120: error: Item "None" of "X | None" has no attribute "y"  [union-attr]'
    match = mypy_gate.ERROR.match(line)
    assert match is not None
    assert (match["path"], match["line"], match["code"]) == ("api/batch.py", "120", "union-attr")
    assert match["message"] == 'Item "None" of "X | None" has no attribute "y"'
