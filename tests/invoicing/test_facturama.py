"""Facturama provider on the sandbox: the full flow, idempotency, validation and cassettes.

The cassettes in ``cassettes/facturama/`` were recorded against the sandbox's loopback server,
with the loopback address rewritten to Facturama's real base URL; replaying them needs no
server and no network. To record them again (same tests, same assertions)::

    rm cassettes/facturama/*.yaml
    .venv/bin/pytest tests/invoicing/test_facturama.py -k cassette --record-mode=once

To record against Facturama's own test host instead, with your sandbox account, set
``APUNTO_FACTURAMA_RECORD_LIVE=1`` plus ``APUNTO_FACTURAMA_USERNAME`` and
``APUNTO_FACTURAMA_PASSWORD`` and run the same command with ``--record-mode=once
--allowed-hosts=apisandbox.facturama.mx`` (the suite blocks every other host). The
Authorization header is masked by ``tests/cassette_scrub.py`` either way.
"""

from __future__ import annotations

import re
import warnings
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import fpdf  # noqa: F401  (the test extra installs it; emulators draw PDFs with it)
import pytest
import requests

from apunto_connect.cfdi import parse
from apunto_connect.errors import (
    AuthenticationError,
    ConfigurationError,
    Conflict,
    NotFound,
    StampRejected,
    TransportError,
    UnsupportedOperation,
    ValidationError,
)
from apunto_connect.invoicing import facturama
from apunto_connect.invoicing.facturama import BASE_URLS, SPEC, FacturamaProvider
from apunto_connect.models import (
    CancellationStatus,
    CancelMotive,
    Capability,
    Customer,
    Invoice,
    InvoiceStatus,
    LineItem,
    RelatedDocuments,
    Tax,
)
from apunto_connect.sandbox import Sandbox
from apunto_connect.sandbox.adapter import SandboxAdapter
from apunto_connect.sandbox.facturama import FacturamaEmulator
from tests import cassette_scrub
from tests.fakes import FakeClock
from tests.recording import Recording

CUSTOMER = Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "86991")


def freight(folio: str | None = "1001", **changes: Any) -> Invoice:
    invoice = Invoice(
        customer=CUSTOMER,
        items=[
            LineItem("78101802", "E48", "Flete Manzanillo - Guadalajara", 1, "18500",
                     unit_name="Servicio", name="Flete terrestre",
                     taxes=[Tax.iva(), Tax.iva_withholding("0.04")]),
            LineItem("78141500", "E48", "Maniobras de descarga", 2, "500", unit_name="Servicio",
                     taxes=[Tax.iva()]),
        ],
        payment_form="03",
        series="FLT",
        folio=folio,
    )
    return invoice.with_changes(**changes)


class Spy(requests.adapters.BaseAdapter):
    """Records every request and hands it to the sandbox adapter."""

    def __init__(self, inner: requests.adapters.BaseAdapter) -> None:
        super().__init__()
        self.inner = inner
        self.calls: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def, override]
        self.calls.append(request)
        return self.inner.send(request, **kwargs)

    def close(self) -> None:
        pass

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path_url.split('?')[0]}" for r in self.calls]


@pytest.fixture
def sandbox():
    with Sandbox(vendors=["facturama"], seed=11) as sb:
        yield sb


@pytest.fixture
def emulator(sandbox) -> FacturamaEmulator:
    return sandbox.emulator("facturama")


@pytest.fixture
def spy(sandbox) -> Spy:
    spy = Spy(sandbox.adapter)
    for prefix in BASE_URLS.values():
        sandbox.session.mount(prefix, spy)
    return spy


@pytest.fixture
def provider(sandbox, spy) -> FacturamaProvider:
    made = sandbox.invoice_provider("facturama")
    yield made
    made.release()


# -- configuration --------------------------------------------------------------------------


def test_production_is_the_default_and_sandbox_selects_facturamas_test_host():
    production = FacturamaProvider(username="u", password="p")
    sandbox = FacturamaProvider(username="u", password="p", environment="sandbox")
    assert production.transport.base_url == "https://api.facturama.mx"
    assert sandbox.transport.base_url == "https://apisandbox.facturama.mx"
    with pytest.raises(ConfigurationError):
        FacturamaProvider(username="u", password="p", environment="staging")


