"""Actiun cassettes: recorded over the loopback sandbox, replayed offline on the real URL.

``cassettes/actiun/`` holds ``https://api.actiun.com`` URLs: while recording, requests go to the
sandbox's loopback server and the hooks below rewrite the loopback base to the real one in the
request URI, in response bodies (``download_url``) and in response headers (``Link``), so replay
needs neither a server nor the network. The ``Authorization`` header is masked by
``tests/cassette_scrub.py``. To record again (same tests, same assertions)::

    rm cassettes/actiun/*.yaml
    .venv/bin/pytest tests/invoicing/test_actiun_cassettes.py --record-mode=once
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from apunto_connect.actiun import SPEC, ActiunClient, LineItemInput
from apunto_connect.cfdi import parse
from apunto_connect.errors import AuthenticationError, ProviderError
from apunto_connect.invoicing.actiun import ActiunInvoiceProvider
from apunto_connect.models import Customer, Invoice, InvoiceStatus, LineItem, Tax
from apunto_connect.sandbox.actiun import DEMO_API_KEY
from tests import cassette_scrub
from tests.fakes import FakeClock
from tests.recording import Recording

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "actiun"
REAL = SPEC["path.base_url"]
_LOOPBACK = re.compile(r"http://127\.0\.0\.1:\d+/actiun")
_LOOPBACK_BYTES = re.compile(rb"http://127\.0\.0\.1:\d+/actiun")


def _to_real_host(request: Any) -> Any:
    request.uri = _LOOPBACK.sub(REAL, request.uri)
    return request


def _to_real_urls(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name, values in headers.items():
        headers[name] = [_LOOPBACK.sub(REAL, value) for value in values]
    body = response.get("body", {})
    raw = body.get("string")
    if isinstance(raw, bytes) and _LOOPBACK_BYTES.search(raw):
        body["string"] = _LOOPBACK_BYTES.sub(REAL.encode(), raw)
        for name in list(headers):
            if name.lower() == "content-length":
                headers[name] = [str(len(body["string"]))]
    return cassette_scrub.scrub_response(response)


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    config = cassette_scrub.vcr_config()
    config["before_record_request"] = _to_real_host
    config["before_record_response"] = _to_real_urls
    return config


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


def _wiring(sandbox: Any, clock: FakeClock, live: bool) -> dict[str, Any]:
    """Keyword arguments for a client or provider: the loopback sandbox while recording, the
    real URL (answered from the cassette) while replaying."""
    if sandbox is None:
        return {"api_key": DEMO_API_KEY, "sleep": clock.sleep, "clock": clock}
    return {"api_key": DEMO_API_KEY, "base_url": sandbox.serve().base_url("actiun"),
            "sleep": sandbox.clock.sleep, "clock": sandbox.clock.now}


RECORDING = Recording(
    "actiun", ActiunInvoiceProvider, seed=20260301, wiring=_wiring, start=1_772_380_800
)


def freight() -> Invoice:
    return Invoice(
        customer=Customer(rfc="TNO010203AB4", legal_name="TRANSPORTES DEL NORTE",
                          tax_regime="601", zip_code="64000"),
        items=[LineItem("78101802", "E48", "Flete Monterrey-Laredo", 1, "18500.00",
                        name="Flete terrestre", taxes=[Tax.iva(), Tax.iva_withholding("0.04")])],
        payment_form="03",
    )


@pytest.mark.vcr
def test_cassette_full_flow_replays_offline(recorded_provider):
    provider = recorded_provider()
    assert provider.check_connection().ok
    stamped = provider.stamp(freight(), idempotency_key="cassette-1")
    assert stamped.status is InvoiceStatus.ACTIVE and stamped.uuid
    assert stamped.total == Decimal("20720.00")
    assert provider.get(stamped.id).uuid == stamped.uuid
    cfdi = parse(provider.download(stamped.id, "xml"))
    assert cfdi.stamp is not None and cfdi.stamp.uuid == stamped.uuid
    assert cfdi.total == stamped.total
    assert provider.download(stamped.uuid, "pdf").startswith(b"%PDF")


@pytest.mark.vcr
def test_cassette_wrong_key_is_an_authentication_failure(recorded_provider):
    provider = recorded_provider(api_key="una-llave-equivocada")
    status = provider.check_connection()
    assert status.ok is False and status.detail == "Credenciales no válidas."
    with pytest.raises(AuthenticationError):
        provider.client.invoices.get(1)


@pytest.mark.vcr
def test_cassette_listing_keeps_the_filters_on_every_page(recorded_provider, vcr):
    # Serial on purpose: vcrpy does not record requests made from several threads reliably.
    if recorded_provider.emulator() is not None:
        recorded_provider.emulator().seed_invoices(60)
    client = ActiunClient(**recorded_provider.wiring)
    try:
        invoices = list(client.invoices.list(order_field="date", order_direction="DESC"))
    finally:
        client.close()
    assert [i.id for i in invoices] == list(range(60, 0, -1))
    assert all(i.sat_uuid for i in invoices)
    listings = [urlsplit(r.uri) for r in vcr.requests if urlsplit(r.uri).path == "/invoices"]
    assert len(listings) == 3 and all(u.netloc == "api.actiun.com" for u in listings)
    for url in listings:
        query = parse_qs(url.query)
        assert query["order_field"] == ["date"] and query["order_direction"] == ["DESC"]


@pytest.mark.vcr
def test_cassette_soft_deleted_contact_keeps_actiuns_text(recorded_provider):
    client = ActiunClient(**recorded_provider.wiring)
    try:
        contact = client.contacts.create("ADUANAS DEL GOLFO", "ADG010203AB4")
        item = client.items.create("Despacho aduanal", "3500", "80141600", "E48")
        client.invoices.create(contact.id, [LineItemInput(item.id, "3500", 1, tax_ids=[1])],
                               payment_method_code="wire-transfer")
        deletion = client.contacts.delete(contact.id)
        assert deletion.soft is True
        assert client.contacts.get(contact.id).soft_deleted is True
        with pytest.raises(ProviderError) as info:
            client.invoices.create(contact.id, [LineItemInput(item.id, "3500", 1)],
                                   payment_method_code="cash")
        assert info.value.status_code == 400
        assert info.value.message == "El contacto fue eliminado y no puede facturarse."
        assert client.items.delete(item.id).soft is False
    finally:
        client.close()
