from __future__ import annotations

import logging

import pytest

from apunto_connect.credentials import Secret
from apunto_connect.errors import AuthenticationError, ProviderError, TransportError
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


# -- value redaction at scale, per transport ----------------------------------------------------


def test_a_secret_set_masks_any_of_many_secrets_and_the_longest_whole():
    from apunto_connect.redaction import SecretSet

    secrets = SecretSet(f"tok-{n:06d}-{n * 7919 % 100003:05d}" for n in range(5_000))
    secrets.add("prefix-shared-LONGER-secret")
    secrets.add("prefix-shared")
    text = "a tok-004321-" + f"{4321 * 7919 % 100003:05d}" + " b prefix-shared-LONGER-secret c"
    cleaned = secrets.mask(text)
    assert cleaned == f"a {MASK} b {MASK} c"
    assert secrets.mask("nothing secret in here at all") == "nothing secret in here at all"


def test_a_secret_set_forgets_removed_replaced_and_oldest_values():
    from apunto_connect.redaction import SecretSet

    secrets = SecretSet(["first-secret-1", "second-secret-2"], max_size=2)
    secrets.add("third-secret-3")  # past the cap: the oldest goes
    assert secrets.mask("first-secret-1 third-secret-3") == f"first-secret-1 {MASK}"
    secrets.replace("third-secret-3", "fourth-secret-4")
    assert secrets.mask("third-secret-3 fourth-secret-4") == f"third-secret-3 {MASK}"
    secrets.discard("second-secret-2")
    assert secrets.values() == frozenset({"fourth-secret-4"})


def test_a_rotated_token_is_masked_by_its_transport_only_until_replaced(caplog):
    adapter = ScriptedAdapter((200, {"ok": True}), (200, {"ok": True}))
    transport = Transport("vendor", "https://api.vendor.test", session=session_with(adapter))
    transport.replace_secret(None, "login-token-AAAA1111")
    with caplog.at_level(logging.INFO, logger="apunto_connect"):
        transport.request("GET", "items/login-token-AAAA1111")
        transport.replace_secret("login-token-AAAA1111", "login-token-BBBB2222")
        transport.request("GET", "items/login-token-BBBB2222")
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "login-token-BBBB2222" not in messages
    assert messages.count(MASK) == 2
    # The old token is forgotten, and neither ever reached the process-wide registry.
    assert transport.redactor.redact("login-token-AAAA1111") == "login-token-AAAA1111"
    assert redact("login-token-BBBB2222") == "login-token-BBBB2222"


def _count_redaction_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Wrap every entry point of redaction so the test can count the work done."""
    from apunto_connect import redaction

    calls: list[str] = []
    for owner, name in ((redaction.Redactor, "redact"), (redaction.SecretSet, "mask")):
        original = getattr(owner, name)

        def spy(self, text, *args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return _original(self, text, *args, **kwargs)

        monkeypatch.setattr(owner, name, spy)
    return calls


def test_a_provider_with_logging_off_does_no_redaction_work_per_request(monkeypatch):
    from apunto_connect import Sandbox

    calls = _count_redaction_calls(monkeypatch)
    logger = logging.getLogger("apunto_connect")
    previous = logger.level
    with Sandbox(vendors=["shipsgo"]) as sb:
        provider = sb.tracking_provider("shipsgo")
        try:
            logger.setLevel(logging.WARNING)
            for _ in range(5):
                assert provider.check_connection().ok
            assert calls == []
            # The same calls with INFO enabled do redact: the spy sees the work when there is some.
            logger.setLevel(logging.INFO)
            provider.check_connection()
            assert "redact" in calls
        finally:
            logger.setLevel(previous)
            provider.release()


def test_a_transport_secret_echoed_by_the_vendor_is_masked_in_the_error():
    adapter = ScriptedAdapter((400, {"Message": "token login-token-CCCC3333 is not valid here"}))
    transport = Transport("vendor", "https://api.vendor.test", session=session_with(adapter))
    transport.replace_secret(None, "login-token-CCCC3333")
    with pytest.raises(ProviderError) as info:
        transport.request("GET", "items")
    error = info.value
    assert "login-token-CCCC3333" not in str(error)
    assert "login-token-CCCC3333" not in (error.raw_body or "")
    assert error.message == "token login-token-CCCC3333 is not valid here"  # kept verbatim
