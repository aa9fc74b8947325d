"""Emulator look-ups with N and 6N stored invoices: an indexed look-up costs the same at both.

For each vendor the emulator is filled with ``--invoices`` stamped invoices, then six times as
many, and the look-ups the SDK makes are timed through the vendor's provider, in process (no
sockets, no latency). The last column is the 6N time over the N time: about 1.0x means the
look-up does not depend on how much the emulator holds; 6x or more means it scans (or sorts)
everything on every request.

Look-ups:

* facturama ``list by serie+folio``: ``GET Cfdi?serie=&folioStart=&folioEnd=`` (the keyed
  stamp's check); ``get by UUID``: ``GET Cfdi?keyword=<UUID>`` then ``GET cfdi/{id}``;
* alegra ``newest page``: ``GET /invoices?order_direction=DESC&metadata=true`` (the keyed
  stamp's look-up); ``XML download``: the file link behind the invoice;
* enlace_fiscal ``XML download``: ``informacionCfdi`` then the download link;
* actiun ``first page``: ``GET /invoices`` page 1.

Run::

    .venv/bin/python benchmarks/bench_emulator_lookups.py
    .venv/bin/python benchmarks/bench_emulator_lookups.py --invoices 100 --vendors facturama

``--stub-pdf`` replaces PDF drawing with a fixed document while filling (only useful to fill
an older emulator that drew the PDF at stamp time; today's draws it on first download).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from apunto_connect import Sandbox
from apunto_connect.models import Customer, Invoice, LineItem, Tax

CUSTOMER = Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015", cfdi_use="G03")


def make_invoice(folio: int, series: str | None = "A") -> Invoice:
    """A small freight invoice with the given serie and folio."""
    return Invoice(
        customer=CUSTOMER,
        series=series,
        folio=str(folio),
        payment_form="03",
        items=[
            LineItem("78101802", "E48", "Flete terrestre", 1, Decimal("1000") + folio,
                     unit_name="Servicio", taxes=[Tax.iva()], sku="FLETE", name="Flete"),
        ],
    )


def _fill(sb: Sandbox, vendor: str, provider: Any, first: int, count: int) -> list[Any]:
    if vendor == "actiun":
        sb.emulator("actiun").seed_invoices(count)  # type: ignore[attr-defined]
        return []
    series = None if vendor == "enlace_fiscal" else "A"  # Enlace: the account's own serie
    return [provider.stamp(make_invoice(folio, series)) for folio in range(first, first + count)]


def _lookups(vendor: str, provider: Any, stamped: list[Any]) -> dict[str, Callable[[], object]]:
    rng = random.Random(7)
    if vendor == "facturama":
        return {
            "list by serie+folio": lambda: next(iter(provider.list(
                series="A", folio_start=(folio := str(rng.randint(1, len(stamped)))),
                folio_end=folio, status="active",
            ))),
            "get by UUID": lambda: provider.get(rng.choice(stamped).uuid),
        }
    if vendor == "alegra":
        return {
            "newest page": lambda: next(iter(provider.list(order_direction="DESC"))),
            "XML download": lambda: provider.download(rng.choice(stamped).id, "xml"),
        }
    if vendor == "enlace_fiscal":
        return {"XML download": lambda: provider.download(rng.choice(stamped).id, "xml")}
    if vendor == "actiun":
        return {"first page": lambda: next(iter(provider.list()))}
    raise SystemExit(f"no look-ups defined for {vendor!r}")


def _per_call(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat


def measure(vendor: str, invoices: int, repeat: int) -> list[tuple[str, float, float]]:
    """(look-up, seconds per call with N invoices, with 6N) for one vendor."""
    results: dict[str, list[float]] = {}
    with Sandbox(vendors=[vendor], seed=3) as sb:
        provider = sb.invoice_provider(vendor)
        if vendor == "enlace_fiscal":
            sb.emulator(vendor).set_balance(invoices * 7)  # type: ignore[attr-defined]
        stamped = _fill(sb, vendor, provider, 1, invoices)
        for name, fn in _lookups(vendor, provider, stamped).items():
            results.setdefault(name, []).append(_per_call(fn, repeat))
        stamped += _fill(sb, vendor, provider, invoices + 1, invoices * 5)
        for name, fn in _lookups(vendor, provider, stamped).items():
            results[name].append(_per_call(fn, repeat))
        provider.close()
    return [(name, small, large) for name, (small, large) in results.items()]


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=200, help="N (the second fill is 6N)")
    parser.add_argument("--repeat", type=int, default=50, help="look-ups per timing")
    parser.add_argument(
        "--vendors", nargs="+", default=["facturama", "alegra", "enlace_fiscal", "actiun"]
    )
    parser.add_argument("--stub-pdf", action="store_true", help="fill without drawing PDFs")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.stub_pdf:
        from apunto_connect.sandbox import documents

        documents.render_pdf = lambda cfdi, totals: b"%PDF-1.4 stub\n%%EOF\n"  # type: ignore[assignment]

    n, big = args.invoices, args.invoices * 6
    print(f"{'vendor':<14} {'look-up':<22} {f'{n:,} invoices':>14} {f'{big:,} invoices':>14} "
          f"{'6N / N':>7}")
    for vendor in args.vendors:
        for name, small, large in measure(vendor, args.invoices, args.repeat):
            print(f"{vendor:<14} {name:<22} {small * 1e3:>11.2f} ms {large * 1e3:>11.2f} ms "
                  f"{large / small:>6.2f}x")


if __name__ == "__main__":
    main()
