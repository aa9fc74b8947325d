"""A journal kept in this process's memory: for tests, and for users who opt out explicitly.

It keeps the same contract as the durable stores (claims, leases, conflicts, the outbox in
the same "transaction"), but nothing survives the process and other processes cannot see it.
"""

from __future__ import annotations

import threading
import time
import uuid as uuid_module
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..errors import NotFound
from ..events import Event
from ._claims import ClaimRequest, check_still_held, existing_claim, restart_changes
from .base import DEFAULT_LEASE, JournalStore, OutboxItem, OutboxStore, event_body
from .records import Claim, Delivery, DeliveryStatus, JournalRecord, StampState, owner_is_dead

__all__ = ["MemoryJournal"]

class _MemoryOutbox(OutboxStore):
    def __init__(self, lock: threading.Condition, clock: Callable[[], float]) -> None:
        self._lock = lock
        self._clock = clock
        self._rows: dict[tuple[str, str], Delivery] = {}

    def _add_locked(self, event: Event, endpoints: Iterable[str], now: float) -> int:
        body = event_body(event)
        added = 0
        for url in endpoints:
            if (event.id, url) in self._rows:
                continue
            self._rows[(event.id, url)] = Delivery(
                event_id=event.id, endpoint=url, event_type=event.type,
                status=DeliveryStatus.PENDING.value, attempts=0, next_attempt=now,
                last_error=None, created_at=now, delivered_at=None, body=body,
            )
            added += 1
        return added

    def add(self, event: Event, endpoints: Iterable[str], now: float) -> int:
        with self._lock:
            return self._add_locked(event, endpoints, now)

    def claim_due(
        self, now: float, limit: int = 100, *, owner: str, lease: float = DEFAULT_LEASE
    ) -> list[Delivery]:
        wall = self._clock()
        with self._lock:
            due = sorted(
                (
                    row
                    for row in self._rows.values()
                    if row.status == DeliveryStatus.PENDING.value
                    and row.next_attempt <= now
                    and (
                        row.lease_owner is None
                        or (row.lease_expires or 0) <= wall
                        or owner_is_dead(row.lease_owner)
                    )
                ),
                key=lambda row: (row.created_at, row.event_id),
            )[:limit]
            claimed = []
            for row in due:
                taken = attrs.evolve(row, lease_owner=owner, lease_expires=wall + lease)
                self._rows[(row.event_id, row.endpoint)] = taken
                claimed.append(taken)
            return claimed

    def mark_delivered(self, delivery: Delivery, now: float) -> None:
        with self._lock:
            row = self._rows[(delivery.event_id, delivery.endpoint)]
            self._rows[(row.event_id, row.endpoint)] = attrs.evolve(
                row, status=DeliveryStatus.DELIVERED.value, attempts=row.attempts + 1,
                delivered_at=now, last_error=None, lease_owner=None, lease_expires=None,
            )

    def mark_failed_attempt(
        self, delivery: Delivery, error: str, next_attempt: float, park: bool
    ) -> None:
        with self._lock:
            row = self._rows[(delivery.event_id, delivery.endpoint)]
            # A late failure report must not undo a delivery another sender made after our
            # lease lapsed, nor touch a claim that is someone else's now.
            if row.status != DeliveryStatus.PENDING.value or row.lease_owner not in (
                None, delivery.lease_owner
            ):
                return
            status = DeliveryStatus.FAILED if park else DeliveryStatus.PENDING
            self._rows[(row.event_id, row.endpoint)] = attrs.evolve(
                row, status=status.value, attempts=row.attempts + 1, last_error=error[:500],
                next_attempt=next_attempt, lease_owner=None, lease_expires=None,
            )

    def retry(self, event_id: str | None = None) -> int:
        count = 0
        with self._lock:
            for ident, row in list(self._rows.items()):
                if row.status != DeliveryStatus.FAILED.value:
                    continue
                if event_id and row.event_id != event_id:
                    continue
                self._rows[ident] = attrs.evolve(
                    row, status=DeliveryStatus.PENDING.value, attempts=0, next_attempt=0.0,
                    lease_owner=None, lease_expires=None,
                )
                count += 1
        return count

    def list(self, status: str | None = None) -> list[Delivery]:
        with self._lock:
            rows = [r for r in self._rows.values() if not status or r.status == status]
        return sorted(rows, key=lambda row: (row.created_at, row.event_id))


