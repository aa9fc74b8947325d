"""Error reprs say which vendor and which status, and never carry a secret."""

from __future__ import annotations

from apunto_connect import redaction
from apunto_connect.errors import NotFound, Timeout, UnexpectedResponse


def test_provider_error_repr_names_provider_status_and_code() -> None:
    error = NotFound("No se encontró", provider="facturama", status_code=404, vendor_code="E1")
    assert repr(error) == (
        "NotFound(provider='facturama', status_code=404, vendor_code='E1', "
        "message='No se encontró')"
    )


def test_transport_error_repr_says_whether_the_request_was_sent() -> None:
    assert repr(Timeout("read timed out", provider="alegra", request_sent=True)) == (
        "Timeout(provider='alegra', request_sent=True, message='read timed out')"
    )
    error = UnexpectedResponse("bad Issuer", provider="facturama", field="Issuer")
    assert "provider='facturama'" in repr(error) and error.field == "Issuer"


def test_reprs_are_redacted() -> None:
    redaction.register_secret("hunter2-very-secret")
    error = NotFound("echo: hunter2-very-secret", provider="alegra", status_code=404)
    assert "hunter2-very-secret" not in repr(error)
