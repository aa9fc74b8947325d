"""The contract every journal store keeps (SQLite, PostgreSQL, memory).

One store holds two things that must agree: the **stamping journal** (one record per
idempotency key, see :class:`~apunto_connect.journal.records.JournalRecord`) and the **webhook
outbox** (one row per event and endpoint). Recording a stamp and queueing its event happen in
one transaction (:meth:`JournalStore.mark_stamped` with ``outbox=``), so an event is never lost
for a stamped CFDI and never sent for one that was not.

Claims are leases: the owner holds a key (or a delivery) until it releases it or the lease
lapses. A lease held by a process of this host that has died lapses at once.
"""

from __future__ import annotations

import abc
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..events import Event
from ._claims import ClaimRequest, in_progress
from .records import Claim, Delivery, JournalRecord, StampState, new_owner

__all__ = ["DEFAULT_LEASE", "DEFAULT_WAIT", "JournalStore", "OutboxItem", "OutboxStore"]

DEFAULT_LEASE = 120.0
"""Seconds a claim lasts unless renewed: longer than the slowest stamp the transport allows."""

DEFAULT_WAIT = 60.0
"""Seconds :meth:`JournalStore.claim` waits for another worker that holds the same key."""

_POLL_FIRST = 0.01
_POLL_MAX = 0.25
"""First and longest pause between claim attempts while another worker holds the key."""

OutboxItem = tuple[Event, Sequence[str]]
"""An event and the endpoints it goes to."""


def event_body(event: Event) -> str:
    """The JSON posted for ``event`` (kept verbatim in the outbox)."""
    return json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":"), default=str)


class OutboxStore(abc.ABC):
    """The durable queue of webhook deliveries, claimed before they are posted."""

    @abc.abstractmethod
    def add(self, event: Event, endpoints: Iterable[str], now: float) -> int:
        """Queue ``event`` for each endpoint; returns how many rows were added.

        An (event, endpoint) already queued is not queued again.
        """

    @abc.abstractmethod
    def claim_due(
        self, now: float, limit: int = 100, *, owner: str, lease: float = DEFAULT_LEASE
    ) -> list[Delivery]:
        """Claim up to ``limit`` pending deliveries due at ``now`` (oldest first) for ``owner``.

        A delivery claimed by another owner whose lease has not lapsed (and who is not a dead
        process of this host) is skipped, so several senders never post the same event at
        once. The claim and the read are one transaction. Leases use the store's clock, due
        times the caller's ``now``.
        """

    @abc.abstractmethod
    def mark_delivered(self, delivery: Delivery, now: float) -> None:
        """Record a successful delivery (and drop its claim)."""

    @abc.abstractmethod
    def mark_failed_attempt(
        self, delivery: Delivery, error: str, next_attempt: float, park: bool
    ) -> None:
        """Record a failed attempt and drop the claim; ``park`` gives up (status ``failed``).

        Ignored when the delivery is no longer pending or another owner claims it now: a late
        report must not undo what a sender did after this one's lease lapsed.
        """

    @abc.abstractmethod
    def retry(self, event_id: str | None = None) -> int:
        """Put parked deliveries (all, or one event's) back in the queue, due at once."""

    @abc.abstractmethod
    def list(self, status: str | None = None) -> list[Delivery]:
        """Every delivery, or only those with ``status``, oldest first."""


