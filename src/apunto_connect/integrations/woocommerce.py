"""WooCommerce orders (REST API v3 order objects, as sent by order webhooks).

Facts used: the webhook signature is ``X-WC-Webhook-Signature``, the base64 HMAC-SHA256 of the
raw body with the webhook's secret; order amounts are decimal strings; each line item carries
``subtotal`` (before coupons) and ``total`` (after coupons), both excluding tax, with
``total_tax`` beside them whether or not the store enters prices with tax
(``prices_include_tax``); shipping lines carry ``total`` and ``total_tax``; fee lines likewise,
negative when a discount plugin adds a discount as a fee (mapped as a line discount).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..errors import ValidationError
from ..models import Issuer
from ._orders import (
    CHARGE_KEYS,
    SHIPPING_KEYS,
    CustomerFinder,
    OrderLine,
    OrderMapping,
    ProductKeys,
    ProductKeysFor,
    billed_rows,
    build_invoice,
    charge_line,
    money,
    payment_form_for,
    spread_discount,
    verify_base64_hmac,
)

__all__ = [
    "PAYMENT_FORMS",
    "SIGNATURE_HEADER",
    "order_to_invoice",
    "verify_webhook",
]

SIGNATURE_HEADER = "X-WC-Webhook-Signature"

# WooCommerce gateway ids -> c_FormaPago; anything else must be given by the caller.
PAYMENT_FORMS: dict[str, str] = {
    "cod": "01",  # cash on delivery
    "cheque": "02",
    "bacs": "03",  # direct bank transfer
    "stripe": "04",
    "woocommerce_payments": "04",
    "paypal": "04",
    "ppcp-gateway": "04",
    "mercadopago": "04",
}

FEE_KEYS = CHARGE_KEYS  # a store fee is billed as a service charge


def verify_webhook(body: bytes, header: str | None, secret: str) -> None:
    """Check ``X-WC-Webhook-Signature`` for the raw ``body``; raises on mismatch."""
    verify_base64_hmac(body, header, secret, SIGNATURE_HEADER)


def _lines(order: Mapping[str, Any], keys_for: ProductKeysFor) -> list[OrderLine]:
    lines: list[OrderLine] = []
    items = order.get("line_items")
    for item, path, quantity in billed_rows(items, "order.line_items", "quantity"):
        subtotal = money(item.get("subtotal"), f"{path}.subtotal")
        total = money(item.get("total"), f"{path}.total")
        lines.append(
            OrderLine(
                description=str(item.get("name") or "Producto"),
                quantity=quantity,
                subtotal=subtotal,
                discount=subtotal - total,
                tax=money(item.get("total_tax"), f"{path}.total_tax"),
                keys=keys_for(item),
                sku=str(item.get("sku")) if item.get("sku") else None,
            )
        )
    for index, ship in enumerate(order.get("shipping_lines") or []):
        total = money(ship.get("total"), f"order.shipping_lines[{index}].total")
        if total > 0:
            tax = money(ship.get("total_tax"), f"order.shipping_lines[{index}].total_tax")
            lines.append(
                charge_line(f"Envío: {ship.get('method_title') or 'envío'}", total, tax, SHIPPING_KEYS)
            )
    discounts: list[tuple[int, Decimal, Decimal]] = []
    for index, fee in enumerate(order.get("fee_lines") or []):
        total = money(fee.get("total"), f"order.fee_lines[{index}].total")
        if total < 0:
            # A discount plugin's negative fee: a discount on the lines, never a dropped line.
            tax = money(fee.get("total_tax"), f"order.fee_lines[{index}].total_tax")
            discounts.append((index, -total, -tax))
        elif total > 0:
            tax = money(fee.get("total_tax"), f"order.fee_lines[{index}].total_tax")
            lines.append(charge_line(str(fee.get("name") or "Cargo"), total, tax, FEE_KEYS))
    for index, amount, tax in discounts:
        lines = spread_discount(lines, amount, tax, f"order.fee_lines[{index}]")
    return lines


def order_to_invoice(
    order: Mapping[str, Any],
    issuer: Issuer,
    find_customer: CustomerFinder | None = None,
    *,
    product_keys: ProductKeysFor = lambda item: ProductKeys(),
    payment_form: str | None = None,
    exchange_rate: Decimal | str | None = None,
    series: str | None = None,
) -> OrderMapping:
    """Map a paid WooCommerce order to an invoice draft.

    Args:
        order: the order object from the webhook body.
        issuer: who invoices.
        find_customer: returns the buyer's fiscal data (RFC, régimen, postal code, uso) or
            ``None`` for a factura global to PUBLICO EN GENERAL.
        product_keys: SAT product and unit keys for a line item.
        payment_form: c_FormaPago; derived from the order's gateway when not given.
        exchange_rate: TipoCambio for orders not in MXN.
        series: Serie of the invoice; the folio is the order number.
    """
    if str(order.get("status", "")) in {"pending", "failed", "cancelled", "refunded"}:
        raise ValidationError(
            f"order status is {order.get('status')!r}; only paid orders are invoiced",
            field="order.status",
            code="APUNTO-ORDERS-002",
        )
    gateway = str(order.get("payment_method") or "")
    form = payment_form_for(payment_form, gateway, PAYMENT_FORMS, "gateway")
    return build_invoice(
        order=order,
        lines=_lines(order, product_keys),
        order_total=money(order.get("total"), "order.total"),
        currency=str(order.get("currency") or "MXN"),
        issuer=issuer,
        find_customer=find_customer,
        payment_form=form,
        exchange_rate=exchange_rate,
        paid_at=order.get("date_paid") or order.get("date_created"),
        series=series,
        folio=order.get("number") or order.get("id"),
    )
