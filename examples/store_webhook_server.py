"""A small WSGI app that turns store orders into stamped CFDI and tells the store when paid.

POST /webhooks/woocommerce   (X-WC-Webhook-Signature)
POST /webhooks/shopify       (X-Shopify-Hmac-Sha256)
POST /webhooks/prestashop    (X-Apunto-Signature: PrestaShop signs no webhooks of its own, so
                              the shop's hook module posts the webservice order, ``{"order":
                              {...}}``, signed the same way: base64 HMAC-SHA256 of the body)

For each order it verifies the store's signature, maps the order to an invoice (the buyer's
fiscal data from ``find_customer``, or a factura global), stamps it and archives the XML and
PDF. Orders ``on_credit`` says are paid later (cash on delivery, credit customers) are invoiced
PPD; the others PUE.

When the store later marks the order shipped or completed (WooCommerce ``completed``, Shopify
``fulfilled``, PrestaShop "Shipped"/"Delivered"), the invoice is settled: a PPD invoice gets its
payment receipt (Pagos 2.0) for the open balance, a PUE invoice is simply marked paid; then an
``invoice.paid`` event goes back to the store's URL through a
:class:`~apunto_connect.webhooks.WebhookSender` (signed, retried from a durable outbox). A
vendor that cannot stamp payment receipts leaves the PPD invoice open and says so in the answer
(``"settlement": "skipped: ..."``); nothing is announced as paid that was not.

Stores retry webhooks, so an order already invoiced (or settled) answers with the same result
instead of stamping twice (kept in memory here; use your database in production).

Run it on the offline sandbox::

    python examples/store_webhook_server.py --port 8000 --secret s3cret \\
        --notify woocommerce=http://127.0.0.1:9000/apunto
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import ModuleType
from typing import Any
from wsgiref.simple_server import make_server
from zoneinfo import ZoneInfo

from apunto_connect import archive
from apunto_connect.errors import (
    ApuntoError,
    SignatureVerificationError,
    UnsupportedOperation,
    ValidationError,
)
from apunto_connect.integrations import prestashop, shopify, woocommerce
from apunto_connect.integrations._orders import verify_base64_hmac
from apunto_connect.integrations.settlement import (
    invoice_paid_event,
    order_fulfilled,
    settle_invoice,
)
from apunto_connect.models import Customer, Issuer

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
MEXICO_CITY = ZoneInfo("America/Mexico_City")


def _verify_prestashop(body: bytes, header: str | None, secret: str) -> None:
    verify_base64_hmac(body, header, secret, "X-Apunto-Signature")


# store -> (its order mapper, the WSGI name of its signature header, the signature check)
STORES: dict[str, tuple[ModuleType, str, Callable[[bytes, str | None, str], None]]] = {
    "woocommerce": (woocommerce, "HTTP_X_WC_WEBHOOK_SIGNATURE", woocommerce.verify_webhook),
    "shopify": (shopify, "HTTP_X_SHOPIFY_HMAC_SHA256", shopify.verify_webhook),
    "prestashop": (prestashop, "HTTP_X_APUNTO_SIGNATURE", _verify_prestashop),
}


def _json(start_response: StartResponse, status: str, payload: Any) -> Iterable[bytes]:
    body = json.dumps(payload, ensure_ascii=False, default=str).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def make_app(
    provider: Any,
    storage: Any,
    secret: str,
    issuer: Issuer,
    find_customer: Callable[[Mapping[str, Any]], Customer | None] | None = None,
    exchange_rate: Any = None,
    *,
    on_credit: Callable[[str, Mapping[str, Any]], bool] | None = None,
    notify: Mapping[str, Any] | None = None,
) -> Callable[[Environ, StartResponse], Iterable[bytes]]:
    """Build the WSGI application around an invoice provider and a storage provider.

    Args:
        provider: the invoicing provider that stamps (and settles) the invoices.
        storage: where the XML and PDF are archived.
        secret: the stores' webhook secret.
        issuer: who invoices.
        find_customer: the buyer's fiscal data for an order (``None``: factura global).
        exchange_rate: TipoCambio for orders not in MXN.
        on_credit: ``(store, order) -> True`` for orders paid after delivery: invoiced PPD and
            settled with a payment receipt when the store marks them shipped or completed.
        notify: store name -> a :class:`~apunto_connect.webhooks.WebhookSender` aimed at that
            store's URL, which receives ``invoice.paid``.
    """
    processed: dict[str, dict[str, Any]] = {}
    receipts: dict[str, list[Any]] = {}
    lock = threading.Lock()

    def invoice(store: str, module: ModuleType, order: Mapping[str, Any], key: str) -> dict[str, Any]:
        mapping = module.order_to_invoice(order, issuer, find_customer, exchange_rate=exchange_rate)
        draft = mapping.invoice
        form = draft.payment_form or "99"
        if on_credit is not None and on_credit(store, order):
            draft = draft.with_changes(payment_method="PPD", payment_form="99")
        stamped = provider.stamp(draft, idempotency_key=key)
        archived = archive(stamped, provider, storage)
        return {
            "order": key,
            "uuid": stamped.uuid,
            "vendor_id": stamped.id,
            "total": str(draft.total),
            "payment_method": draft.payment_method.value,
            "payment_form": form,
            "factura_global": mapping.public,
            "files": [f.id for f in (archived.xml, archived.pdf) if f is not None],
            "paid": False,
        }

    def settle(store: str, record: dict[str, Any]) -> None:
        key = record["order"]
        try:
            settlement = settle_invoice(
                provider, record["vendor_id"], form=record["payment_form"],
                paid_at=datetime.now(MEXICO_CITY).replace(tzinfo=None, microsecond=0),
                previous=receipts.get(key, ()), idempotency_key=f"{key}-payment",
            )
        except UnsupportedOperation as exc:
            record["settlement"] = f"skipped: {exc}"
            return
        if settlement.receipt_document is not None:
            receipts.setdefault(key, []).append(settlement.receipt_document)
            record["receipt_uuid"] = settlement.receipt.uuid
        record["settlement"] = "paid" if settlement.paid else "partly paid"
        record["paid"] = settlement.paid
        sender = (notify or {}).get(store)
        if settlement.paid and sender is not None:
            sender.enqueue(invoice_paid_event(settlement, provider=provider.name, order=key,
                                              store=store))
            record["notified"] = True

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        store = path.rsplit("/", 1)[-1]
        if environ["REQUEST_METHOD"] != "POST" or store not in STORES or not path.startswith("/webhooks/"):
            return _json(start_response, "404 Not Found", {"error": "unknown webhook"})
        module, header, verify = STORES[store]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            verify(body, environ.get(header), secret)
        except SignatureVerificationError as exc:
            return _json(start_response, "401 Unauthorized", {"error": str(exc)})
        try:
            order = json.loads(body)
        except ValueError:
            return _json(start_response, "400 Bad Request", {"error": "the body is not JSON"})
        order_id = order.get("order", order).get("id") if isinstance(order, dict) else None
        if order_id is None:
            return _json(start_response, "400 Bad Request", {"error": "an order object with an id"})
        key = f"{store}-{order_id}"
        with lock:  # one order at a time: a retried webhook waits and gets the same answer
            record = processed.get(key)
            fresh = record is None
            try:
                if record is None:
                    record = processed[key] = invoice(store, module, order, key)
                if order_fulfilled(store, order) and not record["paid"]:
                    settle(store, record)
                elif not fresh:
                    return _json(start_response, "200 OK", {**record, "duplicate": True})
            except ValidationError as exc:
                issues = [{"field": i.field, "code": i.code, "message": i.message} for i in exc.issues]
                return _json(start_response, "422 Unprocessable Entity", {"error": "invalid order", "issues": issues})
            except ApuntoError as exc:
                return _json(start_response, "502 Bad Gateway", {"error": str(exc)})
            return _json(start_response, "200 OK", dict(record))

    return app


def main() -> None:
    from apunto_connect import Sandbox
    from apunto_connect.webhooks import WebhookSender

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--secret", default="s3cret")
    parser.add_argument("--notify", action="append", default=[], metavar="STORE=URL",
                        help="where a store receives invoice.paid (repeatable)")
    args = parser.parse_args()
    issuer = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")
    senders = {}
    for item in args.notify:
        store, _, url = item.partition("=")
        senders[store] = WebhookSender([url], args.secret)
    with Sandbox() as sb:
        app = make_app(sb.invoice_provider("facturama"), sb.storage_provider("local"), args.secret,
                       issuer, notify=senders)
        with make_server("127.0.0.1", args.port, app) as server:
            print(f"listening on http://127.0.0.1:{args.port}/webhooks/{{woocommerce,shopify,prestashop}}")
            server.serve_forever()


if __name__ == "__main__":
    main()
