"""Benchmark the journal stores side by side: what one stamp costs in journal work.

For each store, N keys go through the journal path of one stamp: ``claim`` (fresh),
``mark_sent``, ``mark_stamped`` with its ``invoice.stamped`` event queued in the same
transaction; then a repeat ``claim`` of a stamped key (the idempotent retry), and the webhook
side: ``claim_due`` in batches of 5 and ``mark_delivered`` per delivery. One thread, then
several threads sharing the store. Prints per-operation latency and throughput.

Stores: memory, SQLite with ``synchronous`` ``normal`` (the default), ``sent`` and ``full``,
and PostgreSQL
when ``--postgres URL`` is given (a scratch database: the tables are created and filled).
Usage::

    python benchmarks/bench_journal.py                    # 2,000 keys
    python benchmarks/bench_journal.py --keys 500 --threads 4 --postgres postgresql://...
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from apunto_connect.events import Event
from apunto_connect.journal import JournalStore, MemoryJournal
from apunto_connect.journal.records import new_owner
from apunto_connect.journal.sqlite import SqliteJournal

ENDPOINTS = ["https://crm.example.com/hooks/cfdi"]
RESULT = {"uuid": "", "serie": "A", "folio": "1", "total": "1160.00", "lines": [{"q": "1"}] * 3}


def _event(n: int) -> Event:
    return Event(id=f"evt_{uuid.uuid4().hex}", type="invoice.stamped", provider="facturama",
                 data={"n": n}, created_at=datetime.now(timezone.utc))


def stamp_path(store: JournalStore, keys: list[str]) -> list[float]:
    """Seconds per key for claim + mark_sent + mark_stamped (with the event)."""
    times = []
    for n, key in enumerate(keys):
        started = time.perf_counter()
        claim = store.claim("facturama", "acct", key, "hash-" + key, reference={"folio": str(n)})
        store.mark_sent(claim)
        store.mark_stamped(claim, uuid=f"UUID-{key}", vendor_id=str(n),
                           result={**RESULT, "uuid": f"UUID-{key}"},
                           outbox=[(_event(n), ENDPOINTS)])
        times.append(time.perf_counter() - started)
    return times


def repeat_claims(store: JournalStore, keys: list[str]) -> list[float]:
    times = []
    for key in keys:
        started = time.perf_counter()
        claim = store.claim("facturama", "acct", key, "hash-" + key, wait=0)
        assert claim.owner == ""
        times.append(time.perf_counter() - started)
    return times


def deliveries(store: JournalStore) -> tuple[int, float]:
    owner, done = new_owner(), 0
    started = time.perf_counter()
    while True:
        batch = store.outbox.claim_due(time.time(), 5, owner=owner, lease=60)
        if not batch:
            break
        for delivery in batch:
            store.outbox.mark_delivered(delivery, time.time())
        done += len(batch)
    return done, time.perf_counter() - started


def threaded(store: JournalStore, keys: list[str], threads: int) -> float:
    """Keys per second when ``threads`` threads stamp disjoint keys on one store."""
    chunks = [keys[i::threads] for i in range(threads)]
    workers = [threading.Thread(target=stamp_path, args=(store, chunk)) for chunk in chunks]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return len(keys) / (time.perf_counter() - started)


def run(name: str, make: Callable[[], JournalStore], keys: int, threads: int) -> dict[str, str]:
    store = make()
    names = [f"k-{uuid.uuid4().hex[:12]}" for _ in range(keys)]
    stamp = stamp_path(store, names)
    repeat = repeat_claims(store, names)
    sent, seconds = deliveries(store)
    assert sent == keys, (name, sent)
    parallel = threaded(store, [f"t-{uuid.uuid4().hex[:12]}" for _ in range(keys)], threads)
    store.close()
    ms = 1000.0
    return {
        "store": name,
        "stamp p50 ms": f"{statistics.median(stamp) * ms:.3f}",
        "stamp p99 ms": f"{sorted(stamp)[int(len(stamp) * 0.99) - 1] * ms:.3f}",
        "repeat p50 ms": f"{statistics.median(repeat) * ms:.3f}",
        "deliveries/s": f"{sent / seconds:,.0f}",
        f"stamps/s x{threads} threads": f"{parallel:,.0f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--postgres", help="a postgresql:// URL of a scratch database")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-journal-"))
    stores: list[tuple[str, Callable[[], JournalStore]]] = [
        ("memory", MemoryJournal),
        ("sqlite normal", lambda: SqliteJournal(folder / "normal.sqlite3", synchronous="normal")),
        ("sqlite sent", lambda: SqliteJournal(folder / "sent.sqlite3", synchronous="sent")),
        ("sqlite full", lambda: SqliteJournal(folder / "full.sqlite3", synchronous="full")),
    ]
    if args.postgres:
        from apunto_connect.journal.postgres import PostgresJournal

        stores.append(("postgresql", lambda: PostgresJournal(args.postgres)))

    print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
          f"{args.keys} keys, {platform.machine()}, folder {folder}")
    try:
        rows = [run(name, make, args.keys, args.threads) for name, make in stores]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    columns = list(rows[0])
    widths = [max(len(c), *(len(r[c]) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        print("  ".join(row[c].ljust(w) for c, w in zip(columns, widths, strict=True)))


if __name__ == "__main__":
    main()
