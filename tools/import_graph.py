"""Print the import graph between the project's top-level packages, and their sizes.

    python -m tools.import_graph [PACKAGE ...]

For each ordered pair of packages, the number of module-level imports from one to the other
(migrations and tests left out), then the lines of Python per package. import-linter's
contracts in ``.importlinter`` are what *enforce* the direction; this draws what is there.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACKAGES = ("common", "licences", "quotas", "compliance", "api", "cockpit", "config", "benchmarks")


def counted(module: str) -> bool:
    return ".migrations" not in module and ".tests" not in module


def edges(packages: list[str]) -> Counter[tuple[str, str]]:
    graph = grimp.build_graph(*packages, include_external_packages=False, cache_dir=None)
    found: Counter[tuple[str, str]] = Counter()
    for importer in graph.modules:
        if not counted(importer):
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            source, target = importer.split(".")[0], imported.split(".")[0]
            if source != target and counted(imported):
                found[(source, target)] += 1
    return found


def lines(package: str) -> int:
    files = [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    return sum(len(p.read_text().splitlines()) for p in files)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    packages = argv or [p for p in DEFAULT_PACKAGES if (ROOT / p).is_dir()]
    print("imports between packages (importer -> imported: module imports)")
    for (source, target), count in sorted(edges(packages).items()):
        print(f"  {source:<11} -> {target:<11} {count:>4}")
    print("lines of Python per package (without migrations)")
    for package in packages:
        print(f"  {package:<11} {lines(package):>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
