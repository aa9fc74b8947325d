"""A bulk run killed halfway, then run again: every invoice stamped once, the rest reported done."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from apunto_connect import Sandbox
from apunto_connect.errors import StampOutcomeUnknown

from .stamp_worker import invoice_for, loopback_provider

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("many_worker.py")
INVOICES = 500
VENDOR = "facturama"


def test_a_batch_killed_halfway_and_run_again_ends_with_one_cfdi_per_invoice(
    tmp_path: Path,
) -> None:
    journal = str(tmp_path / "journal.sqlite3")
    with Sandbox(vendors=[VENDOR], seed=31) as sb:
        url = sb.serve().base_url(VENDOR)
        emulator = sb.emulator(VENDOR)
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), VENDOR, url, journal, str(INVOICES), "8"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while len(emulator.issued_uuids()) < INVOICES // 2 and time.monotonic() < deadline:
                assert worker.poll() is None, worker.communicate()[1][-2000:]
                time.sleep(0.01)
            worker.send_signal(signal.SIGKILL)  # the machine running the batch dies
            worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=10)
        before = len(emulator.issued_uuids())
        assert INVOICES // 2 <= before < INVOICES, "the batch was not killed halfway"

        folios = [str(n) for n in range(1, INVOICES + 1)]
        invoices = [invoice_for(folio) for folio in folios]
        keys = [f"many-{folio}" for folio in folios]
        provider = loopback_provider(VENDOR, url, journal, read_timeout=30.0)
        # A request the kill cut off in flight is "sent" in the journal but not at the vendor:
        # the re-run does not guess (StampOutcomeUnknown) until the settle window has passed.
        provider.settle_seconds = 1.0
        batch = provider.stamp_many(invoices, concurrency=8, idempotency_keys=keys)
        summary = batch.summary()
        unknown = [outcome for outcome in batch if not outcome.ok]
        waits = [o.error.retry_after or 0.0 for o in unknown
                 if isinstance(o.error, StampOutcomeUnknown)]
        assert len(waits) == len(unknown), unknown  # nothing else may fail
        time.sleep(max(waits, default=0.0) + 0.1)  # the documented way out: retry after
        last = provider.stamp_many(invoices, concurrency=8, idempotency_keys=keys).summary()
        issued = emulator.issued_uuids()

    assert set(summary.failed) <= {"StampOutcomeUnknown"}, summary
    assert summary.already_done + summary.stamped + len(unknown) == INVOICES
    # Keys the journal shows stamped are not sent again; those the kill left "sent" are looked
    # up at the vendor (by serie+folio): found ones count as stamped, never stamped twice.
    assert summary.already_done >= before - 8 * 2
    assert f"{summary.already_done} already done" in str(summary)
    assert last.failed == {} and last.already_done + last.stamped == INVOICES, last
    assert last.stamped == len(unknown)
    assert len(issued) == INVOICES == len(set(issued))
