"""The Enlace Fiscal emulator on the wire: envelopes, auth shapes, modes, files and state."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from apunto_connect.cfdi import parse
from apunto_connect.sandbox import Sandbox
from apunto_connect.sandbox.enlace_fiscal import EnlaceFiscalEmulator

BASE = "https://api.enlacefiscal.com/v6"
RFC = "EKU9003173C9"
DEBUG = EnlaceFiscalEmulator.demo_credentials
PRODUCTION = EnlaceFiscalEmulator.production_credentials
FIXTURES = Path(__file__).resolve().parents[1] / "invoicing" / "fixtures" / "enlace_fiscal"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(vendors=["enlace_fiscal"], seed=3) as sandbox:
        yield sandbox


@pytest.fixture
def emulator(sb: Sandbox) -> EnlaceFiscalEmulator:
    emu = sb.emulator("enlace_fiscal")
    assert isinstance(emu, EnlaceFiscalEmulator)
    return emu


def call(
    sb: Sandbox, action: str, body: Any, creds: Any = DEBUG, base: str = BASE,
    session: requests.Session | None = None,
) -> requests.Response:
    return (session or sb.session).post(
        f"{base}/{action}",
        json=body,
        auth=(creds["username"], creds["token"]),
        headers={"x-api-key": creds["api_key"]},
        timeout=5,
    )


def solicitud(action: str, mode: str = "debug", **extra: Any) -> dict[str, Any]:
    return {"Solicitud": {"rfc": RFC, "modo": mode, "accion": action, **extra}}


def cfdi_body(sb: Sandbox, folio: str = "101", mode: str = "debug", **changes: Any) -> dict[str, Any]:
    """The fixture body, dated now (sandbox clock, Mexico time) so it is inside the 72 h window."""
    from apunto_connect.sandbox.documents import mexico_local

    body = json.loads((FIXTURES / "generar_cfdi_request.json").read_text(encoding="utf-8"))
    now = f"{mexico_local(sb.clock.now()):%Y-%m-%d %H:%M:%S}"
    body["CFDi"].update({"folioInterno": folio, "modo": mode, "fechaEmision": now, **changes})
    return body


def ack(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["AckEnlaceFiscal"]


def error_of(response: requests.Response) -> tuple[str, str]:
    body = ack(response)
    assert body["estatusDocumento"] != "aceptado"
    return body["mensajeError"]["codigoError"], body["mensajeError"]["descripcionError"]


# -- auth and envelopes -----------------------------------------------------------------------


def test_every_action_is_a_post(sb):
    response = sb.session.get(f"{BASE}/obtenerSaldo", headers={"x-api-key": DEBUG["api_key"]})
    assert response.status_code == 405


def test_missing_or_unknown_api_key_gets_the_gateways_403(sb):
    for headers in ({}, {"x-api-key": "nope"}):
        response = sb.session.post(f"{BASE}/probarConexion", json=solicitud("probarConexion"),
                                   headers=headers, auth=(RFC, DEBUG["token"]))
        assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})


def test_wrong_token_gets_code_800_inside_an_http_200(sb):
    response = call(sb, "probarConexion", solicitud("probarConexion"), {**DEBUG, "token": "x"})
    assert error_of(response) == ("800", "El usuario o contraseña no son válidos o estan vacíos")
    assert isinstance(ack(response)["numeroReferencia"], int)


def test_a_pair_only_works_in_its_own_mode(sb):
    assert error_of(call(sb, "obtenerSaldo", solicitud("obtenerSaldo", "produccion")))[0] == "800"
    assert ack(call(sb, "obtenerSaldo", solicitud("obtenerSaldo", "produccion"), PRODUCTION))[
        "saldo"
    ] == 10


def test_unknown_mode_and_foreign_rfc_are_refused(sb):
    assert error_of(call(sb, "obtenerSaldo", solicitud("obtenerSaldo", "pruebas")))[0] == "806"
    body = solicitud("obtenerSaldo")
    body["Solicitud"]["rfc"] = "XIQB891116QE4"
    assert error_of(call(sb, "obtenerSaldo", body))[0] == "801"


def test_probar_conexion_and_saldo_answer_aceptado(sb):
    assert ack(call(sb, "probarConexion", solicitud("probarConexion")))["estatusDocumento"] == "aceptado"
    assert ack(call(sb, "obtenerSaldo", solicitud("obtenerSaldo")))["saldo"] == 100


# -- generarCfdi ----------------------------------------------------------------------------------


def test_generar_cfdi_stamps_a_real_cfdi_and_spends_one_stamp(sb, emulator):
    body = cfdi_body(sb)
    accepted = ack(call(sb, "generarCfdi", body))
    assert accepted["estatusDocumento"] == "aceptado"
    assert (accepted["serie"], accepted["folioInterno"]) == ("APUNTO", "101")
    cfdi = parse(base64.b64decode(accepted["xmlCFDi"], validate=True))  # base64, as read publicly
    assert cfdi.uuid == accepted["folioFiscalUUID"]
    assert str(cfdi.total) == body["CFDi"]["total"] == "21068.00"
    assert emulator.balance() == 99
    assert ack(call(sb, "obtenerSaldo", solicitud("obtenerSaldo")))["saldo"] == 99


def test_duplicate_serie_and_folio_is_rejected(sb, emulator):
    ack(call(sb, "generarCfdi", cfdi_body(sb)))
    code, text = error_of(call(sb, "generarCfdi", cfdi_body(sb)))
    assert (code, text) == ("802", "El folio 101 de la serie APUNTO ya fue utilizado")
    assert emulator.balance() == 99


def test_amounts_that_do_not_add_up_are_rejected_with_the_sat_rule(sb):
    code, text = error_of(call(sb, "generarCfdi", cfdi_body(sb, total="21069.00")))
    assert code == "805" and text.startswith("CFDI40119 - ")
    code, text = error_of(call(sb, "generarCfdi", cfdi_body(sb, subTotal="1.00")))
    assert text.startswith("CFDI40108 - ")


def test_sat_rules_are_enforced_by_the_emulator_too(sb):
    body = cfdi_body(sb)
    body["CFDi"]["DatosDePago"]["formaDePago"] = "03"  # PPD needs 99
    code, text = error_of(call(sb, "generarCfdi", body))
    assert code == "805" and text.startswith("CFDI40105 - ")


def test_utc_issue_time_is_rejected_as_future(sb):
    from datetime import datetime, timezone

    utc = datetime.fromtimestamp(sb.clock.now(), tz=timezone.utc)
    code, text = error_of(call(sb, "generarCfdi", cfdi_body(sb, fechaEmision=f"{utc:%Y-%m-%d %H:%M:%S}")))
    assert code == "805" and "hora local" in text


def test_old_issue_time_is_rejected(sb):
    code, text = error_of(call(sb, "generarCfdi", cfdi_body(sb, fechaEmision="2020-01-01 10:00:00")))
    assert code == "805" and "72 horas" in text


def test_missing_fields_name_the_field(sb):
    body = cfdi_body(sb)
    del body["CFDi"]["Receptor"]["regimenFiscal"]
    assert error_of(call(sb, "generarCfdi", body)) == (
        "806", "Falta el campo obligatorio CFDi.Receptor.regimenFiscal"
    )


def test_empty_balance_refuses_to_stamp(sb, emulator):
    emulator.set_balance(0)
    assert error_of(call(sb, "generarCfdi", cfdi_body(sb)))[0] == "804"
    assert emulator.stamped() == []


def test_debug_and_production_documents_are_separate(sb, emulator):
    ack(call(sb, "generarCfdi", cfdi_body(sb)))
    ack(call(sb, "generarCfdi", cfdi_body(sb, mode="produccion"), PRODUCTION))
    assert len(emulator.stamped("debug")) == len(emulator.stamped("produccion")) == 1
    assert (emulator.balance("debug"), emulator.balance("produccion")) == (99, 9)


# -- reading ----------------------------------------------------------------------------------------


def test_informacion_cfdi_returns_the_document_and_echoes_the_request_when_asked(sb):
    body = cfdi_body(sb)
    stamped = ack(call(sb, "generarCfdi", body))
    found = ack(call(sb, "informacionCfdi", solicitud(
        "informacionCfdi", incluirPeticion=1, CFDi={"serie": "APUNTO", "folio": "101"})))
    assert found["folioFiscalUUID"] == stamped["folioFiscalUUID"]
    assert found["estadoCFDi"] == "vigente"
    assert found["Peticion"]["CFDi"]["total"] == body["CFDi"]["total"]
    missing = call(sb, "informacionCfdi", solicitud("informacionCfdi", CFDi={"serie": "APUNTO", "folio": "9"}))
    assert error_of(missing) == ("803", "No existe el comprobante con serie APUNTO y folio 9")


def test_listar_comprobantes_filters_by_range_and_serie(sb):
    ack(call(sb, "generarCfdi", cfdi_body(sb)))
    def listed(**query: str) -> list[dict[str, Any]]:
        found = ack(call(sb, "listarComprobantes", solicitud("listarComprobantes", Comprobantes=query)))
        return found["Comprobantes"]
    (row,) = listed(fechaInicial="2017-01-01 00:00:00", fechaFinal="2099-01-01 00:00:00")
    assert (row["serie"], row["folioInterno"], row["total"]) == ("APUNTO", "101", "21068.00")
    assert listed(fechaInicial="2017-01-01 00:00:00", fechaFinal="2017-12-31 23:59:59") == []
    assert listed(fechaInicial="2017-01-01 00:00:00", fechaFinal="2099-01-01 00:00:00", serie="B") == []


# -- files ------------------------------------------------------------------------------------------


def test_pdf_link_answers_404_until_the_pdf_is_generated(sb, emulator):
    stamped = ack(call(sb, "generarCfdi", cfdi_body(sb)))
    link = stamped["descargaArchivoPDF"]
    assert sb.session.get(link).status_code == 404
    sb.clock.advance(emulator.pdf_delay)
    response = sb.session.get(link)  # public link: no credentials
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_xml_link_serves_the_inline_xml(sb):
    stamped = ack(call(sb, "generarCfdi", cfdi_body(sb)))
    response = sb.session.get(stamped["descargaXmlCFDi"])
    assert response.status_code == 200
    assert response.content == base64.b64decode(stamped["xmlCFDi"])
    assert sb.session.get(stamped["descargaXmlCFDi"].replace("APUNTO-101", "APUNTO-102")).status_code == 404


def test_loopback_links_point_at_the_loopback_server(sb):
    server = sb.serve()
    base = server.base_url("enlace_fiscal")
    with requests.Session() as session:
        stamped = ack(call(sb, "generarCfdi", cfdi_body(sb), base=base, session=session))
        assert stamped["descargaXmlCFDi"].startswith(base + "/descargas/")
        served = session.get(stamped["descargaXmlCFDi"], timeout=5).content
        assert served == base64.b64decode(stamped["xmlCFDi"])


# -- cancelling and e-mailing -------------------------------------------------------------------------


def cancel(sb: Sandbox, folio: str, motivo: str, **extra: Any) -> requests.Response:
    return call(sb, "cancelarCfdi", solicitud(
        "cancelarCfdi", CFDi={"serie": "APUNTO", "folio": folio, "motivo": motivo, **extra}))


def test_cancellation_with_substitute_returns_an_acuse(sb, emulator):
    ack(call(sb, "generarCfdi", cfdi_body(sb, folio="1")))
    replacement = ack(call(sb, "generarCfdi", cfdi_body(sb, folio="2")))
    assert error_of(cancel(sb, "1", "01"))[0] == "806"  # 01 needs ComprobanteSustitucion
    done = ack(cancel(sb, "1", "01", ComprobanteSustitucion={"serie": "APUNTO", "folio": "2"}))
    assert done["estatusCancelacion"] == "cancelado"
    acuse = done["acuseCancelacion"]
    assert replacement["folioFiscalUUID"] in acuse and 'Motivo="01"' in acuse
    assert error_of(cancel(sb, "1", "02")) == ("807", "El comprobante ya se encuentra cancelado")


def test_cancellation_needs_the_receivers_consent_for_large_old_invoices(sb, emulator):
    ack(call(sb, "generarCfdi", cfdi_body(sb, folio="1")))  # 21,068.00 MXN to a named receiver
    sb.clock.advance(25 * 3600)
    assert ack(cancel(sb, "1", "02"))["estatusCancelacion"] == "en proceso"
    assert error_of(cancel(sb, "1", "02"))[0] == "807"
    emulator.resolve_cancellation("APUNTO", "1", accept=False)
    assert emulator.stamped()[0].status == "vigente"


def test_enviar_correo_records_the_message(sb, emulator):
    ack(call(sb, "generarCfdi", cfdi_body(sb, folio="1")))
    body = solicitud("enviarCorreo", CFDi={"serie": "APUNTO", "folio": "1",
                                            "EnviarCFDI": {"Correos": ["a@example.com"]}})
    ack(call(sb, "enviarCorreo", body))
    assert emulator.outbox == [{"ref": "APUNTO-1", "Correos": ["a@example.com"], "mensajeCorreo": None}]
