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

import json
import os
from pathlib import Path
from typing import Any

import pytest

from apunto_connect.cfdi import parse
from apunto_connect.errors import InsufficientCredits
from apunto_connect.invoicing.contadigital import PRODUCTION_URL, ContaDigitalProvider
from apunto_connect.models import CancellationStatus, CancelMotive, Invoice, from_dict
from apunto_connect.redaction import redact
from apunto_connect.sandbox import Sandbox
from tests import cassette_scrub

FIXTURES = Path(__file__).parent / "fixtures" / "contadigital"
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


class Target:
    """The provider under test and, when recording against the sandbox, its emulator."""

    def __init__(self, provider: ContaDigitalProvider, sandbox: Sandbox | None) -> None:
        self.provider = provider
        self.sandbox = sandbox

    def emulator(self) -> Any:
        return self.sandbox.emulator("contadigital") if self.sandbox else None


@pytest.fixture
def target(record_mode):
    if record_mode == "none":
        provider = ContaDigitalProvider(api_key=REPLAY_KEY, environment="sandbox",
                                        sleep=lambda s: None)
        yield Target(provider, None)
        provider.release()
        return
    real_key = os.environ.get("APUNTO_CONTADIGITAL_RECORD_KEY")
    if real_key:  # recording against ContaDigital itself
        provider = ContaDigitalProvider(
            api_key=real_key, environment="sandbox",
            base_url=os.environ.get("APUNTO_CONTADIGITAL_RECORD_URL", PRODUCTION_URL),
        )
        yield Target(provider, None)
        provider.release()
        return
    with Sandbox(vendors=["contadigital"], seed=21) as sb:
        server = sb.serve()
        _recording["prefix"] = server.base_url("contadigital")
        emulator = sb.emulator("contadigital")
        provider = ContaDigitalProvider(
            api_key=emulator.demo_credentials["api_key"], environment="sandbox",
            base_url=server.base_url("contadigital"), **emulator.provider_options(),
        )
        yield Target(provider, sb)
        provider.release()
        _recording["prefix"] = None


def freight_invoice() -> Invoice:
    data = json.loads((FIXTURES / "invoice_freight.json").read_text(encoding="utf-8"))
    return from_dict(Invoice, data).with_changes(issued_at=None)


@pytest.mark.vcr
def test_full_flow_replays_offline(target):
    provider = target.provider
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
def test_inactive_serie_and_missing_credits_replay_offline(target):
    provider = target.provider
    provider.series = "ANT"
    status = provider.check_connection()
    assert status.ok is False and "inactive" in status.detail
    provider.series = None
    if target.emulator() is not None:
        target.emulator().credits = 0
    with pytest.raises(InsufficientCredits) as info:
        provider.stamp(freight_invoice())
    assert info.value.saved_id and info.value.saved_id.isdigit()
    assert info.value.vendor_code == "3"


@pytest.mark.vcr
def test_token_refresh_on_401_replays_offline(target):
    provider = target.provider
    stamped = provider.stamp(freight_invoice(), idempotency_key="cassette-1")
    if target.emulator() is not None:
        target.emulator().revoke_tokens()
    assert provider.get(stamped.id).uuid == stamped.uuid
    assert provider.stamp(freight_invoice(), idempotency_key="cassette-1").uuid == stamped.uuid
