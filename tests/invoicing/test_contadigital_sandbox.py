"""ContaDigital end to end on the offline emulator: flow, credits, series, tokens and faults."""

from __future__ import annotations

import threading
from decimal import Decimal
from functools import partial

import pytest

from apunto_connect.cfdi import parse
from apunto_connect.errors import (
    InsufficientCredits,
    ServerError,
    StampRejected,
    TransportError,
    ValidationError,
)
from apunto_connect.invoicing.contadigital import ContaDigitalProvider
from apunto_connect.models import (
    CancellationStatus,
    CancelMotive,
    Customer,
    InvoiceStatus,
    LineItem,
    Tax,
)
from apunto_connect.sandbox import Fault, FaultKind, Sandbox
from apunto_connect.sandbox.contadigital import DISABLED_API_KEY, ContaDigitalEmulator
from tests.factories import fixture_invoice

STAMP_ROUTE = "*/api/cfdi.json"


freight_invoice = partial(fixture_invoice, "contadigital/invoice_freight.json", issued_at=None)


@pytest.fixture
def sandbox():
    with Sandbox(vendors=["contadigital"], seed=11) as sb:
        yield sb


@pytest.fixture
def emulator(sandbox) -> ContaDigitalEmulator:
    return sandbox.emulator("contadigital")


@pytest.fixture
def provider(sandbox) -> ContaDigitalProvider:
    return sandbox.invoice_provider("contadigital")


# -- the full flow ----------------------------------------------------------------------------


def test_full_flow_check_stamp_get_download_cancel(provider, emulator):
    status = provider.check_connection()
    assert status.ok and status.account == "EKU9003173C9 ESCUELA KEMPER URGATE"
    assert status.extra["series"] == "F" and status.environment == "sandbox"

    invoice = freight_invoice()
    stamped = provider.stamp(invoice)
    assert stamped.uuid and stamped.status is InvoiceStatus.ACTIVE
    assert (stamped.series, stamped.folio) == ("F", "1")
    assert stamped.total == invoice.total == Decimal("20653.33")

    fetched = provider.get(stamped.id)
    assert (fetched.uuid, fetched.total, fetched.customer_rfc) == (
        stamped.uuid, stamped.total, "XIA190128J61")

    cfdi = parse(provider.download(stamped.id, "xml"))
    assert cfdi.uuid == stamped.uuid and cfdi.total == invoice.total
    assert (cfdi.series, cfdi.folio, cfdi.receiver.rfc) == ("F", "1", "XIA190128J61")
    assert cfdi.issuer.rfc == "EKU9003173C9"
    assert len(cfdi.concepts) == 3
    assert provider.download(stamped.id, "pdf").startswith(b"%PDF")

    cancellation = provider.cancel(stamped.id, CancelMotive.WITHOUT_RELATION)
    assert cancellation.status is CancellationStatus.CANCELLED
    assert cancellation.uuid == stamped.uuid
    assert provider.get(stamped.id).status is InvoiceStatus.CANCELLED
    assert b"Acuse" in emulator.invoices[int(stamped.id)].acuse


def test_customer_and_products_are_registered_once_and_reused(provider, emulator):
    provider.stamp(freight_invoice())
    provider.stamp(freight_invoice())
    assert [c.rfc for c in emulator.clients.values()] == ["XIA190128J61"]
    # "Flete terrestre" is the catalog's FLETE TERRESTRE (same code and name); the other two
    # lines are new products, registered on the first stamp only.
    assert sorted(p.name for p in emulator.products.values()) == [
        "FLETE TERRESTRE", "Gestión aduanal", "Maniobras"]
    assert [s.folio for s in emulator.stamped()] == [1, 2]


def test_a_customer_saved_with_stale_data_is_updated_before_stamping(provider, emulator):
    provider.stamp(freight_invoice())
    client = next(iter(emulator.clients.values()))
    client.name, client.active = "XENON INDUSTRIAL ARTICLES SA DE CV", False
    fresh = ContaDigitalProvider(**_kwargs(provider, emulator))
    fresh.stamp(freight_invoice())
    assert (client.name, client.active) == ("XENON INDUSTRIAL ARTICLES", True)
    assert len(emulator.clients) == 1


