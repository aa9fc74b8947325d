"""The Actiun invoicing provider: pure mappers, guards before the network, and full flows on
the in-process sandbox (never stamping twice, bounded waits, no cancellation)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
import requests
import requests.adapters

import apunto_connect.sandbox.actiun as actiun_emulator
from apunto_connect.actiun import SPEC
from apunto_connect.actiun.models import Invoice as ActiunInvoice
from apunto_connect.actiun.models import decode
from apunto_connect.cfdi import parse
from apunto_connect.errors import (
    ConfigurationError,
    ServerError,
    StampOutcomeUnknown,
    StampRejected,
    Timeout,
    TransportError,
    UnsupportedOperation,
    ValidationError,
)
from apunto_connect.invoicing.actiun import (
    DEFAULT_TAX_IDS,
    ActiunInvoiceProvider,
    actiun_error,
    actiun_issues,
    actiun_to_stamped,
    invoice_to_actiun,
    line_to_actiun,
)
from apunto_connect.models import (
    CancelMotive,
    Capability,
    Customer,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    LineItem,
    PaymentMethod,
    Tax,
)
from apunto_connect.registry import load_provider_class
from apunto_connect.sandbox import Fault, FaultKind, Sandbox
from tests.fakes import ScriptedAdapter, make_response, session_with

EXAMPLES = json.loads(
    (Path(__file__).parents[1] / "actiun" / "fixtures" / "reference_examples.json")
    .read_text(encoding="utf-8")
)

CUSTOMER = Customer(
    rfc="TNO010203AB4", legal_name="Transportes del Norte", tax_regime="601",
    zip_code="64000", email="facturas@tnorte.mx",
)


def freight(**changes) -> Invoice:
    line = LineItem(
        product_code="78101802", unit_code="E48",
        description="Flete Monterrey-Laredo, contenedor MSCU1234565",
        quantity=1, unit_price="18500.00", name="Flete terrestre", sku="FLT-01",
        taxes=[Tax.iva(), Tax.iva_withholding("0.04")],
    )
    invoice = Invoice(customer=CUSTOMER, items=[line], payment_form="03")
    return invoice.with_changes(**changes) if changes else invoice


@pytest.fixture
def sb():
    with Sandbox(vendors=["actiun"], seed=3) as sandbox:
        yield sandbox


@pytest.fixture
def provider(sb) -> ActiunInvoiceProvider:
    made = sb.invoice_provider("actiun")
    yield made
    made.release()


def offline_provider() -> tuple[ActiunInvoiceProvider, ScriptedAdapter]:
    adapter = ScriptedAdapter()
    return ActiunInvoiceProvider(api_key="k-0123456789", session=session_with(adapter)), adapter


# -- registration and guards ------------------------------------------------------------------


def test_registered_as_actiun_without_cancellation_among_its_capabilities():
    assert load_provider_class("invoicing", "actiun") is ActiunInvoiceProvider
    assert Capability.CANCEL not in ActiunInvoiceProvider.capabilities
    assert {Capability.STAMP, Capability.GET, Capability.DOWNLOAD_XML, Capability.DOWNLOAD_PDF,
            Capability.LIST} == ActiunInvoiceProvider.capabilities


def test_cancel_raises_unsupported_before_any_request():
    provider, adapter = offline_provider()
    with pytest.raises(UnsupportedOperation, match="cancel") as info:
        provider.cancel("1", CancelMotive.WITHOUT_RELATION)
    assert info.value.provider == "actiun"
    assert adapter.requests == []


def test_an_invalid_invoice_is_refused_before_any_request():
    provider, adapter = offline_provider()
    bad = freight(customer=Customer("XYZ", "ACME SA DE CV", "601", "640"))
    with pytest.raises(ValidationError) as info:
        provider.stamp(bad)
    assert {i.field for i in info.value.errors} >= {"customer.rfc", "customer.zip_code"}
    assert adapter.requests == []


def test_only_production_exists():
    with pytest.raises(ConfigurationError, match="production"):
        ActiunInvoiceProvider(api_key="k-0123456789", environment="sandbox")


# -- pure mappers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "method"),
    [("01", "cash"), ("02", "check"), ("03", "wire-transfer"), ("04", "credit-card"),
     ("28", "debit-card"), ("05", "electronic-wallet"), ("08", "grocery-voucher"),
     ("99", "other")],
)
def test_sat_payment_forms_map_to_actiun_payment_methods(form, method):
    arguments = invoice_to_actiun(freight(payment_form=form), 7, [])
    assert arguments["payment_method_code"] == method
    assert method in SPEC["value.payment_methods"]


def test_the_mapping_covers_every_actiun_payment_method_once():
    assert sorted(SPEC["value.sat_payment_forms"].values()) == sorted(SPEC["value.payment_methods"])


def test_invoice_to_actiun_carries_use_currency_terms_and_notes():
    invoice = freight(
        currency="USD", exchange_rate="17.25", cfdi_use="G01", notes="Booking 123",
        issued_at=datetime(2024, 5, 2, 10, 30),
        customer=attrs.evolve(CUSTOMER, credit_days=30),
    )
    line = line_to_actiun(invoice.items[0], 44, invoice.currency)
    arguments = invoice_to_actiun(invoice, 7, [line], type_code="FACT")
    assert arguments["client_id"] == 7 and arguments["currency_code"] == "USD"
    assert arguments["exchange_rate"] == Decimal("17.25")
    assert arguments["cfdi_use_code"] == "G01" and arguments["payment_type_code"] == "PUE"
    assert arguments["date"].isoformat() == "2024-05-02" and arguments["due_offset_days"] == 30
    assert arguments["description"] == "Booking 123"
    assert (line.tax_ids, line.retention_ids) == ((1,), (4,))
    assert line.description == "Flete Monterrey-Laredo, contenedor MSCU1234565"


def test_a_line_whose_description_matches_the_catalog_sends_none():
    item = freight().items[0]
    line = line_to_actiun(item, 1, "MXN", catalog_description=item.description)
    assert line.description is None


def test_a_discount_travels_as_the_exact_percentage():
    item = LineItem("78101802", "E48", "Flete", 2, "1000", discount="150", taxes=[Tax.iva()])
    assert line_to_actiun(item, 1, "MXN").discount == Decimal("7.5")
    # 0.01 of 100 million is 1e-8 %: no percentage Actiun keeps reproduces it.
    odd = LineItem("78101802", "E48", "Flete", 1, "100000000", discount="0.01")
    assert any(i.field == "items[0].discount"
               for i in actiun_issues(freight(items=[odd])))


def test_actiuns_own_limits_are_reported():
    issues = actiun_issues(freight(
        kind=InvoiceKind.EXPENSE, payment_form="12",
        items=[LineItem("78101802", "E48", "Flete", 1, "10", taxes=[Tax.ieps("0.08")])],
        series="F", folio="10",
    ))
    codes = {i.code: i for i in issues}
    assert {"ACTIUN-KIND", "ACTIUN-PAYMENT-FORM", "ACTIUN-TAX-ID", "ACTIUN-SERIES"} <= set(codes)
    assert codes["ACTIUN-SERIES"].severity.value == "warning"
    ppd = actiun_issues(freight(payment_method=PaymentMethod.PPD, payment_form="03"))
    assert [i.code for i in ppd] == ["ACTIUN-PPD"]


def test_tax_ids_come_from_the_one_table_and_can_be_overridden():
    assert DEFAULT_TAX_IDS[("IVA", Decimal("0.16"), False)] == 1
    assert DEFAULT_TAX_IDS[("IVA", Decimal("0"), False)] == 2
    custom = {**DEFAULT_TAX_IDS, ("IEPS", Decimal("0.08"), False): 31}
    item = LineItem("78101802", "E48", "Flete", 1, "10", taxes=[Tax.ieps("0.08")])
    assert line_to_actiun(item, 1, "MXN", custom).tax_ids == (31,)
    with pytest.raises(ValidationError):
        line_to_actiun(item, 1, "MXN")


def test_the_references_invoice_maps_to_a_stamped_invoice():
    invoice = decode(ActiunInvoice, EXAMPLES["invoice_get_response"]["invoice"])
    stamped = actiun_to_stamped(invoice)
    assert stamped.id == "74740" and stamped.status is InvoiceStatus.ACTIVE
    assert stamped.uuid == "90E59622-FCCC-4838-A792-5916AB8C81AB"
    assert (stamped.total, stamped.currency, stamped.series, stamped.folio) == (
        Decimal(116), "USD", "A", "13804")
    assert stamped.customer_rfc == "XEXX010101000"
    assert stamped.stamped_at == datetime(2018, 3, 9, 16, 37, 46)
    assert stamped.raw["payment_method"] == "Por definir"


@pytest.mark.parametrize(("status", "expected"), [
    ("drafted", InvoiceStatus.DRAFT), ("stamping", InvoiceStatus.PENDING),
    ("paid", InvoiceStatus.ACTIVE), ("voided", InvoiceStatus.CANCELLED),
])
def test_statuses_map_to_the_sdks(status, expected):
    assert actiun_to_stamped(decode(ActiunInvoice, {"id": 1, "status": status})).status is expected


def test_actiun_error_keeps_the_message_verbatim():
    adapter = ScriptedAdapter()
    request = session_with(adapter).prepare_request(
        requests.Request("GET", "https://api.actiun.com/invoices/1"))
    response = make_response(request, 404, {"error": "El objeto que buscas no existe."})
    error = actiun_error("actiun", response)
    assert error.message == "El objeto que buscas no existe." and error.status_code == 404


# -- full flows on the sandbox -------------------------------------------------------------------


def test_full_flow_check_stamp_get_download_and_no_cancel(provider, sb):
    status = provider.check_connection()
    assert status.ok and status.provider == "actiun"
    stamped = provider.stamp(freight(), idempotency_key="flow-1")
    assert stamped.status is InvoiceStatus.ACTIVE and stamped.uuid
    assert stamped.total == Decimal("18500.00") * Decimal("1.12")
    assert provider.get(stamped.id).uuid == stamped.uuid
    assert provider.get(stamped.uuid.lower()).id == stamped.id
    cfdi = parse(provider.download(stamped.id, "xml"))
    assert cfdi.stamp is not None and cfdi.stamp.uuid == stamped.uuid
    assert cfdi.total == stamped.total
    assert cfdi.receiver.rfc == CUSTOMER.rfc and cfdi.payment_form == "03"
    assert cfdi.concepts[0].description == "Flete Monterrey-Laredo, contenedor MSCU1234565"
    assert provider.download(stamped.uuid, "pdf").startswith(b"%PDF")
    fired_before = len(sb.faults.fired)
    with pytest.raises(UnsupportedOperation):
        provider.cancel(stamped.id, CancelMotive.WITHOUT_RELATION)
    assert len(sb.faults.fired) == fired_before


def test_wrong_key_gives_a_failed_connection_status_with_the_servers_words(sb):
    provider = sb.invoice_provider("actiun", api_key="not-the-key")
    status = provider.check_connection()
    assert status.ok is False and status.detail == "Credenciales no válidas."


def test_contacts_and_items_are_found_again_not_duplicated(provider, sb):
    provider.stamp(freight())
    fresh = ActiunInvoiceProvider(**sb.provider_kwargs("actiun"))  # no cache: must search
    fresh.stamp(freight())
    emulator = sb.emulator("actiun")
    assert len(emulator.contacts) == 1 and len(emulator.items) == 1
    assert len(emulator.invoices) == 2


def test_a_contact_found_by_rfc_gets_the_legal_name_the_sat_expects(provider, sb):
    old = provider.client.contacts.create("TRANSPORTES DEL NORTE SA DE CV", CUSTOMER.rfc)
    provider.stamp(freight())
    emulator = sb.emulator("actiun")
    assert list(emulator.contacts) == [old.id]
    assert emulator.contacts[old.id]["name"] == "TRANSPORTES DEL NORTE"


def test_stamp_is_not_sent_twice_after_drop_after_commit():
    fault = Fault(FaultKind.DROP_AFTER, vendor="actiun", method="POST", path="/invoices")
    with Sandbox(vendors=["actiun"], faults=[fault], seed=5) as sb:
        provider = sb.invoice_provider("actiun")
        # The lost answer is resolved in the same call: the new invoice is found, not re-sent.
        stamped = provider.stamp(freight(), idempotency_key="order-77")
        assert [f.kind for f in sb.faults.fired] == [FaultKind.DROP_AFTER]
        emulator = sb.emulator("actiun")
        assert len(emulator.invoices) == 1
        assert stamped.id == str(next(iter(emulator.invoices)))
        again = provider.stamp(freight(), idempotency_key="order-77")
        assert again.uuid == stamped.uuid and len(emulator.invoices) == 1


class _LoseFirstCreate(requests.adapters.BaseAdapter):
    """Drops the first ``POST /invoices`` after sending it, before the server acts on it."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.lost = 0

    def send(self, request, **kwargs):
        if request.method == "POST" and request.path_url == "/invoices" and not self.lost:
            self.lost += 1
            error = requests.ConnectionError("connection reset by peer")
            error.apunto_request_sent = True
            raise error
        return self.inner.send(request, **kwargs)

    def close(self):
        pass


