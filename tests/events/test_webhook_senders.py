"""Several webhook senders, in separate processes, on one outbox (SQLite and PostgreSQL).

A loopback receiver counts every POST per event id: with nobody crashing every event arrives
exactly once; a sender killed in the middle of a POST costs at most that one event arriving
twice, and nothing is lost.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from apunto_connect.errors import JournalUnavailable, SignatureVerificationError
from apunto_connect.events import Event
from apunto_connect.journal import open_journal
from apunto_connect.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    Outbox,
    WebhookSender,
    verify_signature,
)

SECRET = "whsec_multi_7c21"
EVENTS = 40

_SENDER = textwrap.dedent(
    """
    import sys, time
    from apunto_connect.webhooks import WebhookSender

    target, url, lease, secret = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    sender = WebhookSender([url], secret, outbox=target, deliver_immediately=False, lease=lease,
                           timeout=5, initial_backoff=0.05, max_backoff=0.2)
    print("ready", flush=True)
    end = time.monotonic() + 40  # bounded, whatever happens
    while time.monotonic() < end:
        counts = sender.deliver_pending(limit=5)
        if not any(counts.values()):
            if not sender.outbox.list("pending"):
                break
            time.sleep(0.05)  # someone else holds what is left
    """
)


class CountingReceiver:
    """Counts every POST per event id; can hold the first POST until told to answer."""

    def __init__(self, stall_first: bool = False) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.bad_signatures = 0
        self.stalled_id: str | None = None
        self.stall_reached = threading.Event()
        self.release = threading.Event()
        self._stall = stall_first
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    verify_signature(body, self.headers[SIGNATURE_HEADER], SECRET)
                except SignatureVerificationError:
                    with receiver._lock:
                        receiver.bad_signatures += 1
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                event_id = self.headers[EVENT_ID_HEADER]
                with receiver._lock:
                    receiver.counts[event_id] += 1
                    stall = receiver._stall
                    receiver._stall = False
                if stall:
                    receiver.stalled_id = event_id
                    receiver.stall_reached.set()
                    receiver.release.wait(timeout=30)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(params=["sqlite", "postgres"])
def outbox_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "outbox.sqlite3")
    url: str = request.getfixturevalue("pg_url")
    return url


def _queue_events(target: str, url: str) -> list[str]:
    outbox = Outbox(target)
    ids = []
    for n in range(EVENTS):
        event = Event(id=f"evt_{uuid.uuid4().hex}", type="invoice.stamped", provider="facturama",
                      data={"n": n}, created_at=datetime.now(timezone.utc))
        outbox.add(event, [url], time.time() + n * 1e-6)
        ids.append(event.id)
    return ids


def _start_senders(target: str, url: str, count: int, lease: float) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, "-c", _SENDER, target, url, str(lease), SECRET],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(count)
    ]


def _finish(senders: list[subprocess.Popen[str]]) -> None:
    for proc in senders:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            raise AssertionError("a sender did not finish") from None


def test_four_senders_deliver_every_event_exactly_once(outbox_target: str):
    receiver = CountingReceiver()
    try:
        ids = _queue_events(outbox_target, receiver.url)
        senders = _start_senders(outbox_target, receiver.url, 4, lease=30)
        _finish(senders)
        errors = [proc.stderr.read() for proc in senders if proc.returncode]  # type: ignore[union-attr]
        assert not errors, errors
    finally:
        receiver.close()
    assert receiver.bad_signatures == 0
    assert set(receiver.counts) == set(ids)
    assert set(receiver.counts.values()) == {1}
    assert {d.status for d in Outbox(outbox_target).list()} == {"delivered"}


def test_a_sender_killed_mid_delivery_costs_at_most_one_duplicate(outbox_target: str):
    receiver = CountingReceiver(stall_first=True)
    store = open_journal(outbox_target)
    try:
        ids = _queue_events(outbox_target, receiver.url)
        senders = _start_senders(outbox_target, receiver.url, 4, lease=2)
        assert receiver.stall_reached.wait(timeout=30), "no sender posted anything"
        (row,) = [d for d in store.outbox.list() if d.event_id == receiver.stalled_id]
        assert row.lease_owner, "the delivery being posted must be claimed"
        victim_pid = int(row.lease_owner.split(":")[1])
        victim = next(proc for proc in senders if proc.pid == victim_pid)
        os.kill(victim_pid, signal.SIGKILL)
        victim.wait(timeout=10)
        receiver.release.set()
        _finish([proc for proc in senders if proc is not victim])
    finally:
        receiver.close()
        for proc in senders:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    assert set(receiver.counts) == set(ids)  # nothing lost
    assert receiver.counts[receiver.stalled_id or ""] == 2  # the killed sender's one event
    assert all(n == 1 for event_id, n in receiver.counts.items()
               if event_id != receiver.stalled_id)
    assert {d.status for d in store.outbox.list()} == {"delivered"}


def test_an_outbox_that_cannot_be_opened_fails_the_constructor(tmp_path: Path):
    corrupt = tmp_path / "outbox.sqlite3"
    corrupt.write_bytes(b"definitely not sqlite\n" * 100)
    with pytest.raises(JournalUnavailable) as caught:
        WebhookSender(["https://crm.test/hooks"], SECRET, outbox=corrupt)
    assert str(corrupt) in str(caught.value)
    with pytest.raises(JournalUnavailable):
        Outbox(corrupt)


def test_the_transactional_outbox_event_is_delivered_once(tmp_path: Path):
    receiver = CountingReceiver()
    try:
        store = open_journal(tmp_path / "journal.sqlite3")
        sender = WebhookSender([receiver.url], SECRET, outbox=store)
        assert sender.store is store and sender.endpoints == [receiver.url]
        claim = store.claim("facturama", "acct", "k1", "h1")
        store.mark_sent(claim)
        # the stamping path records the CFDI and queues its event in one transaction...
        event = Event(id=f"evt_{uuid.uuid4().hex}", type="invoice.stamped",
                      provider="facturama", data={"uuid": "U-1"},
                      created_at=datetime.now(timezone.utc))
        store.mark_stamped(claim, uuid="U-1", vendor_id=None, result=None,
                           outbox=[(event, sender.endpoints)])
        # ...then emits it: the sender's enqueue adds nothing and delivers it
        sender.enqueue(event)
        sender.close()
    finally:
        receiver.close()
    assert receiver.counts == {event.id: 1}
    assert [d.status for d in Outbox(tmp_path / "journal.sqlite3").list()] == ["delivered"]


def test_outbox_and_outbox_path_are_one_option(tmp_path: Path):
    from apunto_connect.errors import ValidationError

    with pytest.raises(ValidationError, match="not both"):
        WebhookSender(["https://a.test/h"], SECRET, outbox=tmp_path / "a.db",
                      outbox_path=tmp_path / "b.db")
    sender = WebhookSender(["https://a.test/h"], SECRET, outbox_path=tmp_path / "b.db",
                           deliver_immediately=False)
    assert sender.store.identity == f"sqlite:{(tmp_path / 'b.db').resolve()}"


def test_cli_lists_and_retries_on_either_store(outbox_target: str, capsys: pytest.CaptureFixture[str]):
    import json

    from apunto_connect.cli import main

    outbox = Outbox(outbox_target)
    event = Event(id=f"evt_{uuid.uuid4().hex}", type="invoice.stamped", provider="alegra",
                  data={}, created_at=datetime.now(timezone.utc))
    outbox.add(event, ["https://crm.test/hooks"], time.time())
    (delivery,) = outbox.claim_due(time.time(), owner="sender", lease=60)
    outbox.mark_failed_attempt(delivery, "HTTP 500", time.time(), park=True)
    assert main(["webhooks", "--outbox", outbox_target, "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(d["event_id"], d["status"], d["last_error"]) for d in listed] == [
        (event.id, "failed", "HTTP 500")
    ]
    assert main(["webhooks", "--outbox", outbox_target, "retry"]) == 0
    assert "1 deliveries queued again" in capsys.readouterr().out
    assert [d.status for d in outbox.list()] == ["pending"]
