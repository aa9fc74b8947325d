"""Exactly once, for every invoicing vendor: threads, provider objects, processes, crashes, faults.

Each test counts the CFDI the emulator really stamped (``issued_uuids``). Whatever happens —
concurrency, a killed worker, a lost answer, a vendor that commits after the client gave up —
one idempotency key never makes a second CFDI.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from apunto_connect import Sandbox
from apunto_connect.errors import ApuntoError, StampOutcomeUnknown
from apunto_connect.journal import MemoryJournal
from apunto_connect.sandbox import Fault, FaultKind
from tests.exactly_once.stamp_worker import VENDORS, invoice_for, loopback_provider

ROOT = Path(__file__).resolve().parents[2]

# The request that creates the CFDI, per vendor (ContaDigital's draft and stamp share a path).
STAMP_PATHS = {
    "facturama": "*/cfdis",
    "alegra": "*/invoices",
    "enlace_fiscal": "*generarCfdi",
    "contadigital": "*/cfdi.json",
    "actiun": "*/invoices",
}


def stamp_fault(vendor: str, kind: FaultKind, **options: Any) -> Fault:
    if vendor == "contadigital":
        options.setdefault("skip", 1)  # a keyed stamp saves a draft first on the same path
    return Fault(kind, vendor=vendor, method="POST", path=STAMP_PATHS[vendor], **options)


def issued(sb: Sandbox, vendor: str) -> list[str]:
    return sb.emulator(vendor).issued_uuids()


def quick_actiun(sb: Sandbox) -> None:
    if "actiun" in sb.emulators:
        sb.emulator("actiun").stamping_seconds = 0.1  # type: ignore[attr-defined]


# -- one process ------------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_eight_threads_on_one_provider_with_one_key_make_one_cfdi(vendor: str) -> None:
    with Sandbox(vendors=[vendor], seed=3) as sb:
        provider = sb.invoice_provider(vendor)
        barrier = threading.Barrier(8)

        def stamp(_: int) -> str | None:
            barrier.wait()
            return provider.stamp(invoice_for("701"), idempotency_key="k-701").uuid

        with ThreadPoolExecutor(8) as pool:
            uuids = set(pool.map(stamp, range(8)))
        assert len(issued(sb, vendor)) == 1
        assert uuids == set(issued(sb, vendor))


@pytest.mark.parametrize("vendor", VENDORS)
def test_eight_provider_objects_with_one_key_make_one_cfdi(vendor: str) -> None:
    with Sandbox(vendors=[vendor], seed=4) as sb:
        providers = [sb.invoice_provider(vendor) for _ in range(8)]
        barrier = threading.Barrier(8)

        def stamp(index: int) -> str | None:
            barrier.wait()
            return providers[index].stamp(invoice_for("702"), idempotency_key="k-702").uuid

        with ThreadPoolExecutor(8) as pool:
            uuids = set(pool.map(stamp, range(8)))
        assert len(issued(sb, vendor)) == 1
        assert uuids == set(issued(sb, vendor))


FAULT_KINDS = [
    pytest.param(FaultKind.LATENCY, {"latency": 0.01}, id="latency"),
    pytest.param(FaultKind.RATE_LIMIT, {"retry_after": 0}, id="rate_limit"),
    pytest.param(FaultKind.SERVER_ERROR, {}, id="server_error"),
    pytest.param(FaultKind.HTML_ERROR, {}, id="html_error"),
    pytest.param(FaultKind.MALFORMED_JSON, {}, id="malformed_json"),
    pytest.param(FaultKind.DROP_BEFORE, {}, id="drop_before"),
    pytest.param(FaultKind.DROP_AFTER, {}, id="drop_after"),
    pytest.param(FaultKind.SLOW_ANSWER, {"latency": 0.01}, id="slow_answer"),
    pytest.param(FaultKind.LATE_COMMIT, {"latency": 0.4}, id="late_commit"),
]


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(("kind", "options"), FAULT_KINDS)
def test_every_fault_retried_from_a_new_provider_object_makes_one_cfdi(
    vendor: str, kind: FaultKind, options: dict[str, Any]
) -> None:
    fault = stamp_fault(vendor, kind, **options)
    with Sandbox(vendors=[vendor], faults=[fault], seed=5) as sb:
        quick_actiun(sb)
        stamped = None
        errors: list[Exception] = []
        for _ in range(4):  # each retry is a new provider object: only the journal remembers
            provider = sb.invoice_provider(vendor, timeout=(1.0, 0.2))
            try:
                stamped = provider.stamp(invoice_for("703"), idempotency_key="k-703")
                break
            except ApuntoError as exc:
                errors.append(exc)
                assert len(issued(sb, vendor)) <= 1
                time.sleep(0.3)  # a late commit lands meanwhile
        assert stamped is not None, errors
        assert issued(sb, vendor) == [stamped.uuid]
        # After success the key answers from the journal, without asking the vendor again.
        again = sb.invoice_provider(vendor).stamp(invoice_for("703"), idempotency_key="k-703")
        assert again.uuid == stamped.uuid and len(issued(sb, vendor)) == 1


@pytest.mark.parametrize("vendor", VENDORS)
def test_late_commit_over_loopback_is_found_or_unknown_never_sent_twice(vendor: str) -> None:
    # The vendor commits 1.2 s after the request; the client gives up after 0.4 s.
    fault = stamp_fault(vendor, FaultKind.LATE_COMMIT, latency=1.2)
    journal = MemoryJournal()
    with Sandbox(vendors=[vendor], faults=[fault], seed=6) as sb:
        quick_actiun(sb)
        url = sb.serve().base_url(vendor)
        started = time.monotonic()
        outcomes: list[object] = []
        while time.monotonic() - started < 6:
            provider = loopback_provider(vendor, url, journal, read_timeout=0.4)  # type: ignore[arg-type]
            try:
                outcomes.append(provider.stamp(invoice_for("704"), idempotency_key="k-704"))
                break
            except StampOutcomeUnknown as exc:
                assert exc.retry_after is not None  # every vendor here can be asked
                outcomes.append(exc)
            except ApuntoError as exc:
                assert getattr(exc, "request_sent", True)
                outcomes.append(exc)
            finally:
                provider.release()
            assert len(issued(sb, vendor)) <= 1
            time.sleep(0.3)
        stamped = outcomes[-1]
        assert not isinstance(stamped, Exception), outcomes
        assert issued(sb, vendor) == [stamped.uuid]  # type: ignore[attr-defined]
        assert isinstance(outcomes[0], ApuntoError)  # the first call did time out


# -- several processes ------------------------------------------------------------------------


def start_worker(vendor: str, url: str, journal: str, key: str, folio: str) -> subprocess.Popen[str]:
    script = Path(__file__).with_name("stamp_worker.py")
    return subprocess.Popen(
        [sys.executable, str(script), vendor, url, journal, key, folio],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def result_of(worker: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = worker.communicate(timeout=60)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    answers = [line for line in lines if "ok" in line]
    assert answers, f"worker said nothing useful: {out!r} {err[-2000:]!r}"
    return answers[-1]


@pytest.mark.parametrize("vendor", VENDORS)
def test_two_processes_with_one_key_make_one_cfdi(vendor: str, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.sqlite3")
    with Sandbox(vendors=[vendor], seed=7) as sb:
        quick_actiun(sb)
        url = sb.serve().base_url(vendor)
        workers = [start_worker(vendor, url, journal, "k-705", "705") for _ in range(2)]
        results = [result_of(worker) for worker in workers]
        assert all(r["ok"] for r in results), results
        assert len(issued(sb, vendor)) == 1
        assert {r["uuid"] for r in results} == set(issued(sb, vendor))


@pytest.mark.parametrize("vendor", VENDORS)
def test_worker_killed_after_the_vendor_committed_never_leads_to_a_second_cfdi(
    vendor: str, tmp_path: Path
) -> None:
    journal = str(tmp_path / "journal.sqlite3")
    # The vendor commits at once and answers 5 s later: the worker dies in between.
    fault = stamp_fault(vendor, FaultKind.SLOW_ANSWER, latency=5.0, times=-1)
    with Sandbox(vendors=[vendor], faults=[fault], seed=8) as sb:
        quick_actiun(sb)
        url = sb.serve().base_url(vendor)
        doomed = start_worker(vendor, url, journal, "k-706", "706")
        deadline = time.monotonic() + 30
        while not issued(sb, vendor) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(issued(sb, vendor)) == 1, "the vendor never committed"
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        sb.faults.clear()

        fresh = result_of(start_worker(vendor, url, journal, "k-706", "706"))
        if fresh["ok"]:
            assert [fresh["uuid"]] == issued(sb, vendor)
        else:
            assert fresh["error"] == "StampOutcomeUnknown", fresh
        assert len(issued(sb, vendor)) == 1