def test_a_lost_create_that_never_landed_does_not_adopt_an_older_identical_invoice(sb):
    provider = sb.invoice_provider("actiun")
    earlier = provider.stamp(freight())  # the same customer, lines and total, made before
    losing = _LoseFirstCreate(sb.adapter)
    sb.session.mount("https://api.actiun.com", losing)
    with pytest.raises(TransportError):
        provider.stamp(freight(), idempotency_key="order-88")
    # Right away, "not found" may be a create still being committed: nothing is sent.
    with pytest.raises(StampOutcomeUnknown) as info:
        provider.stamp(freight(), idempotency_key="order-88")
    assert info.value.retry_after and info.value.record.state == "unknown"
    provider.settle_seconds = 0  # once the settle window has passed, not found means not made
    stamped = provider.stamp(freight(), idempotency_key="order-88")
    assert losing.lost == 1
    assert stamped.id != earlier.id and len(sb.emulator("actiun").invoices) == 2


def test_a_drop_before_sending_is_retried_into_exactly_one_invoice():
    fault = Fault(FaultKind.DROP_BEFORE, vendor="actiun", method="POST", path="/invoices")
    with Sandbox(vendors=["actiun"], faults=[fault]) as sb:
        sb.invoice_provider("actiun").stamp(freight())
        assert len(sb.emulator("actiun").invoices) == 1
        assert [f.kind for f in sb.faults.fired] == [FaultKind.DROP_BEFORE]