def _kwargs(provider, emulator):
    return {"api_key": emulator.demo_credentials["api_key"], "environment": "sandbox",
            "session": provider.transport.session, **emulator.provider_options()}


def test_send_email(provider, emulator):
    stamped = provider.stamp(freight_invoice())
    assert "cuentas@xenon.example" in provider.send_email(stamped.id, "cuentas@xenon.example")
    assert emulator.invoices[int(stamped.id)].emails == ["cuentas@xenon.example"]


# -- series, credits and vendor rejections ---------------------------------------------------


def test_check_connection_fails_clearly_for_an_inactive_serie(sandbox):
    provider = sandbox.invoice_provider("contadigital", series="ANT")
    status = provider.check_connection()
    assert status.ok is False
    assert "serie 'ANT' is inactive" in status.detail
    assert status.extra["series_active"] is False


def test_check_connection_fails_clearly_for_an_unknown_serie(sandbox):
    status = sandbox.invoice_provider("contadigital", series="ZZ").check_connection()
    assert status.ok is False and "does not exist" in status.detail and "F, ANT" in status.detail


def test_check_connection_fails_when_no_serie_is_active(sandbox, emulator, provider):
    emulator.set_series_active("F", False)
    status = provider.check_connection()
    assert status.ok is False and "no active serie" in status.detail


def test_check_connection_reports_an_account_not_enabled_for_the_api(sandbox):
    provider = sandbox.invoice_provider("contadigital", api_key=DISABLED_API_KEY)
    status = provider.check_connection()
    assert status.ok is False
    assert status.detail == "La cuenta no está habilitada para facturación por API"


def test_stamping_with_an_inactive_serie_fails_before_stamping(provider, emulator):
    with pytest.raises(ValidationError, match="inactive"):
        provider.stamp(freight_invoice(series="ANT"))
    assert emulator.stamped() == []


def test_the_vendor_refuses_an_inactive_serie_with_its_own_words(provider, emulator):
    provider.catalog()  # cached while the serie was active
    emulator.set_series_active("F", False)
    with pytest.raises(StampRejected) as info:
        provider.stamp(freight_invoice())
    assert info.value.message == "La serie F no está activa"
    assert (info.value.vendor_code, info.value.status_code) == ("0", None)
    assert emulator.stamped() == []


def test_no_credits_saves_the_invoice_and_raises_with_its_id(provider, emulator):
    emulator.credits = 0
    with pytest.raises(InsufficientCredits) as info:
        provider.stamp(freight_invoice())
    saved = emulator.invoices[int(info.value.saved_id)]
    assert saved.status == "Guardada" and saved.document is None
    assert info.value.message.startswith("La factura se guardó")
    assert provider.get(info.value.saved_id).status is InvoiceStatus.DRAFT


def test_with_a_key_the_saved_draft_is_stamped_once_credits_are_back(provider, emulator):
    emulator.credits = 0
    with pytest.raises(InsufficientCredits) as info:
        provider.stamp(freight_invoice(), idempotency_key="inv-77")
    emulator.credits = 5
    stamped = provider.stamp(freight_invoice(), idempotency_key="inv-77")
    assert stamped.id == info.value.saved_id
    assert len(emulator.invoices) == 1 and len(emulator.stamped()) == 1


def test_receiver_name_that_the_sat_does_not_know_is_rejected_with_its_code(provider, emulator):
    customer = Customer("XIA190128J61", "XENON INDUSTRIAL", "601", "76000")
    with pytest.raises(StampRejected) as info:
        provider.stamp(freight_invoice(customer=customer))
    assert info.value.sat_code == "CFDI40145"
    assert info.value.message.startswith("CFDI40145 - El campo Nombre del receptor")
    assert emulator.stamped() == []


def test_a_unit_not_enabled_in_the_account_is_a_validation_error(provider):
    item = LineItem("78101802", "MTQ", "Flete por m3", 3, "100", taxes=[Tax.iva()], name="Flete m3")
    with pytest.raises(ValidationError, match="unit MTQ"):
        provider.stamp(freight_invoice(items=[item]))


# -- idempotency ------------------------------------------------------------------------------


