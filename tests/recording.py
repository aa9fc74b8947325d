"""How a vendor's cassette tests build providers: one life cycle for every vendor.

A cassette test module names its vendor in a module-level ``RECORDING``; the shared
``recorded_provider`` fixture (``tests/conftest.py``) then builds providers for the mode
pytest-recording runs in:

- replay (``--record-mode=none``, the default): no server; vcrpy answers from the cassette, whose
  URLs name the vendor's real host;
- recording on the loopback sandbox (any other record mode): a :class:`~apunto_connect.Sandbox`
  serving only that vendor, closed after the test;
- recording against the vendor itself: the same, with ``live_variable`` set in the environment
  (credentials then come from the usual ``APUNTO_*`` variables and no sandbox is started).

``wiring(sandbox, clock, live)`` returns the provider's keyword arguments for the mode: ``sandbox``
is ``None`` unless recording on the sandbox, ``clock`` is a fresh :class:`~tests.fakes.FakeClock`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes import FakeClock

Wiring = Callable[[Any, FakeClock, bool], dict[str, Any]]


@dataclass(frozen=True)
class Recording:
    """A vendor's cassette set-up (see the module docs)."""

    vendor: str
    provider: Callable[..., Any]
    seed: int
    wiring: Wiring
    start: float | None = None  # the sandbox clock's epoch while recording, when it matters
    live_variable: str | None = None


class RecordedProviders:
    """Calling it builds a provider (keyword overrides win); every one is released at teardown."""

    def __init__(self, recording: Recording, record_mode: str | None) -> None:
        from apunto_connect.sandbox import Sandbox, SandboxClock

        self.recording = recording
        recording_now = record_mode not in (None, "none")
        live = bool(
            recording_now
            and recording.live_variable
            and os.environ.get(recording.live_variable)
        )
        self.sandbox: Sandbox | None = None
        if recording_now and not live:
            clock = SandboxClock(recording.start) if recording.start is not None else None
            self.sandbox = Sandbox(vendors=[recording.vendor], seed=recording.seed, clock=clock)
        self.wiring = recording.wiring(self.sandbox, FakeClock(), live)
        self._made: list[Any] = []

    def __call__(self, **overrides: Any) -> Any:
        provider = self.recording.provider(**{**self.wiring, **overrides})
        self._made.append(provider)
        return provider

    def emulator(self) -> Any:
        """The vendor's emulator while recording on the sandbox; ``None`` on replay."""
        return self.sandbox.emulator(self.recording.vendor) if self.sandbox else None

    def close(self) -> None:
        """Release every provider built, then stop the sandbox."""
        for provider in self._made:
            provider.release()
        if self.sandbox is not None:
            self.sandbox.close()
