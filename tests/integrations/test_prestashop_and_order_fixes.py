"""PrestaShop orders, and the store-order rules: issue date, negative fees, the SAT tolerance."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from apunto_connect import sat
from apunto_connect.errors import Severity, ValidationError
from apunto_connect.integrations import prestashop, shopify, woocommerce
from apunto_connect.models import Issuer, Ticket, global_invoice
from apunto_connect.money import sat_tax_bounds

FIXTURES = Path(__file__).parent / "fixtures"
ISSUER = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")


def _prestashop() -> dict[str, Any]:
    return json.loads((FIXTURES / "prestashop_voucher_shipping.json").read_text("utf-8"))


def _assert_sat_consistent(mapping: Any) -> None:
    for line in mapping.invoice.totals.lines:
        for tax in line.taxes:
            lower, upper = sat_tax_bounds(tax.base, tax.rate)
            assert lower <= tax.amount <= upper


def test_prestashop_order_with_voucher_and_shipping_ends_at_its_total() -> None:
    mapping = prestashop.order_to_invoice(_prestashop(), ISSUER)
    invoice = mapping.invoice
    assert invoice.total == D("691.84") and mapping.matches and mapping.public
    assert invoice.payment_form == "03" and invoice.folio == "XKBKNABJK"
    assert [item.sku for item in invoice.items] == ["PLY-M", "TAZA-1", None]
    # the 50.00 voucher became line discounts that add up exactly
    assert sum((item.discount for item in invoice.items), D(0)) == D("50.00")
    _assert_sat_consistent(mapping)
    errors = [i for i in sat.preflight(invoice) if i.severity is Severity.ERROR]
    assert errors == []


def test_prestashop_refuses_unpaid_orders_and_unknown_modules() -> None:
    order = _prestashop()
    order["order"]["valid"] = "0"
    with pytest.raises(ValidationError, match="not valid"):
        prestashop.order_to_invoice(order, ISSUER)
    order = _prestashop()
    order["order"]["module"] = "some_bank_module"
    with pytest.raises(ValidationError) as caught:
        prestashop.order_to_invoice(order, ISSUER)
    assert caught.value.issues[0].field == "payment_form"
    mapping = prestashop.order_to_invoice(order, ISSUER, payment_form="04")
    assert mapping.invoice.payment_form == "04"


def test_the_cfdi_is_dated_when_issued_and_the_payment_date_is_kept_apart() -> None:
    mapping = prestashop.order_to_invoice(_prestashop(), ISSUER)
    assert mapping.invoice.issued_at is None  # the vendor's clock at stamping
    assert mapping.paid_at == datetime(2026, 11, 20, 9, 15)
    assert mapping.invoice.global_info is not None
    assert (mapping.invoice.global_info.months, mapping.invoice.global_info.year) == ("11", 2026)


def _woo_with_negative_fee() -> dict[str, Any]:
    return {
        "id": 901, "number": "901", "status": "processing", "currency": "MXN",
        "date_paid": "2026-11-01T10:00:00", "total": "290.00", "payment_method": "bacs",
        "line_items": [{"name": "Cinta canela", "quantity": 10, "subtotal": "300.00",
                        "total": "300.00", "total_tax": "48.00", "sku": "CINTA"}],
        "shipping_lines": [],
        "fee_lines": [{"name": "Descuento por volumen", "total": "-50.00", "total_tax": "-8.00"}],
    }


def test_a_negative_fee_line_becomes_a_discount_not_a_dropped_line() -> None:
    mapping = woocommerce.order_to_invoice(_woo_with_negative_fee(), ISSUER)
    item = mapping.invoice.items[0]
    assert (item.discount, mapping.invoice.total) == (D("50.00"), D("290.00"))
    assert mapping.invoice.totals.total_transferred == D("40.00")
    # an order invoiced weeks after payment still gets a current Fecha
    assert mapping.invoice.issued_at is None and mapping.paid_at == datetime(2026, 11, 1, 10)


def test_a_discount_larger_than_the_lines_is_refused() -> None:
    order = _woo_with_negative_fee()
    order["fee_lines"][0] |= {"total": "-500.00", "total_tax": "-80.00"}
    with pytest.raises(ValidationError) as caught:
        woocommerce.order_to_invoice(order, ISSUER)
    assert caught.value.issues[0].code == "APUNTO-ORDERS-004"


def _shopify(price: str, tax: str) -> dict[str, Any]:
    return {
        "id": 7001, "order_number": 1101, "currency": "MXN", "taxes_included": True,
        "processed_at": "2026-11-05T12:00:00-06:00", "total_price": price,
        "line_items": [{"title": "Etiquetas térmicas", "quantity": 1, "price": price,
                        "tax_lines": [{"price": tax, "rate": 0.16}]}],
        "shipping_lines": [],
    }


def test_a_shopify_tax_inside_the_sat_tolerance_is_kept_to_the_cent() -> None:
    # 29.74 on base 185.91 at 16 % (185.91 x 0.16 = 29.7456): inside the SAT's bounds
    mapping = shopify.order_to_invoice(_shopify("215.65", "29.74"), ISSUER)
    line = mapping.invoice.totals.lines[0]
    assert (line.amount, line.taxes[0].amount) == (D("185.91"), D("29.74"))
    assert mapping.invoice.total == D("215.65")


def test_an_order_that_cannot_reach_its_total_is_refused_before_any_call() -> None:
    with pytest.raises(ValidationError) as caught:
        shopify.order_to_invoice(_shopify("100.00", "20.00"), ISSUER)
    issue = caught.value.issues[0]
    assert issue.code == "APUNTO-ORDERS-005" and "100.00" in issue.message


def test_store_orders_group_into_a_global_invoice_to_the_cent() -> None:
    mappings = [prestashop.order_to_invoice(_prestashop(), ISSUER),
                woocommerce.order_to_invoice(_woo_with_negative_fee(), ISSUER),
                shopify.order_to_invoice(_shopify("215.65", "29.74"), ISSUER)]
    tickets = [Ticket.from_invoice(str(i), m.invoice) for i, m in enumerate(mappings)]
    invoice = global_invoice(tickets, periodicity="04", months="11", year=2026, issuer=ISSUER)
    assert invoice.total == sum((m.order_total for m in mappings), D(0))
