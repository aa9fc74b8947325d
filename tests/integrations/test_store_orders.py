from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from apunto_connect.errors import SignatureVerificationError, ValidationError
from apunto_connect.integrations import shopify, woocommerce
from apunto_connect.models import Customer, Issuer
from apunto_connect.money import sat_tax_bounds

FIXTURES = Path(__file__).parent / "fixtures"
ISSUER = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")
KARLA = Customer("FUNK671228PH6", "KARLA FUENTE NOLASCO", "612", "06600", cfdi_use="G03")


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def rfc_from_meta(order):
    rfc = next((m["value"] for m in order.get("meta_data", []) if m["key"] == "_billing_rfc"), None)
    return KARLA if rfc == KARLA.rfc else None


def assert_sat_consistent(invoice):
    for line in invoice.totals.lines:
        for tax in line.taxes:
            lower, upper = sat_tax_bounds(tax.base, tax.rate)
            assert lower <= tax.amount <= upper


def test_woocommerce_tax_excluded_with_coupon_and_shipping_matches_to_the_cent():
    mapping = woocommerce.order_to_invoice(load("woo_tax_excluded_coupon_shipping.json"), ISSUER, rfc_from_meta)
    invoice = mapping.invoice
    assert mapping.matches and invoice.total == D("1565.97")
    assert invoice.customer == KARLA and not mapping.public
    assert invoice.payment_form == "04" and invoice.folio == "727"
    first = invoice.items[0]
    assert (first.quantity, first.unit_price, first.discount) == (D(2), D("500.000000"), D("100.00"))
    assert invoice.items[-1].product_code == "78102203"  # shipping as a service line
    assert_sat_consistent(invoice)


def test_woocommerce_tax_included_keeps_the_charged_tax_within_sat_bounds():
    mapping = woocommerce.order_to_invoice(load("woo_tax_included_rounding.json"), ISSUER)
    invoice = mapping.invoice
    # 258.59 x 0.16 = 41.3744 would round to 41.37; the store charged 41.38, inside the bounds
    assert invoice.totals.lines[0].taxes[0].amount == D("41.38")
    assert mapping.matches and invoice.total == D("399.97")
    assert_sat_consistent(invoice)


def test_order_without_fiscal_data_becomes_a_factura_global():
    mapping = woocommerce.order_to_invoice(load("woo_tax_included_rounding.json"), ISSUER)
    invoice = mapping.invoice
    assert mapping.public
    assert (invoice.customer.rfc, invoice.customer.legal_name) == ("XAXX010101000", "PUBLICO EN GENERAL")
    assert invoice.customer.zip_code == ISSUER.zip_code and invoice.customer.cfdi_use == "S01"
    assert invoice.global_info is not None and invoice.global_info.months == "11"
    assert invoice.payment_form == "03"  # bank transfer gateway


def test_woocommerce_usd_needs_an_exchange_rate_and_bills_fees():
    order = load("woo_usd_fee.json")
    with pytest.raises(ValidationError) as info:
        woocommerce.order_to_invoice(order, ISSUER)
    assert info.value.issues[0].code == "CFDI40115"
    mapping = woocommerce.order_to_invoice(order, ISSUER, exchange_rate="17.8513")
    assert mapping.invoice.currency == "USD" and mapping.invoice.exchange_rate == D("17.8513")
    assert mapping.matches and mapping.invoice.total == D("359.60")
    assert mapping.invoice.items[-1].description == "Cargo por manejo"


def test_unpaid_orders_and_unknown_gateways_are_refused():
    order = load("woo_usd_fee.json") | {"status": "pending"}
    with pytest.raises(ValidationError, match="only paid orders"):
        woocommerce.order_to_invoice(order, ISSUER, exchange_rate="17")
    order = load("woo_tax_included_rounding.json") | {"payment_method": "crypto"}
    with pytest.raises(ValidationError, match="payment_form"):
        woocommerce.order_to_invoice(order, ISSUER)
    assert woocommerce.order_to_invoice(order, ISSUER, payment_form="06").invoice.payment_form == "06"


def test_shopify_taxes_included_with_discounts_matches_to_the_cent():
    mapping = shopify.order_to_invoice(load("shopify_taxes_included_discount.json"), ISSUER)
    invoice = mapping.invoice
    assert mapping.matches and invoice.total == D("1178.10")
    assert invoice.folio == "1043"
    assert invoice.totals.total_transferred == D("162.50")
    assert invoice.totals.discount > 0
    assert_sat_consistent(invoice)


def test_shopify_usd_taxes_excluded():
    mapping = shopify.order_to_invoice(load("shopify_usd_taxes_excluded.json"), ISSUER, exchange_rate=D("17.85"))
    assert mapping.matches and mapping.invoice.total == D("243.60")
    assert mapping.invoice.items[0].discount == D("10.00")


def _b64(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.mark.parametrize("module", [woocommerce, shopify])
def test_store_signatures(module):
    body = json.dumps(load("woo_usd_fee.json")).encode()
    module.verify_webhook(body, _b64(body, "shh"), "shh")
    with pytest.raises(SignatureVerificationError):
        module.verify_webhook(body + b" ", _b64(body, "shh"), "shh")  # tampered
    with pytest.raises(SignatureVerificationError):
        module.verify_webhook(body, _b64(body, "other"), "shh")  # wrong secret
    with pytest.raises(SignatureVerificationError):
        module.verify_webhook(body, None, "shh")
