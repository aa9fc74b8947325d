"""What store-order mappers share: signatures, the cent-exact line rule, the factura global.

The cent-exact rule. A store shows the buyer a gross amount per line (price with tax). The
CFDI states a base and a tax per line, and the SAT accepts a tax amount only inside bounds
around base × rate: (base ± half a cent) × rate, truncated below and rounded up above
(Anexo 20). When the store rounded differently (tax-inclusive prices, per-order rounding),
its tax can differ from our own rounding by a cent, and the invoice total from what was
charged. So, per line:

1. if the store's tax lies inside the SAT's bounds for the store's base, both are kept as
   charged (``Tax.amount`` fixes the Importe);
2. otherwise, among the bases within two cents of the store's, the closest one whose own
   SAT-rounded tax adds up to the store's gross amount is used.

The invoice total then equals the order total to the cent. An order the rule cannot bring to
its total (a tax no rounding explains) is refused before any vendor call, saying why.

Dates. The CFDI is dated when it is issued (the vendor's clock), never with the order's payment
date: the SAT refuses a Fecha more than 72 hours old, and orders are often invoiced later. The
payment date travels in ``OrderMapping.paid_at`` (FechaPago of a payment receipt, the period of a
factura global).

Order-level discounts (negative fee lines of discount plugins, a shop's cart rules) are spread
over the lines taxed at the same rate, in proportion to their amounts, as line discounts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from ..errors import SignatureVerificationError, ValidationError
from ..models import Customer, GlobalInformation, Invoice, Issuer, LineItem, Tax
from ..money import quantize, sat_tax_bounds, to_decimal

__all__ = [
    "CENT",
    "CHARGE_KEYS",
    "SHIPPING_KEYS",
    "OrderLine",
    "OrderMapping",
    "ProductKeys",
    "ProductKeysFor",
    "billed_rows",
    "build_invoice",
    "charge_line",
    "exact_base",
    "payment_form_for",
    "public_customer",
    "spread_discount",
    "verify_base64_hmac",
]

CENT = Decimal("0.01")
_KNOWN_IVA_RATES = (Decimal("0.16"), Decimal("0.08"), Decimal("0"))

CustomerFinder = Callable[[Mapping[str, Any]], Customer | None]


@attrs.frozen(slots=True)
class ProductKeys:
    """SAT keys for a store line: ClaveProdServ and ClaveUnidad (plus its name)."""

    product_code: str = "01010101"  # "No existe en el catálogo": valid, but better to map
    unit_code: str = "H87"
    unit_name: str = "Pieza"


ProductKeysFor = Callable[[Mapping[str, Any]], ProductKeys]
"""The caller's choice of SAT keys for one store line (a line item or order row)."""

SHIPPING_KEYS = ProductKeys("78102203", "E48", "Unidad de servicio")
"""Shipping charged on an order: a delivery service."""

CHARGE_KEYS = ProductKeys("84111506", "E48", "Unidad de servicio")
"""Other order-level charges billed as a service (store fees, gift wrapping)."""


@attrs.frozen(slots=True)
class OrderLine:
    """A store line reduced to what the invoice needs (amounts excluding tax)."""

    description: str
    quantity: Decimal
    subtotal: Decimal  # before discounts, excluding tax
    discount: Decimal  # excluding tax
    tax: Decimal  # what the store charged as tax on this line
    keys: ProductKeys
    sku: str | None = None


@attrs.frozen(slots=True)
class OrderMapping:
    """The invoice draft for an order plus how it compares with what the store charged."""

    invoice: Invoice
    order_total: Decimal
    difference: Decimal
    public: bool
    paid_at: datetime | None = None

    @property
    def matches(self) -> bool:
        """``True`` when the invoice total equals the order total to the cent."""
        return self.difference == 0


def charge_line(description: str, net: Decimal, tax: Decimal, keys: ProductKeys) -> OrderLine:
    """One order-level charge (shipping, a fee, wrapping) as a single undiscounted line."""
    return OrderLine(
        description=description,
        quantity=Decimal(1),
        subtotal=net,
        discount=Decimal(0),
        tax=tax,
        keys=keys,
    )


