"""The Facturama emulator over raw HTTP: paths, auth, bodies, SAT checks, files, cancellation."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import fpdf  # noqa: F401  (the test extra installs it; emulators draw PDFs with it)
import pytest
import requests

from apunto_connect.cfdi import parse
from apunto_connect.invoicing.facturama import SPEC
from apunto_connect.sandbox import Sandbox
from apunto_connect.sandbox.facturama import (
    SAT_NAME_MISMATCH,
    SAT_REGIME_MISMATCH,
    SAT_ZIP_MISMATCH,
    FacturamaEmulator,
)

BASE = "https://apisandbox.facturama.mx"
AUTH = (FacturamaEmulator.demo_credentials["username"],
        FacturamaEmulator.demo_credentials["password"])


class Api:
    """A bare client: what any HTTP library would send."""

    def __init__(self, session: requests.Session, base: str = BASE) -> None:
        self.session = session
        self.base = base

    def __call__(self, method: str, path: str, body: Any = None, auth: Any = AUTH,
                 **params: Any) -> requests.Response:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        return self.session.request(method, f"{self.base}/{path}", data=data, params=params,
                                    auth=auth, headers={"Content-Type": "application/json"})


@pytest.fixture
def sandbox():
    with Sandbox(vendors=["facturama"], seed=3) as sb:
        yield sb


@pytest.fixture
def api(sandbox) -> Api:
    return Api(sandbox.session)


@pytest.fixture
def emulator(sandbox) -> FacturamaEmulator:
    return sandbox.emulator("facturama")


def cfdi_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "NameId": "1", "CfdiType": "I", "ExpeditionPlace": "26015", "Serie": "A", "Folio": "10",
        "Currency": "MXN", "PaymentForm": "03", "PaymentMethod": "PUE", "Exportation": "01",
        "Receiver": {"Rfc": "EKU9003173C9", "Name": "ESCUELA KEMPER URGATE", "CfdiUse": "G03",
                     "FiscalRegime": "601", "TaxZipCode": "26015"},
        "Items": [{
            "ProductCode": "78101802", "UnitCode": "E48", "Unit": "Servicio",
            "Description": "Flete", "Quantity": 1, "UnitPrice": 1000.0, "Subtotal": 1000.0,
            "TaxObject": "02",
            "Taxes": [{"Name": "IVA", "Rate": 0.16, "Base": 1000.0, "Total": 160.0,
                       "IsRetention": False}],
            "Total": 1160.0,
        }],
    }
    body.update(changes)
    return body


def receiver(**changes: str) -> dict[str, str]:
    return {**cfdi_body()["Receiver"], **changes}


def stamp(api: Api, **changes: Any) -> dict[str, Any]:
    response = api("POST", "3/cfdis", cfdi_body(**changes))
    assert response.status_code == 201, response.text
    return response.json()


# -- routing and auth -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["TaxEntity", "api/TaxEntity", "taxentity", "API/TAXENTITY"])
def test_paths_are_case_insensitive_with_or_without_the_api_prefix(api, path):
    response = api("GET", path)
    assert response.status_code == 200
    assert response.json()["Rfc"] == "EKU9003173C9"


def test_both_real_hosts_are_served(sandbox):
    for base in ("https://api.facturama.mx", "https://apisandbox.facturama.mx"):
        assert Api(sandbox.session, base)("GET", "TaxEntity").status_code == 200


def test_wrong_credentials_get_the_401_message_shape(api):
    response = api("GET", "TaxEntity", auth=("sandbox-demo", "bad"))
    assert response.status_code == 401
    assert response.json() == {"Message": "Authorization has been denied for this request."}


def test_unknown_route_and_wrong_method_answer_in_web_api_shape(api):
    missing = api("GET", "NoSuchThing")
    assert missing.status_code == 404 and "No HTTP resource" in missing.json()["Message"]
    wrong = api("PATCH", "TaxEntity")
    assert wrong.status_code == 405 and "PATCH" in wrong.json()["Message"]


# -- stamping -------------------------------------------------------------------------------


def test_stamp_answers_the_cfdi_object_with_a_tax_stamp(api, emulator):
    cfdi = stamp(api)
    assert len(cfdi["Id"]) == 22 and cfdi["Id"].endswith("2")
    assert cfdi["Total"] == 1160.0 and cfdi["Subtotal"] == 1000
    assert cfdi["Status"] == "active"
    assert cfdi["Issuer"]["Rfc"] == "EKU9003173C9"
    stamp_node = cfdi["Complement"]["TaxStamp"]
    record = emulator.invoices[cfdi["Id"]]
    assert stamp_node["Uuid"] == record.uuid
    assert parse(record.document.xml).stamp.uuid == record.uuid


def test_api_prefixed_stamp_path_works_too(api):
    response = api("POST", "api/3/cfdis", cfdi_body())
    assert response.status_code == 201


def test_missing_fields_are_listed_in_model_state(api, emulator):
    body = cfdi_body(Receiver={"Rfc": "EKU9003173C9"})
    del body["PaymentForm"]
    response = api("POST", "3/cfdis", body)
    assert response.status_code == 400
    error = response.json()
    assert error["Message"] == "La solicitud no es válida."
    assert {"PaymentForm", "Receiver.Name", "Receiver.TaxZipCode"} <= set(error["ModelState"])
    assert emulator.invoices == {}


def test_rate_as_a_percentage_gets_facturamas_rate_message(api):
    body = cfdi_body()
    body["Items"][0]["Taxes"][0]["Rate"] = 16
    error = api("POST", "3/cfdis", body).json()
    assert error["ModelState"]["Items[0].Taxes[0].Rate"] == [
        "Rate no valido exprese en decimales ej. 0.16."
    ]


def test_totals_that_do_not_add_up_are_refused(api):
    body = cfdi_body()
    body["Items"][0]["Total"] = 1200.0
    error = api("POST", "3/cfdis", body).json()
    assert "Items[0].Total" in error["ModelState"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Name": "ESCUELA KEMPER"}, SAT_NAME_MISMATCH),
        ({"TaxZipCode": "01000"}, SAT_ZIP_MISMATCH),
        ({"FiscalRegime": "603"}, SAT_REGIME_MISMATCH),
        ({"FiscalRegime": "612"}, SAT_REGIME_MISMATCH),  # a persona física régimen for a moral
    ],
)
def test_sat_registry_refuses_receiver_data_that_does_not_match(api, changes, message):
    response = api("POST", "3/cfdis", cfdi_body(Receiver=receiver(**changes)))
    assert response.status_code == 400
    assert response.json() == {"Message": message}


def test_names_are_compared_like_the_sat_upper_case_and_collapsed_spaces(api):
    assert api("POST", "3/cfdis",
               cfdi_body(Receiver=receiver(Name="escuela  kemper urgate"))).status_code == 201


def test_unknown_well_formed_rfc_is_accepted_and_malformed_is_not(api):
    unknown = receiver(Rfc="MAB9307148T4", Name="CUALQUIER NOMBRE", TaxZipCode="64000")
    assert api("POST", "3/cfdis", cfdi_body(Receiver=unknown)).status_code == 201
    malformed = receiver(Rfc="NOT-AN-RFC")
    error = api("POST", "3/cfdis", cfdi_body(Receiver=malformed)).json()
    assert "Receiver.Rfc" in error["ModelState"]


def test_satcfdi_style_fields_are_understood(api, emulator):
    cfdi = stamp(api, Currency="USD", ExchangeRate=17.5, Date="2025-03-01 10:15:00",
                 Issuer={"Rfc": "EKU9003173C9"})
    invoice = emulator.invoices[cfdi["Id"]].invoice
    assert invoice.exchange_rate == Decimal("17.5")
    assert cfdi["Date"] == "2025-03-01T10:15:00"


def test_serie_without_folio_takes_the_series_next_folio(api):
    branch = api("GET", "BranchOffice").json()[0]["Id"]
    created = api("POST", f"Serie/{branch}", {"Name": "FLT", "Description": "Fletes",
                                              "Folio": 500})
    assert created.status_code == 201
    first = stamp(api, Serie="FLT", Folio=None)
    second = stamp(api, Serie="FLT", Folio=None)
    assert (first["Folio"], second["Folio"]) == ("500", "501")
    assert api("GET", f"Serie/{branch}").json()[0]["Folio"] == 502


def test_no_stamps_left_is_402(api, emulator):
    emulator.stamps_left = 0
    response = api("POST", "3/cfdis", cfdi_body())
    assert response.status_code == 402 and response.json()["Message"]


# -- reading --------------------------------------------------------------------------------


def test_get_and_files_come_in_facturamas_shapes(api, emulator):
    cfdi = stamp(api)
    assert api("GET", f"cfdi/{cfdi['Id']}", type="issued").json()["Id"] == cfdi["Id"]
    assert api("GET", f"cfdi/{cfdi['Id']}", type="received").status_code == 404
    for fmt, magic in (("xml", b"<?xml"), ("pdf", b"%PDF-"), ("html", b"<!DOCTYPE html>")):
        payload = api("GET", f"api/Cfdi/{fmt}/issued/{cfdi['Id']}").json()
        assert set(payload) == {"ContentEncoding", "ContentType", "ContentLength", "Content"}
        content = base64.b64decode(payload["Content"])
        assert payload["ContentEncoding"] == "base64" and payload["ContentType"] == fmt
        assert payload["ContentLength"] == len(content) and content.startswith(magic)


def test_list_filters_and_pages(api, sandbox):
    for folio in range(1, 5):
        stamp(api, Folio=str(folio))
    stamp(api, Serie="B", Folio="1", Receiver=receiver(Rfc="MAB9307148T4", Name="OTRO"))
    rows = api("GET", "Cfdi", type="issued", keyword="", status="all").json()
    assert [row["Folio"] for row in rows] == ["1", "2", "3", "4", "1"]  # oldest first
    assert {"Id", "Uuid", "Rfc", "RfcIssuer", "TaxName", "IsActive", "Status"} <= set(rows[0])
    by_range = api("GET", "Cfdi", type="issued", serie="A", folioStart=2, folioEnd=3).json()
    assert [row["Folio"] for row in by_range] == ["2", "3"]
    by_rfc = api("GET", "Cfdi", type="issued", rfc="MAB9307148T4").json()
    assert [row["Serie"] for row in by_rfc] == ["B"]
    by_uuid = api("GET", "Cfdi", type="issued", keyword=rows[2]["Uuid"].lower()).json()
    assert [row["Id"] for row in by_uuid] == [rows[2]["Id"]]
    assert api("GET", "Cfdi", type="issued", page=1).json() == []
    assert SPEC["limit.list_page_size"] > 5
    today = rows[0]["Date"][:10]
    assert len(api("GET", "Cfdi", type="issued", dateStart=today, dateEnd=today).json()) == 5
    assert api("GET", "Cfdi", type="issued", dateStart="2000-01-01", dateEnd="2000-01-02"
               ).json() == []


def test_clients_and_products_have_paged_search(api):
    for rfc, name in (("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA"),
                      ("EKU9003173C9", "ESCUELA KEMPER URGATE")):
        created = api("POST", "Client", {"Rfc": rfc, "Name": name, "CfdiUse": "G03",
                                         "FiscalRegime": "601", "TaxZipCode": "26015"})
        assert created.status_code == 201
    page = api("GET", "Clients", start=0, length=1, search="").json()
    assert (page["recordsTotal"], page["recordsFiltered"], len(page["data"])) == (2, 2, 1)
    assert api("GET", "Clients", start=0, length=100, search="kemper").json()["data"][0][
        "Rfc"] == "EKU9003173C9"
    assert api("GET", "Clients", start=0, length=0, search="").status_code == 400
    product = {"Name": "x" * 51, "CodeProdServ": "78101802", "UnitCode": "E48"}
    assert api("POST", "Product", product).status_code == 400
    product["Name"] = "Flete terrestre"
    assert api("POST", "Product", product).status_code == 201
    assert api("GET", "Products", start=0, length=10, search="flete").json()[
        "recordsFiltered"] == 1


def test_customer_validation_reports_each_match(api):
    good = {"Rfc": "EKU9003173C9", "Name": "ESCUELA KEMPER URGATE", "ZipCode": "26015",
            "FiscalRegime": "601"}
    assert api("POST", "api/customers/validate", good).json() == {
        "ExistRfc": True, "MatchName": True, "MatchZipCode": True, "MatchFiscalRegime": True
    }
    wrong = {**good, "Name": "OTRA", "ZipCode": "01000"}
    answer = api("POST", "api/customers/validate", wrong).json()
    assert (answer["MatchName"], answer["MatchZipCode"], answer["MatchFiscalRegime"]) == (
        False, False, True)


def test_catalogs_filter_uses_by_person_type(api):
    moral = {row["Value"] for row in api("GET", "catalogs/CfdiUses", keyword="EKU9003173C9").json()}
    fisica = {row["Value"] for row in api("GET", "catalogs/CfdiUses",
                                          keyword="XIQB891116QE4").json()}
    assert "G03" in moral and "D01" not in moral and "D01" in fisica
    regimes = {row["Value"]: row for row in api("GET", "catalogs/FiscalRegimens").json()}
    assert regimes["601"]["Moral"] and not regimes["601"]["Natural"]
    forms = [row["Value"] for row in api("GET", "catalogs/PaymentForms").json()]
    assert len(forms) == 22 and "99" in forms


# -- cancellation ---------------------------------------------------------------------------


def test_cancel_motive_rules(api):
    cfdi = stamp(api)
    assert api("DELETE", f"cfdi/{cfdi['Id']}", type="issued", motive="01").status_code == 400
    assert api("DELETE", f"cfdi/{cfdi['Id']}", type="issued", motive="09").status_code == 400
    assert api("GET", f"acuse/xml/issued/{cfdi['Id']}").status_code == 400  # nothing to ack


def test_recent_cancel_is_immediate_and_repeating_it_reports_the_same(api):
    cfdi = stamp(api)
    first = api("DELETE", f"cfdi/{cfdi['Id']}", type="issued", motive="02").json()
    assert first["Status"] == "canceled" and first["Uuid"] == cfdi["Complement"]["TaxStamp"][
        "Uuid"]
    again = api("DELETE", f"api/Cfdi/{cfdi['Id']}", type="issued", motive="02").json()
    assert again["Status"] == "canceled" and again["RequestDate"] == first["RequestDate"]
    acuse = base64.b64decode(api("GET", f"acuse/xml/issued/{cfdi['Id']}").json()["Content"])
    assert b"<EstatusUUID>201</EstatusUUID>" in acuse
    acuse_pdf = api("GET", f"api/acuse/pdf/issued/{cfdi['Id']}").json()
    assert base64.b64decode(acuse_pdf["Content"]).startswith(b"%PDF-")
    status = api("GET", "cfdi/status", uuid=first["Uuid"]).json()
    assert status["Status"] == "Cancelado"


def test_old_invoice_cancel_needs_the_receiver_then_tacit_acceptance(api, emulator, sandbox):
    cfdi = stamp(api)
    sandbox.clock.advance(2 * 24 * 3600)
    requested = api("DELETE", f"cfdi/{cfdi['Id']}", type="issued", motive="03").json()
    assert requested["Status"] == "requested" and requested["ResponseDate"] is None
    assert api("GET", f"cfdi/{cfdi['Id']}", type="issued").json()["Status"] == "active"
    sandbox.clock.advance(72 * 3600)
    assert api("GET", f"cfdi/{cfdi['Id']}", type="issued").json()["Status"] == "canceled"


def test_small_invoices_cancel_without_acceptance_even_when_old(api, sandbox):
    body = cfdi_body()
    item = body["Items"][0]
    item.update(UnitPrice=100.0, Subtotal=100.0, Total=116.0)
    item["Taxes"][0].update(Base=100.0, Total=16.0)
    cfdi = api("POST", "3/cfdis", body).json()
    sandbox.clock.advance(10 * 24 * 3600)
    assert api("DELETE", f"cfdi/{cfdi['Id']}", type="issued", motive="02").json()[
        "Status"] == "canceled"


def test_receiver_rejection_hook(api, emulator, sandbox):
    cfdi = stamp(api)
    sandbox.clock.advance(2 * 24 * 3600)
    api("DELETE", f"cfdi/{cfdi['Id']}", type="issued", motive="02")
    emulator.answer_cancellation(cfdi["Id"], accept=False)
    assert api("DELETE", f"cfdi/{cfdi['Id']}", type="issued", motive="02").json()[
        "Status"] == "requested"  # rejected before, so this is a new request
    with pytest.raises(ValueError):
        emulator.answer_cancellation(stamp(api, Folio="11")["Id"], accept=True)


def test_email_endpoint_marks_the_cfdi_as_sent(api, emulator):
    cfdi = stamp(api)
    answer = api("POST", "Cfdi", cfdiType="issued", cfdiId=cfdi["Id"], email="a@example.com")
    assert answer.json() == {"success": True, "msj": "Correo enviado a a@example.com"}
    assert emulator.invoices[cfdi["Id"]].email_sent
    assert emulator.outbox == [{"id": cfdi["Id"], "email": "a@example.com", "subject": None}]
    refused = api("POST", "Cfdi", cfdiType="issued", cfdiId="nope", email="a@example.com")
    assert refused.json()["success"] is False and refused.json()["msj"]


def test_loopback_server_speaks_the_same(sandbox):
    server = sandbox.serve()
    api = Api(requests.Session(), server.base_url("facturama"))
    assert api("GET", "api/TaxEntity").json()["Rfc"] == "EKU9003173C9"
    assert api("POST", "api/3/cfdis", cfdi_body()).status_code == 201
    api.session.close()
