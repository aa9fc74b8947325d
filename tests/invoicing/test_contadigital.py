"""ContaDigital: pure mappers from fixtures, every error shape, and the provider's wire behaviour."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest
import requests

from apunto_connect.errors import (
    AuthenticationError,
    ConfigurationError,
    InsufficientCredits,
    NotFound,
    PermissionDenied,
    ProviderError,
    RateLimited,
    ServerError,
    StampRejected,
    TransportError,
    UnsupportedOperation,
    ValidationError,
)
from apunto_connect.invoicing.contadigital import (
    PRODUCTION_URL,
    SPEC,
    ContaDigitalProvider,
    ResolvedIds,
    catalog_from_contadigital,
    contadigital_error,
    contadigital_issues,
    contadigital_to_cancellation,
    contadigital_to_stamped,
    customer_to_contadigital,
    encode_json,
    invoice_to_contadigital,
)
from apunto_connect.models import (
    CancellationStatus,
    CancelMotive,
    InvoiceKind,
    LineItem,
    Tax,
)
from apunto_connect.models.invoices import InvoiceStatus, TaxFactor
from tests.factories import fixture_invoice
from tests.fakes import FakeClock, ScriptedAdapter, make_response, session_with

FIXTURES = Path(__file__).parent / "fixtures" / "contadigital"
TOKEN_A = "tok-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
TOKEN_B = "tok-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"), parse_float=Decimal)


freight_invoice = partial(fixture_invoice, "contadigital/invoice_freight.json")


IDS = ResolvedIds(
    company_id=1207, rfc_id=88, series_id=31, branch_id=4, place_id=15, place_zip="26015",
    customer_id=3001, currency_id=1, payment_form_id=3,
    payment_form_text="03 Transferencia electrónica de fondos",
    product_ids=(501, 601, 602), unit_ids=(7, 7, 12),
)


def wire(body: Any) -> Any:
    """What actually goes on the wire, read back with exact decimals."""
    return json.loads(encode_json(body), parse_float=Decimal)


# -- invoice -> body --------------------------------------------------------------------------


def test_invoice_maps_to_the_exact_stamp_body_of_the_fixture():
    body = invoice_to_contadigital(freight_invoice(), IDS, issued_at=datetime(2030, 1, 1))
    assert wire(body) == load("stamp_request.json")


def test_body_carries_the_vendor_quirks_date_format_tipo_and_exact_totals():
    body = invoice_to_contadigital(freight_invoice(), IDS, issued_at=datetime(2030, 1, 1))
    assert body["Fecha"] == "14-03-2025 10:30:00"  # dd-MM-yyyy HH:mm:ss, not ISO
    assert body["TipoComprobante"] == "Factura"  # not "I"
    text = encode_json(body).decode()
    assert '"Total":20653.33' in text and '"RetencionIVA":706.67' in text  # never via float


def test_no_related_documents_are_sent_as_null_never_an_empty_list():
    invoice = freight_invoice().with_changes(related=())
    body = invoice_to_contadigital(invoice, IDS, issued_at=datetime(2030, 1, 1))
    assert body["CFDIRelacionados"] is None
    assert b'"CFDIRelacionados":null' in encode_json(body)


def test_invoice_without_date_uses_the_given_issue_time_and_draft_flags():
    invoice = freight_invoice().with_changes(issued_at=None)
    body = invoice_to_contadigital(
        invoice, IDS, issued_at=datetime(2025, 12, 31, 23, 59, 1), save_only=True, invoice_id=77
    )
    assert (body["Fecha"], body["SoloGuardar"], body["Id"]) == ("31-12-2025 23:59:01", True, 77)


def test_request_field_renames_apply_at_every_depth():
    spec = {"field.request_renames": {"Fecha": "FechaEmision", "Cantidad": "Qty"}}
    body = invoice_to_contadigital(freight_invoice(), IDS, issued_at=datetime(2030, 1, 1), spec=spec)
    assert "Fecha" not in body and body["FechaEmision"] == "14-03-2025 10:30:00"
    assert all("Qty" in line and "Cantidad" not in line for line in body["Productos"])


def test_rates_can_be_sent_as_fractions_when_overridden():
    spec = {"value.rates_as_percent": False}
    body = invoice_to_contadigital(freight_invoice(), IDS, issued_at=datetime(2030, 1, 1), spec=spec)
    assert body["Productos"][2]["TipoRetIVA"] == Decimal("0.106667")


def test_zero_rate_iva_sets_tasa_cero():
    invoice = freight_invoice().with_changes(items=[
        LineItem("78101802", "E48", "Flete internacional", 1, "100", taxes=[Tax.iva("0")],
                 name="Flete internacional"),
    ])
    ids = attrs.evolve(IDS, product_ids=(501,), unit_ids=(7,))
    line = invoice_to_contadigital(invoice, ids, issued_at=datetime(2030, 1, 1))["Productos"][0]
    assert line["TasaCero"] is True and line["IVA"] == 0 and line["Total"] == Decimal("100.00")


def test_customer_body_uses_the_client_fields_and_id_only_on_update():
    customer = freight_invoice().customer
    created = customer_to_contadigital(customer, 1207, payment_form_id=3)
    updated = customer_to_contadigital(customer, 1207, payment_form_id=3, customer_id=3001)
    assert "Id" not in created
    assert updated["Id"] == 3001
    assert {k: created[k] for k in ("IdEmpresaCliente", "RFC", "RazonSocial", "RegimenFiscal", "CP",
                                    "UsoCFDIDefault", "Estatus")} == {
        "IdEmpresaCliente": 1207, "RFC": "XIA190128J61", "RazonSocial": "XENON INDUSTRIAL ARTICLES",
        "RegimenFiscal": "601", "CP": "76000", "UsoCFDIDefault": "G03", "Estatus": True,
    }


# -- what ContaDigital cannot take ------------------------------------------------------------


def codes(issues):
    return sorted({i.code for i in issues if i.severity.value == "error"})


def test_limits_of_the_vendor_are_reported_before_any_call():
    base = freight_invoice()
    long_name = base.items[0].__class__(
        "78101802", "E48", "x", 1, "10", name="N" * 51, taxes=[Tax(kind="IVA", factor=TaxFactor.EXEMPT)]
    )
    invoice = base.with_changes(kind=InvoiceKind.EXPENSE, export_code="02", items=[long_name],
                                related=(*base.related, *base.related), notes="hola")
    issues = contadigital_issues(invoice)
    assert codes(issues) == ["APUNTO-301", "APUNTO-CD-001", "APUNTO-CD-003", "APUNTO-CD-004",
                             "APUNTO-CD-011"]
    assert [i.code for i in issues if i.severity.value == "warning"] == ["APUNTO-CD-020"]
    with pytest.raises(ValidationError):
        invoice_to_contadigital(invoice, IDS, issued_at=datetime(2030, 1, 1))


def test_a_clean_invoice_has_no_contadigital_issues():
    assert contadigital_issues(freight_invoice()) == []


# -- replies -> models ------------------------------------------------------------------------


def test_catalog_reply_becomes_plain_lookups_and_the_default_serie_is_the_flagged_one():
    catalog = catalog_from_contadigital(load("catalog_reply.json")["Resultado"])
    assert (catalog.company_id, catalog.rfc_id, catalog.rfc) == (1207, 88, "EKU9003173C9")
    assert catalog.find_series(None).name == "G"
    assert catalog.find_series("ant").active is False
    assert catalog.find_series("Z") is None
    assert catalog.currencies == {"MXN": 1, "USD": 2}
    assert catalog.payment_forms["03"] == (3, "Transferencia electrónica de fondos")
    assert catalog.units == {"E48": 7, "ACT": 12}
    assert catalog.find_branch("28200").name == "MANZANILLO"
    assert catalog.find_branch("99999").name == "MATRIZ"
    assert catalog.find_branch(None, "manzanillo").id == 5


def test_stamp_reply_maps_to_stamped_invoice():
    stamped = contadigital_to_stamped(load("stamp_reply.json")["Resultado"],
                                      invoice=freight_invoice(), issuer_rfc="EKU9003173C9")
    assert stamped.id == "9001"
    assert stamped.uuid == "A3C1F5D2-7B4E-4C1A-9E2F-0D6B8C4A1E37"
    assert (stamped.series, stamped.folio, stamped.status) == ("F", "17", InvoiceStatus.ACTIVE)
    assert stamped.total == Decimal("20653.33")
    assert stamped.issued_at == datetime(2025, 3, 14, 10, 30)
    assert stamped.stamped_at == datetime(2025, 3, 14, 10, 30, 5)
    assert (stamped.issuer_rfc, stamped.customer_rfc, stamped.currency) == (
        "EKU9003173C9", "XIA190128J61", "MXN")


def test_reply_with_alternative_field_names_and_casing_is_understood():
    body = load("invoice_reply_alternative_names.json")
    stamped = contadigital_to_stamped(body["resultado"])
    assert (stamped.id, stamped.uuid, stamped.status) == (
        "9002", "0E1D2C3B-4A59-4687-9A0B-1C2D3E4F5A6B", InvoiceStatus.CANCELLED)
    assert stamped.issued_at == datetime(2025, 3, 15, 9, 0)
    assert stamped.total == Decimal("1160.00")


def test_cancel_reply_maps_to_a_cancellation():
    cancellation = contadigital_to_cancellation(
        load("cancel_reply.json")["Resultado"], "9001", CancelMotive.WITHOUT_RELATION
    )
    assert cancellation.status is CancellationStatus.CANCELLED
    assert cancellation.uuid == "A3C1F5D2-7B4E-4C1A-9E2F-0D6B8C4A1E37"
    assert "AcuseBase64" in cancellation.raw


# -- every error shape ------------------------------------------------------------------------

REQUEST = requests.Request("POST", f"{PRODUCTION_URL}/api/cfdi.json").prepare()
LONG_SAT = ("CFDI40145 - El campo Nombre del receptor, debe pertenecer al nombre asociado al RFC "
            "registrado en el campo Rfc del Receptor.")


@pytest.mark.parametrize(
    ("status", "body", "operation", "error", "message", "vendor_code", "http_status"),
    [
        (200, {"Resultado": "La serie F no está activa", "Codigo": 0}, "stamp", StampRejected,
         "La serie F no está activa", "0", None),
        (200, {"Resultado": LONG_SAT, "Codigo": 0}, "stamp", StampRejected, LONG_SAT, "0", None),
        (200, {"Resultado": "La API Key no es válida", "Codigo": 0}, "connect",
         AuthenticationError, "La API Key no es válida", "0", None),
        (200, {"Resultado": {"Mensaje": "Cliente duplicado"}, "Codigo": 2}, "", ProviderError,
         "Cliente duplicado", "2", None),
        (200, {"Resultado": ["RFC inválido", "CP inválido"], "Codigo": 0}, "", ProviderError,
         "RFC inválido; CP inválido", "0", None),
        (200, {"Resultado": None, "Codigo": 5}, "", ProviderError, "ContaDigital answered Codigo 5",
         "5", None),
        (401, {"Resultado": "Token inválido o expirado", "Codigo": 0}, "", AuthenticationError,
         "Token inválido o expirado", "0", 401),
        (403, {"Resultado": "La empresa no pertenece al usuario", "Codigo": 0}, "", PermissionDenied,
         "La empresa no pertenece al usuario", "0", 403),
        (404, {"Resultado": "No se encontró la factura 9", "Codigo": 0}, "", NotFound,
         "No se encontró la factura 9", "0", 404),
        (400, {"Resultado": LONG_SAT, "Codigo": 0}, "stamp", StampRejected, LONG_SAT, "0", 400),
        (429, {"Resultado": "Demasiadas solicitudes", "Codigo": 0}, "", RateLimited,
         "Demasiadas solicitudes", "0", 429),
        (500, {"Message": "An error has occurred."}, "stamp", ServerError, "An error has occurred.",
         None, 500),
        (502, "<html><title>502</title></html>", "", ServerError, "HTTP 502", None, 502),
        (503, "Service Unavailable", "", ServerError, "Service Unavailable", None, 503),
    ],
)
def test_every_vendor_error_shape_maps_to_a_typed_error_with_the_text_verbatim(
    status, body, operation, error, message, vendor_code, http_status
):
    response = make_response(REQUEST, status, body)
    mapped = contadigital_error("contadigital", response, operation=operation)
    assert type(mapped) is error
    assert mapped.message == message
    assert mapped.vendor_code == vendor_code
    assert mapped.status_code == http_status
    assert mapped.provider == "contadigital"


def test_codigo_3_is_insufficient_credits_carrying_the_saved_id():
    response = make_response(REQUEST, 200, load("no_credits_reply.json"))
    mapped = contadigital_error("contadigital", response, operation="stamp")
    assert isinstance(mapped, InsufficientCredits)
    assert mapped.saved_id == "9005"
    assert mapped.message.startswith("La factura se guardó")
    assert mapped.vendor_code == "3"


def test_sat_code_is_extracted_from_the_vendor_text():
    response = make_response(REQUEST, 200, {"Resultado": LONG_SAT, "Codigo": 0})
    mapped = contadigital_error("contadigital", response, operation="stamp")
    assert isinstance(mapped, StampRejected) and mapped.sat_code == "CFDI40145"


# -- the provider on the wire (scripted vendor) ----------------------------------------------

CATALOG = load("catalog_reply.json")


def connect_ok(token: str = TOKEN_A, company: int | None = 1207):
    result: dict[str, Any] = {"Token": token}
    if company is not None:
        result["IdEmpresa"] = company
    return (200, {"Resultado": result, "Codigo": 1})


def provider_with(*steps, clock=None, **kwargs):
    adapter = ScriptedAdapter(*steps)
    kwargs.setdefault("api_key", "cd-test-key-0123456789")
    provider = ContaDigitalProvider(
        session=session_with(adapter), sleep=lambda s: None, clock=clock or FakeClock(), **kwargs
    )
    return provider, adapter


def auth_headers(adapter):
    return [r.headers.get("Authorization") for r in adapter.requests]


def test_the_key_is_exchanged_once_and_the_token_reused():
    provider, adapter = provider_with(connect_ok(), (200, CATALOG), (200, CATALOG))
    provider.catalog()
    provider.catalog(refresh=True)
    assert [r.path_url for r in adapter.requests] == [
        "/api/conectar.json", "/api/cfdi/utiles.json/1207", "/api/cfdi/utiles.json/1207"]
    assert json.loads(adapter.requests[0].body) == {"ApiKey": "cd-test-key-0123456789"}
    assert auth_headers(adapter) == [None, f"Bearer {TOKEN_A}", f"Bearer {TOKEN_A}"]


def test_token_is_refreshed_once_on_401_and_the_call_repeated():
    provider, adapter = provider_with(
        connect_ok(TOKEN_A),
        (401, {"Resultado": "Token inválido o expirado", "Codigo": 0}),
        connect_ok(TOKEN_B),
        (200, CATALOG),
    )
    assert provider.catalog().company_id == 1207
    assert auth_headers(adapter) == [None, f"Bearer {TOKEN_A}", None, f"Bearer {TOKEN_B}"]


def test_a_second_401_after_refreshing_is_an_authentication_error():
    provider, adapter = provider_with(
        connect_ok(TOKEN_A),
        (401, {"Resultado": "Token inválido o expirado", "Codigo": 0}),
        connect_ok(TOKEN_B),
        (401, {"Resultado": "Token inválido o expirado", "Codigo": 0}),
    )
    with pytest.raises(AuthenticationError, match="Token inválido o expirado"):
        provider.catalog()
    assert len(adapter.requests) == 4  # one refresh, never a loop


def test_token_expiry_is_timed_by_the_clock():
    clock = FakeClock()
    provider, adapter = provider_with(
        connect_ok(TOKEN_A), (200, CATALOG), connect_ok(TOKEN_B), (200, CATALOG), clock=clock
    )
    provider.catalog()
    clock.now += SPEC["limit.token_ttl"] + 1
    provider.catalog(refresh=True)
    assert auth_headers(adapter)[3] == f"Bearer {TOKEN_B}"


def test_a_refused_key_is_reported_by_check_connection_with_the_vendor_text():
    provider, _ = provider_with((200, {"Resultado": "La API Key no es válida", "Codigo": 0}))
    status = provider.check_connection()
    assert status.ok is False and status.detail == "La API Key no es válida"


def test_company_id_comes_from_the_argument_when_the_token_reply_lacks_it():
    provider, adapter = provider_with(connect_ok(company=None), (200, CATALOG), company_id="1207")
    provider.catalog()
    assert adapter.requests[1].path_url == "/api/cfdi/utiles.json/1207"


def test_missing_company_id_everywhere_is_a_configuration_error():
    provider, _ = provider_with(connect_ok(company=None))
    with pytest.raises(ConfigurationError, match="company_id"):
        provider.catalog()


def test_sandbox_environment_uses_the_test_prefix_on_the_same_host():
    provider, adapter = provider_with(connect_ok(), environment="sandbox")
    provider.company_id  # noqa: B018 - connects
    assert adapter.requests[0].url == "https://app.contadigital.mx/dev/pruebas/api/conectar.json"


def test_unknown_environment_is_refused():
    with pytest.raises(ConfigurationError):
        ContaDigitalProvider(api_key="k" * 12, environment="staging")


def test_api_key_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("APUNTO_CONTADIGITAL_API_KEY", "cd-env-key-0123456789")
    adapter = ScriptedAdapter(connect_ok())
    provider = ContaDigitalProvider(session=session_with(adapter))
    provider.company_id  # noqa: B018
    assert json.loads(adapter.requests[0].body) == {"ApiKey": "cd-env-key-0123456789"}
    assert "cd-env-key" not in repr(provider)


def test_path_overrides_are_followed():
    provider, adapter = provider_with(connect_ok(), spec={"path.connect": "/api/v2/login.json"})
    provider.company_id  # noqa: B018
    assert adapter.requests[0].path_url == "/api/v2/login.json"


def test_a_reply_without_the_envelope_is_an_ambiguous_transport_error():
    provider, _ = provider_with(connect_ok(), (200, {"Id": 1}))
    with pytest.raises(TransportError) as info:
        provider.catalog()
    assert info.value.request_sent is True


def test_non_json_success_body_is_an_ambiguous_transport_error():
    provider, _ = provider_with(connect_ok(), (200, "<html>login</html>"))
    with pytest.raises(TransportError) as info:
        provider.catalog()
    assert info.value.request_sent is True


def invoice_reply(**fields):
    result = {"Id": 9001, "UUID": "A3C1F5D2-7B4E-4C1A-9E2F-0D6B8C4A1E37", "Estatus": "Timbrada",
              **fields}
    return (200, {"Resultado": result, "Codigo": 1})


def test_download_uses_base64_when_the_reply_carries_it():
    provider, _ = provider_with(connect_ok(), invoice_reply(XmlBase64="PD94bWwgdmVyc2lvbj0iMS4wIj8+PEEvPg=="))
    assert provider.download("9001", "xml") == b'<?xml version="1.0"?><A/>'


def test_download_follows_a_link_on_the_vendor_host_with_the_token():
    provider, adapter = provider_with(
        connect_ok(), invoice_reply(PdfLink=f"{PRODUCTION_URL}/descargas/9001.pdf"),
        (200, b"%PDF-1.4 fake"),
    )
    assert provider.download("9001", "pdf") == b"%PDF-1.4 fake"
    assert adapter.requests[2].url == f"{PRODUCTION_URL}/descargas/9001.pdf"
    assert adapter.requests[2].headers["Authorization"] == f"Bearer {TOKEN_A}"


def test_download_links_on_other_hosts_never_get_the_token():
    provider, adapter = provider_with(
        connect_ok(), invoice_reply(UrlXml="https://files.example.net/9001.xml"),
        (200, b"<?xml version='1.0'?><cfdi/>"),
    )
    provider.download("9001", "xml")
    assert "Authorization" not in adapter.requests[2].headers


def test_download_refuses_a_body_that_is_not_the_format_asked_for():
    provider, _ = provider_with(
        connect_ok(), invoice_reply(PdfLink=f"{PRODUCTION_URL}/descargas/9001.pdf"),
        (200, b"<html>sesion expirada</html>"),
    )
    with pytest.raises(ProviderError, match="not a PDF"):
        provider.download("9001", "pdf")


def test_download_of_a_draft_is_not_found():
    provider, _ = provider_with(connect_ok(), (200, {"Resultado": {"Id": 9001, "Estatus": "Guardada"},
                                                     "Codigo": 1}))
    with pytest.raises(NotFound):
        provider.download("9001", "xml")


def test_cancel_sends_a_json_body_on_delete():
    provider, adapter = provider_with(connect_ok(), (200, load("cancel_reply.json")))
    replacement = "5fb2822e-396d-4725-8521-cdc4bdd20ccf"
    cancellation = provider.cancel("9001", CancelMotive.WITH_RELATION, replacement)
    sent = adapter.requests[1]
    assert (sent.method, sent.path_url) == ("DELETE", "/api/cfdi.json")
    assert json.loads(sent.body) == {"IdEmpresa": 1207, "IdFactura": 9001, "Motivo": "01",
                                     "UUIDSustitucion": replacement.upper()}
    assert cancellation.status is CancellationStatus.CANCELLED
    assert cancellation.replacement_uuid == replacement.upper()


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda p: p.cancel("9001", CancelMotive.WITH_RELATION), ValidationError),
        (lambda p: p.cancel("9001", CancelMotive.WITH_RELATION, "not-a-uuid"), ValidationError),
        (lambda p: p.get("A3C1F5D2-7B4E-4C1A-9E2F-0D6B8C4A1E37"), ValidationError),
        (lambda p: p.download("abc", "xml"), ValidationError),
        (lambda p: list(p.list()), UnsupportedOperation),
        (lambda p: p.send_email("9001", "no-at-sign"), ValidationError),
    ],
)
def test_bad_calls_fail_before_any_request(call, error):
    provider, adapter = provider_with()
    with pytest.raises(error):
        call(provider)
    assert adapter.requests == []


def test_stamp_validation_happens_before_any_request():
    provider, adapter = provider_with()
    bad = freight_invoice().with_changes(items=[
        LineItem("78101802", "E48", "x", 1, "10", name="N" * 60, taxes=[Tax.iva()]),
    ])
    with pytest.raises(ValidationError) as info:
        provider.stamp(bad)
    assert "APUNTO-301" in {i.code for i in info.value.issues}
    assert adapter.requests == []


def test_capabilities_declare_what_contadigital_offers():
    names = {c.value for c in ContaDigitalProvider.capabilities}
    assert names == {"stamp", "get", "download_xml", "download_pdf", "cancel", "send_email"}


def test_the_key_never_shows_in_repr_or_error_text():
    provider, _ = provider_with()
    echoed = {"Resultado": "La API Key cd-test-key-0123456789 no es válida", "Codigo": 0}
    error = contadigital_error("contadigital", make_response(REQUEST, 200, echoed), operation="connect")
    assert "cd-test-key-0123456789" not in repr(provider)
    assert "cd-test-key-0123456789" not in str(error)
    assert error.message == echoed["Resultado"]  # .message stays verbatim for code that needs it