def billed_rows(
    rows: Any, path: str, quantity_field: str
) -> Iterator[tuple[Mapping[str, Any], str, Decimal]]:
    """``(row, row path, quantity)`` of each order row with a positive quantity.

    Refunded or zero rows are not billed. The row path (``order.line_items[2]``) names the row's
    fields in errors.
    """
    for index, row in enumerate(rows or []):
        row_path = f"{path}[{index}]"
        quantity = money(row.get(quantity_field), f"{row_path}.{quantity_field}")
        if quantity > 0:
            yield row, row_path, quantity


def payment_form_for(
    given: str | None, method: str, known: Mapping[str, str], what: str
) -> str:
    """The c_FormaPago of an order: the caller's, else the store's payment ``method`` looked up.

    ``what`` names the store's notion of a payment method in the error (``gateway``, ``module``).

    Raises:
        ValidationError: neither given nor a known method (``APUNTO-ORDERS-003``).
    """
    form = given or known.get(method)
    if form is None:
        raise ValidationError(
            f"unknown payment {what} {method!r}; pass payment_form (c_FormaPago)",
            field="payment_form",
            code="APUNTO-ORDERS-003",
        )
    return form


def verify_base64_hmac(body: bytes, header: str | None, secret: str, header_name: str) -> None:
    """Check a base64 HMAC-SHA256 of the raw body (WooCommerce and Shopify webhooks).

    Raises:
        SignatureVerificationError: header missing or not matching.
    """
    if not header:
        raise SignatureVerificationError(f"missing {header_name} header")
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, header.strip()):
        raise SignatureVerificationError(f"{header_name} does not match the body and secret")


def iva_rate(base: Decimal, tax: Decimal) -> Decimal:
    """The IVA rate a store applied, snapped to the rates that exist (16 %, 8 %, 0 %)."""
    if base <= 0 or tax == 0:
        return Decimal("0")
    ratio = tax / base
    return min(_KNOWN_IVA_RATES, key=lambda rate: abs(rate - ratio))


def exact_base(net: Decimal, tax: Decimal, rate: Decimal) -> Decimal:
    """The base closest to ``net`` whose SAT-rounded tax makes ``net + tax`` exactly."""
    gross = net + tax
    candidates = [net + CENT * step for step in (0, -1, 1, -2, 2)]
    for base in candidates:
        if base + quantize(base * rate, 2) == gross:
            return base
    return net


def public_customer(issuer: Issuer) -> Customer:
    """The receiver of a factura global: the general public, at the issuer's postal code."""
    return Customer(
        rfc="XAXX010101000",
        legal_name="PUBLICO EN GENERAL",
        tax_regime="616",
        zip_code=issuer.zip_code,
        cfdi_use="S01",
    )


def spread_discount(
    lines: list[OrderLine], amount: Decimal, tax: Decimal, field: str
) -> list[OrderLine]:
    """Spread an order-level discount over the lines taxed at the discount's rate.

    ``amount`` is the discount before tax and ``tax`` the tax it takes back (both positive).
    Each line's share is proportional to its net amount, rounded to cents; the last line takes
    the remainder, so the shares add up exactly.

    Raises:
        ValidationError: no line is taxed at the discount's rate, or the discount is larger
            than those lines.
    """
    if amount <= 0:
        return lines
    rate = iva_rate(amount, tax)
    targets = [
        index for index, line in enumerate(lines)
        if line.subtotal - line.discount > 0
        and iva_rate(line.subtotal - line.discount, line.tax) == rate
    ]
    net_total = sum((lines[i].subtotal - lines[i].discount for i in targets), Decimal(0))
    if not targets or amount > net_total:
        raise ValidationError(
            f"the discount of {amount} (tax {tax}) cannot be spread over the order's lines "
            f"taxed at {rate}",
            field=field, code="APUNTO-ORDERS-004",
        )
    spread = list(lines)
    left_amount, left_tax = amount, tax
    for position, index in enumerate(targets):
        line = lines[index]
        if position == len(targets) - 1:
            share, share_tax = left_amount, left_tax
        else:
            weight = (line.subtotal - line.discount) / net_total
            share, share_tax = quantize(amount * weight, 2), quantize(tax * weight, 2)
        left_amount -= share
        left_tax -= share_tax
        spread[index] = attrs.evolve(line, discount=line.discount + share, tax=line.tax - share_tax)
    return spread