class MemoryJournal(JournalStore):
    """The journal contract in process memory (thread-safe; lost when the process ends)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Condition()
        self._records: dict[tuple[str, str, str], JournalRecord] = {}
        self._outbox = _MemoryOutbox(self._lock, clock)
        self._identity = f"memory:{uuid_module.uuid4().hex[:8]}"

    def __repr__(self) -> str:
        return f"MemoryJournal({self._identity!r}, records={len(self._records)})"

    @property
    def identity(self) -> str:
        """What the store is (``memory:<id>``)."""
        return self._identity

    @property
    def outbox(self) -> OutboxStore:
        """The webhook outbox kept in this store."""
        return self._outbox

    def _try_claim(self, request: ClaimRequest) -> Claim | str:
        ident = (request.vendor, request.account, request.key)
        with self._lock:
            now = self.clock()
            record = self._records.get(ident)
            if record is None:
                fresh = self._records[ident] = request.fresh_record(now)
                return Claim(record=fresh, owner=request.owner, fresh=True)
            decided = existing_claim(record, request.payload_hash, request.owner, now)
            if decided is not None:
                return decided
            changes: dict[str, Any] = {
                "lease_owner": request.owner, "lease_expires": now + request.lease,
                "updated_at": now,
                **restart_changes(record, request.payload_hash, request.reference),
            }
            taken = attrs.evolve(record, **changes)
            self._records[ident] = taken
            return Claim(record=record if not changes.get("payload_hash") else taken,
                         owner=request.owner, fresh=False)

    def _wait_for_release(self, seconds: float) -> None:
        # Woken early when a record changes (a release, a stamp) instead of sleeping it out.
        with self._lock:
            self._lock.wait(seconds)

    def _update(self, claim: Claim, **changes: Any) -> JournalRecord:
        ident = (claim.vendor, claim.account, claim.key)
        record = self._records.get(ident)
        if record is None:
            raise NotFound(f"idempotency key {claim.key!r} is not in the journal",
                           provider=claim.vendor)
        updated = attrs.evolve(record, updated_at=self.clock(), **changes)
        self._records[ident] = updated
        self._lock.notify_all()
        return updated

    def _check_owner(self, claim: Claim) -> None:
        record = self._records.get((claim.vendor, claim.account, claim.key))
        if record is not None:
            check_still_held(claim, record.lease_owner, record.lease_expires, self.clock())

    def set_reference(self, claim: Claim, reference: Mapping[str, str]) -> None:
        """Store (merge) what finds the document again at the vendor."""
        with self._lock:
            current = self._records[(claim.vendor, claim.account, claim.key)]
            self._update(claim, reference={**current.reference, **reference})

    def mark_sent(self, claim: Claim, reference: Mapping[str, str] | None = None) -> None:
        """Record that a stamp request is about to leave (see :meth:`JournalStore.mark_sent`)."""
        with self._lock:
            self._check_owner(claim)
            current = self._records[(claim.vendor, claim.account, claim.key)]
            now = self.clock()
            lease = (current.lease_expires or now) - (current.updated_at or now)
            merged = {**current.reference, **reference} if reference else current.reference
            self._update(
                claim, state=StampState.SENT, attempts=current.attempts + 1, sent_at=now,
                lease_owner=claim.owner, lease_expires=now + max(lease, DEFAULT_LEASE),
                reference=merged,
            )

    def restore(self, claim: Claim, state: StampState) -> None:
        """Put the state back (the request provably never left)."""
        with self._lock:
            current = self._records[(claim.vendor, claim.account, claim.key)]
            self._update(claim, state=StampState(state), attempts=max(0, current.attempts - 1))

    def _settle(
        self, claim: Claim, changes: Mapping[str, Any], outbox: Sequence[OutboxItem] = ()
    ) -> None:
        with self._lock:
            self._update(claim, **changes, lease_owner=None, lease_expires=None)
            now = self.clock()
            for event, endpoints in outbox:
                self._outbox._add_locked(event, endpoints, now)

    def release(self, claim: Claim) -> None:
        """Drop the lease, state unchanged (no-op for a claim no longer held)."""
        if not claim.owner:
            return
        with self._lock:
            record = self._records.get((claim.vendor, claim.account, claim.key))
            if record is not None and record.lease_owner == claim.owner:
                self._update(claim, lease_owner=None, lease_expires=None)

    def _settle_by_hand(
        self, vendor: str, account: str, key: str, changes: Mapping[str, Any]
    ) -> JournalRecord:
        with self._lock:
            record = self._records.get((vendor, account, key))
            if record is None:
                raise NotFound(f"idempotency key {key!r} is not in the journal", provider=vendor)
            return self._update(Claim(record=record, owner="", fresh=False), **changes)

    def get(self, vendor: str, account: str, key: str) -> JournalRecord | None:
        """The key's record, or ``None``."""
        with self._lock:
            return self._records.get((vendor, account, key))

    def records(
        self, *, vendor: str | None = None, state: StampState | str | None = None
    ) -> list[JournalRecord]:
        """Records, oldest first, optionally only one vendor's or one state's."""
        wanted = StampState(state) if state is not None else None
        with self._lock:
            rows = [
                r for r in self._records.values()
                if (vendor is None or r.vendor == vendor) and (wanted is None or r.state == wanted)
            ]
        return sorted(rows, key=lambda r: (r.created_at, r.key))
