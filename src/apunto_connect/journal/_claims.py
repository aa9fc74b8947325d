"""What taking a key decides, the same in every journal store; the stores only keep the records.

The memory store and the SQL stores differ in how they read and write a record (a dict under a
lock, a row inside a transaction); whether a claim conflicts, finds the key stamped, must wait for
another worker or may take the key over is decided here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import Conflict, StampInProgress
from .records import Claim, JournalRecord, StampState, owner_is_dead

__all__ = [
    "ClaimRequest",
    "check_still_held",
    "existing_claim",
    "fresh_record",
    "held_by_other",
    "in_progress",
    "lease_held_by_other",
    "restart_changes",
]


@attrs.frozen
class ClaimRequest:
    """One caller asking for one key: what every attempt of a claim needs."""

    vendor: str
    account: str
    key: str
    payload_hash: str
    reference: Mapping[str, str]
    owner: str
    lease: float

    def fresh_record(self, now: float) -> JournalRecord:
        """The record of the key claimed for the first time by this request at ``now``."""
        return fresh_record(self.vendor, self.account, self.key, self.payload_hash,
                            self.reference, self.owner, now, self.lease)


def held_by_other(record: JournalRecord, owner: str, now: float) -> bool:
    """Tell whether another worker, still alive, holds an unexpired lease on ``record``."""
    return lease_held_by_other(record.lease_owner, record.lease_expires, owner, now)


def lease_held_by_other(
    lease_owner: str | None, lease_expires: float | None, owner: str, now: float
) -> bool:
    """Tell whether a lease (its owner and expiry) belongs to another live worker at ``now``."""
    if lease_owner is None or lease_owner == owner:
        return False
    if (lease_expires or 0) <= now:
        return False
    return not owner_is_dead(lease_owner)


def fresh_record(
    vendor: str, account: str, key: str, payload_hash: str, reference: Mapping[str, str] | None,
    owner: str, now: float, lease: float,
) -> JournalRecord:
    """The record of a key claimed for the first time: state ``claimed``, held by ``owner``."""
    return JournalRecord(
        vendor=vendor, account=account, key=key, payload_hash=payload_hash,
        reference=dict(reference or {}), lease_owner=owner, lease_expires=now + lease,
        created_at=now, updated_at=now,
    )


def existing_claim(
    record: JournalRecord, payload_hash: str, owner: str, now: float
) -> Claim | str | None:
    """What claiming a key that already has ``record`` means for ``owner``.

    Returns:
        A :class:`Claim` holding no lease when the key is stamped; the holder's name while
        another live worker holds the lease (wait, then ask again); ``None`` when ``owner``
        takes the key over (with :func:`restart_changes` when a failed key is reused).

    Raises:
        Conflict: the key was used for a different invoice whose stamping did not fail.
    """
    if record.payload_hash != payload_hash and record.state != StampState.FAILED:
        raise Conflict(
            f"idempotency key {record.key!r} was used for a different invoice "
            f"(state {record.state.value})",
            provider=record.vendor,
        )
    if record.state == StampState.STAMPED:
        return Claim(record=record, owner="", fresh=False)
    if held_by_other(record, owner, now):
        return record.lease_owner or "another worker"
    return None


def restart_changes(
    record: JournalRecord, payload_hash: str, reference: Mapping[str, str] | None
) -> dict[str, Any]:
    """The fields that start a failed key over for a different invoice; none for the same one."""
    if record.payload_hash == payload_hash:
        return {}
    return {
        "payload_hash": payload_hash, "state": StampState.CLAIMED,
        "reference": dict(reference or {}), "error": None,
    }


def in_progress(key: str, holder: str, vendor: str) -> StampInProgress:
    """The error for a key another worker is still stamping, after waiting for it."""
    return StampInProgress(
        f"idempotency key {key!r} is being stamped by another worker ({holder}); "
        "nothing was sent",
        provider=vendor,
    )


def check_still_held(
    claim: Claim, lease_owner: str | None, lease_expires: float | None, now: float
) -> None:
    """Refuse to send for ``claim`` once another live worker has taken its key over.

    ``lease_owner`` and ``lease_expires`` are the key's lease as the store holds it now.

    Raises:
        StampInProgress: the lease lapsed and another worker holds the key now.
    """
    if lease_held_by_other(lease_owner, lease_expires, claim.owner, now):
        raise StampInProgress(
            f"idempotency key {claim.key!r} was taken over by another worker "
            f"({lease_owner}); nothing was sent",
            provider=claim.vendor,
        )
