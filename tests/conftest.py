"""Suite-wide set-up: no network, no real credentials, one vcrpy configuration."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import cassette_scrub

# A throwaway PostgreSQL server (the ``pg_server`` and ``pg_url`` fixtures) for every test dir.
pytest_plugins = ["tests.pg_server"]

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"


@pytest.fixture(autouse=True)
def _isolated_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A developer's own APUNTO_* variables or keyring must never reach a test.

    Every test starts with keyring's null backend and gets back whatever was there before, so
    a test that installs an in-memory keyring cannot leak it into the next one.
    """
    import keyring
    from keyring.backends import null

    for name in list(os.environ):
        if name.startswith("APUNTO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("APUNTO_NO_KEYRING", "1")
    # Every test gets a journal of its own: keys one test stamps never answer another's.
    monkeypatch.setenv("APUNTO_JOURNAL", "memory")
    from apunto_connect import journal, redaction

    journal.forget_opened()

    previous = keyring.get_keyring()
    keyring.set_keyring(null.Keyring())
    secrets = redaction._snapshot()  # secrets one test registers must not mask another's output
    yield
    redaction._restore(secrets)
    journal.forget_opened()
    keyring.set_keyring(previous)


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return cassette_scrub.vcr_config()


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    # tests/invoicing/test_facturama.py -> cassettes/facturama/
    vendor = Path(str(request.node.fspath)).stem.removeprefix("test_")
    return str(CASSETTES / vendor)


@pytest.fixture
def recorded_provider(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Providers for the cassette test module's ``RECORDING`` (see ``tests/recording.py``)."""
    from tests.recording import RecordedProviders

    providers = RecordedProviders(
        request.module.RECORDING, request.config.getoption("--record-mode")
    )
    yield providers
    providers.close()