def test_the_same_key_returns_the_same_invoice_without_stamping_again(provider, emulator):
    first = provider.stamp(freight_invoice(), idempotency_key="inv-1")
    again = provider.stamp(freight_invoice(), idempotency_key="inv-1")
    other = provider.stamp(freight_invoice(), idempotency_key="inv-2")
    assert again.id == first.id and again.uuid == first.uuid
    assert other.uuid != first.uuid
    assert len(emulator.stamped()) == 2


def test_concurrent_stamps_with_one_key_stamp_once(provider, emulator):
    results = []

    def worker():
        results.append(provider.stamp(freight_invoice(), idempotency_key="same-key").uuid)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(set(results)) == 1 and len(results) == 4
    assert len(emulator.stamped()) == 1


# -- tokens -----------------------------------------------------------------------------------


def test_an_expired_token_is_replaced_without_the_caller_noticing(sandbox, provider, emulator):
    stamped = provider.stamp(freight_invoice())
    before = emulator.connect_count
    sandbox.clock.advance(2 * 3600)  # past both the provider's cache and the vendor's lifetime
    assert provider.get(stamped.id).uuid == stamped.uuid
    assert emulator.connect_count == before + 1


def test_a_token_revoked_by_the_vendor_is_refreshed_once_on_401(provider, emulator):
    stamped = provider.stamp(freight_invoice())
    emulator.revoke_tokens()
    before = emulator.connect_count
    assert provider.get(stamped.id).uuid == stamped.uuid
    assert emulator.connect_count == before + 1


def test_many_threads_hitting_a_revoked_token_refresh_it_once(provider, emulator):
    stamped = provider.stamp(freight_invoice())
    emulator.revoke_tokens()
    before = emulator.connect_count
    errors, uuids = [], []

    def worker():
        try:
            uuids.append(provider.get(stamped.id).uuid)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == [] and uuids == [stamped.uuid] * 8
    assert emulator.connect_count == before + 1


# -- faults on the stamp route: never a duplicate --------------------------------------------

