"""Recompute every hash-chained ledger (``common.chain``, ``licences.chain``) and report.

Exits 0 with one line per stream when every chain holds; otherwise prints the first broken
row of each broken chain and exits 1 naming the first of them (stream, model, primary key).
``--print-heads`` prints each chain's head and one anchor hash over all of them, to publish
or store elsewhere: a later rewrite of a whole chain then no longer matches what was published.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from licences import chain


class Command(BaseCommand):
    help = "Recompute the hash chains of the append-only ledgers; exit 1 naming the first broken row."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--print-heads",
            action="store_true",
            help="Also print every chain's head (stream, key, seq, hash) and one anchor hash over them.",
        )
        parser.add_argument(
            "--chunk-size", type=int, default=chain.VERIFY_CHUNK, help="Rows read per round trip (memory bound)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1.")
        with chain.snapshot():
            reports = [chain.verify(stream, chunk_size=options["chunk_size"]) for stream in chain.streams()]
            heads = chain.all_heads() if options["print_heads"] else []
        for report in reports:
            self.stdout.write(report.line())
            for brk in report.breaks:
                self.stdout.write(f"  first broken: {brk.describe()}")
        if options["print_heads"]:
            for stream, key, seq, head_hash in heads:
                self.stdout.write(f"head {stream} {key} {seq} {head_hash}")
            self.stdout.write(f"anchor {chain.anchor(heads)}")
        breaks = [brk for report in reports for brk in report.breaks]
        if breaks:
            first = breaks[0]
            raise CommandError(f"{len(breaks)} broken chain(s); the first: {first.describe()}")
