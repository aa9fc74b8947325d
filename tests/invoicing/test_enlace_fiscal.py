"""Enlace Fiscal: pure mappers from fixtures, every error shape, and cassettes replayed offline.

The cassettes in ``cassettes/enlace_fiscal/`` were recorded against the sandbox's loopback
server, with the loopback address rewritten to the real base URL; replaying them needs no
server and no network. To record them again (same tests, same assertions)::

    rm cassettes/enlace_fiscal/*.yaml
    .venv/bin/pytest tests/invoicing/test_enlace_fiscal.py -k cassette --record-mode=once
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests

from apunto_connect.errors import (
    AuthenticationError,
    Conflict,
    InsufficientCredits,
    NotFound,
    PermissionDenied,
    ProviderError,
    RateLimited,
    ServerError,
    StampRejected,
    ValidationError,
)
from apunto_connect.invoicing.enlace_fiscal import (
    BASE_URL,
    SPEC,
    EnlaceFiscalProvider,
    enlace_fiscal_error,
    enlace_fiscal_row_to_stamped,
    enlace_fiscal_to_cancellation,
    enlace_fiscal_to_stamped,
    format_fecha,
    invoice_to_enlace_fiscal,
    is_accepted,
    make_ref,
    mexico_local_now,
    parse_ref,
    solicitud,
    xml_from_ack,
)
from apunto_connect.models import (
    CancelMotive,
    Customer,
    Invoice,
    InvoiceStatus,
    LineItem,
    Tax,
)
from apunto_connect.models.invoices import CancellationStatus
from tests import cassette_scrub
from tests.factories import fixture_invoice
from tests.fakes import FakeClock, make_response
from tests.recording import Recording

FIXTURES = Path(__file__).parent / "fixtures" / "enlace_fiscal"
NAME = "enlace_fiscal"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


freight_invoice = partial(fixture_invoice, "enlace_fiscal/invoice_freight.json")


def response(status: int, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
    request = requests.Request("POST", f"{BASE_URL}/generarCfdi").prepare()
    return make_response(request, status, body, headers)


# -- request mapping ------------------------------------------------------------------------


def test_invoice_maps_to_the_exact_generar_cfdi_body():
    invoice = freight_invoice()
    body = invoice_to_enlace_fiscal(
        invoice,
        rfc="EKU9003173C9",
        serie="APUNTO",
        folio="101",
        mode="debug",
        issued_at=invoice.issued_at,
    )
    assert body == fixture("generar_cfdi_request.json")


def test_amounts_are_strings_with_the_currency_decimals_and_add_up():
    body = fixture("generar_cfdi_request.json")["CFDi"]
    amounts = [body["subTotal"], body["total"], body["descuentos"]]
    for partida in body["Partidas"]:
        amounts += [partida["importe"], *(t["importe"] for t in partida["Impuestos"])]
    assert all(isinstance(a, str) and re.fullmatch(r"\d+\.\d{2}", a) for a in amounts)
    sub, disc = Decimal(body["subTotal"]), Decimal(body["descuentos"])
    totals = body["Impuestos"]["Totales"]
    expected = sub - disc + Decimal(totals["traslados"]) - Decimal(totals["retenciones"])
    assert Decimal(body["total"]) == expected


def test_unit_price_keeps_its_precision_up_to_six_decimals():
    partidas = fixture("generar_cfdi_request.json")["CFDi"]["Partidas"]
    assert partidas[0]["valorUnitario"] == "18500.00"
    assert partidas[1]["valorUnitario"] == "123.456789"


def test_exempt_tax_is_sent_without_rate_or_amount():
    invoice = freight_invoice().with_changes(
        items=[LineItem("78101802", "E48", "Flete", 1, "100", taxes=[Tax.iva_exempt()])]
    )
    body = invoice_to_enlace_fiscal(
        invoice, rfc="EKU9003173C9", serie="A", folio="1", mode="debug",
        issued_at=datetime(2026, 3, 2, 9, 0),
    )["CFDi"]
    (row,) = body["Partidas"][0]["Impuestos"]
    assert row == {"tipo": "traslado", "claveImpuesto": "IVA", "tipoFactor": "exento",
                   "baseImpuesto": "100.00"}
    assert "traslados" not in body["Impuestos"]["Totales"]
    assert body["total"] == "100.00"


def test_fecha_emision_is_mexico_city_local_time():
    utc = datetime(2026, 3, 2, 15, 20, tzinfo=timezone.utc)
    assert format_fecha(utc) == "2026-03-02 09:20:00"
    assert format_fecha(datetime(2026, 3, 2, 9, 20)) == "2026-03-02 09:20:00"  # naive = local
    assert mexico_local_now(lambda: utc) == datetime(2026, 3, 2, 9, 20)


def test_a_now_returning_epoch_seconds_still_works_with_a_deprecation_warning():
    utc = datetime(2026, 3, 2, 15, 20, tzinfo=timezone.utc)
    with pytest.warns(DeprecationWarning, match="aware datetime"):
        assert mexico_local_now(lambda: utc.timestamp()) == datetime(2026, 3, 2, 9, 20)


def test_customer_email_is_sent_only_when_asked():
    invoice = freight_invoice()
    common = dict(rfc="EKU9003173C9", serie="A", folio="1", mode="debug",
                  issued_at=datetime(2026, 3, 2, 9, 0))
    assert "EnviarCFDI" not in invoice_to_enlace_fiscal(invoice, **common)["CFDi"]
    sent = invoice_to_enlace_fiscal(invoice, send_email=True, **common)["CFDi"]
    assert sent["EnviarCFDI"] == {"Correos": ["cuentas@example.com"]}


def test_every_other_action_uses_the_solicitud_envelope():
    assert solicitud("obtenerSaldo", rfc="EKU9003173C9", mode="produccion") == {
        "Solicitud": {"rfc": "EKU9003173C9", "modo": "produccion", "accion": "obtenerSaldo"}
    }


# -- refs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "parts"),
    [("APUNTO-101", ("APUNTO", "101")), ("MX-API-7", ("MX-API", "7"))],
)
def test_refs_are_serie_and_folio_split_at_the_last_dash(ref, parts):
    assert parse_ref(ref) == parts
    assert make_ref(*parts) == ref


@pytest.mark.parametrize("ref", ["101", "-101", "APUNTO-", "6513270E-269E-4D37-B2A7-4DE452E6B438"])
def test_malformed_refs_are_rejected(ref):
    with pytest.raises(ValidationError):
        parse_ref(ref)


# -- response mapping -----------------------------------------------------------------------


def test_accepted_ack_maps_to_a_stamped_invoice_read_from_the_inline_xml():
    ack = fixture("generar_cfdi_accepted.json")["AckEnlaceFiscal"]
    stamped = enlace_fiscal_to_stamped(ack)
    assert stamped.id == "APUNTO-101"
    assert stamped.uuid == "6513270E-269E-4D37-B2A7-4DE452E6B438"
    assert stamped.status is InvoiceStatus.ACTIVE
    assert stamped.total == Decimal("21068.00")
    assert stamped.currency == "MXN"
    assert (stamped.issuer_rfc, stamped.customer_rfc) == ("EKU9003173C9", "XIQB891116QE4")
    assert stamped.issued_at == datetime(2026, 3, 2, 9, 15)
    assert stamped.stamped_at == datetime(2026, 3, 2, 9, 20)
    assert stamped.raw["descargaArchivoPDF"].endswith("/APUNTO-101.pdf")


def test_inline_xml_is_base64_as_the_public_integration_reads_it_and_raw_xml_still_maps():
    ack = fixture("generar_cfdi_accepted.json")["AckEnlaceFiscal"]
    xml = base64.b64decode(ack["xmlCFDi"], validate=True)  # the fixture has the public shape
    assert xml.startswith(b"<?xml") and SPEC.fact("value.xml_inline_base64").value is True
    assert "EF-dotnet" in SPEC.fact("value.xml_inline_base64").evidence
    assert xml_from_ack(ack) == xml
    raw = {**ack, "xmlCFDi": xml.decode("utf-8")}  # an account answering raw XML still works
    assert xml_from_ack(raw) == xml
    assert enlace_fiscal_to_stamped(raw).total == enlace_fiscal_to_stamped(ack).total
    assert xml_from_ack({**ack, "xmlCFDi": "bm90IHhtbA=="}) is None  # base64, but not XML


def test_ack_without_inline_xml_takes_totals_from_the_invoice_sent():
    ack = dict(fixture("generar_cfdi_accepted.json")["AckEnlaceFiscal"])
    del ack["xmlCFDi"]
    stamped = enlace_fiscal_to_stamped(ack, invoice=freight_invoice())
    assert stamped.total == Decimal("21068.00")
    assert stamped.customer_rfc == "XIQB891116QE4"


def test_list_row_maps_to_a_stamped_invoice():
    (row,) = fixture("listar_comprobantes_accepted.json")["AckEnlaceFiscal"][SPEC["field.list_rows"]]
    stamped = enlace_fiscal_row_to_stamped(row)
    assert stamped.id == "APUNTO-101"
    assert stamped.total == Decimal("21068.00")
    assert stamped.customer_rfc == "XIQB891116QE4"
    assert stamped.issued_at == datetime(2026, 3, 2, 9, 15)


@pytest.mark.parametrize(
    ("value", "status"),
    [("cancelado", CancellationStatus.CANCELLED), ("en proceso", CancellationStatus.REQUESTED),
     (None, CancellationStatus.CANCELLED)],
)
def test_cancellation_status_is_read_from_the_ack(value, status):
    ack = {"estatusDocumento": "aceptado", "folioFiscalUUID": "abc"}
    if value:
        ack[SPEC["field.cancel_status"]] = value
    result = enlace_fiscal_to_cancellation(ack, ref="A-1", motive=CancelMotive.WITHOUT_RELATION)
    assert result.status is status
    assert result.uuid == "ABC"


def test_success_needs_aceptado_and_no_error_message():
    assert is_accepted({"estatusDocumento": "aceptado"})
    assert is_accepted({"saldo": 12})  # obtenerSaldo may carry no status
    assert not is_accepted({"estatusDocumento": "rechazado"})
    assert not is_accepted({"estatusDocumento": "aceptado", "mensajeError": {"codigoError": "1"}})


# -- error shapes -----------------------------------------------------------------------------


AUTH_TEXT = "El usuario o contraseña no son válidos o estan vacíos"


@pytest.mark.parametrize("name", ["error_800.json", "error_800_v1_texto.json"])
def test_code_800_inside_a_200_is_an_authentication_error_with_the_text_verbatim(name):
    error = enlace_fiscal_error(NAME, response(200, fixture(name)))
    assert type(error) is AuthenticationError
    assert error.message == AUTH_TEXT
    assert error.vendor_code == "800"
    assert error.status_code is None  # the failure was inside an HTTP 200
    assert error.provider == NAME


def test_reference_number_becomes_the_request_id():
    error = enlace_fiscal_error(NAME, response(200, fixture("error_800.json")))
    assert error.request_id == "48213"
    assert error.raw_body and "800" in error.raw_body


def test_sat_rule_in_the_text_is_a_stamp_rejection_with_its_code():
    body = fixture("error_sat_rejection.json")
    error = enlace_fiscal_error(NAME, response(200, body))
    assert type(error) is StampRejected
    assert error.sat_code == "CFDI40145"
    assert error.message == body["AckEnlaceFiscal"]["mensajeError"]["descripcionError"]
    assert error.vendor_code == "301"


def test_a_payment_complement_rule_gets_the_same_sat_code_as_at_every_vendor():
    text = "CRP20238 - El campo ImpPagado no cumple con el redondeo"
    body = {"AckEnlaceFiscal": {"estatusDocumento": "rechazado",
                                "mensajeError": {"codigoError": "301", "descripcionError": text}}}
    error = enlace_fiscal_error(NAME, response(200, body))
    assert type(error) is StampRejected
    assert (error.sat_code, error.message) == ("CRP20238", text)


def test_error_codes_follow_the_spec_overrides():
    body = {"AckEnlaceFiscal": {"estatusDocumento": "rechazado",
                                "mensajeError": {"codigoError": "911", "descripcionError": "x"}}}
    assert type(enlace_fiscal_error(NAME, response(200, body))) is ProviderError
    spec = {"value.error.no_stamps": "911"}
    error = enlace_fiscal_error(NAME, response(200, body), spec=spec)
    assert type(error) is InsufficientCredits
    assert error.vendor_code == "911"


def test_several_error_messages_are_all_kept_verbatim():
    body = fixture("error_several.json")
    error = enlace_fiscal_error(NAME, response(200, body))
    texts = [e["descripcionError"] for e in body["AckEnlaceFiscal"]["mensajeError"]]
    assert isinstance(error, StampRejected)
    assert error.message == "\n".join(texts)
    assert error.sat_code == "CFDI40108"
    assert error.details == body["AckEnlaceFiscal"]["mensajeError"]


@pytest.mark.parametrize(
    ("code", "cls"),
    [("801", PermissionDenied), ("802", Conflict), ("803", NotFound),
     ("804", InsufficientCredits), ("805", StampRejected), ("807", Conflict)],
)
def test_assumed_codes_map_to_their_typed_errors(code, cls):
    body = {"AckEnlaceFiscal": {"estatusDocumento": "rechazado",
                                "mensajeError": {"codigoError": code, "descripcionError": "x"}}}
    error = enlace_fiscal_error(NAME, response(200, body))
    assert type(error) is cls
    assert error.vendor_code == code


@pytest.mark.parametrize(
    ("text", "cls"),
    [("Saldo insuficiente para timbrar", InsufficientCredits),
     ("El folio 9 de la serie A ya fue utilizado", Conflict),
     ("No existe el comprobante solicitado", NotFound),
     ("Error desconocido", ProviderError)],
)
def test_unknown_codes_are_classified_by_their_text(text, cls):
    body = {"AckEnlaceFiscal": {"estatusDocumento": "rechazado",
                                "mensajeError": {"codigoError": "999", "descripcionError": text}}}
    error = enlace_fiscal_error(NAME, response(200, body))
    assert type(error) is cls
    assert error.message == text


def test_rejection_without_a_message_names_the_status():
    error = enlace_fiscal_error(NAME, response(200, {"AckEnlaceFiscal": {"estatusDocumento": "rechazado"}}))
    assert type(error) is ProviderError
    assert error.message == "estatusDocumento: rechazado"


def test_gateway_403_means_the_api_key_was_refused():
    error = enlace_fiscal_error(NAME, response(403, {"message": "Forbidden"}))
    assert type(error) is AuthenticationError
    assert error.message == "Forbidden"
    assert error.status_code == 403


def test_rate_limit_keeps_retry_after():
    error = enlace_fiscal_error(NAME, response(429, {"message": "Too Many Requests"}, {"Retry-After": "3"}))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 3.0
    assert error.message == "Too Many Requests"


def test_html_error_page_is_a_server_error_without_html_in_the_message():
    error = enlace_fiscal_error(NAME, response(502, "<html><body>Bad gateway</body></html>"))
    assert type(error) is ServerError
    assert "<" not in error.message


def test_server_error_carrying_an_ack_keeps_the_vendor_text():
    body = {"AckEnlaceFiscal": {"estatusDocumento": "rechazado",
                                "mensajeError": {"codigoError": "999", "descripcionError": "Falla interna"}}}
    error = enlace_fiscal_error(NAME, response(500, body))
    assert type(error) is ServerError
    assert (error.message, error.vendor_code) == ("Falla interna", "999")


def test_plain_text_error_body_is_kept_verbatim():
    error = enlace_fiscal_error(NAME, response(400, "Solicitud mal formada"))
    assert type(error) is ProviderError
    assert error.message == "Solicitud mal formada"


def test_json_without_an_ack_is_not_taken_for_success():
    error = enlace_fiscal_error(NAME, response(200, {"resultado": "ok"}))
    assert type(error) is ProviderError
    assert "AckEnlaceFiscal" in error.message


# -- cassettes ------------------------------------------------------------------------------

_LOOPBACK = re.compile(r"http://127\.0\.0\.1:\d+/enlace_fiscal")


def _to_real_host(request: Any) -> Any:
    request.uri = _LOOPBACK.sub(BASE_URL, request.uri)
    return request


def _rewrite_links(recorded: dict[str, Any]) -> dict[str, Any]:
    body = recorded.get("body", {})
    raw = body.get("string")
    if isinstance(raw, bytes) and b"127.0.0.1" in raw:
        body["string"] = _LOOPBACK.sub(BASE_URL, raw.decode("utf-8")).encode("utf-8")
        headers = recorded.get("headers", {})
        for name in list(headers):
            if name.lower() == "content-length":
                headers[name] = [str(len(body["string"]))]
    return recorded


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    config = cassette_scrub.vcr_config()
    scrub = config["before_record_response"]
    config["before_record_request"] = _to_real_host
    config["before_record_response"] = lambda recorded: scrub(_rewrite_links(recorded))
    return config


def _wiring(sandbox: Any, clock: FakeClock, live: bool) -> dict[str, Any]:
    """Replaying needs no server: vcrpy answers from the cassette, whose URLs were rewritten from
    the loopback address to the real base URL while recording."""
    from apunto_connect.sandbox.enlace_fiscal import EnlaceFiscalEmulator

    if sandbox is None:
        return {**EnlaceFiscalEmulator.demo_credentials, "sleep": clock.sleep}
    return {
        **EnlaceFiscalEmulator.demo_credentials,
        "base_url": sandbox.serve().base_url("enlace_fiscal"),
        "sleep": sandbox.clock.sleep,
        "now": sandbox.clock.now,
    }


RECORDING = Recording("enlace_fiscal", EnlaceFiscalProvider, seed=20260302, wiring=_wiring)


def cassette_invoice() -> Invoice:
    return Invoice(
        customer=Customer("XIQB891116QE4", "BERENICE XIMO QUEZADA", "612", "26015"),
        items=[LineItem("78101802", "E48", "Flete terrestre", 1, "850", unit_name="Servicio",
                        taxes=[Tax.iva(), Tax.iva_withholding("0.04")])],
        folio="501",
    )


@pytest.mark.vcr
def test_cassette_full_flow_replays_offline(recorded_provider):
    from apunto_connect.cfdi import parse

    provider = recorded_provider()
    status = provider.check_connection()
    assert status.ok and status.environment == "sandbox"
    before = provider.balance()
    stamped = provider.stamp(cassette_invoice(), idempotency_key="cassette-501")
    assert stamped.id == "APUNTO-501"
    assert stamped.total == Decimal("952.00")
    assert provider.get("APUNTO-501").uuid == stamped.uuid
    cfdi = parse(provider.download("APUNTO-501", "xml"))
    assert (cfdi.uuid, cfdi.total) == (stamped.uuid, stamped.total)
    assert provider.download("APUNTO-501", "pdf").startswith(b"%PDF")
    cancelled = provider.cancel("APUNTO-501", CancelMotive.WITHOUT_RELATION)
    assert cancelled.status is CancellationStatus.CANCELLED
    (listed,) = [s for s in provider.list() if s.id == "APUNTO-501"]
    assert listed.status is InvoiceStatus.CANCELLED
    assert provider.balance() == before - 1


@pytest.mark.vcr
def test_cassette_wrong_token_is_code_800(recorded_provider):
    provider = recorded_provider(token="wrong-token")
    status = provider.check_connection()
    assert not status.ok
    assert status.detail == AUTH_TEXT
    assert status.extra["vendor_code"] == "800"
    with pytest.raises(AuthenticationError) as info:
        provider.balance()
    assert info.value.message == AUTH_TEXT
