"""When a store says an order is shipped or completed: settle its invoice and tell the store.

The flow (a store, an invoice already stamped for the order, and the vendor that stamped it):

1. :func:`order_fulfilled` reads the store's own status fields: WooCommerce ``status`` is
   ``completed``; Shopify ``fulfillment_status`` is ``fulfilled``; PrestaShop ``current_state``
   is one of :data:`PRESTASHOP_FULFILLED_STATES` (the default install's "Shipped" and
   "Delivered").
2. :func:`settle_invoice` settles the invoice: one issued PUE was paid when it was issued, so it
   is simply marked paid; one issued PPD gets its payment receipt (Pagos 2.0, built with
   :meth:`~apunto_connect.models.PaymentReceipt.for_invoices` from the stamped XML for the
   whole open balance) stamped by the same vendor. A vendor that cannot stamp receipts raises
   :class:`~apunto_connect.errors.UnsupportedOperation` before any request.
3. :func:`invoice_paid_event` is the ``invoice.paid`` event to hand to a
   :class:`~apunto_connect.webhooks.WebhookSender` pointed at the store's URL.
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import attrs

from ..errors import ValidationError
from ..events import INVOICE_PAID, Event

__all__ = [
    "PRESTASHOP_FULFILLED_STATES",
    "Settlement",
    "invoice_paid_event",
    "order_fulfilled",
    "settle_invoice",
]

# PrestaShop's default order states: 4 "Shipped", 5 "Delivered" (ps_order_state ids of a fresh
# install; shops that renumber pass their own set to order_fulfilled).
PRESTASHOP_FULFILLED_STATES = frozenset({"4", "5"})


def order_fulfilled(
    store: str, order: Mapping[str, Any], *, prestashop_states: Iterable[str] = PRESTASHOP_FULFILLED_STATES,
) -> bool:
    """``True`` when the store marks ``order`` shipped or completed.

    Args:
        store: ``woocommerce``, ``shopify`` or ``prestashop``.
        order: the order as the store sends it (PrestaShop: the webservice answer or its
            ``order`` object).
        prestashop_states: the ``current_state`` ids that mean shipped or delivered.

    Raises:
        ValidationError: an unknown store.
    """
    if store == "woocommerce":
        return str(order.get("status", "")) == "completed"
    if store == "shopify":
        return str(order.get("fulfillment_status") or "") == "fulfilled"
    if store == "prestashop":
        body: Mapping[str, Any] = order.get("order", order)
        return str(body.get("current_state", "")) in set(prestashop_states)
    raise ValidationError(f"unknown store {store!r}", field="store", code="APUNTO-ORDERS-010")


@attrs.frozen(slots=True)
class Settlement:
    """What settling an invoice did.

    Attributes:
        invoice_uuid: the folio fiscal of the invoice settled.
        total: its total.
        method: ``PUE`` (paid when issued) or ``PPD`` (paid through a receipt).
        paid: ``True`` when nothing is left to pay.
        receipt: the stamped payment receipt (PPD), else ``None``.
        receipt_document: the :class:`~apunto_connect.models.PaymentReceipt` sent (PPD).
        remaining_balance: ImpSaldoInsoluto after the receipt (``0`` when paid).
    """

    invoice_uuid: str
    total: Decimal
    method: str
    paid: bool
    receipt: Any = None
    receipt_document: Any = None
    remaining_balance: Decimal = Decimal(0)


def settle_invoice(
    provider: Any,
    invoice_ref: str,
    *,
    paid_at: datetime,
    form: str,
    previous: Iterable[Any] = (),
    idempotency_key: str | None = None,
) -> Settlement:
    """Settle the stamped invoice ``invoice_ref`` at ``provider`` (see the module docstring).

    Args:
        provider: the invoicing provider that stamped it.
        invoice_ref: the vendor's id of the invoice.
        paid_at: when the money arrived (FechaPago).
        form: FormaDePagoP (``01`` cash on delivery, ``03`` transfer, ``04`` card...).
        previous: earlier receipts for this invoice (instalments already received).
        idempotency_key: retry-safe key for the receipt (reuse it when retrying).

    Raises:
        UnsupportedOperation: a PPD invoice and a vendor that cannot stamp receipts (nothing
            sent).
        ValidationError: the invoice has no open balance left, or the receipt is invalid.
        ProviderError: the vendor refused (its text verbatim).
    """
    from ..cfdi import parse
    from ..invoicing.documents import require_document_stamping
    from ..models import PaymentReceipt

    cfdi = parse(provider.download(invoice_ref, "xml"), source=invoice_ref)
    uuid = (cfdi.uuid or "").upper()
    if cfdi.payment_method != "PPD":
        return Settlement(uuid, cfdi.total, "PUE", paid=True)
    require_document_stamping(provider, "payment")
    receipts = list(previous)
    balance = cfdi.total
    for receipt in receipts:
        balance = receipt.balances().get(uuid, balance)
    receipt = PaymentReceipt.for_invoices(
        [cfdi], amount=balance, paid_at=paid_at, form=form, previous=receipts,
        currency=cfdi.currency or "MXN",
    )
    stamped = provider.stamp(receipt, idempotency_key=idempotency_key)
    left = receipt.balances()[uuid]
    return Settlement(uuid, cfdi.total, "PPD", paid=left == 0, receipt=stamped,
                      receipt_document=receipt, remaining_balance=left)


def invoice_paid_event(
    settlement: Settlement, *, provider: str, order: str, store: str,
) -> Event:
    """The ``invoice.paid`` event for a settled invoice, naming the store's order."""
    receipt = settlement.receipt
    return Event(
        id=str(uuid_module.uuid4()),
        type=INVOICE_PAID,
        provider=provider,
        data={
            "uuid": settlement.invoice_uuid,
            "total": str(settlement.total),
            "payment_method": settlement.method,
            "receipt_uuid": None if receipt is None else str(receipt.uuid),
            "order": order,
            "store": store,
        },
        created_at=datetime.now(timezone.utc),
    )