FAULTS = [
    pytest.param(Fault(FaultKind.LATENCY, method="POST", path=STAMP_ROUTE, latency=0.0), id="latency"),
    pytest.param(Fault(FaultKind.RATE_LIMIT, method="POST", path=STAMP_ROUTE, retry_after=2), id="429"),
    pytest.param(Fault(FaultKind.SERVER_ERROR, method="POST", path=STAMP_ROUTE, status=500), id="500"),
    pytest.param(Fault(FaultKind.SERVER_ERROR, method="POST", path=STAMP_ROUTE, status=502), id="502"),
    pytest.param(Fault(FaultKind.SERVER_ERROR, method="POST", path=STAMP_ROUTE, status=503), id="503"),
    pytest.param(Fault(FaultKind.HTML_ERROR, method="POST", path=STAMP_ROUTE), id="html"),
    pytest.param(Fault(FaultKind.MALFORMED_JSON, method="POST", path=STAMP_ROUTE), id="malformed"),
    pytest.param(Fault(FaultKind.DROP_BEFORE, method="POST", path=STAMP_ROUTE), id="drop-before"),
    pytest.param(Fault(FaultKind.DROP_AFTER, method="POST", path=STAMP_ROUTE), id="drop-after"),
]
# What a single create-and-stamp POST ends in: a result, or the typed error and whether the
# vendor stamped anyway (the caller learns it from request_sent=True).
WITHOUT_KEY = {
    "latency": (None, 1), "429": (None, 1), "500": (ServerError, 0), "502": (ServerError, 0),
    "503": (ServerError, 0), "html": (ServerError, 0), "malformed": (TransportError, 1),
    "drop-before": (None, 1), "drop-after": (TransportError, 1),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_stamp_without_key_ends_in_success_or_a_typed_error_and_never_duplicates(
    request, fault
):
    name = request.node.callspec.id
    with Sandbox(vendors=["contadigital"], faults=[fault], seed=3) as sb:
        provider = sb.invoice_provider("contadigital")
        provider.catalog()  # the fault is for the stamp, not the catalog
        error, stamped_count = WITHOUT_KEY[name]
        if error is None:
            assert provider.stamp(freight_invoice()).uuid
        else:
            with pytest.raises(error) as info:
                provider.stamp(freight_invoice())
            if isinstance(info.value, TransportError):
                assert info.value.request_sent is True  # "check before stamping again"
        assert len(sb.emulator("contadigital").stamped()) == stamped_count
        assert [f.kind for f in sb.faults.fired] == [fault.kind]


@pytest.mark.parametrize("on", ["draft", "stamp"])
@pytest.mark.parametrize("fault", FAULTS)
def test_stamp_with_key_is_retried_by_the_caller_to_exactly_one_stamp(request, fault, on):
    faults = [fault]
    if on == "stamp":  # let the draft POST through, hit the stamping POST
        faults.insert(0, Fault(FaultKind.LATENCY, method="POST", path=STAMP_ROUTE, latency=0.0))
    with Sandbox(vendors=["contadigital"], faults=faults, seed=5) as sb:
        provider = sb.invoice_provider("contadigital")
        provider.catalog()
        results, errors = [], []
        for _ in range(3):  # the caller's own bounded retry, same key every time
            try:
                results.append(provider.stamp(freight_invoice(), idempotency_key="K-1"))
                break
            except (ServerError, TransportError) as exc:
                errors.append(exc)
        emulator = sb.emulator("contadigital")
        assert len(results) == 1, errors
        assert len(emulator.stamped()) == 1
        assert results[0].uuid == emulator.stamped()[0].document.uuid
        assert len(errors) <= 1


def test_drop_after_commit_on_the_stamp_is_resolved_in_the_same_call():
    fault = Fault(FaultKind.DROP_AFTER, method="POST", path=STAMP_ROUTE)
    first_passes = Fault(FaultKind.LATENCY, method="POST", path=STAMP_ROUTE, latency=0.0)
    with Sandbox(vendors=["contadigital"], faults=[first_passes, fault], seed=5) as sb:
        provider = sb.invoice_provider("contadigital")
        stamped = provider.stamp(freight_invoice(), idempotency_key="K-2")
        assert stamped.uuid == sb.emulator("contadigital").stamped()[0].document.uuid
        assert len(sb.emulator("contadigital").stamped()) == 1


# -- loopback ---------------------------------------------------------------------------------


def test_the_same_flow_runs_over_loopback_http(sandbox, emulator):
    server = sandbox.serve()
    provider = ContaDigitalProvider(
        api_key=emulator.demo_credentials["api_key"], environment="sandbox",
        base_url=server.base_url("contadigital"), **emulator.provider_options(),
    )
    try:
        assert provider.check_connection().ok
        stamped = provider.stamp(freight_invoice(customer=Customer(
            "IIA040805DZ4", "INDISTRIA ILUMINADORA DE ALMACENES", "601", "62661")))
        assert parse(provider.download(stamped.id, "xml")).uuid == stamped.uuid
        assert provider.cancel(stamped.id, CancelMotive.NOT_CARRIED_OUT).status is (
            CancellationStatus.CANCELLED)
    finally:
        provider.release()


# -- registration under concurrency and retries ----------------------------------------------


def test_concurrent_first_stamps_register_a_new_customer_once(provider, emulator):
    results, errors = [], []

    def worker(n):
        try:
            results.append(provider.stamp(freight_invoice(), idempotency_key=f"c-{n}").uuid)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == [] and len(set(results)) == 4
    assert len(emulator.clients) == 1


def test_a_customer_post_that_landed_before_the_drop_is_found_not_duplicated():
    fault = Fault(FaultKind.DROP_AFTER, method="POST", path="*/api/clientes.json")
    with Sandbox(vendors=["contadigital"], faults=[fault], seed=8) as sb:
        provider = sb.invoice_provider("contadigital")
        assert provider.stamp(freight_invoice()).uuid
        emulator = sb.emulator("contadigital")
        assert len(emulator.clients) == 1 and len(emulator.stamped()) == 1
        assert [f.kind for f in sb.faults.fired] == [FaultKind.DROP_AFTER]


def test_sat_preflight_errors_stop_the_stamp_before_any_request(sandbox, emulator):
    provider = sandbox.invoice_provider("contadigital")
    before = emulator.connect_count
    bad = freight_invoice(customer=Customer("XIA190128J6", "XENON INDUSTRIAL ARTICLES", "601", "7600"))
    with pytest.raises(ValidationError) as info:
        provider.stamp(bad)
    assert {i.field for i in info.value.errors} >= {"customer.rfc"}
    assert emulator.connect_count == before and emulator.invoices == {}
