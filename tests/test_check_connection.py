"""``check_connection()`` is a health check: it answers, it does not raise, when a host is down."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from apunto_connect import Sandbox
from apunto_connect.errors import ServerError
from apunto_connect.models.common import ConnectionStatus
from apunto_connect.registry import load_provider_class
from apunto_connect.tracking import TrackingProvider

VENDORS = [
    ("invoicing", "facturama"), ("invoicing", "alegra"), ("invoicing", "enlace_fiscal"),
    ("invoicing", "contadigital"), ("invoicing", "actiun"),
    ("tracking", "controlt"), ("tracking", "shipsgo"),
]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nobody listens on (bound, then closed: connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield port


@pytest.mark.parametrize(("kind", "vendor"), VENDORS, ids=[v for _, v in VENDORS])
def test_an_unreachable_host_is_ok_false_with_the_reason(
    kind: str, vendor: str, closed_port: int
) -> None:
    with Sandbox(vendors=[vendor]) as sb:
        credentials = {
            k: v for k, v in sb.emulator(vendor).demo_credentials.items() if k != "webhook_secret"
        }
    cls = load_provider_class(kind, vendor)  # type: ignore[arg-type]
    provider = cls(**credentials, base_url=f"http://127.0.0.1:{closed_port}", max_retries=0)
    status = provider.check_connection()
    assert status.ok is False
    assert status.provider == vendor
    assert "not reachable" in status.detail and str(closed_port) in status.detail


@pytest.mark.parametrize(("kind", "vendor"), [*VENDORS, ("storage", "google_drive")],
                         ids=[v for _, v in VENDORS] + ["google_drive"])
def test_inside_the_sandbox_the_environment_is_sandbox(kind: str, vendor: str) -> None:
    with Sandbox(vendors=[vendor]) as sb:
        build = {"invoicing": sb.invoice_provider, "tracking": sb.tracking_provider,
                 "storage": sb.storage_provider}[kind]
        status = build(vendor).check_connection()
    assert status.ok and status.environment == "sandbox"


class HookOnly(TrackingProvider):
    """A third-party provider: it implements the hook only, the base answers for it."""

    name = "hook_only"

    def __init__(self, failure: Exception | None) -> None:
        self.failure = failure
        self.environment = "production"

    def _check_connection(self) -> ConnectionStatus:
        if self.failure is not None:
            raise self.failure
        return ConnectionStatus(provider=self.name, ok=True, environment=self.environment)


def test_a_provider_implementing_the_hook_answers_ok_false_when_the_vendor_fails() -> None:
    status = HookOnly(ServerError("503 upstream down", provider="hook_only")).check_connection()
    assert (status.ok, status.provider, status.environment) == (False, "hook_only", "production")
    assert status.detail.startswith("not reachable: ") and "503 upstream down" in status.detail
    assert status.extra == {"error": "ServerError"}
    assert HookOnly(None).check_connection().ok is True


def test_errors_other_than_unreachable_still_raise_from_the_hook() -> None:
    with pytest.raises(ValueError, match="bug"):
        HookOnly(ValueError("bug")).check_connection()


def test_a_sandboxed_provider_keeps_its_own_mode_as_vendor_environment() -> None:
    provider = HookOnly(None)
    provider.mark_sandbox()
    status = provider.check_connection()
    assert status.environment == "sandbox"
    assert status.extra == {"vendor_environment": "production"}
