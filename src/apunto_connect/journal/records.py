"""What the stamping journal and the webhook outbox hold: plain, frozen records."""

from __future__ import annotations

import enum
import os
import socket
import threading
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "Claim",
    "Delivery",
    "DeliveryStatus",
    "JournalRecord",
    "StampState",
    "new_owner",
]


class StampState(str, enum.Enum):
    """Where one idempotency key stands.

    ``claimed`` → ``sent`` → ``stamped`` | ``failed`` | ``unknown``. ``claimed`` means nothing
    left this machine for the key yet; ``sent`` means a stamp request may have reached the
    vendor; ``unknown`` means it was sent, no answer came, and the vendor could not tell
    (yet) whether the CFDI exists.
    """

    CLAIMED = "claimed"
    SENT = "sent"
    STAMPED = "stamped"
    FAILED = "failed"
    UNKNOWN = "unknown"


class DeliveryStatus(str, enum.Enum):
    """Where one webhook delivery stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@attrs.frozen(slots=True)
class JournalRecord:
    """One idempotency key at one vendor account, as the journal holds it.

    Attributes:
        vendor: provider name (``facturama``).
        account: the vendor account (user name, API key fingerprint): keys are per account.
        key: the caller's idempotency key.
        payload_hash: SHA-256 of the invoice's canonical form; the same key with another
            invoice is a :class:`~apunto_connect.errors.Conflict`.
        reference: what finds the document again at the vendor (serie+folio, a marker, a
            draft id), as plain strings.
        state: see :class:`StampState`.
        uuid: the CFDI's folio fiscal once stamped.
        vendor_id: the vendor's own id once stamped.
        result: the stamped invoice as plain data (``to_dict``), so a repeat returns it without
            a call.
        error: the last error text (``failed`` / ``unknown``).
        attempts: how many times a stamp request was sent for the key.
        lease_owner: who holds the key now (``host:pid:token``), or ``None``.
        lease_expires: when that claim lapses (unix time).
        created_at, updated_at: unix times.
        sent_at: when the last stamp request was sent (unix time), or ``None``.
    """

    vendor: str
    account: str
    key: str
    payload_hash: str
    reference: Mapping[str, str] = attrs.field(factory=dict)
    state: StampState = StampState.CLAIMED
    uuid: str | None = None
    vendor_id: str | None = None
    result: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    error: str | None = None
    attempts: int = 0
    lease_owner: str | None = None
    lease_expires: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    sent_at: float | None = None


@attrs.frozen(slots=True)
class Claim:
    """The right to act on one key, held until :meth:`JournalStore.release` or the lease lapses.

    ``record`` is the key's record as it was when the claim was taken: its ``state`` tells the
    stamping path what happened before (``claimed`` and a fresh record: nothing yet; ``sent`` or
    ``unknown``: an earlier attempt may have stamped; ``stamped``: done, no lease is held).
    """

    record: JournalRecord
    owner: str
    fresh: bool

    @property
    def vendor(self) -> str:
        """The vendor of the key."""
        return self.record.vendor

    @property
    def account(self) -> str:
        """The vendor account of the key."""
        return self.record.account

    @property
    def key(self) -> str:
        """The idempotency key."""
        return self.record.key


@attrs.frozen(slots=True)
class Delivery:
    """One event for one endpoint, as the outbox holds it."""

    event_id: str
    endpoint: str
    event_type: str
    status: str
    attempts: int
    next_attempt: float
    last_error: str | None
    created_at: float
    delivered_at: float | None
    body: str = attrs.field(repr=False)
    lease_owner: str | None = None
    lease_expires: float | None = None


_HOST = socket.gethostname()


def new_owner() -> str:
    """A unique claim owner: ``host:pid:thread:random`` (dead local owners are detectable)."""
    return f"{_HOST}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:12]}"


def owner_is_dead(owner: str | None) -> bool:
    """Tell whether ``owner`` was a process of this host that no longer runs.

    Owners on other hosts (or unreadable ones) are never declared dead here: their leases
    expire by time instead.
    """
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    # A killed child that its parent has not reaped yet still answers kill(0).
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
