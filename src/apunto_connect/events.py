"""Typed events that providers and :func:`~apunto_connect.archiving.archive` emit.

Every provider has its own :class:`EventBus` (``provider.events``); there is no global bus.
A subscriber that raises never breaks the operation that emitted the event: the error is
logged and counted in ``bus.failures``.

>>> provider.events.subscribe(lambda event: print(event.type, event.data["uuid"]))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import attrs

__all__ = [
    "EVENT_TYPES",
    "Event",
    "EventBus",
    "Subscription",
]

log = logging.getLogger("apunto_connect.events")

INVOICE_STAMPED = "invoice.stamped"
INVOICE_STAMP_FAILED = "invoice.stamp_failed"
INVOICE_CANCELLED = "invoice.cancelled"
TRACKING_CREATED = "tracking.created"
TRACKING_STATUS_CHANGED = "tracking.status_changed"
STORAGE_FILE_ARCHIVED = "storage.file_archived"
PAYMENT_STAMPED = "payment.stamped"
"""A payment receipt (CFDI type P with Pagos 2.0) was stamped."""
CREDIT_NOTE_STAMPED = "credit_note.stamped"
"""A credit note (CFDI type E related to earlier invoices) was stamped."""
INVOICE_PAID = "invoice.paid"
"""An invoice's balance reached 0: a payment receipt settled it, or a PUE invoice was stamped."""
CUSTOMER_CREATED = "customer.created"
"""A provider registered a new customer at the vendor."""

EVENT_TYPES = frozenset(
    {
        INVOICE_STAMPED,
        INVOICE_STAMP_FAILED,
        INVOICE_CANCELLED,
        TRACKING_CREATED,
        TRACKING_STATUS_CHANGED,
        STORAGE_FILE_ARCHIVED,
        PAYMENT_STAMPED,
        CREDIT_NOTE_STAMPED,
        INVOICE_PAID,
        CUSTOMER_CREATED,
    }
)


@attrs.frozen(slots=True)
class Event:
    """Something that happened.

    Attributes:
        id: unique id (receivers de-duplicate on it).
        type: one of :data:`EVENT_TYPES`.
        provider: the vendor involved.
        data: JSON-safe details (the model as plain data).
        created_at: when it happened (UTC).
    """

    id: str
    type: str
    provider: str
    data: Mapping[str, Any]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The event as the JSON object webhooks send."""
        return {
            "id": self.id,
            "type": self.type,
            "provider": self.provider,
            "created_at": self.created_at.isoformat(),
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Event:
        """Rebuild an event from :meth:`to_dict` output."""
        return cls(
            id=str(payload["id"]),
            type=str(payload["type"]),
            provider=str(payload.get("provider", "")),
            data=dict(payload.get("data") or {}),
            created_at=datetime.fromisoformat(str(payload["created_at"])),
        )


Subscriber = Callable[[Event], None]


@attrs.define
class Subscription:
    """A registered subscriber; call :meth:`cancel` to stop receiving events."""

    bus: EventBus
    callback: Subscriber
    types: frozenset[str] | None

    def cancel(self) -> None:
        """Stop delivering events to this subscriber."""
        self.bus._remove(self)


class EventBus:
    """Delivers events to subscribers, synchronously and in subscription order."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._lock = threading.Lock()
        self.failures = 0
        self.emitted = 0

    def subscribe(self, callback: Subscriber, types: Iterable[str] | None = None) -> Subscription:
        """Call ``callback`` for every event (or only for ``types``)."""
        wanted = frozenset(types) if types is not None else None
        if wanted is not None and not wanted <= EVENT_TYPES:
            from .errors import ValidationError

            raise ValidationError(
                f"unknown event types {sorted(wanted - EVENT_TYPES)}; known: {sorted(EVENT_TYPES)}",
                field="types",
                code="APUNTO-EVENTS-001",
            )
        subscription = Subscription(self, callback, wanted)
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def new_event(self, type: str, provider: str, data: Mapping[str, Any]) -> Event:
        """Create an event (with its id) without delivering it yet; see :meth:`publish`."""
        return Event(
            id=f"evt_{uuid.uuid4().hex}",
            type=type,
            provider=provider,
            data=dict(data),
            created_at=datetime.now(timezone.utc),
        )

    def emit(self, type: str, provider: str, data: Mapping[str, Any]) -> Event:
        """Create an event and hand it to every interested subscriber."""
        return self.publish(self.new_event(type, provider, data))

    def publish(self, event: Event) -> Event:
        """Hand an already created event to every interested subscriber."""
        with self._lock:
            targets = [s for s in self._subscriptions if s.types is None or event.type in s.types]
            self.emitted += 1
        for subscription in targets:
            try:
                subscription.callback(event)
            except Exception:
                # A broken subscriber (a CRM that is down) must not undo a stamped invoice.
                with self._lock:
                    self.failures += 1
                log.exception("event subscriber failed for %s %s", event.type, event.id)
        return event

    def outbox_targets(self, type: str) -> list[Any]:
        """The objects behind subscribers to ``type`` that keep a durable outbox.

        A subscriber whose callback is a bound method of an object with ``store`` and
        ``endpoints`` attributes (a :class:`~apunto_connect.webhooks.WebhookSender`) is one:
        a provider queues its events in the same transaction as the change they report.
        """
        with self._lock:
            subscriptions = [s for s in self._subscriptions if s.types is None or type in s.types]
        targets = []
        for subscription in subscriptions:
            owner = getattr(subscription.callback, "__self__", None)
            if owner is not None and hasattr(owner, "store") and hasattr(owner, "endpoints"):
                targets.append(owner)
        return targets

    def __len__(self) -> int:
        return len(self._subscriptions)