class JournalStore(abc.ABC):
    """A stamping journal plus its outbox, in one store.

    Args of the claim-taking methods use ``clock`` (unix seconds) so tests can move time.
    """

    clock: Callable[[], float] = time.time

    @property
    @abc.abstractmethod
    def identity(self) -> str:
        """What the store is, for humans and for telling two handles on one store apart.

        ``sqlite:/abs/path``, ``postgresql://user@host:port/db``, ``memory:<id>``; never a secret.
        """

    @property
    @abc.abstractmethod
    def outbox(self) -> OutboxStore:
        """The webhook outbox kept in this store."""

    def claim(
        self,
        vendor: str,
        account: str,
        key: str,
        payload_hash: str,
        *,
        reference: Mapping[str, str] | None = None,
        lease: float = DEFAULT_LEASE,
        wait: float = DEFAULT_WAIT,
    ) -> Claim:
        """Take the key for this caller.

        - No record: one is created (state ``claimed``, ``reference`` stored) and held.
        - A record with another ``payload_hash``: :class:`~apunto_connect.errors.Conflict`,
          unless its state is ``failed`` (nothing was stamped), when the new payload replaces it.
        - State ``stamped``: returned at once, no lease taken (``claim.owner == ""``).
        - Held by another owner whose lease has not lapsed (and who is not a dead process of
          this host): wait, polling, up to ``wait`` seconds, then
          :class:`~apunto_connect.errors.StampInProgress`.
        - Otherwise the lease is taken over; ``claim.record`` shows the state as it was.
        """
        request = ClaimRequest(vendor, account, key, payload_hash, dict(reference or {}),
                               new_owner(), lease)
        deadline = time.monotonic() + wait
        pause = _POLL_FIRST
        while True:
            outcome = self._try_claim(request)
            if isinstance(outcome, Claim):
                return outcome
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise in_progress(key, outcome, vendor)
            self._wait_for_release(min(pause, remaining))
            pause = min(pause * 2, _POLL_MAX)

    @abc.abstractmethod
    def _try_claim(self, request: ClaimRequest) -> Claim | str:
        """One attempt at :meth:`claim`: the :class:`Claim`, or who holds the key now.

        Decided by :func:`~apunto_connect.journal._claims.existing_claim` on the stored record,
        read and written in one transaction (no lock held between attempts).
        """

    def _wait_for_release(self, seconds: float) -> None:
        """Pause between claim attempts while another worker holds the key."""
        time.sleep(seconds)

    @abc.abstractmethod
    def set_reference(self, claim: Claim, reference: Mapping[str, str]) -> None:
        """Store (merge) what finds the document again at the vendor."""

    @abc.abstractmethod
    def mark_sent(self, claim: Claim, reference: Mapping[str, str] | None = None) -> None:
        """Record that a stamp request is about to leave.

        State ``sent``, ``attempts`` + 1, ``sent_at`` now, lease renewed (to at least
        :data:`DEFAULT_LEASE`, so nobody takes the key over while the request is in flight).
        ``reference``, when given, is merged into the stored one in the same transaction (as
        :meth:`set_reference` would, one commit fewer). Refuses (``StampInProgress``) when the
        lease now belongs to another owner.
        """

    @abc.abstractmethod
    def restore(self, claim: Claim, state: StampState) -> None:
        """Put the state back (the request provably never left, e.g. a refused connection)."""

    def mark_stamped(
        self,
        claim: Claim,
        *,
        uuid: str | None,
        vendor_id: str | None,
        result: Mapping[str, Any] | None,
        outbox: Sequence[OutboxItem] = (),
    ) -> None:
        """Record the CFDI and queue ``outbox`` events in the same transaction; drops the lease.

        Always written, even when the lease was lost: it is the truth about the vendor.
        """
        self._settle(claim, {
            "state": StampState.STAMPED, "uuid": uuid, "vendor_id": vendor_id,
            "result": dict(result) if result is not None else None, "error": None,
        }, outbox)

    def mark_failed(self, claim: Claim, error: str) -> None:
        """The vendor refused for good (nothing was stamped): state ``failed``; drops the lease."""
        self._settle(claim, {"state": StampState.FAILED, "error": error[:2000]})

    def mark_unknown(self, claim: Claim, error: str) -> None:
        """Sent, no answer, not found: state ``unknown``; drops the lease."""
        self._settle(claim, {"state": StampState.UNKNOWN, "error": error[:2000]})

    @abc.abstractmethod
    def _settle(
        self, claim: Claim, changes: Mapping[str, Any], outbox: Sequence[OutboxItem] = ()
    ) -> None:
        """Write an outcome's ``changes``, drop the lease and queue ``outbox``, in one transaction.

        Raises NotFound when the key is not in the journal.
        """

    @abc.abstractmethod
    def release(self, claim: Claim) -> None:
        """Drop the lease, state unchanged (a claim whose owner no longer holds it: no-op)."""

    def resolve(
        self,
        vendor: str,
        account: str,
        key: str,
        *,
        uuid: str | None,
        vendor_id: str | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> JournalRecord:
        """Settle a key by hand after checking at the vendor.

        With ``uuid`` it becomes ``stamped``; with ``uuid=None`` it becomes ``failed`` (the next
        stamp sends again).

        Raises NotFound when the key is not in the journal.
        """
        settled: dict[str, Any] = {"lease_owner": None, "lease_expires": None}
        if uuid:
            settled.update(state=StampState.STAMPED, uuid=uuid, vendor_id=vendor_id,
                           result=dict(result) if result is not None else None, error=None)
        else:
            settled.update(state=StampState.FAILED, error="resolved: not stamped")
        return self._settle_by_hand(vendor, account, key, settled)

    @abc.abstractmethod
    def _settle_by_hand(
        self, vendor: str, account: str, key: str, changes: Mapping[str, Any]
    ) -> JournalRecord:
        """Write :meth:`resolve`'s ``changes`` durably; the record after them.

        Raises NotFound when the key is not in the journal.
        """

    @abc.abstractmethod
    def get(self, vendor: str, account: str, key: str) -> JournalRecord | None:
        """The key's record, or ``None``."""

    @abc.abstractmethod
    def records(
        self, *, vendor: str | None = None, state: StampState | str | None = None
    ) -> list[JournalRecord]:
        """Records, oldest first, optionally only one vendor's or one state's."""

    def close(self) -> None:  # noqa: B027 - a store without connections has nothing to do
        """Release connections. Safe to call twice."""

    def __enter__(self) -> JournalStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
