"""Outgoing webhooks: tell other systems (a CRM, the online store) what happened.

:class:`WebhookSender` subscribes to a provider's events and POSTs each one as JSON to every
registered URL, signed with a shared secret. Deliveries go through a durable outbox kept in a
journal store (:mod:`apunto_connect.journal`: a SQLite file by default, or PostgreSQL), so
nothing is lost when a receiver is down or the process restarts:
:meth:`WebhookSender.deliver_pending` resumes them. A sender claims each delivery with a lease
before posting it, so several senders (threads, processes, machines) on one outbox never post
the same delivery at once, and a sender that dies leaves its claims to expire. Each delivery is
retried with exponential backoff and jitter up to ``max_attempts``, then parked as ``failed``
where ``apunto-connect webhooks list|retry`` can see and revive it.

Delivery is at least once: receivers check requests with :func:`verify_signature` and
de-duplicate on the event id. The signature header is::

    Apunto-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">

and ``Apunto-Event-Id`` carries the event id (a delivery may arrive twice if the receiver
answered after our timeout, or its sender died before recording the answer).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ApuntoError, SignatureVerificationError, ValidationError
from .events import Event, EventBus, Subscription
from .journal import DEFAULT_LEASE, JournalStore, OutboxStore, default_journal_path, open_journal
from .journal.records import Delivery, new_owner

__all__ = [
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "Delivery",
    "Outbox",
    "WebhookSender",
    "default_outbox_path",
    "sign",
    "verify_signature",
]

log = logging.getLogger("apunto_connect.webhooks")

SIGNATURE_HEADER = "Apunto-Signature"
EVENT_ID_HEADER = "Apunto-Event-Id"
EVENT_TYPE_HEADER = "Apunto-Event-Type"

def default_outbox_path() -> Path:
    """The default outbox: the journal file in the user's data folder (``platformdirs``).

    The outbox lives next to the stamping journal, so a stamp and its ``invoice.stamped`` event
    are recorded in one transaction. ``APUNTO_JOURNAL`` moves both.
    """
    return default_journal_path()


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The signature header value for ``body``: ``t=<unix time>,v1=<hex hmac>``."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(
    body: bytes | str,
    header: str | None,
    secret: str,
    tolerance: float = 300,
    *,
    now: float | None = None,
) -> int:
    """Check a webhook's signature header; returns its timestamp.

    Several ``v1=`` values are accepted (during a secret rotation); comparison is constant
    time; a timestamp older (or newer) than ``tolerance`` seconds is refused as a replay.

    Raises:
        SignatureVerificationError: missing or malformed header, wrong signature, too old.
    """
    if not header:
        raise SignatureVerificationError(f"missing {SIGNATURE_HEADER} header")
    raw = body.encode() if isinstance(body, str) else body
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureVerificationError("malformed timestamp in signature header") from None
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureVerificationError("signature header needs t= and v1= values")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureVerificationError("signature does not match the body and secret")
    current = time.time() if now is None else now
    if tolerance and abs(current - timestamp) > tolerance:
        raise SignatureVerificationError(
            f"signature timestamp is {abs(current - timestamp):.0f}s away (tolerance {tolerance:.0f}s)"
        )
    return timestamp


OutboxTarget = JournalStore | str | os.PathLike[str] | None
"""Where an outbox lives: a journal store, a SQLite file path, a ``postgresql://`` URL, or
``None`` for ``APUNTO_JOURNAL`` / the default journal file."""


class Outbox:
    """The durable queue of deliveries, kept in a journal store (SQLite or PostgreSQL).

    A thin face over the store's :class:`~apunto_connect.journal.OutboxStore`, for the CLI and
    for code that reads the queue. Opening it checks the store at once.

    Raises:
        JournalUnavailable: the store cannot be opened, is corrupt or stays locked.
    """

    def __init__(self, target: OutboxTarget = None) -> None:
        self.store = open_journal(target)
        self.path: Path | None = getattr(self.store, "path", None)

    def __repr__(self) -> str:
        return f"Outbox({self.store.identity!r})"

    @property
    def _queue(self) -> OutboxStore:
        return self.store.outbox

    def add(self, event: Event, endpoints: Iterable[str], now: float) -> int:
        """Queue ``event`` for each endpoint; one already queued is not queued twice.

        Returns how many deliveries were added (0 when the stamp's own transaction already
        queued the event).
        """
        return self._queue.add(event, endpoints, now)

    def claim_due(
        self, now: float, limit: int = 100, *, owner: str, lease: float = DEFAULT_LEASE
    ) -> list[Delivery]:
        """Claim due deliveries for ``owner`` for ``lease`` seconds (oldest first)."""
        return self._queue.claim_due(now, limit, owner=owner, lease=lease)

    def list(self, status: str | None = None) -> list[Delivery]:
        """Every delivery, or only those with ``status`` (pending, delivered, failed)."""
        return self._queue.list(status)

    def mark_delivered(self, delivery: Delivery, now: float) -> None:
        """Record a successful delivery."""
        self._queue.mark_delivered(delivery, now)

    def mark_failed_attempt(
        self, delivery: Delivery, error: str, next_attempt: float, park: bool
    ) -> None:
        """Record a failed attempt; ``park`` gives up on it (status ``failed``)."""
        self._queue.mark_failed_attempt(delivery, error, next_attempt, park)

    def retry(self, event_id: str | None = None) -> int:
        """Put parked deliveries (all, or one event's) back in the queue; returns how many.

        They become due at once, whatever clock the sender uses.
        """
        return self._queue.retry(event_id)


class WebhookSender:
    """Sends events to HTTP endpoints through a durable, claimed outbox.

    Args:
        endpoints: receiver URLs.
        secret: shared secret for the signature header.
        outbox: where the outbox lives: a journal store, a SQLite file, a ``postgresql://``
            URL; default ``APUNTO_JOURNAL`` or the journal file in the user's data folder.
            Give a provider's journal so its stamps and their events share one transaction.
        outbox_path: the former name of ``outbox`` (a SQLite file).
        max_attempts: attempts per delivery before it is parked as failed.
        initial_backoff, max_backoff: retry waits (exponential with jitter).
        timeout: seconds per POST.
        lease: seconds a claimed delivery stays this sender's (default: the longer of two
            minutes and four POST timeouts); a sender that dies gives it up after that.
        deliver_immediately: try to send as soon as an event arrives (otherwise only queue).
        session: a requests.Session to send with (tests, proxies).
        clock: a time source for due times and signatures (tests).

    Attributes:
        store: the :class:`~apunto_connect.journal.JournalStore` holding the outbox.
        endpoints: the receiver URLs, in order.

    Raises:
        ValidationError: no endpoint, a non-http(s) endpoint, no secret, both ``outbox`` and
            ``outbox_path``.
        JournalUnavailable: the outbox's store cannot be opened, is corrupt or stays locked.
    """

    def __init__(
        self,
        endpoints: Sequence[str],
        secret: str,
        *,
        outbox: OutboxTarget = None,
        outbox_path: str | os.PathLike[str] | None = None,
        max_attempts: int = 8,
        initial_backoff: float = 2.0,
        max_backoff: float = 3600.0,
        timeout: float = 10.0,
        lease: float | None = None,
        deliver_immediately: bool = True,
        session: Any = None,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
    ) -> None:
        if not endpoints:
            raise ValidationError("at least one URL is needed", field="endpoints", code="APUNTO-WEBHOOKS-001")
        for url in endpoints:
            if not url.startswith(("http://", "https://")):
                raise ValidationError(
                    f"not an http(s) URL: {url!r}", field="endpoints", code="APUNTO-WEBHOOKS-002"
                )
        if not secret:
            raise ValidationError("a signing secret is needed", field="secret", code="APUNTO-WEBHOOKS-003")
        if outbox is not None and outbox_path is not None:
            raise ValidationError(
                "give outbox= or its former name outbox_path=, not both",
                field="outbox", code="APUNTO-WEBHOOKS-004",
            )
        if lease is not None and lease <= 0:
            raise ValidationError(
                f"lease must be positive seconds, not {lease!r}", field="lease",
                code="APUNTO-WEBHOOKS-005",
            )
        self.endpoints = list(endpoints)
        self._secret = secret
        # Opened now: a store that cannot be used is an error here, never a lost event later.
        self.outbox = Outbox(outbox if outbox is not None else outbox_path)
        self.store: JournalStore = self.outbox.store
        self.max_attempts = max_attempts
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.lease = float(lease) if lease is not None else max(DEFAULT_LEASE, 4 * timeout)
        self.deliver_immediately = deliver_immediately
        self._clock = clock
        self._random = random.Random(seed)
        self._session = session
        self._transport: Any = None
        self._subscriptions: list[Subscription] = []
        self._deliver_lock = threading.Lock()

    # -- wiring -------------------------------------------------------------------------------

    def attach(self, *buses_or_providers: Any, types: Iterable[str] | None = None) -> None:
        """Subscribe to the event bus of each provider (or bus) given."""
        for item in buses_or_providers:
            bus: EventBus = item if isinstance(item, EventBus) else item.events
            self._subscriptions.append(bus.subscribe(self.enqueue, types))

    def detach(self) -> None:
        """Stop listening to every bus attached."""
        for subscription in self._subscriptions:
            subscription.cancel()
        self._subscriptions.clear()

    def enqueue(self, event: Event) -> None:
        """Queue ``event`` for every endpoint (and try to deliver it now, if configured)."""
        self.outbox.add(event, self.endpoints, self._clock())
        if self.deliver_immediately:
            self.deliver_pending()

    # -- delivery -----------------------------------------------------------------------------

    def _http(self) -> Any:
        if self._transport is None:
            from .http import RetryPolicy, Transport

            # The outbox owns retries (durably); the transport makes exactly one attempt.
            self._transport = Transport(
                "webhooks", "", session=self._session, retry=RetryPolicy(max_retries=0),
                timeout=(min(5.0, self.timeout), self.timeout),
            )
        return self._transport

    def _backoff(self, attempts: int) -> float:
        wait = min(self.max_backoff, self.initial_backoff * 2 ** max(0, attempts - 1))
        return float(wait * (0.5 + self._random.random() / 2))

    def deliver_pending(self, limit: int = 100) -> dict[str, int]:
        """Try every due delivery once (up to ``limit``); returns the counts by outcome.

        The counts are ``delivered``, ``retrying`` and ``failed``.
        Deliveries are claimed a few at a time, each batch small enough to be posted well
        within the lease, so a delivery claimed here is posted by no other sender meanwhile.
        """
        counts = {"delivered": 0, "retrying": 0, "failed": 0}
        owner = new_owner()
        batch = max(1, int(self.lease // (2 * (self.timeout + 1))))
        with self._deliver_lock:
            handled = 0
            while handled < limit:
                claimed = self.outbox.claim_due(
                    self._clock(), min(batch, limit - handled), owner=owner, lease=self.lease
                )
                if not claimed:
                    break
                for delivery in claimed:
                    counts[self._deliver(delivery)] += 1
                handled += len(claimed)
        return counts

    def _deliver(self, delivery: Delivery) -> str:
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, self._secret, int(self._clock())),
            EVENT_ID_HEADER: delivery.event_id,
            EVENT_TYPE_HEADER: delivery.event_type,
        }
        try:
            self._http().request("POST", delivery.endpoint, data=body, headers=headers)
        except ApuntoError as exc:
            attempts = delivery.attempts + 1
            park = attempts >= self.max_attempts
            next_attempt = self._clock() + self._backoff(attempts)
            self.outbox.mark_failed_attempt(delivery, str(exc), next_attempt, park)
            log.info(
                "webhook %s to %s failed (attempt %d/%d): %s",
                delivery.event_id, delivery.endpoint, attempts, self.max_attempts, exc,
            )
            return "failed" if park else "retrying"
        self.outbox.mark_delivered(delivery, self._clock())
        return "delivered"

    def close(self) -> None:
        """Detach from buses and close network resources.

        The store stays open: it may be shared with providers.
        """
        self.detach()
        if self._transport is not None:
            self._transport.close()


def utc_timestamp(value: float) -> str:
    """A unix time as ISO 8601 UTC text (for listings)."""
    return datetime.fromtimestamp(value, timezone.utc).isoformat(timespec="seconds")
