"""Bulk stamping at network speed: the PyPI ``facturama`` client's serial loop against ours.

One run, side by side, same emulator (the Facturama sandbox served over loopback HTTP from its
own process, as a vendor would be, its PDFs drawn lazily as shipped) and the same injected
latency per request:

* ``pypi serial``: the PyPI ``facturama`` client, ``Cfdi.create3`` in a loop (one POST each);
* ``stamp serial``: our ``provider.stamp(invoice, idempotency_key=...)`` in a loop;
* ``stamp_many xN``: our ``provider.stamp_many(..., concurrency=N)``, with the journal as
  shipped (SQLite, no commit waits for the disk) and, once more at the highest concurrency,
  with ``synchronous="sent"`` (one fsync per stamp before the request leaves).

Every mode starts from a fresh emulator and a fresh SQLite journal, and prints invoices per
second, the ratio to the PyPI loop, HTTP round trips per invoice, and what the vendor holds at
the end (CFDI, Clients, Products).

Usage::

    python benchmarks/bench_bulk.py                         # 500 invoices, 50 ms latency
    python benchmarks/bench_bulk.py --invoices 200 --latency 0.02 --concurrency 1 4 8 16
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from apunto_connect import Sandbox
from apunto_connect._wire import encode_json
from apunto_connect.invoicing.facturama import FacturamaProvider, invoice_to_facturama
from apunto_connect.journal.sqlite import SqliteJournal
from apunto_connect.models import Customer, Invoice, LineItem, Tax
from apunto_connect.sandbox.facturama import FacturamaEmulator

CUSTOMERS = [
    Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015"),
    Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "86991"),
    Customer("XIQB891116QE4", "BERENICE XIMO QUEZADA", "612", "26015"),
]
CREDENTIALS = FacturamaEmulator.demo_credentials


def invoices(count: int) -> list[Invoice]:
    """A month of freight: three customers, two products, one folio each."""
    return [
        Invoice(
            customer=CUSTOMERS[n % len(CUSTOMERS)],
            items=[
                LineItem("78101802", "E48", "Flete terrestre", 1, Decimal(1000 + n),
                         taxes=[Tax.iva(), Tax.iva_withholding("0.04")]),
                LineItem("78141500", "E48", "Maniobras de carga", 1, Decimal("250"),
                         taxes=[Tax.iva()]),
            ],
            payment_form="03",
            series="BLK",
            folio=str(n),
        )
        for n in range(1, count + 1)
    ]


class Counted:
    """Counts the requests one emulator answers (round trips)."""

    def __init__(self, emulator: Any) -> None:
        self.count = 0
        self._lock = threading.Lock()
        inner = emulator.handle

        def handle(request: Any) -> Any:
            with self._lock:
                self.count += 1
            return inner(request)

        emulator.handle = handle


def _serve(latency: float, conn: Any) -> None:
    """The emulator's process: serve over loopback, answer "stats", stop on "stop"."""
    with Sandbox(vendors=["facturama"], latency=latency, seed=1) as sandbox:
        emulator = sandbox.emulator("facturama")
        counter = Counted(emulator)
        conn.send(sandbox.serve().base_url("facturama"))
        while True:
            command = conn.recv()
            if command == "stats":
                conn.send({
                    "requests": counter.count,
                    "cfdi": len(emulator.issued_uuids()),
                    "clients": len(emulator.clients),
                    "products": len(emulator.products),
                })
            else:
                return


def run_mode(
    name: str, batch: list[Invoice], latency: float, work: Callable[[str, str], int]
) -> dict[str, Any]:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(latency, child), daemon=True)
    server.start()
    try:
        url = parent.recv()
        with tempfile.TemporaryDirectory() as folder:
            journal = str(Path(folder) / "journal.sqlite3")
            started = time.perf_counter()
            stamped = work(url, journal)
            elapsed = time.perf_counter() - started
        parent.send("stats")
        stats = parent.recv()
    finally:
        parent.send("stop")
        server.join(timeout=10)
    return {
        "mode": name,
        "stamped": stamped,
        "seconds": elapsed,
        "per_second": stamped / elapsed,
        "round_trips": stats["requests"] / len(batch),
        "cfdi": stats["cfdi"],
        "clients": stats["clients"],
        "products": stats["products"],
    }


def pypi_serial(batch: list[Invoice]) -> Callable[[str, str], int]:
    import facturama

    bodies = [
        json.loads(encode_json(invoice_to_facturama(inv, expedition_place="26015")))
        for inv in batch
    ]

    def work(url: str, journal: str) -> int:
        facturama._credentials = (CREDENTIALS["username"], CREDENTIALS["password"])
        facturama.url_base = url
        facturama.sandbox = False
        for body in bodies:
            facturama.Cfdi.create3(body)
        return len(bodies)

    return work


def provider(url: str, journal: str, sync: str = "normal") -> FacturamaProvider:
    # "normal" is the journal's default (survives a killed process); "sent" also syncs the
    # record of a request to disk before the request leaves (one fsync per stamp).
    store = SqliteJournal(journal, synchronous=sync)
    return FacturamaProvider(**CREDENTIALS, base_url=url, journal=store)


def ours_serial(batch: list[Invoice]) -> Callable[[str, str], int]:
    def work(url: str, journal: str) -> int:
        with provider(url, journal) as p:
            for n, inv in enumerate(batch):
                p.stamp(inv, idempotency_key=f"bench-{n}")
        return len(batch)

    return work


def ours_many(
    batch: list[Invoice], concurrency: int, sync: str = "normal"
) -> Callable[[str, str], int]:
    def work(url: str, journal: str) -> int:
        with provider(url, journal, sync) as p:
            summary = p.stamp_many(batch, concurrency=concurrency,
                                   idempotency_keys=[f"bench-{n}" for n in range(len(batch))])
            done = summary.summary()
        if done.failed:
            raise SystemExit(f"stamp_many x{concurrency} failed: {done}")
        return done.stamped

    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--skip-pypi", action="store_true", help="without the facturama package")
    args = parser.parse_args()
    batch = invoices(args.invoices)
    modes: list[tuple[str, Callable[[str, str], int]]] = []
    if not args.skip_pypi:
        modes.append(("pypi facturama, serial", pypi_serial(batch)))
    modes.append(("stamp, serial", ours_serial(batch)))
    modes.extend((f"stamp_many x{n}", ours_many(batch, n)) for n in args.concurrency)
    top = max(args.concurrency)
    modes.append((f"stamp_many x{top}, fsync per stamp", ours_many(batch, top, "sent")))
    rows = [run_mode(name, batch, args.latency, work) for name, work in modes]
    base = rows[0]["per_second"]
    print(f"{args.invoices} invoices, {args.latency * 1000:.0f} ms per request, loopback HTTP")
    header = f"{'mode':<30}{'inv/s':>8}{'ratio':>8}{'trips/inv':>11}{'CFDI':>7}{'Clients':>9}{'Products':>10}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['mode']:<30}{row['per_second']:>8.1f}{row['per_second'] / base:>7.2f}x"
              f"{row['round_trips']:>11.2f}{row['cfdi']:>7}{row['clients']:>9}{row['products']:>10}")


if __name__ == "__main__":
    main()