def test_credentials_come_from_the_environment_and_never_show(monkeypatch):
    monkeypatch.setenv("APUNTO_FACTURAMA_USERNAME", "acme")
    monkeypatch.setenv("APUNTO_FACTURAMA_PASSWORD", "s3cret-pass-word")
    provider = FacturamaProvider()
    assert "s3cret" not in repr(provider)
    assert provider.transport.auth.password == "s3cret-pass-word"


def test_capabilities_are_declared():
    assert FacturamaProvider.capabilities >= {
        Capability.STAMP, Capability.GET, Capability.DOWNLOAD_XML, Capability.DOWNLOAD_PDF,
        Capability.CANCEL, Capability.LIST, Capability.VALIDATE_CUSTOMER,
    }
    assert not FacturamaProvider.capabilities & {Capability.STAMP_MANY}


# -- the full flow --------------------------------------------------------------------------


def test_full_flow_check_stamp_get_download_cancel_list(provider, emulator):
    status = provider.check_connection()
    assert status.ok and status.account == "EKU9003173C9 ESCUELA KEMPER URGATE"
    assert status.extra["zip_code"] == "26015"

    stamped = provider.stamp(freight())
    assert stamped.provider == "facturama" and stamped.status is InvoiceStatus.ACTIVE
    assert stamped.total == freight().total == Decimal("21880.00")
    assert (stamped.series, stamped.folio) == ("FLT", "1001")

    fetched = provider.get(stamped.id)
    assert (fetched.uuid, fetched.total) == (stamped.uuid, stamped.total)
    assert provider.get(stamped.uuid).id == stamped.id  # a UUID works as a reference too

    cfdi = parse(provider.download(stamped.id, "xml"))
    assert cfdi.stamp is not None
    assert (cfdi.stamp.uuid, cfdi.total) == (stamped.uuid, stamped.total)
    assert cfdi.receiver.rfc == "URE180429TM6" and cfdi.issuer.rfc == "EKU9003173C9"
    assert provider.download(stamped.id, "pdf").startswith(b"%PDF-")

    cancelled = provider.cancel(stamped.id, CancelMotive.WITHOUT_RELATION)
    assert cancelled.status is CancellationStatus.CANCELLED  # within a day: no acceptance
    assert cancelled.uuid == stamped.uuid
    assert b"<UUID>" + stamped.uuid.encode() in provider.download_acuse(stamped.id)

    (listed,) = provider.list()
    assert (listed.id, listed.status) == (stamped.id, InvoiceStatus.CANCELLED)
    assert len(emulator.invoices) == 1


def test_client_and_products_are_registered_once_and_reused(provider, emulator, spy):
    provider.stamp(freight("1"))
    assert [c["Rfc"] for c in emulator.clients.values()] == ["URE180429TM6"]
    assert sorted(p["Name"] for p in emulator.products.values()) == [
        "Flete terrestre", "Maniobras de descarga"
    ]
    flete = next(p for p in emulator.products.values() if p["Name"] == "Flete terrestre")
    assert [(t["Name"], t["IsRetention"]) for t in flete["Taxes"]] == [
        ("IVA", False), ("IVA", True)
    ]
    spy.calls.clear()
    provider.stamp(freight("2"))
    assert spy.paths() == ["POST /3/cfdis"]  # known client and products: no catalog calls
    assert len(emulator.clients) == 1 and len(emulator.products) == 2


def test_existing_client_is_found_by_rfc_and_refreshed(sandbox, emulator):
    old = {"Rfc": "URE180429TM6", "Name": "NOMBRE VIEJO", "CfdiUse": "G01",
           "FiscalRegime": "601", "TaxZipCode": "86991"}
    emulator.clients["abc2"] = {"Id": "abc2", **old}
    provider = sandbox.invoice_provider("facturama")
    provider.stamp(freight())
    assert list(emulator.clients) == ["abc2"]
    assert emulator.clients["abc2"]["Name"] == "UNIVERSIDAD ROBOTICA ESPAÑOLA"
    assert emulator.clients["abc2"]["CfdiUse"] == "G03"
    moved = freight("1002", customer=Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA",
                                              "601", "86991", cfdi_use="G01"))
    provider.stamp(moved)  # changed customer data is refreshed, not hidden by a cache
    assert emulator.clients["abc2"]["CfdiUse"] == "G01" and len(emulator.clients) == 1


