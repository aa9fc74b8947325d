"""A small WSGI app that turns paid store orders into stamped, archived CFDI.

POST /webhooks/woocommerce   (X-WC-Webhook-Signature)
POST /webhooks/shopify       (X-Shopify-Hmac-Sha256)

For each paid order it verifies the store's signature, maps the order to an invoice (the
buyer's fiscal data from ``find_customer``, or a factura global), stamps it and archives the XML
and PDF. Stores retry webhooks, so an order already invoiced answers with the same result
instead of stamping twice (kept in memory here; use your database in production).

Run it on the offline sandbox::

    python examples/store_webhook_server.py --port 8000 --secret s3cret
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from wsgiref.simple_server import make_server

from apunto_connect import archive
from apunto_connect.errors import ApuntoError, SignatureVerificationError, ValidationError
from apunto_connect.integrations import shopify, woocommerce
from apunto_connect.models import Customer, Issuer

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

STORES = {
    "woocommerce": (woocommerce, "HTTP_X_WC_WEBHOOK_SIGNATURE"),
    "shopify": (shopify, "HTTP_X_SHOPIFY_HMAC_SHA256"),
}


def _json(start_response: StartResponse, status: str, payload: Any) -> Iterable[bytes]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def make_app(
    provider: Any,
    storage: Any,
    secret: str,
    issuer: Issuer,
    find_customer: Callable[[Mapping[str, Any]], Customer | None] | None = None,
    exchange_rate: Any = None,
) -> Callable[[Environ, StartResponse], Iterable[bytes]]:
    """Build the WSGI application around an invoice provider and a storage provider."""
    processed: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        store = path.rsplit("/", 1)[-1]
        if environ["REQUEST_METHOD"] != "POST" or store not in STORES or not path.startswith("/webhooks/"):
            return _json(start_response, "404 Not Found", {"error": "unknown webhook"})
        module, header = STORES[store]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            module.verify_webhook(body, environ.get(header), secret)
        except SignatureVerificationError as exc:
            return _json(start_response, "401 Unauthorized", {"error": str(exc)})
        order = json.loads(body)
        key = f"{store}-{order.get('id')}"
        with lock:  # one order at a time: a retried webhook waits and gets the same answer
            if key in processed:
                return _json(start_response, "200 OK", {**processed[key], "duplicate": True})
            try:
                mapping = module.order_to_invoice(order, issuer, find_customer, exchange_rate=exchange_rate)
                stamped = provider.stamp(mapping.invoice, idempotency_key=key)
                archived = archive(stamped, provider, storage)
            except ValidationError as exc:
                issues = [{"field": i.field, "code": i.code, "message": i.message} for i in exc.issues]
                return _json(start_response, "422 Unprocessable Entity", {"error": "invalid order", "issues": issues})
            except ApuntoError as exc:
                return _json(start_response, "502 Bad Gateway", {"error": str(exc)})
            result = {
                "order": key,
                "uuid": stamped.uuid,
                "total": str(mapping.invoice.total),
                "factura_global": mapping.public,
                "files": [f.id for f in (archived.xml, archived.pdf) if f is not None],
            }
            processed[key] = result
        return _json(start_response, "200 OK", result)

    return app


def main() -> None:
    from apunto_connect import Sandbox

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--secret", default="s3cret")
    args = parser.parse_args()
    issuer = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")
    with Sandbox() as sb:
        app = make_app(sb.invoice_provider("facturama"), sb.storage_provider("local"), args.secret, issuer)
        with make_server("127.0.0.1", args.port, app) as server:
            print(f"listening on http://127.0.0.1:{args.port}/webhooks/{{woocommerce,shopify}}")
            server.serve_forever()


if __name__ == "__main__":
    main()
