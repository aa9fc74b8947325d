"""Facturama under every fault the sandbox can inject: a safe retry or a typed error, never two.

Each fault hits the stamp POST (``POST 3/cfdis``). Whatever happens, the emulator must hold at
most one CFDI for the call, and a second ``stamp()`` with the same idempotency key must end with
exactly one.
"""

from __future__ import annotations

import fpdf  # noqa: F401  (the test extra installs it; emulators draw PDFs with it)
import pytest

from apunto_connect.errors import RateLimited, ServerError, TransportError
from apunto_connect.models import Customer, Invoice, LineItem, Tax
from apunto_connect.sandbox import Fault, FaultKind, Sandbox

STAMP = {"vendor": "facturama", "method": "POST", "path": "*/cfdis"}


def invoice(folio: str | None = "3001") -> Invoice:
    return Invoice(
        customer=Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "86991"),
        items=[LineItem("78101802", "E48", "Flete", 1, "1500", taxes=[Tax.iva()])],
        payment_form="03",
        series="FLT",
        folio=folio,
    )


def run(fault: Fault, *, key: str | None = "key-3001", folio: str | None = "3001"):
    """Stamp once under ``fault``; return (result or error, emulator, sandbox)."""
    sandbox = Sandbox(vendors=["facturama"], faults=[fault], seed=5)
    provider = sandbox.invoice_provider("facturama", register_catalog=False)
    try:
        outcome: object = provider.stamp(invoice(folio), idempotency_key=key)
    except Exception as exc:  # the test inspects which one
        outcome = exc
    return outcome, sandbox.emulator("facturama"), sandbox, provider


SUCCEEDS = [
    pytest.param(Fault(FaultKind.LATENCY, latency=0.01, **STAMP), id="latency"),
    pytest.param(Fault(FaultKind.RATE_LIMIT, retry_after=2, **STAMP), id="429-retry-after"),
    pytest.param(Fault(FaultKind.DROP_BEFORE, **STAMP), id="drop-before"),
    pytest.param(Fault(FaultKind.DROP_AFTER, **STAMP), id="drop-after-commit"),
    pytest.param(Fault(FaultKind.MALFORMED_JSON, **STAMP), id="malformed-json"),
]


@pytest.mark.parametrize("fault", SUCCEEDS)
def test_stamp_succeeds_after_a_safe_retry_or_lookup_with_one_cfdi(fault):
    outcome, emulator, sandbox, _ = run(fault)
    try:
        assert not isinstance(outcome, Exception), outcome
        assert len(emulator.invoices) == 1
        (record,) = emulator.invoices.values()
        assert outcome.id == record.id and outcome.uuid == record.uuid
        assert [f.kind for f in sandbox.faults.fired] == [fault.kind]
    finally:
        sandbox.close()


def test_rate_limit_waits_what_retry_after_says_on_the_sandbox_clock():
    sandbox = Sandbox(vendors=["facturama"], faults=[Fault(FaultKind.RATE_LIMIT, retry_after=7,
                                                           **STAMP)])
    clock_before = sandbox.clock.now()
    provider = sandbox.invoice_provider("facturama", register_catalog=False)
    provider.stamp(invoice())
    assert sandbox.clock.now() - clock_before >= 7
    sandbox.close()


FAILS_CLEANLY = [
    pytest.param(Fault(FaultKind.SERVER_ERROR, status=500, **STAMP), id="500"),
    pytest.param(Fault(FaultKind.SERVER_ERROR, status=502, **STAMP), id="502"),
    pytest.param(Fault(FaultKind.SERVER_ERROR, status=503, **STAMP), id="503"),
    pytest.param(Fault(FaultKind.HTML_ERROR, **STAMP), id="html-page"),
]


@pytest.mark.parametrize("fault", FAILS_CLEANLY)
def test_unprocessed_5xx_is_a_typed_error_and_the_same_key_then_stamps_once(fault):
    outcome, emulator, sandbox, provider = run(fault)
    try:
        assert isinstance(outcome, ServerError)
        assert emulator.invoices == {}
        again = provider.stamp(invoice(), idempotency_key="key-3001")
        assert list(emulator.invoices) == [again.id]
        assert provider.stamp(invoice(), idempotency_key="key-3001").id == again.id
        assert len(emulator.invoices) == 1
    finally:
        sandbox.close()


def test_html_error_page_message_is_the_page_title_not_html():
    outcome, _, sandbox, _ = run(Fault(FaultKind.HTML_ERROR, **STAMP))
    assert isinstance(outcome, ServerError)
    assert outcome.message == "502 Bad Gateway"
    sandbox.close()


@pytest.mark.parametrize(
    "kind", [FaultKind.RATE_LIMIT, FaultKind.SERVER_ERROR, FaultKind.DROP_BEFORE,
             FaultKind.HTML_ERROR]
)
def test_persistent_faults_end_in_a_typed_error_without_any_cfdi(kind):
    fault = Fault(kind, times=-1, retry_after=0, **STAMP)
    outcome, emulator, sandbox, _ = run(fault)
    assert isinstance(outcome, (ServerError, TransportError, RateLimited))
    assert emulator.invoices == {}
    sandbox.close()


def test_stamp_post_is_never_repeated_by_the_retry_engine_after_commit():
    outcome, emulator, sandbox, _ = run(Fault(FaultKind.DROP_AFTER, **STAMP), key=None,
                                        folio=None)
    assert isinstance(outcome, TransportError) and outcome.request_sent is True
    posts = [f for f in sandbox.faults.fired if f.method == "POST"]
    assert len(posts) == 1
    assert len(emulator.invoices) == 1  # committed once; the caller is told it is ambiguous
    sandbox.close()


def test_ambiguous_failure_without_key_still_finds_the_cfdi_by_serie_and_folio():
    outcome, emulator, sandbox, _ = run(Fault(FaultKind.DROP_AFTER, **STAMP), key=None)
    assert not isinstance(outcome, Exception)
    assert len(emulator.invoices) == 1
    sandbox.close()


def test_faults_on_the_lookup_are_retried_because_reads_are_safe():
    faults = [
        Fault(FaultKind.DROP_AFTER, **STAMP),
        Fault(FaultKind.SERVER_ERROR, vendor="facturama", method="GET", path="/cfdi", times=1,
              status=503),
    ]
    sandbox = Sandbox(vendors=["facturama"], faults=faults, seed=5)
    provider = sandbox.invoice_provider("facturama", register_catalog=False)
    stamped = provider.stamp(invoice(), idempotency_key="k")
    assert len(sandbox.emulator("facturama").invoices) == 1
    assert stamped.uuid
    sandbox.close()
