"""Tracking test set-up: sandboxes on a fixed clock, and cassettes recorded over loopback.

Cassettes are recorded against ``Sandbox().serve()`` (``pytest --record-mode=once``) with the
loopback prefix rewritten to the vendor's real base URL, and replayed offline against the real
URL (the default ``--record-mode=none``), so a replay is exactly what a real client would send.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from apunto_connect.sandbox import Sandbox, SandboxClock
from tests import cassette_scrub

START = 1_790_000_000.0  # a fixed instant, so dates in cassettes and assertions are stable
REAL_BASES = {
    "controlt": "https://app.controlt.com.co/apipublic/api",
    "shipsgo": "https://api.shipsgo.com/v2",
}
_LOOPBACK = re.compile(r"^http://127\.0\.0\.1:\d+/(controlt|shipsgo)")


def to_real_url(request: Any) -> Any:
    """vcrpy hook: a loopback sandbox URL becomes the vendor's real URL (idempotent)."""
    request.uri = _LOOPBACK.sub(lambda m: REAL_BASES[m.group(1)], request.uri)
    return request


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {**cassette_scrub.vcr_config(), "before_record_request": to_real_url}


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock(start=START)


@pytest.fixture
def sandbox(clock: SandboxClock) -> Iterator[Sandbox]:
    with Sandbox(clock=clock, seed=7, vendors=["controlt", "shipsgo"]) as sb:
        yield sb


@attrs.define
class Live:
    """A provider for a cassette test: loopback emulator when recording, real URL on replay."""

    provider: Any
    sandbox: Sandbox | None

    @property
    def recording(self) -> bool:
        return self.sandbox is not None

    def advance(self, seconds: float) -> None:
        if self.sandbox is not None:
            self.sandbox.clock.advance(seconds)

    def emulator(self, name: str) -> Any:
        return None if self.sandbox is None else self.sandbox.emulator(name)


def live_provider(request: pytest.FixtureRequest, name: str) -> Iterator[Live]:
    from apunto_connect.registry import load_provider_class

    cls = load_provider_class("tracking", name)
    if request.config.getoption("--record-mode") == "none":
        from apunto_connect.sandbox.controlt import ControlTEmulator
        from apunto_connect.sandbox.shipsgo import ShipsGoEmulator

        creds = {"controlt": ControlTEmulator, "shipsgo": ShipsGoEmulator}[name].demo_credentials
        provider = cls(**creds, sleep=lambda seconds: None, max_retries=0)
        yield Live(provider, None)
        provider.release()
        return
    sb = Sandbox(clock=SandboxClock(start=START), seed=7, vendors=[name])
    server = sb.serve()
    kwargs = sb.provider_kwargs(name, base_url=server.base_url(name), max_retries=0)
    kwargs.pop("session")
    provider = cls(**kwargs)
    yield Live(provider, sb)
    provider.release()
    sb.close()