def test_catalog_registration_can_be_turned_off(sandbox, emulator, spy):
    provider = sandbox.invoice_provider("facturama", register_catalog=False)
    provider.stamp(freight())
    assert spy.paths() == ["GET /TaxEntity", "POST /3/cfdis"]  # the place of issue, then stamp
    assert not emulator.clients and not emulator.products


def test_expedition_place_comes_from_tax_entity_when_nothing_else_says(sandbox, spy):
    provider = sandbox.invoice_provider("facturama", register_catalog=False)
    provider.stamp(freight())
    provider.stamp(freight("1002"))
    assert spy.paths().count("GET /TaxEntity") == 1  # fetched once, then remembered
    body = spy.calls[-1].body
    assert b'"ExpeditionPlace":"26015"' in body


# -- validation and errors ------------------------------------------------------------------


def test_invalid_invoice_is_refused_before_any_network_call(provider, spy):
    bad = freight(payment_method="PPD", payment_form="03")  # PPD needs form 99 (CFDI40105)
    with pytest.raises(ValidationError) as info:
        provider.stamp(bad)
    assert "CFDI40105" in {issue.code for issue in info.value.errors}
    assert spy.calls == []


def test_wrong_name_for_a_sat_test_rfc_is_a_stamp_rejection_with_cfdi40145(provider, emulator):
    invoice = freight(customer=Customer("EKU9003173C9", "ESCUELA KEMPER", "601", "26015"))
    with pytest.raises(StampRejected) as info:
        provider.stamp(invoice)
    assert info.value.sat_code == "CFDI40145"
    assert info.value.message == (
        "El campo Nombre del receptor, debe pertenecer al nombre asociado al RFC registrado en "
        "el campo Rfc del Receptor."
    )
    assert info.value.status_code == 400
    assert emulator.invoices == {}


def test_wrong_credentials_are_reported_by_check_connection_and_raise_elsewhere(sandbox):
    provider = sandbox.invoice_provider("facturama", password="nope")
    status = provider.check_connection()
    assert not status.ok
    assert status.detail == "Authorization has been denied for this request."
    with pytest.raises(AuthenticationError):
        provider.get("abc")


def test_no_stamps_left_is_insufficient_credits(provider, emulator):
    from apunto_connect.errors import InsufficientCredits

    emulator.stamps_left = 0
    with pytest.raises(InsufficientCredits):
        provider.stamp(freight())


def test_unknown_reference_is_not_found(provider):
    with pytest.raises(NotFound):
        provider.get("doesNotExist2")
    with pytest.raises(NotFound):
        provider.get("0F8C2B7E-5A14-4D3B-9E61-2C7A9B0D4E15")


def test_download_format_is_checked_locally(provider, spy):
    with pytest.raises(ValidationError):
        provider.download("x", "html")  # type: ignore[arg-type]
    assert spy.calls == []


# -- cancellation ---------------------------------------------------------------------------


def test_motive_01_without_replacement_is_refused_locally(provider, spy):
    with pytest.raises(ValidationError) as info:
        provider.cancel("abc2", CancelMotive.WITH_RELATION)
    assert info.value.errors[0].field == "replacement_uuid"
    assert spy.calls == []


def test_motive_01_sends_the_replacement_uuid(provider, spy):
    original = provider.stamp(freight("10"))
    replacement = provider.stamp(freight("11"))
    cancelled = provider.cancel(original.id, CancelMotive.WITH_RELATION,
                                replacement.uuid.lower())
    assert cancelled.replacement_uuid == replacement.uuid
    sent = spy.calls[-1]
    assert sent.method == "DELETE"
    assert f"uuidReplacement={replacement.uuid}" in sent.url
    assert "motive=01" in sent.url and "type=issued" in sent.url


