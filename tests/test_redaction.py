from __future__ import annotations

import logging

import pytest

from apunto_connect.credentials import Secret
from apunto_connect.errors import AuthenticationError, TransportError
from apunto_connect.http import Transport
from apunto_connect.redaction import MASK, RedactingFilter, redact
from tests.fakes import FakeClock, ScriptedAdapter, dropped, session_with

SECRET = "Zq9-very-private-Key-77"


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Basic dXNlcjpwYXNzd29yZA==",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def",
        '{"password": "hunter2hunter2"}',
        "{'api_key': 'abcd1234efgh'}",
        "https://api.test/x?api_key=abcd1234efgh&page=2",
        "X-Shipsgo-User-Token: abcd1234efgh",
        "grant_type=refresh_token&refresh_token=1//0gabcdefg&client_secret=shh-secret",
    ],
)
def test_secret_looking_values_are_masked(text):
    cleaned = redact(text)
    assert MASK in cleaned
    for secret in ("dXNlcjpwYXNzd29yZA", "eyJhbGci", "hunter2", "abcd1234efgh", "1//0gabcdefg", "shh-secret"):
        assert secret not in cleaned


def test_registered_secret_values_are_masked_anywhere():
    Secret(SECRET)
    assert SECRET not in redact(f"weird field: {SECRET} in free text")


def test_a_credential_never_appears_in_logs_reprs_or_exceptions(caplog):
    import requests

    secret = Secret("Vendor-Pass-5512-xyz")
    clock = FakeClock()
    adapter = ScriptedAdapter(
        (401, {"Message": "bad password Vendor-Pass-5512-xyz"}),
        dropped(sent=True),
    )
    transport = Transport(
        "vendor",
        "https://api.vendor.test",
        auth=requests.auth.HTTPBasicAuth("user", secret.reveal()),
        session=session_with(adapter),
        sleep=clock.sleep,
        clock=clock,
    )
    texts = [repr(secret), str(secret), repr(transport.__dict__.get("auth"))]
    with caplog.at_level(logging.DEBUG, logger="apunto_connect"):
        with pytest.raises(AuthenticationError) as auth_error:
            transport.request("GET", "x?password=Vendor-Pass-5512-xyz")
        with pytest.raises(TransportError) as transport_error:
            transport.request("POST", "x", json={"password": secret.reveal()})
    texts += [str(auth_error.value), auth_error.value.raw_body or "", str(transport_error.value)]
    texts += [r.getMessage() for r in caplog.records]
    for text in texts:
        assert "Vendor-Pass-5512-xyz" not in text, text


def test_redacting_filter_rewrites_records():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token=%s", ("abcdefgh1234",), None)
    assert RedactingFilter().filter(record)
    assert "abcdefgh1234" not in record.getMessage()
