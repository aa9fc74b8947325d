"""Alegra mappers, error mapping and the guards that act before any network call."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path

import attrs
import pytest
import requests

from apunto_connect._wire import encode_json
from apunto_connect.errors import (
    AuthenticationError,
    ConfigurationError,
    Conflict,
    InsufficientCredits,
    NotFound,
    PermissionDenied,
    ProviderError,
    RateLimited,
    ServerError,
    StampRejected,
    UnsupportedOperation,
    ValidationError,
)
from apunto_connect.invoicing.alegra import (
    SPEC,
    AlegraProvider,
    TaxRef,
    alegra_error,
    alegra_regime,
    alegra_to_cancellation,
    alegra_to_stamped,
    cancel_to_alegra,
    customer_to_alegra,
    invoice_to_alegra,
    line_to_alegra_item,
    stamp_result_error,
    tax_ref,
    tax_to_alegra,
)
from apunto_connect.models.common import Capability
from apunto_connect.models.invoices import (
    CancellationStatus,
    CancelMotive,
    InvoiceKind,
    InvoiceStatus,
    RelatedDocuments,
    Tax,
    TaxFactor,
    TaxKind,
)
from tests.factories import fixture_invoice
from tests.fakes import ScriptedAdapter, make_response, session_with

FIXTURES = Path(__file__).parent / "fixtures" / "alegra"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"), parse_float=Decimal)


sample_invoice = partial(fixture_invoice, "alegra/invoice.json")


def raw(body: object) -> bytes:
    """A scripted answer body with exact decimals."""
    return encode_json(body)


def wire(body: object) -> object:
    """What actually goes on the wire, read back with exact decimals."""
    return json.loads(encode_json(body), parse_float=Decimal)


IVA16 = TaxRef(TaxKind.IVA, TaxFactor.RATE, Decimal("0.16"), False)
RET_IVA4 = TaxRef(TaxKind.IVA, TaxFactor.RATE, Decimal("0.04"), True)


def provider_with(*steps, **kwargs) -> tuple[AlegraProvider, ScriptedAdapter]:
    adapter = ScriptedAdapter(*steps)
    kwargs.setdefault("email", "ops@forwarder.example")
    kwargs.setdefault("token", "tok-1234567890")
    provider = AlegraProvider(session=session_with(adapter), sleep=lambda s: None, **kwargs)
    return provider, adapter


# -- our models -> Alegra -------------------------------------------------------------------


def test_invoice_maps_to_the_alegra_create_and_stamp_body():
    body = invoice_to_alegra(
        sample_invoice(),
        client_id="7",
        item_ids=["11", "12"],
        tax_ids={IVA16: "1", RET_IVA4: "5"},
        issued_on=date(2026, 3, 2),
        idempotency_key="order-4471",
    )
    assert wire(body) == load("invoice_request.json")


def test_amounts_go_out_as_exact_json_numbers_not_floats_or_strings():
    text = encode_json({"price": Decimal("0.10"), "rate": Decimal("10.6667"), "n": "0.1"}).decode()
    assert text == '{"price":0.10,"rate":10.6667,"n":"0.1"}'


def test_line_discount_is_sent_as_a_percentage_that_rounds_back_to_the_cent():
    invoice = sample_invoice()
    line = invoice.items[1].__class__(
        "78141500", "E48", "Maniobras", "3", "333.33", discount="17.77", taxes=[Tax.iva()]
    )
    body = invoice_to_alegra(
        invoice.with_changes(items=[line]),
        client_id="7",
        item_ids=["12"],
        tax_ids={IVA16: "1"},
        issued_on=date(2026, 3, 2),
    )
    percent = body["items"][0]["discount"]
    amount = Decimal("999.99")
    assert (amount * percent / 100).quantize(Decimal("0.01")) == Decimal("17.77")


def test_a_draft_has_no_stamp_request_and_an_explicit_date_wins():
    invoice = sample_invoice().with_changes(issued_at=datetime(2026, 1, 15, 9, 30))
    body = invoice_to_alegra(
        invoice,
        client_id="7",
        item_ids=["11", "12"],
        tax_ids={IVA16: "1", RET_IVA4: "5"},
        issued_on=date(2026, 3, 2),
        stamp=False,
    )
    assert "stamp" not in body and body["status"] == "draft"
    assert body["date"] == "2026-01-15" and body["dueDate"] == "2026-02-14"
    assert "observations" not in body


def test_foreign_currency_carries_the_exchange_rate():
    invoice = sample_invoice().with_changes(currency="USD", exchange_rate="17.2345")
    body = invoice_to_alegra(
        invoice,
        client_id="7",
        item_ids=["11", "12"],
        tax_ids={IVA16: "1", RET_IVA4: "5"},
        issued_on=date(2026, 3, 2),
    )
    assert body["currency"] == {"code": "USD", "exchangeRate": Decimal("17.2345")}


def test_customer_item_and_tax_bodies_carry_the_sat_data_alegra_needs():
    invoice = sample_invoice()
    assert customer_to_alegra(invoice.customer) == {
        "name": "ESCUELA KEMPER URGATE",
        "identification": "EKU9003173C9",
        # Alegra's name for SAT régimen 601, in both fields (not the SAT code).
        "regime": "GENERAL_REGIME_OF_MORAL_PEOPLE_LAW",
        "regimeObject": ["GENERAL_REGIME_OF_MORAL_PEOPLE_LAW"],
        "address": {"zipCode": "26015"},
        "type": ["client"],
        "email": "pagos@example.com",
    }
    assert wire(line_to_alegra_item(invoice.items[0])) == {
        "name": "Flete terrestre",
        "description": "Flete terrestre Monterrey - CDMX, contenedor MSCU1234565",
        "price": Decimal("18500.00"),
        "productKey": "78101802",
        "unitKey": "E48",
        "inventory": {"unit": "service"},  # Alegra's word for SAT unit E48
        "reference": "FLT-001",
    }
    assert wire(tax_to_alegra(tax_ref(Tax.iva_withholding("0.106667")))) == {
        "name": "Ret. IVA 10.6667%",
        "type": "IVA",
        "factorType": "Tasa",
        "percentage": Decimal("10.6667"),
    }
    exempt = tax_to_alegra(tax_ref(Tax.iva_exempt()))
    assert exempt["factorType"] == "Exento" and exempt["name"] == "IVA Exento"


def test_cancel_body_uses_the_assumed_motive_fields():
    assert cancel_to_alegra(CancelMotive.WITH_RELATION, "6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b") == {
        "motive": "01",
        "replacementUuid": "6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B",
    }
    overridden = SPEC.with_overrides({"field.cancel.motive": "cancellation.reason"})
    assert cancel_to_alegra(CancelMotive.NOT_CARRIED_OUT, None, overridden) == {
        "cancellation": {"reason": "03"}
    }


# -- Alegra -> our models -------------------------------------------------------------------


def test_stamped_answer_maps_to_stamped_invoice_and_ignores_unknown_fields():
    stamped = alegra_to_stamped(load("invoice_stamped.json"), issuer_rfc="EKU9003173C9")
    assert stamped.id == "2047"
    assert stamped.uuid == "6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B"
    assert stamped.status is InvoiceStatus.ACTIVE
    assert stamped.total == Decimal("23331.04")
    assert (stamped.series, stamped.folio) == ("F", "1001")
    assert stamped.currency == "MXN" and stamped.customer_rfc == "EKU9003173C9"
    assert stamped.issuer_rfc == "EKU9003173C9"
    assert stamped.stamped_at == datetime(2026, 3, 2, 10, 15, 42)
    assert stamped.issued_at == datetime(2026, 3, 2)
    assert stamped.raw["someFieldAddedLater"] == {"nested": True}


def test_an_unstamped_invoice_is_a_draft_and_a_void_one_is_cancelled():
    data = load("invoice_stamped.json")
    data.pop("stamp")
    assert alegra_to_stamped(data).status is InvoiceStatus.DRAFT
    assert alegra_to_stamped(load("invoice_void.json")).status is InvoiceStatus.CANCELLED
    pending = load("invoice_void.json")
    pending["stamp"]["cancellationStatus"] = "requested"
    assert alegra_to_stamped(pending).status is InvoiceStatus.CANCEL_PENDING


@pytest.mark.parametrize(
    ("state", "status", "expected"),
    [
        ("cancelled", "void", CancellationStatus.CANCELLED),
        ("requested", "void", CancellationStatus.REQUESTED),
        ("rejected", "open", CancellationStatus.REJECTED),
        (None, "void", CancellationStatus.CANCELLED),
        (None, "open", CancellationStatus.REJECTED),
    ],
)
def test_void_answer_maps_to_cancellation(state, status, expected):
    data = load("invoice_void.json")
    data["status"] = status
    data["stamp"]["cancellationStatus"] = state
    cancellation = alegra_to_cancellation(data, ref="2047", motive=CancelMotive.WITHOUT_RELATION)
    assert cancellation.status is expected
    assert cancellation.uuid == "6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B"
    assert cancellation.motive is CancelMotive.WITHOUT_RELATION


def test_failed_entry_of_a_batch_stamp_is_a_stamp_rejection_with_the_sat_code():
    entry = load("stamp_batch_answer.json")["data"][1]
    error = stamp_result_error(entry)
    assert isinstance(error, StampRejected)
    assert error.message == entry["message"]
    assert error.sat_code == "CFDI40145"
    assert error.vendor_code == "REJECTED"


# -- error shapes -----------------------------------------------------------------------------


def failed(status: int, body: object, headers: dict | None = None) -> requests.Response:
    request = requests.Request("POST", "https://api.alegra.com/api/v1/invoices").prepare()
    return make_response(request, status, body, headers)


SAT_TEXT = (
    "Error al timbrar: CFDI40145 - El campo Nombre del receptor, debe pertenecer al nombre "
    "asociado al RFC registrado en el campo Rfc del Receptor."
)


@pytest.mark.parametrize(
    ("status", "body", "kind", "message", "code"),
    [
        (400, {"code": 1011, "message": "El ítem no tiene productKey"}, ProviderError,
         "El ítem no tiene productKey", "1011"),
        (400, {"code": 400, "message": SAT_TEXT}, StampRejected, SAT_TEXT, "400"),
        (422, {"message": SAT_TEXT}, StampRejected, SAT_TEXT, None),
        (400, {"error": {"code": 2006, "message": "La numeración no existe"}}, ProviderError,
         "La numeración no existe", "2006"),
        (400, [{"code": 3, "message": "Fecha inválida"}], ProviderError, "Fecha inválida", "3"),
        (401, {"code": 401, "message": "Usuario o token de acceso inválido"}, AuthenticationError,
         "Usuario o token de acceso inválido", "401"),
        (402, {"code": 402, "message": "No tienes timbres disponibles"}, InsufficientCredits,
         "No tienes timbres disponibles", "402"),
        (403, {"code": 403, "message": "Tu plan no incluye el API"}, PermissionDenied,
         "Tu plan no incluye el API", "403"),
        (404, {"code": 404, "message": "No se encontró la factura"}, NotFound,
         "No se encontró la factura", "404"),
        (409, {"message": "La factura ya fue timbrada"}, Conflict,
         "La factura ya fue timbrada", None),
        (500, {"code": 500, "message": "Error interno"}, ServerError, "Error interno", "500"),
        (500, "Internal failure while stamping", ServerError,
         "Internal failure while stamping", None),
        (502, "<html><body><h1>502 Bad Gateway</h1></body></html>", ServerError,
         "HTTP 502", None),
        (503, None, ServerError, "HTTP 503", None),
    ],
)
def test_every_alegra_error_shape_maps_to_a_typed_error_with_the_text_verbatim(
    status, body, kind, message, code
):
    error = alegra_error("alegra", failed(status, body))
    assert type(error) is kind
    assert error.message.startswith(message)
    assert error.vendor_code == code
    assert error.status_code == status
    assert error.provider == "alegra"


def test_sat_code_is_extracted_from_a_rejection():
    error = alegra_error("alegra", failed(400, {"code": 400, "message": SAT_TEXT}))
    assert isinstance(error, StampRejected) and error.sat_code == "CFDI40145"
    assert error.details == {"code": 400, "message": SAT_TEXT}


def test_rate_limit_error_waits_for_the_window_reset():
    error = alegra_error(
        "alegra",
        failed(
            429,
            {"code": 429, "message": "Has superado el límite"},
            {"X-Rate-Limit-Limit": "150", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "37"},
        ),
    )
    assert isinstance(error, RateLimited)
    assert error.retry_after == 37.0
    assert error.message == "Has superado el límite"


# -- configuration and guards ----------------------------------------------------------------


@pytest.mark.parametrize("email", ["ops", "ops@", "@forwarder.mx", "ops forwarder@x.mx", "a@b"])
def test_the_user_name_must_be_an_email_and_the_error_names_the_field(email):
    with pytest.raises(ValidationError) as info:
        AlegraProvider(email=email, token="tok-1234567890")
    assert [issue.field for issue in info.value.issues] == ["email"]


def test_credentials_come_from_the_environment_too(monkeypatch):
    monkeypatch.setenv("APUNTO_ALEGRA_EMAIL", "ops@forwarder.example")
    monkeypatch.setenv("APUNTO_ALEGRA_TOKEN", "tok-from-env-123")
    provider = AlegraProvider()
    assert provider.email == "ops@forwarder.example"
    assert "tok-from-env-123" not in repr(provider)


def test_there_is_no_alegra_sandbox_environment():
    with pytest.raises(ConfigurationError, match="only production"):
        AlegraProvider(email="ops@forwarder.example", token="t" * 12, environment="sandbox")


def test_unknown_api_table_keys_are_refused():
    with pytest.raises(ConfigurationError, match=r"path\.vodi"):
        AlegraProvider(email="ops@forwarder.example", token="t" * 12, spec={"path.vodi": "x"})


def test_overridden_paths_are_the_ones_called():
    invoice = load("invoice_void.json")
    provider, adapter = provider_with(
        (200, raw(invoice)), spec={"path.void": "invoices/{id}/cancel"}
    )
    provider.cancel("2047", CancelMotive.WITHOUT_RELATION)
    assert adapter.requests[0].url == "https://api.alegra.com/api/v1/invoices/2047/cancel"
    assert json.loads(adapter.requests[0].body) == {"motive": "02"}


def test_unsupported_operation_fails_before_any_request():
    provider, adapter = provider_with()
    assert not provider.supports(Capability.VALIDATE_CUSTOMER)
    with pytest.raises(UnsupportedOperation):
        provider.require(Capability.VALIDATE_CUSTOMER)
    assert adapter.requests == []


def test_invalid_invoices_are_refused_before_any_request():
    provider, adapter = provider_with()
    invoice = sample_invoice()
    bad = invoice.with_changes(
        kind=InvoiceKind.EXPENSE,
        related=[RelatedDocuments("01", ["6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B"])],
        items=[invoice.items[0].__class__("78101802", "E48", "X", 1, "10", taxes=[])],
    )
    with pytest.raises(ValidationError) as info:
        provider.stamp(bad)
    codes = {issue.code for issue in info.value.issues}
    assert {"APUNTO-ALEGRA-010", "APUNTO-ALEGRA-011", "APUNTO-301"} <= codes
    assert adapter.requests == []


def test_batch_validation_names_the_invoice_index_and_sends_nothing_for_it():
    provider, adapter = provider_with()
    good = sample_invoice()
    quota = good.with_changes(
        items=[good.items[0].__class__(
            "78101802", "E48", "Flete", 1, "10", taxes=[Tax.ieps("1.5", factor=TaxFactor.QUOTA)]
        )]
    )
    outcomes = provider.stamp_many([quota, quota]).results()
    assert all(isinstance(o.error, ValidationError) for o in outcomes)
    assert any(i.field.startswith("[1].items[0].taxes") for i in outcomes[1].error.issues)
    assert adapter.requests == []  # a bad invoice never reaches Alegra


@pytest.mark.parametrize(
    ("motive", "replacement", "code"),
    [
        (CancelMotive.WITH_RELATION, None, "APUNTO-602"),
        (CancelMotive.WITH_RELATION, "not-a-uuid", "APUNTO-603"),
        ("09", None, "APUNTO-601"),
    ],
)
def test_cancel_arguments_are_checked_before_any_request(motive, replacement, code):
    provider, adapter = provider_with()
    with pytest.raises(ValidationError) as info:
        provider.cancel("2047", motive, replacement)
    assert info.value.issues[0].code == code
    assert adapter.requests == []


def test_a_replacement_uuid_is_only_sent_with_motive_01():
    provider, adapter = provider_with((200, raw(load("invoice_void.json"))))
    provider.cancel("2047", "02", "6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B")
    assert json.loads(adapter.requests[0].body) == {"motive": "02"}


def test_list_refuses_pages_larger_than_alegras_limit_before_any_request():
    provider, adapter = provider_with()
    with pytest.raises(ValidationError, match="1-30"):
        provider.list(page_size=50)
    assert adapter.requests == []


def test_list_is_lazy_and_carries_filters_to_every_page():
    def page(rows, total):
        return (200, raw({"metadata": {"total": total}, "data": rows}))

    rows = [load("invoice_stamped.json") | {"id": str(n)} for n in range(5)]
    provider, adapter = provider_with(page(rows[:2], 5), page(rows[2:4], 5), page(rows[4:], 5))
    iterator = provider.list(status="open", date_from=date(2026, 3, 1), page_size=2)
    assert adapter.requests == []
    ids = [stamped.id for stamped in iterator]
    assert ids == ["0", "1", "2", "3", "4"]
    queries = [requests.utils.urlparse(r.url).query for r in adapter.requests]
    assert all("status=open" in q and "date_after=2026-03-01" in q for q in queries)
    assert [q.split("start=")[1].split("&")[0] for q in queries] == ["0", "2", "4"]


def test_files_on_another_host_are_fetched_without_the_account_credentials():
    stamped = load("invoice_stamped.json")
    with_files = stamped | {
        "pdf": "https://files.storage.example/a/b/factura.pdf",
        "xml": "https://api.alegra.com/api/v1/files/x/factura.xml",
    }
    provider, adapter = provider_with(
        (200, raw(with_files)),
        (200, b"%PDF-1.4 test"),
        (200, raw(with_files)),
        (200, b"<?xml version='1.0'?><a/>"),
    )
    assert provider.download("2047", "pdf") == b"%PDF-1.4 test"
    assert provider.download("2047", "xml").startswith(b"<?xml")
    pdf_request, xml_request = adapter.requests[1], adapter.requests[3]
    assert "Authorization" not in pdf_request.headers
    assert xml_request.headers["Authorization"].startswith("Basic ")


def test_an_html_page_instead_of_a_pdf_is_an_error_not_a_document():
    from apunto_connect.errors import TransportError

    with_files = load("invoice_stamped.json") | {"pdf": "https://files.storage.example/f.pdf"}
    provider, _ = provider_with(
        (200, raw(with_files)), (200, "<html><body>Access denied</body></html>")
    )
    with pytest.raises(TransportError):
        provider.download("2047", "pdf")


def test_the_token_never_shows_in_repr_or_errors():
    provider, _ = provider_with(
        (401, {"code": 401, "message": "Usuario o token de acceso inválido"}),
        token="tok-very-secret-42",
    )
    assert "tok-very-secret-42" not in repr(provider)
    status = provider.check_connection()
    assert status.ok is False and status.detail == "Usuario o token de acceso inválido"


def test_the_regime_travels_by_alegras_name_and_an_unnamed_one_is_refused_before_any_request():
    # Two Mexican integrations send Alegra's names (GENERAL_REGIME_OF_MORAL_PEOPLE_LAW), not the
    # SAT code; six pairs are agreed, the others have one source and are recorded when used.
    spec = SPEC.with_overrides({})
    assert alegra_regime("601", spec) == "GENERAL_REGIME_OF_MORAL_PEOPLE_LAW"
    assert alegra_regime("626", spec) == "REGIME_OF_TRUST"
    assert spec.assumptions_used() == []
    assert alegra_regime("621", spec) == "FISCAL_INCORPORATION_REGIME"
    assert spec.assumptions_used() == ["value.contact.regime_names_one_source"]

    provider, adapter = provider_with()
    invoice = sample_invoice()
    unnamed = invoice.with_changes(customer=attrs.evolve(invoice.customer, tax_regime="608"))
    with pytest.raises(ValidationError) as info:
        provider.stamp(unnamed)
    refused = [issue for issue in info.value.issues if issue.code == "APUNTO-ALEGRA-013"]
    assert [issue.field for issue in refused] == ["customer.tax_regime"]
    assert "608" in refused[0].message
    assert adapter.requests == []
