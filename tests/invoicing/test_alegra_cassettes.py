"""Alegra cassettes: recorded on the loopback sandbox, replayed offline against the real URL.

The cassettes in ``cassettes/alegra/`` hold ``https://api.alegra.com/api/v1`` URLs: while
recording, requests go to the sandbox's loopback server and a ``before_record_request`` hook
rewrites the loopback base to the real one (file URLs inside response bodies too), so replay needs
no server and no network. To record them again (same tests, same assertions)::

    rm cassettes/alegra/*.yaml
    .venv/bin/pytest tests/invoicing/test_alegra_cassettes.py --record-mode=once

To record against a real Alegra account instead, set ``APUNTO_ALEGRA_EMAIL`` and
``APUNTO_ALEGRA_TOKEN``, add ``APUNTO_ALEGRA_RECORD_LIVE=1`` and allow the host
(``--allowed-hosts=api.alegra.com``). Alegra has no test environment for Mexico: a live recording
stamps real CFDIs with real folios. The Authorization header is masked by
``tests/cassette_scrub.py`` either way.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from apunto_connect.cfdi import parse
from apunto_connect.errors import AuthenticationError, StampRejected
from apunto_connect.invoicing.alegra import PRODUCTION_URL, AlegraProvider
from apunto_connect.models.invoices import CancellationStatus, CancelMotive, InvoiceStatus
from apunto_connect.models.parties import Customer
from apunto_connect.sandbox.alegra import AlegraEmulator
from tests import cassette_scrub
from tests.factories import fixture_invoice
from tests.fakes import FakeClock
from tests.recording import Recording

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "alegra"
_LOOPBACK = re.compile(r"http://127\.0\.0\.1:\d+/alegra")
_LOOPBACK_BYTES = re.compile(rb"http://127\.0\.0\.1:\d+/alegra")


sample_invoice = partial(fixture_invoice, "alegra/invoice.json")


def _to_real_host(request: Any) -> Any:
    request.uri = _LOOPBACK.sub(PRODUCTION_URL, request.uri)
    return request


def _to_real_urls(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {})
    raw = body.get("string")
    if isinstance(raw, bytes) and _LOOPBACK_BYTES.search(raw):
        body["string"] = _LOOPBACK_BYTES.sub(PRODUCTION_URL.encode(), raw)
        for name in list(response.get("headers", {})):
            if name.lower() == "content-length":
                response["headers"][name] = [str(len(body["string"]))]
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
    if live:  # credentials from APUNTO_ALEGRA_EMAIL / _TOKEN
        return {"sleep": clock.sleep, "clock": clock}
    wiring: dict[str, Any] = {**AlegraEmulator.demo_credentials, "sleep": clock.sleep, "clock": clock}
    if sandbox is not None:
        wiring.update(
            base_url=sandbox.serve().base_url("alegra"),
            sleep=sandbox.clock.sleep,
            clock=sandbox.clock.now,
        )
    return wiring


RECORDING = Recording(
    "alegra", AlegraProvider, seed=20260302, wiring=_wiring, start=1_772_467_200,
    live_variable="APUNTO_ALEGRA_RECORD_LIVE",
)


@pytest.mark.vcr
def test_cassette_full_flow_replays_offline(recorded_provider):
    provider = recorded_provider()
    assert provider.check_connection().ok
    stamped = provider.stamp(sample_invoice(folio="3001"), idempotency_key="cassette-3001")
    assert stamped.total == Decimal("23331.04") and stamped.uuid
    assert provider.get(stamped.id).uuid == stamped.uuid
    cfdi = parse(provider.download(stamped.id, "xml"))
    assert (cfdi.uuid, cfdi.total) == (stamped.uuid, stamped.total)
    assert provider.download(stamped.id, "pdf").startswith(b"%PDF-")
    cancelled = provider.cancel(stamped.id, CancelMotive.WITHOUT_RELATION)
    assert cancelled.status is CancellationStatus.CANCELLED
    listed = [s for s in provider.list() if s.id == stamped.id]
    assert [s.status for s in listed] == [InvoiceStatus.CANCELLED]


@pytest.mark.vcr
def test_cassette_batch_stamp_reports_each_invoice(recorded_provider):
    provider = recorded_provider()
    outcomes = provider.stamp_many([sample_invoice(folio="3101"), sample_invoice(folio="3102")])
    assert [o.ok for o in outcomes] == [True, True]
    assert outcomes[0].stamped.uuid != outcomes[1].stamped.uuid


@pytest.mark.vcr
def test_cassette_sat_rejection_keeps_alegras_text(recorded_provider):
    provider = recorded_provider()
    invoice = sample_invoice(
        folio="3002",
        customer=Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "01000"),
    )
    with pytest.raises(StampRejected) as info:
        provider.stamp(invoice)
    assert info.value.sat_code == "CFDI40147"
    assert "DomicilioFiscalReceptor" in info.value.message


@pytest.mark.vcr
def test_cassette_wrong_token_is_an_authentication_failure(recorded_provider):
    provider = recorded_provider(token="wrong-token-000")
    status = provider.check_connection()
    assert not status.ok and status.detail == "Usuario o token de acceso inválido"
    with pytest.raises(AuthenticationError):
        provider.get("1")