def test_cancellation_after_a_day_waits_for_the_receiver(provider, emulator, sandbox):
    stamped = provider.stamp(freight())
    sandbox.clock.advance(3 * 24 * 3600)
    requested = provider.cancel(stamped.id, CancelMotive.NOT_CARRIED_OUT)
    assert requested.status is CancellationStatus.REQUESTED
    assert provider.get(stamped.id).status is InvoiceStatus.ACTIVE
    emulator.answer_cancellation(stamped.id, accept=False)
    again = provider.cancel(stamped.id, CancelMotive.NOT_CARRIED_OUT)
    assert again.status is CancellationStatus.REQUESTED  # a new request after a rejection
    sandbox.clock.advance(72 * 3600)  # no answer: tacit acceptance
    assert provider.get(stamped.id).status is InvoiceStatus.CANCELLED


# -- listing --------------------------------------------------------------------------------


def test_list_is_lazy_and_carries_filters_to_every_page(provider, emulator, spy):
    from apunto_connect.invoicing.facturama import SPEC

    size = SPEC["limit.list_page_size"]
    for folio in range(1, size + 3):
        provider.stamp(freight(str(folio)))
    provider.stamp(freight("9", series="OTRA"))
    spy.calls.clear()
    listing = provider.list(series="FLT", status="active")
    assert spy.calls == []  # nothing is fetched until iteration starts
    rows = list(listing)
    assert len(rows) == size + 2
    assert {r.series for r in rows} == {"FLT"}
    pages = [c for c in spy.calls if c.path_url.startswith("/Cfdi?")]
    assert len(pages) == 3  # two with rows, one empty
    for number, call in enumerate(pages):
        assert "serie=FLT" in call.url and "status=active" in call.url
        assert f"page={number}" in call.url


def test_list_dates_travel_day_first_as_facturamas_guide_documents(provider, spy):
    # Facturama's guide ("Consultar CFDIs para API Web") gives dateStart/dateEnd as dd/MM/yyyy;
    # an ISO date was our earlier guess.
    stamped = provider.stamp(freight("31"))
    issued = provider.get(stamped.id).issued_at
    assert issued is not None
    spy.calls.clear()
    rows = list(provider.list(date_start=issued.date(), date_end=issued.date()))
    assert [row.id for row in rows] == [stamped.id]
    query = parse_qs(urlsplit(spy.calls[0].url).query)
    assert query["dateStart"] == query["dateEnd"] == [issued.strftime("%d/%m/%Y")]
    before = issued.date() - timedelta(days=2)
    assert list(provider.list(date_start=before, date_end=before + timedelta(days=1))) == []


def test_unknown_list_filter_fails_before_any_call(provider, spy):
    with pytest.raises(ValidationError):
        provider.list(colour="red")
    assert spy.calls == []


def test_validate_customer_asks_the_sat_match_endpoint(provider):
    assert provider.validate_customer(CUSTOMER) == {
        "exists": True, "name_matches": True, "zip_code_matches": True, "regime_matches": True,
    }
    wrong = Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "01000")
    assert provider.validate_customer(wrong)["zip_code_matches"] is False


# -- idempotency ----------------------------------------------------------------------------


def test_same_idempotency_key_returns_the_stamped_invoice_without_stamping_again(
    provider, emulator, spy
):
    first = provider.stamp(freight(), idempotency_key="order-77")
    spy.calls.clear()
    second = provider.stamp(freight(), idempotency_key="order-77")
    assert second.id == first.id and second.uuid == first.uuid
    assert "POST /3/cfdis" not in spy.paths()
    assert len(emulator.invoices) == 1


def test_a_key_without_a_folio_is_journaled_but_a_lost_answer_cannot_be_looked_up(sandbox):
    # Without serie+folio nothing identifies the CFDI at Facturama: the journal still never
    # sends a key twice, and a lost answer is an unknown outcome, not a second stamp.
    from apunto_connect.errors import StampOutcomeUnknown
    from apunto_connect.sandbox import Fault, FaultKind

    provider = sandbox.invoice_provider("facturama", register_catalog=False)
    sandbox.faults.add(Fault(FaultKind.DROP_AFTER, vendor="facturama", method="POST",
                             path="*/cfdis"))
    with pytest.raises(TransportError):
        provider.stamp(freight(folio=None), idempotency_key="k")
    with pytest.raises(StampOutcomeUnknown) as info:
        provider.stamp(freight(folio=None), idempotency_key="k")
    assert info.value.retry_after is None  # the vendor cannot be asked
    assert len(sandbox.emulator("facturama").invoices) == 1


