"""Bulk stamping on the base provider: order, pre-flight, resuming, progress, no duplicates."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from apunto_connect import Sandbox
from apunto_connect.errors import ValidationError
from apunto_connect.invoicing.bulk import StampOutcome
from apunto_connect.models import Customer, Invoice, LineItem, Tax
from apunto_connect.sandbox import Fault, FaultKind

CUSTOMERS = [
    Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015"),
    Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "86991"),
    Customer("XIQB891116QE4", "BERENICE XIMO QUEZADA", "612", "26015"),
]


def invoice(n: int) -> Invoice:
    return Invoice(
        customer=CUSTOMERS[n % len(CUSTOMERS)],
        items=[
            LineItem("78101802", "E48", "Flete terrestre", 1, Decimal(1000 + n),
                     taxes=[Tax.iva(), Tax.iva_withholding("0.04")]),
            LineItem("78141500", "E48", "Maniobras de carga", 1, Decimal("250"),
                     taxes=[Tax.iva()]),
        ],
        payment_form="03",
        series="BLK",
        folio=str(n),
    )


def test_a_batch_registers_each_customer_and_product_once_at_the_vendor() -> None:
    with Sandbox(vendors=["facturama"], seed=1) as sb:
        provider = sb.invoice_provider("facturama")
        batch = provider.stamp_many([invoice(n) for n in range(1, 31)], concurrency=8,
                                    idempotency_keys=[f"bulk-{n}" for n in range(1, 31)])
        summary = batch.summary()
        emulator = sb.emulator("facturama")
        assert summary.stamped == 30 and summary.failed == {}
        assert len(set(emulator.issued_uuids())) == 30
        assert len(emulator.clients) == len(CUSTOMERS)
        assert len(emulator.products) == 2


def test_a_batch_killed_halfway_and_run_again_stamps_only_the_rest() -> None:
    # The vendor stops answering after 12 stamps (the machine running the batch "died").
    fault = Fault(FaultKind.DROP_BEFORE, vendor="facturama", method="POST", path="*/cfdis",
                  times=-1, skip=12)
    invoices = [invoice(n) for n in range(1, 21)]
    keys = [f"resume-{n}" for n in range(1, 21)]
    with Sandbox(vendors=["facturama"], faults=[fault], seed=2) as sb:
        provider = sb.invoice_provider("facturama", max_retries=0)
        first = provider.stamp_many(invoices, concurrency=1, idempotency_keys=keys).summary()
        assert first.stamped == 12 and sum(first.failed.values()) == 8
        sb.faults.clear()
        again = sb.invoice_provider("facturama").stamp_many(invoices, concurrency=4,
                                                            idempotency_keys=keys)
        summary = again.summary()
        assert (summary.already_done, summary.stamped, summary.failed) == (12, 8, {})
        assert len(set(sb.emulator("facturama").issued_uuids())) == 20
        assert "12 already done" in str(summary)


def test_bad_invoices_fail_alone_before_any_call_and_progress_is_reported() -> None:
    bad = invoice(2).with_changes(customer=Customer(
        "EKU9003173C9", "ESCUELA KEMPER URGATE, S.A. DE C.V.", "601", "26015"))
    seen: list[tuple[int, int, bool]] = []
    lock = threading.Lock()

    def progress(done: int, total: int, outcome: StampOutcome) -> None:
        with lock:
            seen.append((done, total, outcome.ok))

    with Sandbox(vendors=["facturama"], seed=3) as sb:
        outcomes = list(sb.invoice_provider("facturama").stamp_many(
            [invoice(1), bad, invoice(3)], progress=progress))
    assert [o.ok for o in outcomes] == [True, False, True]
    error = outcomes[1].error
    assert isinstance(error, ValidationError)
    assert error.issues[0].field == "[1].customer.legal_name"
    assert sorted(d for d, _, _ in seen) == [1, 2, 3] and {t for _, t, _ in seen} == {3}


def test_keys_and_invoices_must_pair_up() -> None:
    with Sandbox(vendors=["facturama"]) as sb, \
            pytest.raises(ValidationError, match="one per invoice"):
        sb.invoice_provider("facturama").stamp_many([invoice(1)], idempotency_keys=[])


def test_a_registration_failing_before_the_batch_is_retried_by_the_stamps_needing_it() -> None:
    # The first attempt to create a Client fails (the batch registers its customers up front);
    # the stamps for that customer register it again, and nothing is created twice.
    fault = Fault(FaultKind.SERVER_ERROR, vendor="facturama", method="POST", path="*/Client",
                  times=1)
    with Sandbox(vendors=["facturama"], faults=[fault], seed=4) as sb:
        provider = sb.invoice_provider("facturama", max_retries=0)
        summary = provider.stamp_many([invoice(n) for n in range(1, 13)], concurrency=6,
                                      idempotency_keys=[f"warm-{n}" for n in range(1, 13)]
                                      ).summary()
        emulator = sb.emulator("facturama")
        assert [(f.kind, f.method) for f in sb.faults.fired] == [(fault.kind, "POST")]
        assert summary.stamped == 12 and summary.failed == {}
        assert len(emulator.clients) == len(CUSTOMERS) and len(emulator.products) == 2


def test_an_actiun_batch_registers_each_contact_and_item_once() -> None:
    with Sandbox(vendors=["actiun"], seed=5) as sb:
        sb.emulator("actiun").stamping_seconds = 0.0  # type: ignore[attr-defined]
        provider = sb.invoice_provider("actiun")
        summary = provider.stamp_many([invoice(n) for n in range(1, 13)], concurrency=6,
                                      idempotency_keys=[f"actiun-{n}" for n in range(1, 13)]
                                      ).summary()
        emulator = sb.emulator("actiun")
        assert summary.stamped == 12 and summary.failed == {}, summary
        assert len(emulator.contacts) == len(CUSTOMERS)
        assert len(emulator.items) == 2
