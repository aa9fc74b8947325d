"""The ContaDigital emulator speaks the assumed contract: raw HTTP, no SDK provider involved."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
import requests

from apunto_connect.invoicing.contadigital import PRODUCTION_URL, TEST_PREFIX
from apunto_connect.sandbox import Sandbox
from apunto_connect.sandbox.contadigital import DEMO_API_KEY, ContaDigitalEmulator

TEST_URL = PRODUCTION_URL + TEST_PREFIX


class Client:
    """A bare JSON client over any session (in-process adapter or loopback)."""

    def __init__(self, session: requests.Session, base: str) -> None:
        self.session, self.base, self.token = session, base, ""

    def call(self, method: str, path: str, body=None, token: str | None = None):
        headers = {"Content-Type": "application/json"}
        token = self.token if token is None else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body) if body is not None else None
        response = self.session.request(method, self.base + path, data=data, headers=headers)
        return response.status_code, json.loads(response.content, parse_float=Decimal)

    def login(self, key: str = DEMO_API_KEY):
        status, body = self.call("POST", "/api/conectar.json", {"ApiKey": key}, token="")
        if body["Codigo"] == 1:
            self.token = body["Resultado"]["Token"]
        return status, body


@pytest.fixture
def sandbox():
    with Sandbox(vendors=["contadigital"], seed=2) as sb:
        yield sb


@pytest.fixture
def emulator(sandbox) -> ContaDigitalEmulator:
    return sandbox.emulator("contadigital")


@pytest.fixture
def client(sandbox) -> Client:
    c = Client(sandbox.session, TEST_URL)
    c.login()
    return c


def create_customer(client, rfc="XIA190128J61", name="XENON INDUSTRIAL ARTICLES"):
    status, body = client.call("POST", "/api/clientes.json", {
        "IdEmpresaCliente": 1207, "RFC": rfc, "RazonSocial": name, "RegimenFiscal": "601",
        "CP": "76000", "UsoCFDIDefault": "G03", "Estatus": True,
    })
    assert (status, body["Codigo"]) == (200, 1), body
    return body["Resultado"]["Id"]


def invoice_body(customer_id, **changes):
    body = {
        "Id": 0, "IdEmpresa": 1207, "IdRFC": 88, "Fecha": "14-03-2025 10:30:00",
        "TipoComprobante": "Factura", "IdSerie": 31, "IdSucursal": 4, "IdLugarDeExpedicion": 15,
        "LugarDeExpedicion": "26015", "IdCliente": customer_id, "IdSucursalCliente": 0,
        "UsoCFDI": "G03", "TipoRelacion": None, "CFDIRelacionados": None, "TipoDeCambio": 1,
        "IdMoneda": 1, "MetodoDePago": "PUE", "IdFormaDePago": 3,
        "FormaDePago": "03 Transferencia electrónica de fondos", "Subtotal": 1000,
        "Total": 1160, "SoloGuardar": False,
        "Productos": [{
            "IdProducto": 501, "IdUM": 7, "Cantidad": 1, "Precio": 1000, "Descuento": 0,
            "PorcentajeIVA": 16, "IVA": 160, "TasaCero": False, "RetIVA": 0, "RetISR": 0,
            "Importe": 1000, "Total": 1160, "Comentarios": "Flete local",
        }],
    }
    body.update(changes)
    return body


def test_key_exchange_returns_a_token_and_the_company_in_the_envelope(sandbox):
    status, body = Client(sandbox.session, PRODUCTION_URL).login()
    assert status == 200 and body["Codigo"] == 1
    assert set(body["Resultado"]) == {"Token", "IdEmpresa"}
    assert len(body["Resultado"]["Token"]) == 40


def test_a_wrong_key_fails_inside_a_200_envelope(sandbox):
    status, body = Client(sandbox.session, TEST_URL).login("cd-wrong")
    assert (status, body) == (200, {"Resultado": "La API Key no es válida", "Codigo": 0})


def test_calls_without_a_live_token_get_401_and_tokens_expire_on_the_sandbox_clock(
    sandbox, client, emulator
):
    assert client.call("GET", "/api/cfdi/utiles.json/1207", token="nope")[0] == 401
    assert client.call("GET", "/api/cfdi/utiles.json/1207")[0] == 200
    sandbox.clock.advance(emulator.TOKEN_TTL + 1)
    status, body = client.call("GET", "/api/cfdi/utiles.json/1207")
    assert (status, body) == (401, {"Resultado": "Token inválido o expirado", "Codigo": 0})


def test_catalog_lists_integer_ids_and_one_inactive_serie(client):
    status, body = client.call("GET", "/api/cfdi/utiles.json/1207")
    result = body["Resultado"]
    assert status == 200 and result["Empresa"]["IdEmpresa"] == 1207
    assert [(s["Serie"], s["Activa"]) for s in result["Series"]] == [("F", True), ("ANT", False)]
    assert all(isinstance(u["IdUM"], int) for u in result["UnidadesDeMedida"])


def test_another_company_is_forbidden(client):
    status, body = client.call("GET", "/api/cfdi/utiles.json/1")
    assert (status, body["Codigo"]) == (403, 0)


def test_production_and_test_prefix_reach_the_same_account(sandbox, client):
    production = Client(sandbox.session, PRODUCTION_URL)
    production.token = client.token
    assert production.call("GET", "/api/cfdi/utiles.json/1207")[0] == 200


def test_customers_are_found_by_rfc_created_refused_twice_and_updated(client, emulator):
    assert client.call("GET", "/api/clientes.json/1207/XIA190128J61")[1] == {
        "Resultado": None, "Codigo": 1}
    customer_id = create_customer(client)
    found = client.call("GET", "/api/clientes.json/1207/xia190128j61")[1]["Resultado"]
    assert (found["Id"], found["RazonSocial"], found["Estatus"]) == (
        customer_id, "XENON INDUSTRIAL ARTICLES", True)
    _, body = client.call("POST", "/api/clientes.json", {
        "RFC": "XIA190128J61", "RazonSocial": "X", "RegimenFiscal": "601", "CP": "76000"})
    assert body == {"Resultado": "Ya existe un cliente registrado con el RFC XIA190128J61",
                    "Codigo": 0}
    _, body = client.call("PUT", "/api/clientes.json", {
        "Id": customer_id, "RFC": "XIA190128J61", "RazonSocial": "XENON INDUSTRIAL ARTICLES",
        "RegimenFiscal": "601", "CP": "76001", "Estatus": False})
    assert body["Codigo"] == 1 and emulator.clients[customer_id].zip_code == "76001"
    assert emulator.clients[customer_id].active is False


def test_customer_with_a_malformed_rfc_is_refused(client):
    _, body = client.call("POST", "/api/clientes.json", {
        "RFC": "NOTANRFC", "RazonSocial": "X", "RegimenFiscal": "601", "CP": "76000"})
    assert body["Codigo"] == 0 and "RFC" in body["Resultado"]


@pytest.mark.parametrize("name", ["X", "N" * 51])
def test_product_names_outside_2_to_50_characters_are_refused(client, name):
    _, body = client.call("POST", "/api/productos.json", {
        "IdEmpresa": 1207, "Nombre": name, "ClaveProdServ": "78101802", "IdUM": 7})
    assert body == {"Resultado": "El nombre del producto debe tener entre 2 y 50 caracteres",
                    "Codigo": 0}


def test_stamping_returns_uuid_folio_and_real_files_with_numbers_as_numbers(client, emulator):
    customer_id = create_customer(client)
    status, body = client.call("POST", "/api/cfdi.json", invoice_body(customer_id))
    result = body["Resultado"]
    assert (status, body["Codigo"], result["Serie"], result["Folio"]) == (200, 1, "F", 1)
    assert result["Total"] == Decimal("1160") and not isinstance(result["Total"], str)
    assert "PdfBase64" not in result  # the PDF is drawn on download, behind its link
    pdf = client.session.get(result["PdfLink"], headers={"Authorization": f"Bearer {client.token}"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert result["UUID"].encode() in base64.b64decode(result["XmlBase64"])
    assert emulator.credits == 99


def test_empty_related_list_is_a_server_error_as_the_vendor_does(client, emulator):
    customer_id = create_customer(client)
    status, body = client.call("POST", "/api/cfdi.json", invoice_body(customer_id, CFDIRelacionados=[]))
    assert status == 500 and body == {"Message": "An error has occurred."}
    assert emulator.stamped() == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Fecha": "2025-03-14T10:30:00"}, "El formato de la fecha debe ser dd-MM-yyyy HH:mm:ss"),
        ({"TipoComprobante": "I"}, "El tipo de comprobante I no es válido"),
        ({"IdSerie": 32}, "La serie ANT no está activa"),
        ({"Total": 1000}, "El total de la factura (1000) no corresponde a la suma de los conceptos "
                          "(1160.00)"),
        ({"Productos": []}, "La factura debe tener al menos un concepto"),
        ({"IdMoneda": 99}, "La moneda no existe (99)"),
    ],
)
def test_invoices_the_vendor_would_refuse_fail_inside_the_envelope(client, emulator, changes, message):
    customer_id = create_customer(client)
    status, body = client.call("POST", "/api/cfdi.json", invoice_body(customer_id, **changes))
    assert (status, body) == (200, {"Resultado": message, "Codigo": 0})
    assert emulator.stamped() == []


def test_a_receiver_name_unknown_to_the_sat_is_rejected_with_cfdi40145(client):
    customer_id = create_customer(client, name="XENON INDUSTRIAL")
    _, body = client.call("POST", "/api/cfdi.json", invoice_body(customer_id))
    assert body["Codigo"] == 0 and body["Resultado"].startswith("CFDI40145 - ")


def test_a_draft_is_saved_then_stamped_by_id_and_never_twice(client, emulator):
    customer_id = create_customer(client)
    _, saved = client.call("POST", "/api/cfdi.json", invoice_body(customer_id, SoloGuardar=True))
    draft_id = saved["Resultado"]["Id"]
    _, fetched = client.call("GET", f"/api/cfdi/factura.json/1207/{draft_id}")
    assert (fetched["Resultado"]["Estatus"], fetched["Resultado"]["UUID"]) == ("Guardada", None)
    assert "XmlBase64" not in fetched["Resultado"]
    _, stamped = client.call("POST", "/api/cfdi.json", invoice_body(customer_id, Id=draft_id))
    assert stamped["Codigo"] == 1 and stamped["Resultado"]["Id"] == draft_id
    _, again = client.call("POST", "/api/cfdi.json", invoice_body(customer_id, Id=draft_id))
    assert again == {"Resultado": f"La factura {draft_id} ya fue timbrada", "Codigo": 0}
    assert len(emulator.stamped()) == 1


def test_without_credits_the_invoice_is_saved_and_codigo_3_carries_its_id(client, emulator):
    emulator.credits = 0
    customer_id = create_customer(client)
    _, body = client.call("POST", "/api/cfdi.json", invoice_body(customer_id))
    assert body["Codigo"] == 3
    saved = emulator.invoices[body["Resultado"]["Id"]]
    assert saved.status == "Guardada" and saved.document is None


def test_unknown_invoice_is_a_404_envelope(client):
    status, body = client.call("GET", "/api/cfdi/factura.json/1207/123")
    assert (status, body) == (404, {"Resultado": "No se encontró la factura 123", "Codigo": 0})


def test_cancel_takes_a_json_body_and_cancelling_again_returns_the_same_acuse(client):
    customer_id = create_customer(client)
    invoice_id = client.call("POST", "/api/cfdi.json", invoice_body(customer_id))[1]["Resultado"]["Id"]
    request = {"IdEmpresa": 1207, "IdFactura": invoice_id, "Motivo": "01", "UUIDSustitucion": None}
    assert client.call("DELETE", "/api/cfdi.json", request)[1] == {
        "Resultado": "Para el motivo 01 es obligatorio el UUID del CFDI que sustituye", "Codigo": 0}
    request.update(Motivo="02")
    first = client.call("DELETE", "/api/cfdi.json", request)[1]
    second = client.call("DELETE", "/api/cfdi.json", request)[1]
    assert first == second and first["Resultado"]["Estatus"] == "Cancelada"
    acuse = base64.b64decode(first["Resultado"]["AcuseBase64"])
    assert first["Resultado"]["UUID"].encode() in acuse and b'Motivo="02"' in acuse


def test_a_draft_cannot_be_cancelled_or_emailed(client):
    customer_id = create_customer(client)
    draft = client.call("POST", "/api/cfdi.json", invoice_body(customer_id, SoloGuardar=True))[1]
    draft_id = draft["Resultado"]["Id"]
    cancel = {"IdEmpresa": 1207, "IdFactura": draft_id, "Motivo": "02"}
    assert client.call("DELETE", "/api/cfdi.json", cancel)[1]["Resultado"] == (
        f"La factura {draft_id} no está timbrada")
    assert client.call("GET", f"/api/cfdi/enviar.json/1207/{draft_id}/a@b.mx")[1]["Codigo"] == 0


def test_loopback_serves_the_test_prefix_and_rfcs_with_special_characters(sandbox):
    server = sandbox.serve()
    client = Client(requests.Session(), server.base_url("contadigital") + TEST_PREFIX)
    try:
        client.login()
        create_customer(client, rfc="HAÑ930228SM9", name="HERMANOS ANZURES ÑARVAEZ")
        create_customer(client, rfc="L&O950913MSA", name="LUCES & OBRAS")
        for rfc in ("HA%C3%91930228SM9", "L%26O950913MSA"):
            found = client.call("GET", f"/api/clientes.json/1207/{rfc}")[1]["Resultado"]
            assert found is not None and found["RFC"] in ("HAÑ930228SM9", "L&O950913MSA")
    finally:
        client.session.close()
