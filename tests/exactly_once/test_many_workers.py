"""Four worker processes on one PostgreSQL journal: every invoice exactly once, none stuck."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from apunto_connect import Sandbox

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("batch_worker.py")
INVOICES = 200
VENDOR = "facturama"


def start(url: str, journal: str, folios: list[int], lease: float = 60.0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), VENDOR, url, journal, str(lease),
         ",".join(str(f) for f in folios)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def answers(worker: subprocess.Popen[str], timeout: float = 240) -> list[dict[str, Any]]:
    out, err = worker.communicate(timeout=timeout)
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    found = [row for row in rows if "folio" in row]
    assert found or worker.returncode == -signal.SIGKILL, err[-2000:]
    return found


def offered_twice(workers: int) -> list[list[int]]:
    """Each folio goes to two workers, in a different order for each, so they collide."""
    shares: list[list[int]] = [[] for _ in range(workers)]
    for folio in range(1, INVOICES + 1):
        shares[folio % workers].append(folio)
        shares[(folio + 1) % workers].append(folio)
    rng = random.Random(12)
    for share in shares:
        rng.shuffle(share)
    return shares


def test_four_workers_with_overlapping_keys_stamp_each_invoice_once(pg_url: str) -> None:
    with Sandbox(vendors=[VENDOR], seed=21) as sb:
        url = sb.serve().base_url(VENDOR)
        workers = [start(url, pg_url, share) for share in offered_twice(4)]
        results = [row for worker in workers for row in answers(worker)]
        issued = sb.emulator(VENDOR).issued_uuids()
    assert len(results) == 2 * INVOICES
    assert all(row["ok"] for row in results), [r for r in results if not r["ok"]][:3]
    assert len(issued) == INVOICES == len(set(issued))
    by_folio: dict[str, set[str]] = {}
    for row in results:
        by_folio.setdefault(row["folio"], set()).add(row["uuid"])
    assert all(len(uuids) == 1 for uuids in by_folio.values())  # both workers got the same CFDI


def test_a_worker_killed_mid_batch_leaves_nothing_stuck(pg_url: str) -> None:
    folios = list(range(1, 61))
    with Sandbox(vendors=[VENDOR], seed=22) as sb:
        url = sb.serve().base_url(VENDOR)
        doomed = start(url, pg_url, folios, lease=2.0)
        deadline = time.monotonic() + 60
        while len(sb.emulator(VENDOR).issued_uuids()) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        done = len(sb.emulator(VENDOR).issued_uuids())
        assert 10 <= done < len(folios)
        # Another worker (here the same host, so the dead owner is seen at once; on another
        # machine its 2 s leases lapse) takes every key over and finishes the batch.
        time.sleep(2.1)
        rows = answers(start(url, pg_url, folios))
        issued = sb.emulator(VENDOR).issued_uuids()
    unknown = [row for row in rows if not row["ok"]]
    assert all(row["error"] == "StampOutcomeUnknown" for row in unknown), unknown
    assert len(unknown) <= 1  # at most the one request in flight when the worker died
    assert len(issued) == len(set(issued)) == len(folios) - len(unknown)
    assert {row["uuid"] for row in rows if row["ok"]} <= set(issued)
