"""Outgoing webhooks: tell other systems (a CRM, the online store) what happened.

:class:`WebhookSender` subscribes to a provider's events and POSTs each one as JSON to every
registered URL, signed with a shared secret. Deliveries go through a durable outbox (SQLite) so
nothing is lost when a receiver is down or the process restarts: :meth:`WebhookSender.deliver_pending`
resumes them. Each delivery is retried with exponential backoff and jitter up to
``max_attempts``, then parked as ``failed`` where ``apunto-connect webhooks list|retry`` can see
and revive it.

Receivers check requests with :func:`verify_signature`. The signature header is::

    Apunto-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">

and ``Apunto-Event-Id`` carries the event id for de-duplication (a delivery may arrive twice
if the receiver answered after our timeout).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from .errors import ApuntoError, SignatureVerificationError, ValidationError
from .events import Event, EventBus, Subscription

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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    event_id     TEXT NOT NULL,
    endpoint     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    body         TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_error   TEXT,
    created_at   REAL NOT NULL,
    delivered_at REAL,
    PRIMARY KEY (event_id, endpoint)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt);
"""


def default_outbox_path() -> Path:
    """The outbox file in the user's data folder (``platformdirs``)."""
    from platformdirs import user_data_path

    return user_data_path("apunto-connect", appauthor=False) / "webhooks-outbox.sqlite3"


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


class Outbox:
    """The durable queue of deliveries (SQLite; safe across threads and processes)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def add(self, event: Event, endpoints: Iterable[str], now: float) -> int:
        """Queue ``event`` for each endpoint; an event already queued is not queued twice."""
        body = json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":"), default=str)
        rows = [(event.id, url, event.type, body, now, now) for url in endpoints]
        with self._lock, self._connect() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO deliveries "
                "(event_id, endpoint, event_type, body, next_attempt, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            return db.total_changes - before

    def due(self, now: float, limit: int = 100) -> list[Delivery]:
        """Pending deliveries whose next attempt time has come, oldest first."""
        with self._connect() as db:
            cursor = db.execute(
                "SELECT event_id, endpoint, event_type, status, attempts, next_attempt, "
                "last_error, created_at, delivered_at, body FROM deliveries "
                "WHERE status = 'pending' AND next_attempt <= ? "
                "ORDER BY created_at, event_id LIMIT ?",
                (now, limit),
            )
            return [Delivery(*row) for row in cursor.fetchall()]

    def list(self, status: str | None = None) -> list[Delivery]:
        """Every delivery, or only those with ``status`` (pending, delivered, failed)."""
        query = (
            "SELECT event_id, endpoint, event_type, status, attempts, next_attempt, "
            "last_error, created_at, delivered_at, body FROM deliveries"
        )
        params: tuple[Any, ...] = ()
        if status:
            query += " WHERE status = ?"
            params = (status,)
        with self._connect() as db:
            return [Delivery(*row) for row in db.execute(query + " ORDER BY created_at", params)]

    def mark_delivered(self, delivery: Delivery, now: float) -> None:
        """Record a successful delivery."""
        with self._lock, self._connect() as db:
            db.execute(
                "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, "
                "delivered_at = ?, last_error = NULL WHERE event_id = ? AND endpoint = ?",
                (now, delivery.event_id, delivery.endpoint),
            )

    def mark_failed_attempt(
        self, delivery: Delivery, error: str, next_attempt: float, park: bool
    ) -> None:
        """Record a failed attempt; ``park`` gives up on it (status ``failed``)."""
        with self._lock, self._connect() as db:
            db.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_attempt = ?, "
                "status = ? WHERE event_id = ? AND endpoint = ?",
                (error[:500], next_attempt, "failed" if park else "pending",
                 delivery.event_id, delivery.endpoint),
            )

    def retry(self, event_id: str | None = None) -> int:
        """Put parked deliveries (all, or one event's) back in the queue; returns how many.

        They become due at once, whatever clock the sender uses.
        """
        when = 0.0
        with self._lock, self._connect() as db:
            if event_id:
                cursor = db.execute(
                    "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt = ? "
                    "WHERE status = 'failed' AND event_id = ?",
                    (when, event_id),
                )
            else:
                cursor = db.execute(
                    "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt = ? "
                    "WHERE status = 'failed'",
                    (when,),
                )
            return cursor.rowcount


class WebhookSender:
    """Sends events to HTTP endpoints through a durable outbox.

    Args:
        endpoints: receiver URLs.
        secret: shared secret for the signature header.
        outbox_path: SQLite file (default: the user's data folder).
        max_attempts: attempts per delivery before it is parked as failed.
        initial_backoff, max_backoff: retry waits (exponential with jitter).
        timeout: seconds per POST.
        deliver_immediately: try to send as soon as an event arrives (otherwise only queue).
        session: a requests.Session to send with (tests, proxies).
        clock: a time source (tests).
    """

    def __init__(
        self,
        endpoints: Sequence[str],
        secret: str,
        *,
        outbox_path: str | os.PathLike[str] | None = None,
        max_attempts: int = 8,
        initial_backoff: float = 2.0,
        max_backoff: float = 3600.0,
        timeout: float = 10.0,
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
        self.endpoints = list(endpoints)
        self._secret = secret
        self.outbox = Outbox(outbox_path or default_outbox_path())
        self.max_attempts = max_attempts
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
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
        """Try every due delivery once; returns counts of delivered, retrying and failed."""
        counts = {"delivered": 0, "retrying": 0, "failed": 0}
        with self._deliver_lock:
            for delivery in self.outbox.due(self._clock(), limit):
                outcome = self._deliver(delivery)
                counts[outcome] += 1
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
        """Detach from buses and close network resources."""
        self.detach()
        if self._transport is not None:
            self._transport.close()


def utc_timestamp(value: float) -> str:
    """A unix time as ISO 8601 UTC text (for listings)."""
    return datetime.fromtimestamp(value, timezone.utc).isoformat(timespec="seconds")
