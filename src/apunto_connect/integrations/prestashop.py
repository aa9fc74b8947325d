"""PrestaShop orders (the webservice's ``orders`` resource, read with ``output_format=JSON``).

Facts used (PrestaShop webservice reference, ``orders`` and ``order_details`` resources): the
answer wraps the order as ``{"order": {...}}``; amounts are decimal strings with six decimals
(``"169.900000"``); ``module`` names the payment module (``ps_checkpayment``,
``ps_wirepayment``, ``ps_cashondelivery``...) and ``payment`` its label; ``valid`` is ``"1"``
once the order is paid; ``date_add`` is ``YYYY-MM-DD HH:MM:SS`` in the shop's time zone;
``associations.order_rows`` holds the lines with ``product_quantity``, ``product_name``,
``product_reference``, ``unit_price_tax_excl`` and ``unit_price_tax_incl``; the order carries
``total_shipping_tax_excl``/``_incl``, ``total_discounts_tax_excl``/``_incl`` (cart rules),
``total_wrapping_tax_excl``/``_incl`` and ``total_paid_tax_incl``. The webservice gives the
currency as ``id_currency`` (the shop's own id), so the currency code is an argument here.

PrestaShop sends no signed webhooks of its own: orders are read from the webservice with the
shop's API key, so there is no ``verify_webhook`` in this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..errors import ValidationError
from ..models import Issuer
from ..money import quantize
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
)

__all__ = ["PAYMENT_FORMS", "order_to_invoice"]

# PrestaShop payment modules -> c_FormaPago; anything else must be given by the caller.
PAYMENT_FORMS: dict[str, str] = {
    "ps_cashondelivery": "01",
    "ps_checkpayment": "02",
    "ps_wirepayment": "03",
    "stripe_official": "04",
    "paypal": "04",
    "ps_checkout": "04",
    "mercadopago": "04",
}

WRAPPING_KEYS = CHARGE_KEYS  # gift wrapping is billed as a service charge


def _gross_line(
    description: str, net: Decimal, gross: Decimal, keys: ProductKeys
) -> OrderLine | None:
    if net <= 0:
        return None
    return charge_line(description, net, gross - net, keys)


def _lines(order: Mapping[str, Any], keys_for: ProductKeysFor) -> list[OrderLine]:
    rows = (order.get("associations") or {}).get("order_rows")
    lines: list[OrderLine] = []
    billed = billed_rows(rows, "order.associations.order_rows", "product_quantity")
    for row, path, quantity in billed:
        # Unit prices carry six decimals; the shop charges the rounded line amounts.
        net = quantize(money(row.get("unit_price_tax_excl"), f"{path}.unit_price_tax_excl")
                       * quantity, 2)
        gross = quantize(money(row.get("unit_price_tax_incl"), f"{path}.unit_price_tax_incl")
                         * quantity, 2)
        lines.append(
            OrderLine(
                description=str(row.get("product_name") or "Producto"),
                quantity=quantity,
                subtotal=net,
                discount=Decimal(0),
                tax=gross - net,
                keys=keys_for(row),
                sku=str(row.get("product_reference")) if row.get("product_reference") else None,
            )
        )
    for name, description, keys in (
        ("shipping", "Envío", SHIPPING_KEYS),
        ("wrapping", "Envoltura de regalo", WRAPPING_KEYS),
    ):
        extra = _gross_line(
            description,
            quantize(money(order.get(f"total_{name}_tax_excl"), f"order.total_{name}_tax_excl"), 2),
            quantize(money(order.get(f"total_{name}_tax_incl"), f"order.total_{name}_tax_incl"), 2),
            keys,
        )
        if extra is not None:
            lines.append(extra)
    discount = quantize(money(order.get("total_discounts_tax_excl"),
                              "order.total_discounts_tax_excl"), 2)
    discount_gross = quantize(money(order.get("total_discounts_tax_incl"),
                                    "order.total_discounts_tax_incl"), 2)
    # Cart rules (vouchers) are order-level: they become line discounts.
    return spread_discount(lines, discount, discount_gross - discount,
                           "order.total_discounts_tax_excl")


def order_to_invoice(
    order: Mapping[str, Any],
    issuer: Issuer,
    find_customer: CustomerFinder | None = None,
    *,
    currency: str = "MXN",
    product_keys: ProductKeysFor = lambda row: ProductKeys(),
    payment_form: str | None = None,
    exchange_rate: Decimal | str | None = None,
    series: str | None = None,
) -> OrderMapping:
    """Map a paid PrestaShop order to an invoice draft.

    Args:
        order: the webservice answer (``{"order": {...}}``) or the order object itself.
        issuer: who invoices.
        find_customer: returns the buyer's fiscal data, or ``None`` for a factura global.
        currency: the order's c_Moneda (the webservice only gives the shop's currency id).
        product_keys: SAT product and unit keys for an order row.
        payment_form: c_FormaPago; derived from the order's payment module when not given.
        exchange_rate: TipoCambio for orders not in MXN.
        series: Serie of the invoice; the folio is the order's reference.

    Raises:
        ValidationError: an order not yet paid (``valid`` is not 1), an unknown payment module
            without ``payment_form``, or an order whose lines cannot reach its total.
    """
    body: Mapping[str, Any] = order.get("order", order)
    if str(body.get("valid", "")) != "1":
        raise ValidationError(
            "the order is not valid (paid) yet; only paid orders are invoiced",
            field="order.valid", code="APUNTO-ORDERS-002",
        )
    module = str(body.get("module") or "")
    form = payment_form_for(payment_form, module, PAYMENT_FORMS, "module")
    return build_invoice(
        order=body,
        lines=_lines(body, product_keys),
        order_total=quantize(money(body.get("total_paid_tax_incl") or body.get("total_paid"),
                                   "order.total_paid_tax_incl"), 2),
        currency=currency,
        issuer=issuer,
        find_customer=find_customer,
        payment_form=form,
        exchange_rate=exchange_rate,
        paid_at=body.get("invoice_date") if _is_date(body.get("invoice_date"))
        else body.get("date_add"),
        series=series,
        folio=body.get("reference") or body.get("id"),
    )


def _is_date(value: object) -> bool:
    # PrestaShop writes "0000-00-00 00:00:00" for dates that have not happened.
    return bool(value) and not str(value).startswith("0000")
