"""``integrations.settlement``: when an order counts as fulfilled, and settling its invoice."""

from __future__ import annotations

from datetime import datetime

import pytest

from apunto_connect import Sandbox
from apunto_connect.cli._documents import stamping_unavailable
from apunto_connect.demo import demo_invoice
from apunto_connect.errors import UnsupportedOperation, ValidationError
from apunto_connect.integrations.settlement import (
    invoice_paid_event,
    order_fulfilled,
    settle_invoice,
)


@pytest.mark.parametrize(
    ("store", "order", "fulfilled"),
    [
        ("woocommerce", {"status": "completed"}, True),
        ("woocommerce", {"status": "processing"}, False),
        ("woocommerce", {}, False),
        ("shopify", {"fulfillment_status": "fulfilled"}, True),
        ("shopify", {"fulfillment_status": "partial"}, False),
        ("shopify", {"fulfillment_status": None}, False),
        ("prestashop", {"order": {"current_state": "4"}}, True),
        ("prestashop", {"current_state": 5}, True),
        ("prestashop", {"order": {"current_state": "2"}}, False),
    ],
)
def test_order_fulfilled_reads_each_stores_status(
    store: str, order: dict[str, object], fulfilled: bool
) -> None:
    assert order_fulfilled(store, order) is fulfilled


def test_order_fulfilled_takes_a_shops_own_prestashop_states() -> None:
    assert order_fulfilled("prestashop", {"current_state": "21"}, prestashop_states={"21"})
    assert not order_fulfilled("prestashop", {"current_state": "4"}, prestashop_states={"21"})


def test_an_unknown_store_is_a_validation_error_naming_it() -> None:
    with pytest.raises(ValidationError) as caught:
        order_fulfilled("magento", {})
    assert caught.value.issues[0].field == "store"


def test_a_pue_invoice_is_settled_without_a_receipt() -> None:
    with Sandbox(vendors=["facturama"]) as sb:
        provider = sb.invoice_provider("facturama")
        stamped = provider.stamp(demo_invoice())
        settlement = settle_invoice(provider, stamped.id, paid_at=datetime(2026, 11, 20),
                                    form="03")
        assert settlement.paid and settlement.method == "PUE" and settlement.receipt is None
        assert settlement.invoice_uuid == str(stamped.uuid).upper()
        assert settlement.total == demo_invoice().total
        assert len(list(provider.list())) == 1
    event = invoice_paid_event(settlement, provider="facturama", order="shopify-1",
                               store="shopify")
    assert event.type == "invoice.paid"
    assert event.to_dict()["data"] == {
        "uuid": settlement.invoice_uuid, "total": str(settlement.total),
        "payment_method": "PUE", "receipt_uuid": None, "order": "shopify-1", "store": "shopify",
    }


def test_a_ppd_invoice_is_settled_by_a_receipt_or_refused_before_any_request() -> None:
    with Sandbox(vendors=["facturama"]) as sb:
        provider = sb.invoice_provider("facturama")
        invoice = demo_invoice().with_changes(payment_method="PPD", payment_form="99")
        stamped = provider.stamp(invoice)
        if stamping_unavailable(provider, "payment") is not None:
            with pytest.raises(UnsupportedOperation):
                settle_invoice(provider, stamped.id, paid_at=datetime(2026, 11, 20), form="01")
            assert len(list(provider.list())) == 1  # no receipt sent
            return
        settlement = settle_invoice(provider, stamped.id, paid_at=datetime(2026, 11, 20),
                                    form="01", idempotency_key="settle-1")
        assert settlement.paid and settlement.method == "PPD"
        assert settlement.remaining_balance == 0 and settlement.receipt is not None
        assert settlement.receipt_document.documents[0].amount_paid == invoice.total