def _make_item(line: OrderLine, subtotal: Decimal, tax: Tax) -> LineItem:
    unit_price = quantize(subtotal / line.quantity, 6)
    quantity, description = line.quantity, line.description
    if quantize(unit_price * line.quantity, 2) != subtotal:
        # A unit price needing more than six decimals cannot be written: bill the line as one.
        quantity, unit_price = Decimal(1), subtotal
        description = f"{line.description} ({line.quantity:g} unidades)"
    return LineItem(
        product_code=line.keys.product_code,
        unit_code=line.keys.unit_code,
        unit_name=line.keys.unit_name,
        description=description,
        quantity=quantity,
        unit_price=unit_price,
        discount=line.discount,
        taxes=[tax],
        sku=line.sku,
    )


def _line_item(line: OrderLine) -> LineItem:
    net = line.subtotal - line.discount
    rate = iva_rate(net, line.tax)
    lower, upper = sat_tax_bounds(net, rate)
    if lower <= line.tax <= upper:
        # The store's own tax is one the SAT accepts for this base: keep both as charged.
        return _make_item(line, line.subtotal, Tax.iva(rate, amount=line.tax))
    # Otherwise move the cent into the base (keeping the discount the buyer saw) so that the
    # SAT's own rounding of the tax reproduces the store's gross amount.
    base = exact_base(net, line.tax, rate)
    return _make_item(line, base + line.discount, Tax.iva(rate))


def build_invoice(
    *,
    order: Mapping[str, Any],
    lines: list[OrderLine],
    order_total: Decimal,
    currency: str,
    issuer: Issuer,
    find_customer: CustomerFinder | None,
    payment_form: str,
    exchange_rate: Decimal | str | None,
    paid_at: Any,
    series: str | None,
    folio: Any,
) -> OrderMapping:
    """Assemble the invoice draft from normalised lines (shared by every store mapper).

    ``paid_at`` is the store's ISO 8601 text (its offset dropped: CFDI dates are local time),
    ``folio`` the store's order number; both are taken as the stores send them.

    Raises:
        ValidationError: no billable lines, a foreign currency without its exchange rate, or
            an order whose lines cannot add up to its total to the cent (nothing is sent).
    """
    paid = (
        datetime.fromisoformat(str(paid_at).replace(" ", "T")).replace(tzinfo=None)
        if paid_at else None
    )
    period = paid or datetime.now()
    rate = money(exchange_rate, "exchange_rate") if exchange_rate is not None else None
    folio = str(folio or "") or None
    if not lines:
        raise ValidationError("the order has no billable lines", field="order.line_items",
                              code="APUNTO-ORDERS-001")
    currency = currency.upper()
    if currency not in ("MXN", "XXX") and rate is None:
        raise ValidationError(
            f"orders in {currency} need the exchange rate of the payment day (TipoCambio)",
            field="exchange_rate",
            code="CFDI40115",
        )
    customer = find_customer(order) if find_customer else None
    public = customer is None
    items = [_line_item(line) for line in lines]
    invoice = Invoice(
        customer=customer or public_customer(issuer),
        items=items,
        issuer=issuer,
        currency=currency,
        exchange_rate=rate if currency not in ("MXN", "XXX") else None,
        payment_form=payment_form,
        payment_method="PUE",  # a paid order is paid at issuance
        series=series,
        folio=folio,
        issued_at=None,  # dated when issued: the payment date is FechaPago, not Fecha
        global_info=(
            GlobalInformation(periodicity="01", months=f"{period.month:02d}", year=period.year)
            if public
            else None
        ),
    )
    total = invoice.total
    if total != order_total:
        raise ValidationError(
            f"the invoice would total {total} {currency} and the order charged {order_total}: "
            "a line's tax is outside what any SAT rounding of its base allows; fix the order's "
            "taxes in the store",
            field="order.total", code="APUNTO-ORDERS-005",
        )
    return OrderMapping(
        invoice=invoice, order_total=order_total, difference=total - order_total, public=public,
        paid_at=paid,
    )


def money(value: Any, field: str) -> Decimal:
    """A store amount (string or number) as Decimal, with the field named on errors."""
    if value in (None, ""):
        return Decimal(0)
    return to_decimal(value, field=field)