def test_idempotency_key_reused_for_another_folio_is_a_conflict(provider):
    provider.stamp(freight("1"), idempotency_key="k")
    with pytest.raises(Conflict):
        provider.stamp(freight("2"), idempotency_key="k")


def test_serie_and_folio_taken_by_a_different_invoice_is_a_conflict(provider, emulator):
    provider.stamp(freight("5"))
    other = freight("5", items=[LineItem("78101802", "E48", "Otro flete", 1, "100",
                                         taxes=[Tax.iva()])])
    with pytest.raises(Conflict):
        provider.stamp(other, idempotency_key="new-key")
    assert len(emulator.invoices) == 1


def test_release_is_safe_twice(provider):
    provider.release()
    provider.release()


def test_unsupported_operation_is_refused_before_the_network():
    class Limited(FacturamaProvider):
        capabilities = frozenset({Capability.STAMP})

    with pytest.raises(UnsupportedOperation):
        Limited(username="u", password="p").list()


# -- cassettes ------------------------------------------------------------------------------

_LOOPBACK = re.compile(r"http://127\.0\.0\.1:\d+/facturama")
# Cassettes stand for Facturama's own test host: that is where a recording with a real
# (sandbox) account goes, so loopback and live recordings look the same.
REAL_BASE = BASE_URLS["sandbox"]


def _to_real_host(request: Any) -> Any:
    request.uri = _LOOPBACK.sub(REAL_BASE, request.uri)
    return request


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    config = cassette_scrub.vcr_config()
    config["before_record_request"] = _to_real_host
    return config


def _wiring(sandbox: Any, clock: FakeClock, live: bool) -> dict[str, Any]:
    if live:  # credentials from APUNTO_FACTURAMA_USERNAME / _PASSWORD
        return {"environment": "sandbox", "sleep": clock.sleep}
    wiring: dict[str, Any] = {
        **FacturamaEmulator.demo_credentials, "environment": "sandbox", "sleep": clock.sleep,
    }
    if sandbox is not None:
        wiring["base_url"] = sandbox.serve().base_url("facturama")
    return wiring


RECORDING = Recording(
    "facturama", FacturamaProvider, seed=20250301, wiring=_wiring,
    live_variable="APUNTO_FACTURAMA_RECORD_LIVE",
)


@pytest.mark.vcr
def test_cassette_full_flow_replays_offline(recorded_provider):
    provider = recorded_provider()
    assert provider.check_connection().ok
    stamped = provider.stamp(freight("2001"), idempotency_key="cassette-2001")
    assert stamped.total == Decimal("21880.00")
    assert provider.get(stamped.id).uuid == stamped.uuid
    cfdi = parse(provider.download(stamped.id, "xml"))
    assert cfdi.stamp is not None and (cfdi.stamp.uuid, cfdi.total) == (stamped.uuid,
                                                                          stamped.total)
    assert provider.download(stamped.id, "pdf").startswith(b"%PDF-")
    cancelled = provider.cancel(stamped.id, CancelMotive.WITHOUT_RELATION)
    assert cancelled.status is CancellationStatus.CANCELLED
    listed = [s for s in provider.list(series="FLT") if s.id == stamped.id]
    assert [s.status for s in listed] == [InvoiceStatus.CANCELLED]


@pytest.mark.vcr
def test_cassette_sat_rejection_keeps_facturamas_text(recorded_provider):
    provider = recorded_provider(register_catalog=False)
    invoice = freight("2002", customer=Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601",
                                               "01000"))
    with pytest.raises(StampRejected) as info:
        provider.stamp(invoice)
    assert info.value.sat_code == "CFDI40147"
    assert "DomicilioFiscalReceptor" in info.value.message


@pytest.mark.vcr
def test_cassette_wrong_password_is_an_authentication_failure(recorded_provider):
    provider = recorded_provider(password="wrong-password")
    status = provider.check_connection()
    assert not status.ok
    with pytest.raises(AuthenticationError):
        provider.get("abc2")


# -- the spec: evidence, spec= overrides, the deprecated tables ------------------------------


