"""The journal contract, checked the same way on every store (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timezone

import pytest

from apunto_connect.errors import Conflict, NotFound, StampInProgress
from apunto_connect.events import Event
from apunto_connect.journal import JournalStore, StampState
from apunto_connect.journal.records import new_owner
from tests.journal.conftest import Clock, StoreFactory

V, A = "facturama", "acct-1"


def event(n: int = 1, kind: str = "invoice.stamped") -> Event:
    return Event(id=f"evt_{uuid.uuid4().hex}", type=kind, provider=V, data={"n": n},
                 created_at=datetime.now(timezone.utc))


# -- claims -----------------------------------------------------------------------------


def test_first_claim_is_fresh_and_holds_the_key(store: JournalStore, clock: Clock):
    claim = store.claim(V, A, "k1", "h1", reference={"serie": "A", "folio": "7"}, lease=30)
    assert claim.fresh and claim.owner
    assert claim.record.state == StampState.CLAIMED
    record = store.get(V, A, "k1")
    assert record is not None
    assert record.lease_owner == claim.owner
    assert record.lease_expires == pytest.approx(clock.now + 30)
    assert record.reference == {"serie": "A", "folio": "7"}
    assert record.attempts == 0 and record.created_at == clock.now


def test_keys_are_per_vendor_and_account(store: JournalStore):
    assert store.claim(V, A, "k", "h").fresh
    assert store.claim(V, "acct-2", "k", "h").fresh
    assert store.claim("alegra", A, "k", "h").fresh


def test_stamped_key_is_returned_without_a_lease(store: JournalStore):
    claim = store.claim(V, A, "k1", "h1")
    store.mark_sent(claim)
    store.mark_stamped(claim, uuid="UUID-1", vendor_id="F-1",
                       result={"uuid": "UUID-1", "total": "116.00", "lines": [1, 2]})
    again = store.claim(V, A, "k1", "h1", wait=0)
    assert again.owner == "" and not again.fresh
    assert again.record.state == StampState.STAMPED
    assert again.record.uuid == "UUID-1" and again.record.vendor_id == "F-1"
    assert again.record.result == {"uuid": "UUID-1", "total": "116.00", "lines": [1, 2]}
    assert again.record.lease_owner is None and again.record.attempts == 1


@pytest.mark.parametrize("state", ["claimed", "sent", "stamped", "unknown"])
def test_same_key_for_another_invoice_is_a_conflict(store: JournalStore, state: str):
    claim = store.claim(V, A, "k1", "h1")
    if state in ("sent", "stamped", "unknown"):
        store.mark_sent(claim)
    if state == "stamped":
        store.mark_stamped(claim, uuid="U", vendor_id=None, result=None)
    if state == "unknown":
        store.mark_unknown(claim, "no answer")
    with pytest.raises(Conflict) as caught:
        store.claim(V, A, "k1", "h2", wait=0)
    assert not isinstance(caught.value, StampInProgress)
    assert "k1" in str(caught.value)


def test_failed_key_may_be_reused_for_another_invoice(store: JournalStore):
    claim = store.claim(V, A, "k1", "h1", reference={"folio": "1"})
    store.mark_sent(claim)
    store.mark_failed(claim, "CFDI40145 rejected")
    failed = store.get(V, A, "k1")
    assert failed is not None and failed.state == StampState.FAILED
    assert failed.error == "CFDI40145 rejected" and failed.lease_owner is None
    reused = store.claim(V, A, "k1", "h2", reference={"folio": "2"}, wait=0)
    assert not reused.fresh and reused.owner
    assert reused.record.payload_hash == "h2" and reused.record.state == StampState.CLAIMED
    assert reused.record.reference == {"folio": "2"}
    same = store.get(V, A, "k1")
    assert same is not None and same.payload_hash == "h2" and same.error is None


def test_failed_key_with_the_same_invoice_is_taken_as_it_was(store: JournalStore):
    claim = store.claim(V, A, "k1", "h1")
    store.mark_failed(claim, "refused")
    again = store.claim(V, A, "k1", "h1", wait=0)
    assert again.owner and not again.fresh and again.record.state == StampState.FAILED


def test_live_lease_refuses_then_lapses(new_store: StoreFactory, clock: Clock):
    worker_a, worker_b = new_store(), new_store()
    first = worker_a.claim(V, A, "k1", "h1", lease=5)
    with pytest.raises(StampInProgress, match="nothing was sent"):
        worker_b.claim(V, A, "k1", "h1", wait=0)
    clock.advance(6)
    taken = worker_b.claim(V, A, "k1", "h1", wait=0)
    assert not taken.fresh and taken.owner != first.owner
    assert taken.record.lease_owner == first.owner  # the record as it was
    assert taken.record.state == StampState.CLAIMED
    held = worker_a.get(V, A, "k1")
    assert held is not None and held.lease_owner == taken.owner


def test_waits_for_the_holder_then_gives_up(new_store: StoreFactory):
    worker_a, worker_b = new_store(), new_store()
    worker_a.claim(V, A, "k1", "h1", lease=600)
    started = time.monotonic()
    with pytest.raises(StampInProgress):
        worker_b.claim(V, A, "k1", "h1", wait=0.4)
    waited = time.monotonic() - started
    assert 0.35 <= waited < 3


def test_waiter_gets_the_key_when_the_holder_finishes(new_store: StoreFactory):
    worker_a, worker_b = new_store(), new_store()
    held = worker_a.claim(V, A, "k1", "h1", lease=600)

    def finish() -> None:
        time.sleep(0.2)
        worker_a.mark_sent(held)
        worker_a.mark_stamped(held, uuid="U-1", vendor_id=None, result={"uuid": "U-1"})

    finisher = threading.Thread(target=finish)
    finisher.start()
    try:
        waited = worker_b.claim(V, A, "k1", "h1", wait=10)
    finally:
        finisher.join(timeout=10)
    assert waited.owner == "" and waited.record.uuid == "U-1"


def test_mark_sent_is_refused_after_a_takeover(new_store: StoreFactory, clock: Clock):
    worker_a, worker_b = new_store(), new_store()
    stale = worker_a.claim(V, A, "k1", "h1", lease=5)
    clock.advance(6)
    current = worker_b.claim(V, A, "k1", "h1", wait=0)
    with pytest.raises(StampInProgress, match="taken over"):
        worker_a.mark_sent(stale)
    worker_b.mark_sent(current)
    record = worker_b.get(V, A, "k1")
    assert record is not None and record.attempts == 1 and record.lease_owner == current.owner


def test_mark_sent_then_restore(store: JournalStore, clock: Clock):
    claim = store.claim(V, A, "k1", "h1", lease=5)
    clock.advance(1)
    store.mark_sent(claim)
    sent = store.get(V, A, "k1")
    assert sent is not None and sent.state == StampState.SENT
    assert sent.attempts == 1 and sent.sent_at == clock.now
    # once sent, the lease outlasts any stamp request (never a takeover mid-request)
    assert sent.lease_expires is not None and sent.lease_expires - clock.now >= 120
    store.restore(claim, StampState.CLAIMED)
    restored = store.get(V, A, "k1")
    assert restored is not None and restored.state == StampState.CLAIMED
    assert restored.attempts == 0 and restored.lease_owner == claim.owner


def test_unknown_outcome_drops_the_lease_and_keeps_the_error(store: JournalStore):
    claim = store.claim(V, A, "k1", "h1")
    store.mark_sent(claim)
    store.mark_unknown(claim, "timeout after 30 s")
    record = store.get(V, A, "k1")
    assert record is not None and record.state == StampState.UNKNOWN
    assert record.error == "timeout after 30 s" and record.lease_owner is None
    retry = store.claim(V, A, "k1", "h1", wait=0)
    assert retry.owner and retry.record.state == StampState.UNKNOWN


def test_release_drops_only_the_own_lease(new_store: StoreFactory, clock: Clock):
    worker_a, worker_b = new_store(), new_store()
    stale = worker_a.claim(V, A, "k1", "h1", lease=5)
    clock.advance(6)
    current = worker_b.claim(V, A, "k1", "h1", wait=0)
    worker_a.release(stale)  # no longer the holder: nothing happens
    record = worker_a.get(V, A, "k1")
    assert record is not None and record.lease_owner == current.owner
    worker_b.release(current)
    record = worker_b.get(V, A, "k1")
    assert record is not None and record.lease_owner is None
    assert record.state == StampState.CLAIMED
    assert worker_a.claim(V, A, "k1", "h1", wait=0).owner


def test_set_reference_merges(store: JournalStore):
    claim = store.claim(V, A, "k1", "h1", reference={"serie": "A"})
    store.set_reference(claim, {"folio": "12"})
    store.set_reference(claim, {"marker": "apunto-k1"})
    record = store.get(V, A, "k1")
    assert record is not None
    assert record.reference == {"serie": "A", "folio": "12", "marker": "apunto-k1"}


def test_mark_sent_stores_the_reference_in_the_same_write(store: JournalStore):
    claim = store.claim(V, A, "k1", "h1", reference={"serie": "A"})
    store.mark_sent(claim, {"folio": "12"})
    record = store.get(V, A, "k1")
    assert record is not None and record.state == StampState.SENT and record.attempts == 1
    assert record.reference == {"serie": "A", "folio": "12"}
    assert record.lease_owner == claim.owner


def test_mark_sent_refuses_a_key_another_worker_took_over(store: JournalStore):
    claim = store.claim(V, A, "k1", "h1", lease=0.0)
    other = store.claim(V, A, "k1", "h1", wait=0)
    assert other.owner != claim.owner
    with pytest.raises(StampInProgress):
        store.mark_sent(claim, {"folio": "12"})
    record = store.get(V, A, "k1")
    assert record is not None and record.state == StampState.CLAIMED
    assert record.reference == {} and record.attempts == 0


def test_resolve_by_hand(store: JournalStore):
    claim = store.claim(V, A, "k1", "h1")
    store.mark_sent(claim)
    store.mark_unknown(claim, "no answer")
    stamped = store.resolve(V, A, "k1", uuid="UUID-9", vendor_id="77", result={"uuid": "UUID-9"})
    assert stamped.state == StampState.STAMPED and stamped.uuid == "UUID-9"
    assert stamped.result == {"uuid": "UUID-9"} and stamped.error is None
    assert store.claim(V, A, "k1", "h1", wait=0).owner == ""
    other = store.claim(V, A, "k2", "h1")
    store.mark_sent(other)
    store.mark_unknown(other, "no answer")
    settled = store.resolve(V, A, "k2", uuid=None)
    assert settled.state == StampState.FAILED
    assert store.claim(V, A, "k2", "h1", wait=0).owner  # the next stamp may send again
    with pytest.raises(NotFound):
        store.resolve(V, A, "missing", uuid="X")


def test_records_in_order_and_filtered(store: JournalStore, clock: Clock):
    for n, vendor in enumerate(["facturama", "alegra", "facturama"]):
        clock.advance(1)
        claim = store.claim(vendor, A, f"k{n}", "h")
        if n == 1:
            store.mark_failed(claim, "refused")
    assert [r.key for r in store.records()] == ["k0", "k1", "k2"]
    assert [r.key for r in store.records(vendor="facturama")] == ["k0", "k2"]
    assert [r.key for r in store.records(state="failed")] == ["k1"]
    assert [r.key for r in store.records(state=StampState.CLAIMED, vendor="alegra")] == []
    assert store.get(V, A, "nope") is None


def test_stamp_and_its_event_are_recorded_together(store: JournalStore):
    claim = store.claim(V, A, "k1", "h1")
    store.mark_sent(claim)
    stamped = event(1)
    store.mark_stamped(claim, uuid="U", vendor_id=None, result=None,
                       outbox=[(stamped, ["https://a.test/h", "https://b.test/h"])])
    rows = store.outbox.list()
    assert sorted(d.endpoint for d in rows) == ["https://a.test/h", "https://b.test/h"]
    assert {d.event_id for d in rows} == {stamped.id}
    assert all(d.status == "pending" and d.event_type == "invoice.stamped" for d in rows)
    # the sender that receives the same event from the bus adds nothing
    assert store.outbox.add(stamped, ["https://a.test/h", "https://b.test/h"], 0) == 0


# -- the outbox -------------------------------------------------------------------------


def test_outbox_add_is_idempotent(store: JournalStore, clock: Clock):
    one = event(1)
    assert store.outbox.add(one, ["https://a.test/h", "https://b.test/h"], clock.now) == 2
    assert store.outbox.add(one, ["https://a.test/h"], clock.now) == 0
    assert store.outbox.add(one, ["https://c.test/h"], clock.now) == 1
    assert len(store.outbox.list()) == 3


def test_claim_due_never_hands_a_delivery_to_two_owners(new_store: StoreFactory, clock: Clock):
    sender_a, sender_b, sender_c = new_store(), new_store(), new_store()
    events = []
    for n in range(5):
        clock.advance(1)
        events.append(event(n))
        sender_a.outbox.add(events[-1], ["https://a.test/h"], clock.now)
    first = sender_a.outbox.claim_due(clock.now, 3, owner="a", lease=30)
    second = sender_b.outbox.claim_due(clock.now, 10, owner="b", lease=30)
    assert [d.event_id for d in first] == [e.id for e in events[:3]]  # oldest first
    assert [d.event_id for d in second] == [e.id for e in events[3:]]
    assert all(d.lease_owner == "a" and d.lease_expires == clock.now + 30 for d in first)
    assert sender_c.outbox.claim_due(clock.now, 10, owner="c", lease=30) == []
    sender_a.outbox.mark_delivered(first[0], clock.now)
    clock.advance(31)  # the leases lapse: what was not delivered is due again
    again = sender_c.outbox.claim_due(clock.now, 10, owner="c", lease=30)
    assert sorted(d.event_id for d in again) == sorted(e.id for e in events[1:])


def test_claim_due_respects_next_attempt(store: JournalStore, clock: Clock):
    store.outbox.add(event(1), ["https://a.test/h"], clock.now + 100)
    assert store.outbox.claim_due(clock.now, owner="a") == []
    assert len(store.outbox.claim_due(clock.now + 100, owner="a")) == 1


def test_failed_attempts_back_off_then_park_and_retry(store: JournalStore, clock: Clock):
    for n in range(2):
        store.outbox.add(event(n), ["https://a.test/h"], clock.now)
    first, second = store.outbox.claim_due(clock.now, owner="a")
    store.outbox.mark_failed_attempt(first, "HTTP 500", clock.now + 60, park=False)
    store.outbox.mark_failed_attempt(second, "HTTP 500", clock.now + 60, park=True)
    pending = store.outbox.list("pending")
    assert [(d.event_id, d.attempts, d.lease_owner) for d in pending] == [
        (first.event_id, 1, None)
    ]
    assert pending[0].last_error == "HTTP 500" and pending[0].next_attempt == clock.now + 60
    assert store.outbox.claim_due(clock.now, owner="b") == []  # backing off
    assert [d.event_id for d in store.outbox.list("failed")] == [second.event_id]
    assert store.outbox.retry("some-other-event") == 0
    assert store.outbox.retry(second.event_id) == 1
    revived = store.outbox.claim_due(clock.now, owner="b")
    assert [(d.event_id, d.attempts) for d in revived] == [(second.event_id, 0)]
    assert store.outbox.retry() == 0


def test_late_failure_report_does_not_undo_a_delivery(new_store: StoreFactory, clock: Clock):
    sender_a, sender_b = new_store(), new_store()
    sender_a.outbox.add(event(1), ["https://a.test/h"], clock.now)
    (slow,) = sender_a.outbox.claim_due(clock.now, owner="a", lease=5)
    clock.advance(6)
    (fast,) = sender_b.outbox.claim_due(clock.now, owner="b", lease=5)
    sender_b.outbox.mark_delivered(fast, clock.now)
    sender_a.outbox.mark_failed_attempt(slow, "timeout", clock.now + 60, park=False)
    (row,) = sender_a.outbox.list()
    assert row.status == "delivered" and row.delivered_at == clock.now


def test_list_filters_by_status(store: JournalStore, clock: Clock):
    store.outbox.add(event(1), ["https://a.test/h"], clock.now)
    clock.advance(1)
    store.outbox.add(event(2), ["https://a.test/h"], clock.now)
    first, _ = store.outbox.claim_due(clock.now, owner="a")
    store.outbox.mark_delivered(first, clock.now)
    assert [d.status for d in store.outbox.list()] == ["delivered", "pending"]
    assert [d.event_id for d in store.outbox.list("delivered")] == [first.event_id]
    body = store.outbox.list()[0].body
    assert '"n":1' in body and first.event_id in body


# -- concurrency ------------------------------------------------------------------------


def test_threads_hammering_one_key_get_exactly_one_fresh_claim(new_store: StoreFactory):
    stores = [new_store() for _ in range(3)]
    results: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def worker(n: int) -> None:
        journal = stores[n % len(stores)]
        start.wait(timeout=10)
        claim = journal.claim(V, A, "hot", "h", lease=60, wait=20)
        if claim.fresh:
            time.sleep(0.05)  # "stamping" while the others pile up
            journal.mark_sent(claim)
            journal.mark_stamped(claim, uuid="ONLY", vendor_id=None, result=None)
            outcome = "fresh"
        else:
            outcome = "stamped" if claim.owner == "" and claim.record.uuid == "ONLY" else "other"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["fresh"] + ["stamped"] * 11


def test_threads_without_waiting_see_one_holder(new_store: StoreFactory):
    stores = [new_store() for _ in range(2)]
    fresh: list[int] = []
    refused: list[int] = []
    start = threading.Barrier(10)

    def worker(n: int) -> None:
        start.wait(timeout=10)
        try:
            claim = stores[n % 2].claim(V, A, "hot", "h", lease=60, wait=0)
        except StampInProgress:
            refused.append(n)
            return
        fresh.append(n) if claim.fresh else refused.append(-n)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(fresh) == 1 and len(refused) == 9 and all(n >= 0 for n in refused)


def test_concurrent_senders_claim_each_delivery_once(new_store: StoreFactory, clock: Clock):
    stores = [new_store() for _ in range(3)]
    for n in range(40):
        stores[0].outbox.add(event(n), ["https://a.test/h"], clock.now)
    claimed: list[str] = []
    lock = threading.Lock()

    def sender(n: int) -> None:
        journal, owner = stores[n % len(stores)], new_owner()
        for _ in range(100):  # bounded
            batch = journal.outbox.claim_due(clock.now, 3, owner=owner, lease=600)
            if not batch:
                return
            with lock:
                claimed.extend(d.event_id for d in batch)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(claimed) == 40 and len(set(claimed)) == 40