def test_a_5xx_on_create_is_not_repeated():
    fault = Fault(FaultKind.SERVER_ERROR, vendor="actiun", method="POST", path="/invoices",
                  times=-1, status=503)
    with Sandbox(vendors=["actiun"], faults=[fault]) as sb:
        with pytest.raises(ServerError):
            sb.invoice_provider("actiun").stamp(freight())
        posts = [f for f in sb.faults.fired if f.method == "POST"]
        assert len(posts) == 1


def test_an_invoice_left_drafted_is_stamp_rejected(provider, monkeypatch):
    monkeypatch.setattr(actiun_emulator, "_RFC", re.compile(r"^$"))
    with pytest.raises(StampRejected, match="drafted") as info:
        provider.stamp(freight())
    assert info.value.details["status"] == "drafted"


def test_a_slow_stamp_times_out_then_the_same_key_picks_it_up(sb, monkeypatch):
    emulator = sb.emulator("actiun")
    monkeypatch.setattr(type(emulator), "stamping_seconds", 600.0)
    provider = sb.invoice_provider("actiun", stamp_wait=30, stamp_poll_interval=2)
    with pytest.raises(Timeout):
        provider.stamp(freight(), idempotency_key="slow-1")
    sb.clock.advance(600)
    stamped = provider.stamp(freight(), idempotency_key="slow-1")
    assert stamped.uuid and len(emulator.invoices) == 1


def test_list_gives_stamped_invoices_lazily_and_refuses_unknown_filters(provider, sb):
    sb.emulator("actiun").seed_invoices(40)
    listed = list(provider.list(order_field="id", order_direction="DESC"))
    assert len(listed) == 40 and listed[0].id == "40"
    assert all(s.uuid and s.status is InvoiceStatus.ACTIVE for s in listed)
    with pytest.raises(ValidationError):
        provider.list(customer="ACME")
    with pytest.raises(ValidationError, match="order_field"):
        provider.list(order_field="total")