def test_every_fact_says_where_it_comes_from():
    assert SPEC.vendor == "facturama"
    for key in SPEC:
        fact = SPEC.fact(key)
        assert key.split(".")[0] in {"path", "field", "header", "limit", "value"}, key
        assert fact.source in {"official", "public-integration", "assumed"}, key
        assert fact.evidence.strip(), f"{key} has no evidence"
    # what the evidence page lists as not public stays marked so
    assert set(SPEC.assumed()) == {"value.list_oldest_first"}


def test_spec_values_cannot_be_changed_in_place():
    with pytest.raises(TypeError):
        SPEC["field.list_filters"]["colour"] = "color"  # type: ignore[index]


def test_a_spec_override_changes_the_path_the_provider_calls(sandbox, spy):
    provider = sandbox.invoice_provider("facturama", spec={"path.tax_entity": "api/TaxEntity"})
    status = provider.check_connection()
    assert status.ok
    assert spy.paths() == ["GET /api/TaxEntity"]
    assert provider.spec.fact("path.tax_entity").source == "override"
    assert SPEC["path.tax_entity"] == "TaxEntity"  # the shared spec is untouched


def test_an_unknown_spec_key_is_refused_before_anything_is_sent():
    with pytest.raises(ConfigurationError, match=r"path\.stamps"):
        FacturamaProvider(username="u", password="p", spec={"path.stamps": "4/cfdis"})


def test_the_emulator_pages_by_its_spec_and_the_provider_reads_every_page():
    emulator = FacturamaEmulator(seed=5, spec={"limit.list_page_size": 2})
    spy = Spy(SandboxAdapter({"facturama": emulator}))
    session = requests.Session()
    for prefix in emulator.base_urls:
        session.mount(prefix, spy)
    provider = FacturamaProvider(
        **emulator.demo_credentials, **emulator.provider_options(), session=session,
        journal="memory",
    )
    assert provider.spec["limit.list_page_size"] == 2  # the emulator hands its spec on
    for folio in ("1", "2", "3", "4", "5"):
        provider.stamp(freight(folio))
    spy.calls.clear()
    folios = [row.folio for row in provider.list(series="FLT")]
    assert folios == ["1", "2", "3", "4", "5"]
    assert spy.paths().count("GET /Cfdi") == 4  # pages of 2, 2, 1 and the empty one
    with pytest.raises(ConfigurationError):
        FacturamaEmulator(spec={"limit.page_size": 2})


def test_two_relation_types_are_a_preflight_issue_and_nothing_is_sent(sandbox, spy):
    provider = sandbox.invoice_provider("facturama")
    invoice = freight("7", related=[
        RelatedDocuments("01", ["0F8C2B7E-5A14-4D3B-9E61-2C7A9B0D4E15"]),
        RelatedDocuments("04", ["1F8C2B7E-5A14-4D3B-9E61-2C7A9B0D4E15"]),
    ])
    assert "APUNTO-FACTURAMA-002" in [issue.code for issue in provider.preflight(invoice)]
    with pytest.raises(ValidationError) as info:
        provider.stamp(invoice, idempotency_key="rel-7")
    assert "APUNTO-FACTURAMA-002" in [issue.code for issue in info.value.issues]
    assert spy.paths() == []


def test_the_old_tables_still_override_for_one_release_with_a_warning(sandbox, spy):
    with pytest.warns(DeprecationWarning, match="PATHS"):
        paths = facturama.PATHS
    original = paths["tax_entity"]
    paths["tax_entity"] = "api/TaxEntity"
    try:
        with pytest.warns(DeprecationWarning, match=r"spec=\{'path\.tax_entity'"):
            provider = sandbox.invoice_provider("facturama")
        assert provider.check_connection().ok
        assert spy.paths() == ["GET /api/TaxEntity"]
    finally:
        paths["tax_entity"] = original
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        untouched = FacturamaProvider(username="u", password="p")  # nothing changed: no warning
    assert untouched.spec["path.tax_entity"] == "TaxEntity"
    with pytest.warns(DeprecationWarning):
        assert facturama.ASSUMPTIONS["name_id"] == SPEC["value.name_id"]
    with pytest.raises(AttributeError):
        facturama.NOT_A_NAME  # noqa: B018
