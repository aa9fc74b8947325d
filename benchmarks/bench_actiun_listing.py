"""Listing every Actiun invoice: a serial page loop against the lazy iterator, serial and concurrent.

The emulator holds 5,154 invoices (207 pages of 25, the reference's own pagination example) and
answers each request after 50 ms of latency. By default it runs in a child process behind the
loopback server, so tracemalloc in this process measures the client alone; ``--in-process``
uses the in-process adapter instead (no sockets; the emulator's allocations are then counted
too).

Rows:

* ``page loop``: ``client.invoices.page(n)`` for n = 1..207, keeping every invoice in a list (what
  a hand-written loop usually does);
* ``list()``: the lazy iterator, consuming invoices one at a time, with 1, 4 and 8 pages in
  flight.

Run::

    .venv/bin/python benchmarks/bench_actiun_listing.py
    .venv/bin/python benchmarks/bench_actiun_listing.py --invoices 500 --latency 0.01 --concurrency 1 4
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from apunto_connect.actiun import ActiunClient
from apunto_connect.sandbox import Sandbox
from apunto_connect.sandbox.actiun import DEMO_API_KEY


def _serve(invoices: int, latency: float, conn: Any, stop: Any) -> None:
    with Sandbox(vendors=["actiun"], latency=latency, seed=1) as sb:
        sb.emulator("actiun").seed_invoices(invoices)
        server = sb.serve()
        conn.send(server.base_url("actiun"))
        stop.wait()


@contextmanager
def loopback_emulator(invoices: int, latency: float) -> Iterator[dict[str, Any]]:
    """An emulator in a child process; yields the client's keyword arguments."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    stop = ctx.Event()
    process = ctx.Process(target=_serve, args=(invoices, latency, child, stop), daemon=True)
    process.start()
    try:
        if not parent.poll(300):
            raise RuntimeError("the emulator process did not start")
        yield {"base_url": parent.recv()}
    finally:
        stop.set()
        process.join(timeout=10)


@contextmanager
def in_process_emulator(invoices: int, latency: float) -> Iterator[dict[str, Any]]:
    """The emulator behind the in-process adapter; yields the client's keyword arguments."""
    with Sandbox(vendors=["actiun"], latency=latency, seed=1) as sb:
        sb.emulator("actiun").seed_invoices(invoices)
        yield {"session": sb.session}


def page_loop(client: ActiunClient) -> tuple[int, int]:
    first = client.invoices.page(1)
    kept = list(first.items)
    pages = first.page_count or 1
    for number in range(2, pages + 1):
        kept.extend(client.invoices.page(number).items)
    _check_order(inv.id for inv in kept)
    return pages, len(kept)


def lazy_list(concurrency: int) -> Callable[[ActiunClient], tuple[int, int]]:
    def run(client: ActiunClient) -> tuple[int, int]:
        count = 0
        previous = 0
        for invoice in client.invoices.list(concurrency=concurrency):
            if invoice.id <= previous:
                raise AssertionError("invoices out of order")
            previous = invoice.id
            count += 1
        return -(-count // 25), count

    return run


def _check_order(ids: Iterator[int]) -> None:
    previous = 0
    for current in ids:
        if current <= previous:
            raise AssertionError("invoices out of order")
        previous = current


def _run_once(
    run: Callable[[ActiunClient], tuple[int, int]], wiring: dict[str, Any], concurrency: int,
    trace: bool,
) -> tuple[int, int, float, int]:
    client = ActiunClient(api_key=DEMO_API_KEY, max_workers=max(concurrency, 1), **wiring)
    try:
        client.contacts.page(1)  # warm the connection and imports outside the measurement
        if trace:
            tracemalloc.start()
            tracemalloc.reset_peak()
        started = time.perf_counter()
        pages, count = run(client)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
    finally:
        if trace:
            tracemalloc.stop()
        client.close()
    return pages, count, elapsed, peak


def measure(
    name: str, concurrency: int, run: Callable[[ActiunClient], tuple[int, int]],
    wiring: dict[str, Any], expected: int, memory: bool,
) -> dict[str, Any]:
    """Time one way of listing; then, in a second pass, its peak memory.

    Two passes because tracemalloc slows every allocation down: the times come from an
    untraced run.
    """
    pages, count, elapsed, _ = _run_once(run, wiring, concurrency, trace=False)
    if count != expected:
        raise AssertionError(f"{name}: {count} invoices, expected {expected}")
    peak = _run_once(run, wiring, concurrency, trace=True)[3] if memory else 0
    return {"method": name, "concurrency": concurrency, "pages": pages, "invoices": count,
            "wall": elapsed, "pages_per_s": pages / elapsed, "peak_mib": peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=5154)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the tracemalloc pass (halves the run time)")
    parser.add_argument("--in-process", action="store_true",
                        help="use the in-process adapter instead of a loopback server")
    args = parser.parse_args()

    emulator = in_process_emulator if args.in_process else loopback_emulator
    transport = "in-process adapter" if args.in_process else "loopback server (child process)"
    print(f"Actiun listing: {args.invoices} invoices, {args.latency * 1000:.0f} ms per request, "
          f"{transport}")
    rows = []
    with emulator(args.invoices, args.latency) as wiring:
        memory = not args.no_memory
        rows.append(measure("page loop", 1, page_loop, wiring, args.invoices, memory))
        for concurrency in args.concurrency:
            rows.append(measure("list()", concurrency, lazy_list(concurrency), wiring,
                                args.invoices, memory))
    header = (f"{'method':<10} {'concurrency':>11} {'pages':>6} {'invoices':>8} "
              f"{'wall s':>8} {'pages/s':>8} {'peak MiB':>9}")
    print(header)
    print("-" * len(header))
    for row in rows:
        peak = f"{row['peak_mib']:.2f}" if not args.no_memory else "-"
        print(f"{row['method']:<10} {row['concurrency']:>11} {row['pages']:>6} "
              f"{row['invoices']:>8} {row['wall']:>8.2f} {row['pages_per_s']:>8.1f} "
              f"{peak:>9}")
    serial = rows[0]["wall"]
    best = min(rows[1:], key=lambda r: r["wall"])
    print(f"\nfastest: list(concurrency={best['concurrency']}) "
          f"{serial / best['wall']:.1f}x the page loop")


if __name__ == "__main__":
    main()
