"""Run mypy over the project and hold it to the committed baseline.

    python -m tools.mypy_gate           # fail on any error not in the baseline, or a stale entry
    python -m tools.mypy_gate --update  # rewrite the baseline; refuses to let it grow

The modules pyproject.toml marks strict must be clean: their errors are never accepted into
the baseline. Every other error must already be listed in ``mypy-baseline.txt``, one line
per error without its line number (so edits elsewhere in a file do not churn it). An error
that is fixed must leave the baseline in the same change, so the file only ever shrinks.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "mypy-baseline.txt"
ERROR = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): error: (?P<message>.*?)(?:  \[(?P<code>[a-z0-9-]+)\])?$")
HEADER = (
    "# mypy errors accepted outside the strict modules, one per line without line numbers.\n"
    "# Written by `python -m tools.mypy_gate --update`; it may only shrink.\n"
)


def strict_patterns() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns: list[str] = []
    for override in config["tool"]["mypy"].get("overrides", []):
        if override.get("disallow_untyped_defs"):
            modules = override["module"]
            patterns.extend([modules] if isinstance(modules, str) else modules)
    return patterns


def module_of(path: str) -> str:
    dotted = path.removesuffix(".py").replace("/", ".")
    return dotted.removesuffix(".__init__")


def is_strict(path: str, patterns: list[str]) -> bool:
    module = module_of(path)
    return any(fnmatch(module, pattern) or (pattern.endswith(".*") and module == pattern[:-2]) for pattern in patterns)


def run_mypy() -> list[tuple[str, str]]:
    """(path, normalised error) for every error mypy reports; exits if mypy itself fails."""
    command = [sys.executable, "-m", "mypy", "--no-error-summary", "--no-pretty", "--hide-error-context"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode not in (0, 1) or result.stderr.strip():
        sys.stderr.write(result.stdout + result.stderr)
        sys.exit(f"mypy failed to run (exit {result.returncode})")
    errors: list[tuple[str, str]] = []
    for line in result.stdout.splitlines():
        match = ERROR.match(line)
        if match is None:
            continue
        message = re.sub(r"\bline \d+\b", "line N", match["message"])
        errors.append((match["path"], f"{match['path']}: {message}  [{match['code'] or 'misc'}]"))
    return errors


def read_baseline() -> Counter[str]:
    if not BASELINE.exists():
        return Counter()
    lines = BASELINE.read_text().splitlines()
    return Counter(line for line in lines if line and not line.startswith("#"))


def main(argv: list[str]) -> int:
    update = "--update" in argv
    patterns = strict_patterns()
    errors = run_mypy()
    strict_errors = [entry for path, entry in errors if is_strict(path, patterns)]
    current = Counter(entry for path, entry in errors if not is_strict(path, patterns))
    baseline = read_baseline()
    new = current - baseline
    stale = baseline - current

    for entry in strict_errors:
        print(f"strict: {entry}")
    for entry in sorted(new.elements()):
        print(f"new: {entry}")
    if update:
        if strict_errors or (new and BASELINE.exists()):
            print("refusing to update: the baseline only shrinks, and strict modules must be clean")
            return 1
        BASELINE.write_text(HEADER + "".join(f"{entry}\n" for entry in sorted(current.elements())))
        print(f"mypy baseline: {sum(current.values())} errors (was {sum(baseline.values())})")
        return 0
    for entry in sorted(stale.elements()):
        print(f"fixed (remove from the baseline: python -m tools.mypy_gate --update): {entry}")
    if strict_errors or new or stale:
        return 1
    print(f"mypy: strict modules clean; {sum(current.values())} baseline errors elsewhere, none new")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
