"""ContaDigital replayed from cassettes, offline, against the vendor's real URLs.

The cassettes in ``cassettes/contadigital/`` were recorded against the loopback sandbox (the
emulator follows the same assumed contract as the provider) and rewritten to
``https://app.contadigital.mx/dev/pruebas`` before being saved; the API key, the bearer token and
the token in the reply are masked. To re-record against the emulator::

    .venv/bin/pytest tests/invoicing/test_contadigital_cassettes.py --record-mode=rewrite

To record against ContaDigital's real test environment instead, set
``APUNTO_CONTADIGITAL_RECORD_KEY`` (and, if needed, ``APUNTO_CONTADIGITAL_RECORD_URL``) and run
the same command with ``--allowed-hosts=app.contadigital.mx``; then review every cassette before
committing it.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from apunto_connect.cfdi import parse
from apunto_connect.errors import InsufficientCredits
from apunto_connect.invoicing.contadigital import PRODUCTION_URL, ContaDigitalProvider
from apunto_connect.models import CancellationStatus, CancelMotive
from apunto_connect.redaction import redact
from tests import cassette_scrub
from tests.factories import fixture_invoice
from tests.recording import Recording

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "contadigital"
REPLAY_KEY = "cd-cassette-replay-key"
_recording: dict[str, Any] = {"prefix": None}


def _to_real_host(request: Any) -> Any:
    """Recorded requests name the vendor's host, never the loopback port, and carry no key."""
    prefix = _recording["prefix"]
    if prefix and request.uri.startswith(prefix):
        request.uri = PRODUCTION_URL + request.uri[len(prefix):]
    if request.body:
        text = request.body.decode("utf-8") if isinstance(request.body, bytes) else request.body
        request.body = redact(text).encode("utf-8")
    return request


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {**cassette_scrub.vcr_config(), "before_record_request": _to_real_host}


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


def _wiring(sandbox: Any, clock: Any, live: bool) -> dict[str, Any]:
    if live:  # recording against ContaDigital itself
        return {
            "api_key": os.environ["APUNTO_CONTADIGITAL_RECORD_KEY"], "environment": "sandbox",
            "base_url": os.environ.get("APUNTO_CONTADIGITAL_RECORD_URL", PRODUCTION_URL),
        }
    if sandbox is None:
        return {"api_key": REPLAY_KEY, "environment": "sandbox", "sleep": lambda s: None}
    _recording["prefix"] = sandbox.serve().base_url("contadigital")
    emulator = sandbox.emulator("contadigital")
    return {
        "api_key": emulator.demo_credentials["api_key"], "environment": "sandbox",
        "base_url": _recording["prefix"], **emulator.provider_options(),
    }


RECORDING = Recording(
    "contadigital", ContaDigitalProvider, seed=21, wiring=_wiring,
    live_variable="APUNTO_CONTADIGITAL_RECORD_KEY",
)


freight_invoice = partial(fixture_invoice, "contadigital/invoice_freight.json", issued_at=None)


@pytest.mark.vcr
def test_full_flow_replays_offline(recorded_provider):
    provider = recorded_provider()
    status = provider.check_connection()
    assert status.ok and status.extra["series"] == "F"
    stamped = provider.stamp(freight_invoice())
    assert stamped.uuid and stamped.id.isdigit()
    assert provider.get(stamped.id).uuid == stamped.uuid
    cfdi = parse(provider.download(stamped.id, "xml"))
    assert (cfdi.uuid, cfdi.total) == (stamped.uuid, freight_invoice().total)
    assert provider.download(stamped.id, "pdf").startswith(b"%PDF")
    cancellation = provider.cancel(stamped.id, CancelMotive.WITHOUT_RELATION)
    assert cancellation.status is CancellationStatus.CANCELLED


@pytest.mark.vcr
def test_inactive_serie_and_missing_credits_replay_offline(recorded_provider):
    provider = recorded_provider()
    provider.series = "ANT"
    status = provider.check_connection()
    assert status.ok is False and "inactive" in status.detail
    provider.series = None
    if recorded_provider.emulator() is not None:
        recorded_provider.emulator().credits = 0
    with pytest.raises(InsufficientCredits) as info:
        provider.stamp(freight_invoice())
    assert info.value.saved_id and info.value.saved_id.isdigit()
    assert info.value.vendor_code == "3"


@pytest.mark.vcr
def test_token_refresh_on_401_replays_offline(recorded_provider):
    provider = recorded_provider()
    stamped = provider.stamp(freight_invoice(), idempotency_key="cassette-1")
    if recorded_provider.emulator() is not None:
        recorded_provider.emulator().revoke_tokens()
    assert provider.get(stamped.id).uuid == stamped.uuid
    assert provider.stamp(freight_invoice(), idempotency_key="cassette-1").uuid == stamped.uuid
