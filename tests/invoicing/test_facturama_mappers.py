"""Facturama's pure mappers, from fixtures: our models -> the exact API Web JSON, and back."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
import requests

from apunto_connect._wire import encode_json
from apunto_connect.errors import (
    AuthenticationError,
    InsufficientCredits,
    NotFound,
    ProviderError,
    RateLimited,
    ServerError,
    StampRejected,
    ValidationError,
)
from apunto_connect.invoicing.facturama import (
    SPEC,
    customer_to_facturama_client,
    facturama_error,
    facturama_issues,
    facturama_to_cancellation,
    facturama_to_stamped,
    invoice_to_facturama,
    line_to_facturama_product,
    list_params,
)
from apunto_connect.models import (
    CancellationStatus,
    CancelMotive,
    Customer,
    GlobalInformation,
    Invoice,
    InvoiceStatus,
    LineItem,
    RelatedDocuments,
    Tax,
)
from tests.factories import fixture_invoice
from tests.fakes import make_response

FIXTURES = Path(__file__).parent / "fixtures" / "facturama"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"), parse_float=Decimal)


freight_invoice = partial(fixture_invoice, "facturama/invoice_freight.json")


def wire(body: dict) -> dict:
    """What actually travels: the body encoded and decoded again, numbers exact."""
    return json.loads(encode_json(body), parse_float=Decimal)


def response(status: int, body, method: str = "POST", url: str = "https://api.facturama.mx/3/cfdis",
             headers: dict | None = None) -> requests.Response:
    prepared = requests.Request(method, url).prepare()
    return make_response(prepared, status, body, headers)


# -- our model -> Facturama ------------------------------------------------------------------


def test_invoice_maps_to_the_exact_api_web_body():
    body = invoice_to_facturama(freight_invoice(), expedition_place="26015")
    assert wire(body) == fixture("stamp_request_freight.json")


def test_amounts_travel_as_exact_json_numbers_not_floats_or_strings():
    text = encode_json(invoice_to_facturama(freight_invoice(), expedition_place="26015")).decode()
    assert '"UnitPrice":420.4' in text
    assert '"Subtotal":1051.00' in text
    assert '"Rate":0.16' in text
    assert '"Name":"UNIVERSIDAD ROBOTICA ESPAÑOLA"' in text  # UTF-8, not \u escapes


def test_line_totals_follow_facturamas_formula_and_add_up_to_the_invoice_total():
    invoice = freight_invoice()
    items = invoice_to_facturama(invoice, expedition_place="26015")["Items"]
    for item in items:
        transferred = sum((t["Total"] for t in item["Taxes"] if not t["IsRetention"]), Decimal(0))
        withheld = sum((t["Total"] for t in item["Taxes"] if t["IsRetention"]), Decimal(0))
        discount = item.get("Discount", Decimal(0))
        assert item["Total"] == item["Subtotal"] - discount + transferred - withheld
    assert sum(item["Total"] for item in items) == invoice.total == Decimal("22180.00")


def test_exempt_tax_uses_the_assumed_name_with_no_rate_or_amount():
    items = invoice_to_facturama(freight_invoice(), expedition_place="26015")["Items"]
    (exempt,) = items[2]["Taxes"]
    assert exempt["Name"] == SPEC["value.exempt_tax_name"].format(tax="IVA") == "IVA Exento"
    assert (exempt["Rate"], exempt["Total"]) == (0, 0)


def test_optional_fields_are_left_out_not_sent_empty():
    invoice = Invoice(
        customer=Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015"),
        items=[LineItem("84111506", "ACT", "Servicio", 1, 100)],
    )
    body = invoice_to_facturama(invoice, expedition_place="26015")
    for absent in ("Date", "Serie", "Folio", "CurrencyExchangeRate", "Observations",
                   "PaymentConditions", "GlobalInformation", "Relations"):
        assert absent not in body
    (item,) = body["Items"]
    assert "Taxes" not in item and "Discount" not in item and "Unit" not in item
    assert item["TaxObject"] == "01"
    assert body["PaymentForm"] == "99" and body["PaymentMethod"] == "PUE"


def test_foreign_currency_global_information_and_relations_are_mapped():
    invoice = freight_invoice().with_changes(
        currency="USD",
        exchange_rate="17.2345",
        global_info=GlobalInformation("04", "03", 2025),
        related=[RelatedDocuments("04", ["0F8C2B7E-5A14-4D3B-9E61-2C7A9B0D4E15"])],
    )
    body = invoice_to_facturama(invoice, expedition_place="26015")
    assert body["Currency"] == "USD"
    assert body["CurrencyExchangeRate"] == Decimal("17.2345")
    assert body["GlobalInformation"] == {"Periodicity": "04", "Months": "03", "Year": 2025}
    assert body["Relations"] == {
        "Type": "04", "Cfdis": [{"Uuid": "0F8C2B7E-5A14-4D3B-9E61-2C7A9B0D4E15"}]
    }


def test_two_relation_types_are_refused_locally():
    invoice = freight_invoice().with_changes(
        related=[RelatedDocuments("01", ["A" * 36]), RelatedDocuments("04", ["B" * 36])]
    )
    (issue,) = facturama_issues(invoice)
    assert (issue.field, issue.code) == ("related", "APUNTO-FACTURAMA-002")
    assert facturama_issues(freight_invoice()) == []


def test_aware_issue_date_is_sent_as_mexico_city_local_time():
    moment = datetime(2025, 3, 1, 18, 30, tzinfo=timezone.utc)
    body = invoice_to_facturama(freight_invoice().with_changes(issued_at=moment),
                                expedition_place="26015")
    assert body["Date"] == "2025-03-01T12:30:00"


def test_transfer_invoice_carries_no_payment_form_or_method():
    body = invoice_to_facturama(freight_invoice().with_changes(kind="T"), expedition_place="26015")
    assert "PaymentForm" not in body and "PaymentMethod" not in body


def test_client_and_product_records_for_on_the_fly_registration():
    invoice = freight_invoice()
    client = customer_to_facturama_client(invoice.customer)
    assert client == {
        "Rfc": "URE180429TM6", "Name": "UNIVERSIDAD ROBOTICA ESPAÑOLA", "CfdiUse": "G03",
        "FiscalRegime": "601", "TaxZipCode": "86991", "Email": "cuentas@example.com",
    }
    product = line_to_facturama_product(invoice.items[0])
    assert product["Name"] == "Flete terrestre"  # the catalog name, 2-50 characters
    assert product["CodeProdServ"] == "78101802"
    assert product["IdentificationNumber"] == "FLT-01"
    assert [(t["Name"], t["Rate"], t["IsRetention"]) for t in product["Taxes"]] == [
        ("IVA", Decimal("0.16"), False), ("IVA", Decimal("0.04"), True)
    ]


# -- Facturama -> our models ------------------------------------------------------------------


def test_cfdi_object_maps_to_a_stamped_invoice():
    data = fixture("cfdi_response.json")
    stamped = facturama_to_stamped(data)
    assert stamped.provider == "facturama"
    assert stamped.id == "kR3vQ8sLm2Pz7YwXc1Nd42"
    assert stamped.uuid == "0F8C2B7E-5A14-4D3B-9E61-2C7A9B0D4E15"  # upper case, as the SAT
    assert stamped.status is InvoiceStatus.ACTIVE
    assert stamped.total == Decimal("22180.00")
    assert (stamped.series, stamped.folio, stamped.currency) == ("FLT", "1042", "MXN")
    assert (stamped.issuer_rfc, stamped.customer_rfc) == ("EKU9003173C9", "URE180429TM6")
    assert stamped.issued_at == datetime(2025, 3, 1, 12, 30, 0)
    assert stamped.stamped_at == datetime(2025, 3, 1, 12, 30, 5)
    assert stamped.raw["SomeFieldAddedLater"] == {"Nested": True}  # unknown fields are kept


def test_list_row_maps_to_a_stamped_invoice_with_its_offset_date_in_local_time():
    stamped = facturama_to_stamped(fixture("list_row.json"))
    assert stamped.status is InvoiceStatus.CANCELLED
    assert stamped.uuid == "0F8C2B7E-5A14-4D3B-9E61-2C7A9B0D4E15"
    assert (stamped.issuer_rfc, stamped.customer_rfc) == ("EKU9003173C9", "URE180429TM6")
    assert stamped.issued_at == datetime(2025, 3, 1, 12, 30, 0)
    assert stamped.stamped_at is None


def test_minimal_answer_does_not_break_the_mapper():
    stamped = facturama_to_stamped({"Id": "x2", "Folio": 7})
    assert (stamped.id, stamped.folio, stamped.uuid, stamped.total) == ("x2", "7", None, None)
    assert stamped.status is InvoiceStatus.ACTIVE


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("canceled", CancellationStatus.CANCELLED),
        ("requested", CancellationStatus.REQUESTED),
        ("pending", CancellationStatus.PENDING),
        ("rejected", CancellationStatus.REJECTED),
        ("active", CancellationStatus.REJECTED),
    ],
)
def test_cancel_statuses_map(status, expected):
    data = {**fixture("cancel_response.json"), "Status": status}
    cancellation = facturama_to_cancellation(data, ref="kR3", motive=CancelMotive.WITHOUT_RELATION)
    assert cancellation.status is expected
    assert cancellation.uuid == "0F8C2B7E-5A14-4D3B-9E61-2C7A9B0D4E15"


# -- errors ---------------------------------------------------------------------------------


def test_model_state_rejection_keeps_message_and_model_state_verbatim():
    body = fixture("error_model_state.json")
    error = facturama_error("facturama", response(400, body))
    assert isinstance(error, StampRejected)
    assert error.message == "La solicitud no es válida."
    assert error.details == body["ModelState"]
    assert error.status_code == 400
    assert error.sat_code is None


def test_sat_sentence_without_code_gets_its_sat_code():
    error = facturama_error("facturama", response(400, fixture("error_sat_zip.json")))
    assert isinstance(error, StampRejected)
    assert error.sat_code == "CFDI40147"
    assert error.message.startswith("El campo DomicilioFiscalReceptor del receptor")


def test_explicit_sat_code_in_model_state_wins():
    body = {"Message": "La solicitud no es válida.",
            "ModelState": {"": ["CFDI40145 - El campo Nombre del receptor, debe pertenecer..."]}}
    error = facturama_error("facturama", response(400, body))
    assert isinstance(error, StampRejected) and error.sat_code == "CFDI40145"


def test_400_outside_stamping_is_a_plain_provider_error():
    body = {"Message": "La solicitud no es válida.", "ModelState": {"length": ["1-100"]}}
    error = facturama_error(
        "facturama", response(400, body, "GET", "https://api.facturama.mx/Clients")
    )
    assert type(error) is ProviderError
    assert error.details == {"length": ["1-100"]}


@pytest.mark.parametrize(
    ("status", "cls"),
    [(401, AuthenticationError), (402, InsufficientCredits), (404, NotFound),
     (429, RateLimited), (500, ServerError), (503, ServerError)],
)
def test_statuses_map_to_typed_errors_with_the_message(status, cls):
    error = facturama_error("facturama", response(status, {"Message": "texto del proveedor"}))
    assert isinstance(error, cls)
    assert error.message == "texto del proveedor"


def test_html_error_page_becomes_a_server_error_with_the_page_title():
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    error = facturama_error("facturama", response(502, page))
    assert isinstance(error, ServerError)
    assert error.message == "502 Bad Gateway"


def test_plain_text_error_body_is_kept_and_does_not_crash():
    error = facturama_error("facturama", response(400, "Malformed request", "GET",
                                                  "https://api.facturama.mx/cfdi/pdf/issued/x"))
    assert error.message == "Malformed request"


def test_empty_error_body_names_the_status():
    error = facturama_error("facturama", response(500, None))
    assert error.message.startswith("HTTP 500")


# -- list filters ---------------------------------------------------------------------------


def test_list_filters_map_to_facturama_parameters():
    params = list_params({"series": "FLT", "folio_start": 10, "status": InvoiceStatus.CANCELLED,
                          "date_start": datetime(2025, 3, 1), "rfc": "URE180429TM6"})
    assert params == {"type": "issued", "status": "canceled", "serie": "FLT", "folioStart": "10",
                      "dateStart": "01/03/2025", "rfc": "URE180429TM6"}


def test_facturamas_own_parameter_names_pass_and_unknown_names_fail():
    assert list_params({"folioEnd": 3})["folioEnd"] == "3"
    with pytest.raises(ValidationError) as info:
        list_params({"colour": "red"})
    assert "colour" in str(info.value)


def test_iva_tax_helper_round_trip_for_quota_ieps():
    item = LineItem("15101514", "LTR", "Diesel", "100", "20", taxes=[Tax.iva(), Tax.ieps(
        "0.4", factor="Cuota")])
    body = invoice_to_facturama(
        Invoice(customer=Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015"),
                items=[item]),
        expedition_place="26015",
    )
    ieps = body["Items"][0]["Taxes"][1]
    assert ieps["IsQuota"] is True and ieps["Base"] == Decimal("100")
