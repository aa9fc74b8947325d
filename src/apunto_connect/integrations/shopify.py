"""Shopify orders (Admin API order objects, as sent by ``orders/paid`` webhooks).

Facts used: the webhook signature is ``X-Shopify-Hmac-Sha256``, the base64 HMAC-SHA256 of the
raw body with the app's secret; amounts are decimal strings in the shop currency; line items
carry a unit ``price``, ``quantity``, ``discount_allocations`` and ``tax_lines``; whether
prices include tax is the order's ``taxes_included``; shipping lines carry ``price``,
``discounted_price`` and ``tax_lines``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..models import Issuer
from ._orders import (
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
    verify_base64_hmac,
)

__all__ = ["SIGNATURE_HEADER", "order_to_invoice", "verify_webhook"]

SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"


def verify_webhook(body: bytes, header: str | None, secret: str) -> None:
    """Check ``X-Shopify-Hmac-Sha256`` for the raw ``body``; raises on mismatch."""
    verify_base64_hmac(body, header, secret, SIGNATURE_HEADER)


def _tax(tax_lines: Any, path: str) -> Decimal:
    return sum(
        (money(t.get("price"), f"{path}.tax_lines[{i}].price") for i, t in enumerate(tax_lines or [])),
        Decimal(0),
    )


def _lines(order: Mapping[str, Any], keys_for: ProductKeysFor) -> list[OrderLine]:
    included = bool(order.get("taxes_included"))
    lines: list[OrderLine] = []
    items = order.get("line_items")
    for item, path, quantity in billed_rows(items, "order.line_items", "quantity"):
        gross_price = money(item.get("price"), f"{path}.price") * quantity
        allocations = item.get("discount_allocations") or []
        discount = sum(
            (money(a.get("amount"), f"{path}.discount_allocations[{i}].amount") for i, a in enumerate(allocations)),
            Decimal(0),
        ) or money(item.get("total_discount"), f"{path}.total_discount")
        tax = _tax(item.get("tax_lines"), path)
        if included:
            # Prices and discounts include tax: split the tax out of the charged amount, and
            # out of the discount in the same proportion.
            charged_gross = gross_price - discount
            net = charged_gross - tax
            ratio = net / charged_gross if charged_gross else Decimal(1)
            net_discount = (discount * ratio).quantize(Decimal("0.01"))
            subtotal = net + net_discount
            discount = net_discount
        else:
            subtotal = gross_price
        lines.append(
            OrderLine(
                description=str(item.get("title") or item.get("name") or "Producto"),
                quantity=quantity,
                subtotal=subtotal,
                discount=discount,
                tax=tax,
                keys=keys_for(item),
                sku=str(item.get("sku")) if item.get("sku") else None,
            )
        )
    for index, ship in enumerate(order.get("shipping_lines") or []):
        path = f"order.shipping_lines[{index}]"
        price = money(ship.get("discounted_price", ship.get("price")), f"{path}.price")
        if price <= 0:
            continue
        tax = _tax(ship.get("tax_lines"), path)
        net = price - tax if included else price
        lines.append(charge_line(f"Envío: {ship.get('title') or 'envío'}", net, tax, SHIPPING_KEYS))
    return lines


def order_to_invoice(
    order: Mapping[str, Any],
    issuer: Issuer,
    find_customer: CustomerFinder | None = None,
    *,
    product_keys: ProductKeysFor = lambda item: ProductKeys(),
    payment_form: str = "04",
    exchange_rate: Decimal | str | None = None,
    series: str | None = None,
) -> OrderMapping:
    """Map a paid Shopify order to an invoice draft.

    Args:
        order: the order object from the webhook body.
        issuer: who invoices.
        find_customer: returns the buyer's fiscal data, or ``None`` for a factura global.
        product_keys: SAT product and unit keys for a line item.
        payment_form: c_FormaPago (``04`` card by default: Shopify Payments charges cards).
        exchange_rate: TipoCambio for orders not in MXN.
        series: Serie of the invoice; the folio is the order number.
    """
    return build_invoice(
        order=order,
        lines=_lines(order, product_keys),
        order_total=money(order.get("total_price"), "order.total_price"),
        currency=str(order.get("currency") or "MXN"),
        issuer=issuer,
        find_customer=find_customer,
        payment_form=payment_form,
        exchange_rate=exchange_rate,
        paid_at=order.get("processed_at") or order.get("created_at"),
        series=series,
        folio=order.get("order_number") or order.get("id"),
    )
