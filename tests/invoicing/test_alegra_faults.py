"""Faults on Alegra's stamp routes: every failure ends in a safe retry or a typed error, never
in a second CFDI for the same call."""

from __future__ import annotations

from functools import partial

import pytest

from apunto_connect import Sandbox
from apunto_connect.errors import ApuntoError, ServerError, TransportError
from apunto_connect.invoicing.alegra import idempotency_marker
from apunto_connect.models.invoices import CancellationStatus, CancelMotive
from apunto_connect.sandbox import Fault, FaultKind, SandboxClock
from tests.factories import fixture_invoice

CREATE = {"vendor": "alegra", "method": "POST", "path": "/invoices"}


sample_invoice = partial(fixture_invoice, "alegra/invoice.json")


def stamped_with_key(emulator, key: str) -> list:
    marker = idempotency_marker(key)
    return [
        s for s in emulator.stamped_invoices() if marker in (s.body.get("observations") or "")
    ]


FAULTS = [
    pytest.param(Fault(FaultKind.LATENCY, latency=0.05, **CREATE), id="latency"),
    pytest.param(Fault(FaultKind.RATE_LIMIT, retry_after=1.0, **CREATE), id="429-retry-after"),
    pytest.param(Fault(FaultKind.SERVER_ERROR, status=500, **CREATE), id="500"),
    pytest.param(Fault(FaultKind.SERVER_ERROR, status=502, **CREATE), id="502"),
    pytest.param(Fault(FaultKind.SERVER_ERROR, status=503, **CREATE), id="503"),
    pytest.param(Fault(FaultKind.HTML_ERROR, status=502, **CREATE), id="html-page"),
    pytest.param(Fault(FaultKind.MALFORMED_JSON, **CREATE), id="malformed-json"),
    pytest.param(Fault(FaultKind.DROP_BEFORE, **CREATE), id="drop-before"),
    pytest.param(Fault(FaultKind.DROP_AFTER, **CREATE), id="drop-after-commit"),
]


@pytest.mark.parametrize("fault", FAULTS)
def test_stamp_with_a_key_survives_each_fault_without_a_duplicate(fault):
    with Sandbox(
        seed=5, vendors=["alegra"], faults=[fault], clock=SandboxClock(start=1_772_467_200)
    ) as sb:
        alegra = sb.invoice_provider("alegra")
        emulator = sb.emulator("alegra")
        try:
            result = alegra.stamp(sample_invoice(), idempotency_key="order-1")
        except ApuntoError as first_error:
            # A typed error, never a raw exception; and nothing was stamped behind our back.
            assert isinstance(first_error, ServerError | TransportError)
            assert stamped_with_key(emulator, "order-1") == []
            result = alegra.stamp(sample_invoice(), idempotency_key="order-1")
        found = stamped_with_key(emulator, "order-1")
        assert len(found) == 1
        assert result.uuid == found[0].document.uuid
        assert len(emulator.stamped_invoices()) == 1
        assert [f.kind for f in sb.faults.fired] == [fault.kind]


@pytest.mark.parametrize("fault", FAULTS)
def test_stamp_without_a_key_is_never_sent_twice(fault):
    with Sandbox(
        seed=5, vendors=["alegra"], faults=[fault], clock=SandboxClock(start=1_772_467_200)
    ) as sb:
        alegra = sb.invoice_provider("alegra")
        emulator = sb.emulator("alegra")
        try:
            alegra.stamp(sample_invoice())
        except ApuntoError as error:
            assert isinstance(error, ServerError | TransportError)
        creates = [
            f for f in sb.faults.fired if f.method == "POST" and f.path == "/invoices"
        ]
        assert len(creates) == 1
        assert len(emulator.stamped_invoices()) <= 1


def test_stamp_is_not_sent_twice_after_drop_after_commit():
    fault = Fault(FaultKind.DROP_AFTER, **CREATE)
    with Sandbox(seed=5, vendors=["alegra"], faults=[fault]) as sb:
        alegra = sb.invoice_provider("alegra")
        emulator = sb.emulator("alegra")
        with pytest.raises(TransportError) as info:
            alegra.stamp(sample_invoice())
        assert info.value.request_sent is True
        assert len(emulator.stamped_invoices()) == 1  # Alegra did stamp it: look before retrying


def test_a_lost_answer_with_a_key_is_resolved_in_the_same_call():
    fault = Fault(FaultKind.DROP_AFTER, **CREATE)
    with Sandbox(seed=5, vendors=["alegra"], faults=[fault]) as sb:
        alegra = sb.invoice_provider("alegra")
        stamped = alegra.stamp(sample_invoice(), idempotency_key="order-7")
        assert stamped.uuid
        assert len(sb.emulator("alegra").stamped_invoices()) == 1


def test_a_saved_but_unstamped_draft_is_stamped_on_the_repeat_not_recreated():
    with Sandbox(seed=5, vendors=["alegra"]) as sb:
        alegra = sb.invoice_provider("alegra")
        emulator = sb.emulator("alegra")
        emulator.stamps_left = 0  # Alegra keeps nothing when it cannot stamp...
        with pytest.raises(ApuntoError):
            alegra.stamp(sample_invoice(), idempotency_key="order-9")
        # ...but a draft with the key may exist (e.g. a batch that never got stamped).
        alegra.stamp_many([sample_invoice()], idempotency_keys=["order-9"]).results()
        assert len(emulator.invoices) == 1 and emulator.stamped_invoices() == []
        emulator.stamps_left = None
        stamped = alegra.stamp(sample_invoice(), idempotency_key="order-9")
        assert stamped.uuid and len(emulator.invoices) == 1


@pytest.mark.parametrize(
    "kind", [FaultKind.DROP_AFTER, FaultKind.MALFORMED_JSON, FaultKind.SERVER_ERROR]
)
def test_a_lost_batch_answer_is_read_back_and_never_resent(kind):
    fault = Fault(kind, vendor="alegra", method="POST", path="/invoices/stamp")
    with Sandbox(seed=5, vendors=["alegra"], faults=[fault]) as sb:
        alegra = sb.invoice_provider("alegra")
        emulator = sb.emulator("alegra")
        outcomes = alegra.stamp_many([sample_invoice(folio=str(n)) for n in range(1, 4)]).results()
        stamp_calls = [f for f in sb.faults.fired if f.path == "/invoices/stamp"]
        assert len(stamp_calls) == 1
        if kind is FaultKind.SERVER_ERROR:  # not processed: every outcome carries the error
            assert all(isinstance(o.error, ServerError) for o in outcomes)
            assert emulator.stamped_invoices() == []
        else:  # processed, answer lost: each invoice was read back
            assert all(o.ok for o in outcomes)
            assert len(emulator.stamped_invoices()) == 3


def test_a_lost_void_answer_is_read_back():
    with Sandbox(seed=5, vendors=["alegra"]) as sb:
        alegra = sb.invoice_provider("alegra")
        stamped = alegra.stamp(sample_invoice())
        sb.faults.add(Fault(FaultKind.DROP_AFTER, vendor="alegra", method="POST", path="*/void"))
        cancellation = alegra.cancel(stamped.id, CancelMotive.WITHOUT_RELATION)
        assert cancellation.status is CancellationStatus.CANCELLED
