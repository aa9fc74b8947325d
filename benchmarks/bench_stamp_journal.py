"""What the stamping journal costs per stamp, through the real stamping path.

Each vendor stamps the same keyed invoices on the in-process sandbox, once per journal store,
in one run: ``memory`` (the floor: almost no journal work), SQLite as shipped
(``synchronous="normal"``: every commit survives a killed process, none waits for the disk),
SQLite with ``synchronous="sent"`` (one fsync per stamp, before the request leaves, so a power
cut cannot undo a "sent" record) and, with ``--postgres URL``, PostgreSQL. Prints the median milliseconds per stamp and the
overhead over the memory store. Stores take turns every few stamps (``--chunk``), several rounds, so machine noise
hits them alike.

Usage::

    python benchmarks/bench_stamp_journal.py
    python benchmarks/bench_stamp_journal.py --stamps 200 --vendors facturama alegra
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from apunto_connect import Sandbox
from apunto_connect.invoicing.base import InvoiceProvider
from apunto_connect.journal import JournalStore, MemoryJournal
from apunto_connect.journal.sqlite import SqliteJournal
from apunto_connect.models import Customer, Invoice, LineItem, Tax

VENDORS = ["facturama", "alegra", "enlace_fiscal", "contadigital", "actiun"]


def invoice(n: int) -> Invoice:
    return Invoice(
        customer=Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015"),
        items=[LineItem("78101802", "E48", "Flete terrestre", 1, Decimal(1000 + n),
                        taxes=[Tax.iva(), Tax.iva_withholding("0.04")])],
        payment_form="03",
        folio=str(n),
    )


def ready_provider(sandbox: Sandbox, vendor: str, stamps: int) -> InvoiceProvider:
    """The vendor's provider on ``sandbox``, with credits for ``stamps`` and no artificial waits."""
    if vendor == "actiun":
        sandbox.emulator("actiun").stamping_seconds = 0.0  # type: ignore[attr-defined]
    if vendor == "enlace_fiscal":
        sandbox.emulator("enlace_fiscal").set_balance(stamps + 10)  # type: ignore[attr-defined]
    if vendor == "contadigital":
        sandbox.emulator("contadigital").credits = stamps + 10  # type: ignore[attr-defined]
    return sandbox.invoice_provider(vendor)


def interleaved(
    vendor: str, stores: dict[str, JournalStore], stamps: int, chunk: int, offset: int
) -> dict[str, list[float]]:
    """Milliseconds of each keyed stamp per store, the stores taking turns every ``chunk``.

    One sandbox per store; a warm-up stamp each first (not counted). Taking turns in small
    chunks, in a rotating order, makes a slow spell of the machine hit every store alike.
    """
    times: dict[str, list[float]] = {name: [] for name in stores}
    with contextlib.ExitStack() as stack:
        providers = {}
        for name, store in stores.items():
            sandbox = stack.enter_context(Sandbox(vendors=[vendor], journal=store, seed=1))
            providers[name] = ready_provider(sandbox, vendor, stamps)
            providers[name].stamp(invoice(offset), idempotency_key=f"warm-{offset}-{name}")
        names = list(stores)
        for turn, first in enumerate(range(0, stamps, chunk)):
            order = names[turn % len(names):] + names[: turn % len(names)]
            for name in order:
                for n in range(first, min(first + chunk, stamps)):
                    number = offset + 1 + n
                    started = time.perf_counter()
                    providers[name].stamp(invoice(number), idempotency_key=f"key-{number}")
                    times[name].append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stamps", type=int, default=100, help="per vendor, store and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=10, help="stamps per store per turn")
    parser.add_argument("--vendors", nargs="+", default=VENDORS)
    parser.add_argument("--postgres", help="a scratch PostgreSQL URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        stores: dict[str, JournalStore] = {
            "memory": MemoryJournal(),
            # The default: WAL, no commit waits for the disk; survives a killed process.
            "sqlite": SqliteJournal(Path(folder) / "journal.sqlite3", synchronous="normal"),
            # The "sent" record synced to disk before the request leaves (one fsync per
            # stamp), so even a power cut cannot make a resend.
            "sqlite-sent": SqliteJournal(Path(folder) / "sent.sqlite3", synchronous="sent"),
        }
        if args.postgres:
            from apunto_connect.journal.postgres import PostgresJournal

            stores["postgres"] = PostgresJournal(args.postgres)
        results: dict[tuple[str, str], list[float]] = {}
        offset = 0
        for _ in range(args.rounds):
            for vendor in args.vendors:
                offset += args.stamps + 1
                for name, times in interleaved(
                    vendor, stores, args.stamps, args.chunk, offset
                ).items():
                    results.setdefault((vendor, name), []).extend(times)
        print(f"{args.stamps * args.rounds} keyed stamps per vendor and store, in-process sandbox")
        names = list(stores)
        header = f"{'vendor':<15}" + "".join(f"{n + ' ms':>18}" for n in names) + "".join(
            f"{n + ' overhead':>24}" for n in names[1:]
        )
        print(header)
        print("-" * len(header))
        for vendor in args.vendors:
            medians = {n: statistics.median(results[(vendor, n)]) for n in names}
            row = f"{vendor:<15}" + "".join(f"{medians[n]:>18.2f}" for n in names)
            row += "".join(
                f"{(medians[n] / medians['memory'] - 1) * 100:>23.1f}%" for n in names[1:]
            )
            print(row)
        for store in stores.values():
            store.close()


if __name__ == "__main__":
    main()
