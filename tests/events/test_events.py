from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from apunto_connect.errors import StampRejected, ValidationError
from apunto_connect.events import Event, EventBus
from apunto_connect.invoicing.base import InvoiceProvider, StampAttempt
from apunto_connect.models import (
    Cancellation,
    CancelMotive,
    Capability,
    Customer,
    Invoice,
    LineItem,
    StampedInvoice,
    Tax,
)

INVOICE = Invoice(
    customer=Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015"),
    items=[LineItem("78101802", "E48", "Flete", 1, "100", taxes=[Tax.iva()])],
    series="F",
    folio="7",
)


class ToyProvider(InvoiceProvider):
    name = "toy"
    capabilities = frozenset({Capability.STAMP, Capability.CANCEL})

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def _send_stamp(self, attempt: StampAttempt, prepared: Any) -> StampedInvoice:
        if self.fail:
            raise StampRejected("CFDI40145 nombre no coincide", provider="toy", sat_code="CFDI40145")
        return StampedInvoice("toy", "1", "UUID-1", total=attempt.invoice.total,
                              raw={"big": "x" * 100})

    def get(self, ref: str) -> StampedInvoice:
        return StampedInvoice("toy", ref, "UUID-1")

    def download(self, ref: str, fmt: Any) -> bytes:
        return b""

    def _cancel(self, ref: str, motive: CancelMotive, replacement_uuid: str | None) -> Cancellation:
        return Cancellation("toy", ref, motive, "cancelled", uuid="UUID-1")

    def list(self, **filters: Any) -> Iterator[StampedInvoice]:
        return iter(())


class ToySubclass(ToyProvider):
    def stamp(
        self, invoice: Invoice, *, idempotency_key: str | None = None, resend: bool = False
    ) -> StampedInvoice:
        return super().stamp(invoice, idempotency_key=idempotency_key, resend=resend)


def collect(provider: InvoiceProvider) -> list[Event]:
    seen: list[Event] = []
    provider.events.subscribe(seen.append)
    return seen


def test_successful_stamp_emits_invoice_stamped_without_raw_payload():
    provider = ToyProvider()
    seen = collect(provider)
    provider.stamp(INVOICE)
    # A PUE invoice is paid as it is stamped: invoice.paid follows invoice.stamped.
    assert [e.type for e in seen] == ["invoice.stamped", "invoice.paid"]
    assert seen[1].data["uuid"] == "UUID-1" and seen[1].data["amount_paid"] == "116.00"
    assert seen[0].data["uuid"] == "UUID-1"
    assert seen[0].data["total"] == "116.00"
    assert "raw" not in seen[0].data
    assert seen[0].id.startswith("evt_")


def test_rejected_stamp_emits_stamp_failed_and_still_raises():
    provider = ToyProvider(fail=True)
    seen = collect(provider)
    with pytest.raises(StampRejected):
        provider.stamp(INVOICE)
    assert seen[0].type == "invoice.stamp_failed"
    assert seen[0].data["error"] == "StampRejected"
    assert seen[0].data["folio"] == "7"


def test_cancel_emits_invoice_cancelled():
    provider = ToyProvider()
    seen = collect(provider)
    provider.cancel("1", CancelMotive.WITHOUT_RELATION)
    assert seen[0].type == "invoice.cancelled"
    assert seen[0].data["motive"] == "02"


def test_override_calling_super_emits_once():
    provider = ToySubclass()
    seen = collect(provider)
    provider.stamp(INVOICE)
    assert [e.type for e in seen] == ["invoice.stamped", "invoice.paid"]


def test_failing_subscriber_never_breaks_the_operation(caplog):
    provider = ToyProvider()
    provider.events.subscribe(lambda event: 1 / 0)
    seen = collect(provider)
    with caplog.at_level(logging.ERROR, logger="apunto_connect.events"):
        stamped = provider.stamp(INVOICE)
    assert stamped.uuid == "UUID-1"
    assert provider.events.failures == 2  # once per event: stamped, then paid
    assert len(seen) == 2
    assert "subscriber failed" in caplog.text


def test_buses_are_per_provider_and_filter_by_type():
    first, second = ToyProvider(), ToyProvider()
    assert first.events is not second.events
    only_cancel: list[Event] = []
    first.events.subscribe(only_cancel.append, types=["invoice.cancelled"])
    first.stamp(INVOICE)
    first.cancel("1", CancelMotive.NOT_CARRIED_OUT)
    assert [e.type for e in only_cancel] == ["invoice.cancelled"]


def test_unsubscribe_and_unknown_types():
    bus = EventBus()
    seen: list[Event] = []
    subscription = bus.subscribe(seen.append)
    subscription.cancel()
    bus.emit("invoice.stamped", "x", {})
    assert seen == []
    with pytest.raises(ValidationError):
        bus.subscribe(seen.append, types=["invoice.teleported"])


def test_event_round_trips_through_dict():
    event = EventBus().emit("tracking.created", "shipsgo", {"tracking_id": "1", "n": Decimal("1")})
    again = Event.from_dict(event.to_dict())
    assert again.id == event.id and again.created_at == event.created_at
