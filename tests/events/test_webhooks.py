from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apunto_connect.errors import SignatureVerificationError, ValidationError
from apunto_connect.events import EventBus
from apunto_connect.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    WebhookSender,
    sign,
    verify_signature,
)

SECRET = "whsec_test_4f1c"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """A loopback webhook receiver that verifies signatures and de-duplicates by event id."""

    def __init__(self, port: int, status: int = 200, clock: Clock | None = None) -> None:
        self.received: list[dict] = []
        self.seen_ids: set[str] = set()
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                verify_signature(body, self.headers[SIGNATURE_HEADER], SECRET,
                                 now=clock() if clock else None)
                event_id = self.headers[EVENT_ID_HEADER]
                if event_id not in receiver.seen_ids:
                    receiver.seen_ids.add(event_id)
                    receiver.received.append(json.loads(body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_sender(tmp_path, port, clock, **kw) -> WebhookSender:
    return WebhookSender([f"http://127.0.0.1:{port}/hooks"], SECRET,
                         outbox_path=tmp_path / "outbox.sqlite3", clock=clock, seed=1, **kw)


def test_delivers_signed_event_to_a_receiver(tmp_path, clock):
    port = free_port()
    receiver = Receiver(port, clock=clock)
    try:
        bus = EventBus()
        sender = make_sender(tmp_path, port, clock)
        sender.attach(bus)
        event = bus.emit("invoice.stamped", "facturama", {"uuid": "A1"})
        assert [r["id"] for r in receiver.received] == [event.id]
        assert receiver.received[0]["data"] == {"uuid": "A1"}
        assert [d.status for d in sender.outbox.list()] == ["delivered"]
        sender.close()
    finally:
        receiver.close()


def test_receiver_down_then_up_delivers_after_backoff(tmp_path, clock):
    port = free_port()  # nothing listens yet: connection refused
    bus = EventBus()
    sender = make_sender(tmp_path, port, clock)
    sender.attach(bus)
    bus.emit("invoice.stamped", "alegra", {"uuid": "B2"})
    (delivery,) = sender.outbox.list()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert sender.deliver_pending() == {"delivered": 0, "retrying": 0, "failed": 0}  # not due yet
    receiver = Receiver(port, clock=clock)
    try:
        clock.now += 3600
        assert sender.deliver_pending()["delivered"] == 1
        assert len(receiver.received) == 1
    finally:
        receiver.close()
        sender.close()


def test_restart_between_attempts_loses_nothing(tmp_path, clock):
    port = free_port()
    bus = EventBus()
    first = make_sender(tmp_path, port, clock)
    first.attach(bus)
    bus.emit("tracking.created", "shipsgo", {"tracking_id": "T1"})
    bus.emit("tracking.created", "shipsgo", {"tracking_id": "T2"})
    first.close()  # the process "dies" with two undelivered events
    receiver = Receiver(port, clock=clock)
    try:
        clock.now += 3600
        second = make_sender(tmp_path, port, clock)
        assert second.deliver_pending()["delivered"] == 2
        assert sorted(r["data"]["tracking_id"] for r in receiver.received) == ["T1", "T2"]
        second.close()
    finally:
        receiver.close()


def test_duplicate_events_are_suppressed_in_the_outbox_and_by_id(tmp_path, clock):
    port = free_port()
    receiver = Receiver(port, clock=clock)
    try:
        bus = EventBus()
        sender = make_sender(tmp_path, port, clock, deliver_immediately=False)
        event = bus.emit("invoice.cancelled", "facturama", {"uuid": "C3"})
        sender.enqueue(event)
        sender.enqueue(event)  # the same event twice (a retried subscriber)
        assert len(sender.outbox.list()) == 1
        sender.deliver_pending()
        sender.outbox.retry()  # nothing failed: no effect
        assert len(receiver.received) == 1
        sender.close()
    finally:
        receiver.close()


def test_permanent_failure_is_parked_and_can_be_retried(tmp_path, clock):
    port = free_port()
    receiver = Receiver(port, status=500, clock=clock)
    try:
        bus = EventBus()
        sender = make_sender(tmp_path, port, clock, max_attempts=3)
        sender.attach(bus)
        bus.emit("invoice.stamped", "facturama", {"uuid": "D4"})
        for _ in range(5):  # bounded: more rounds than attempts allowed
            clock.now += 10_000
            sender.deliver_pending()
        (delivery,) = sender.outbox.list()
        assert delivery.status == "failed" and delivery.attempts == 3
        assert "500" in (delivery.last_error or "")
        receiver.status = 200
        assert sender.outbox.retry(delivery.event_id) == 1
        assert sender.deliver_pending()["delivered"] == 1
        sender.close()
    finally:
        receiver.close()


def test_signature_round_trip_and_rejections():
    body = b'{"id":"evt_1"}'
    header = sign(body, SECRET, timestamp=1000)
    assert verify_signature(body, header, SECRET, now=1100) == 1000
    with pytest.raises(SignatureVerificationError, match="does not match"):
        verify_signature(b'{"id":"evt_2"}', header, SECRET, now=1100)  # tampered body
    with pytest.raises(SignatureVerificationError, match="does not match"):
        verify_signature(body, header, "other-secret", now=1100)
    with pytest.raises(SignatureVerificationError, match="away"):
        verify_signature(body, header, SECRET, now=1000 + 301)  # replayed later
    with pytest.raises(SignatureVerificationError, match="missing"):
        verify_signature(body, None, SECRET)
    with pytest.raises(SignatureVerificationError):
        verify_signature(body, "t=abc,v1=00", SECRET)
    rotated = header + ",v1=" + "0" * 64
    assert verify_signature(body, rotated, SECRET, now=1000) == 1000


def test_sender_validates_its_configuration(tmp_path):
    with pytest.raises(ValidationError):
        WebhookSender([], SECRET, outbox_path=tmp_path / "o.db")
    with pytest.raises(ValidationError):
        WebhookSender(["ftp://x"], SECRET, outbox_path=tmp_path / "o.db")
    with pytest.raises(ValidationError):
        WebhookSender(["https://x.test"], "", outbox_path=tmp_path / "o.db")


def test_cli_lists_and_retries_parked_deliveries(tmp_path, clock, capsys):
    from apunto_connect.cli import main

    port = free_port()  # nobody listening: every attempt fails
    bus = EventBus()
    sender = make_sender(tmp_path, port, clock, max_attempts=1)
    sender.attach(bus)
    event = bus.emit("invoice.stamped", "facturama", {"uuid": "E5"})
    sender.close()
    outbox = str(tmp_path / "outbox.sqlite3")
    assert main(["webhooks", "--outbox", outbox, "list", "--status", "failed", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(d["event_id"], d["status"]) for d in listed] == [(event.id, "failed")]
    assert main(["webhooks", "--outbox", outbox, "retry", event.id]) == 0
    assert "1 deliveries queued again" in capsys.readouterr().out
    assert main(["webhooks", "--outbox", outbox, "list"]) == 0
    assert "pending" in capsys.readouterr().out
