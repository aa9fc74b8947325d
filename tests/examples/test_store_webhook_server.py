"""The store webhook example over loopback: real-shaped orders in, stamped and archived CFDI out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import threading
from datetime import datetime, timedelta
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server
from zoneinfo import ZoneInfo

import pytest
import requests

from apunto_connect import Sandbox
from apunto_connect.cfdi import parse
from apunto_connect.models import Customer, Issuer

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "integrations" / "fixtures"
SECRET = "wc-secret-123"
ISSUER = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")


def load_example():
    spec = importlib.util.spec_from_file_location("store_webhook_server", ROOT / "examples" / "store_webhook_server.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def signature(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def server(tmp_path):
    example = load_example()
    with Sandbox(vendors=["facturama"]) as sb:
        provider = sb.invoice_provider("facturama")
        storage = sb.storage_provider("local", root=tmp_path / "archive")

        def find_customer(order):
            rfcs = [m["value"] for m in order.get("meta_data", []) if m["key"] == "_billing_rfc"]
            if rfcs == ["EKU9003173C9"]:
                return Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")
            return None

        app = example.make_app(provider, storage, SECRET, ISSUER, find_customer, exchange_rate="17.85")
        httpd = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}", provider, storage
        finally:
            httpd.shutdown()
            httpd.server_close()


def post(url: str, store: str, order: dict, secret_ok: bool = True) -> requests.Response:
    body = json.dumps(order).encode()
    header = {"woocommerce": "X-WC-Webhook-Signature", "shopify": "X-Shopify-Hmac-Sha256"}[store]
    sig = signature(body) if secret_ok else signature(body + b"x")
    return requests.post(f"{url}/webhooks/{store}", data=body, headers={header: sig}, timeout=30)


def paid_just_now() -> str:
    """A payment a minute ago, in Mexico City time as the fixtures' stores send it."""
    moment = datetime.now(ZoneInfo("America/Mexico_City")) - timedelta(minutes=1)
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def test_woocommerce_order_with_fiscal_data_is_stamped_and_archived(server):
    url, _, storage = server
    order = json.loads((FIXTURES / "woo_tax_excluded_coupon_shipping.json").read_text())
    order["date_paid"] = paid_just_now()  # a PAC refuses a Fecha more than 72 hours old
    order["meta_data"] = [{"key": "_billing_rfc", "value": "EKU9003173C9"}]
    answer = post(url, "woocommerce", order)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["total"] == "1565.97" and not result["factura_global"]
    xml_id = next(f for f in result["files"] if f.endswith(".xml"))
    cfdi = parse(storage.download(xml_id))
    assert cfdi.uuid.upper() == result["uuid"].upper()
    assert str(cfdi.total) == "1565.97"
    again = post(url, "woocommerce", order)  # the store retries the webhook
    assert again.json()["uuid"] == result["uuid"] and again.json()["duplicate"] is True


def test_shopify_order_without_fiscal_data_becomes_a_factura_global(server):
    url, _, _ = server
    order = json.loads((FIXTURES / "shopify_taxes_included_discount.json").read_text())
    order["processed_at"] = paid_just_now()
    answer = post(url, "shopify", order)
    assert answer.status_code == 200, answer.text
    assert answer.json()["factura_global"] is True
    assert answer.json()["total"] == "1178.10"


def test_bad_signature_is_refused_and_nothing_is_stamped(server):
    url, provider, _ = server
    order = json.loads((FIXTURES / "woo_usd_fee.json").read_text())
    answer = post(url, "woocommerce", order, secret_ok=False)
    assert answer.status_code == 401
    assert list(provider.list()) == []
