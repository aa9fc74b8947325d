"""The Actiun reference's own examples, replayed through the client.

Every request body the client sends is compared with the reference's curl example, and every
answer is the reference's "Resultado" (tests/actiun/fixtures/reference_examples.json).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from apunto_connect.actiun import ActiunClient, InvoiceStatus, LineItemInput
from tests.fakes import ScriptedAdapter, make_response, session_with

EXAMPLES = json.loads(
    (Path(__file__).parent / "fixtures" / "reference_examples.json").read_text(encoding="utf-8")
)
KEY = "llave-privada-de-prueba-0001"
BASE = "https://api.actiun.com"


def client_with(*steps) -> tuple[ActiunClient, ScriptedAdapter]:
    adapter = ScriptedAdapter(*steps)
    client = ActiunClient(api_key=KEY, session=session_with(adapter), sleep=lambda s: None)
    return client, adapter


def sent_json(adapter: ScriptedAdapter, index: int = -1):
    return json.loads(adapter.requests[index].body)


def test_every_request_carries_the_bare_key_in_authorization_as_the_examples_show():
    client, adapter = client_with((200, EXAMPLES["contact_get_response"]))
    client.contacts.get(1)
    request = adapter.requests[0]
    assert request.headers["Authorization"] == KEY
    assert request.headers["Content-Type"] == "application/json"
    assert request.url == f"{BASE}/contacts/1"


def test_get_contact_decodes_both_addresses_and_the_parent():
    client, _ = client_with((200, EXAMPLES["contact_get_response"]))
    contact = client.contacts.get(1)
    assert contact.id == 2145
    assert contact.identification == "ACM131115G35"
    assert contact.emails == ["compras@spt.com.mx"]
    assert contact.parent is None
    assert contact.billing_address is not None and contact.billing_address.zipcode == "66072"
    assert contact.billing_address.street_2 is None
    assert contact.shipping_address is not None
    assert contact.shipping_address.street == "AV CUCHARAS"
    assert contact.bill_with_shipping is False
    assert not contact.soft_deleted


def test_list_contacts_reads_the_short_records_of_the_example():
    client, adapter = client_with((200, EXAMPLES["contacts_list_response"]))
    contacts = list(client.contacts.list(query="ACME"))
    assert [c.id for c in contacts] == [1, 2]
    assert contacts[0].billing_address is None and contacts[0].alias == ""
    assert adapter.requests[0].url == f"{BASE}/contacts?query=ACME"


def test_create_contact_sends_the_examples_body_and_reads_its_answer():
    client, adapter = client_with((201, EXAMPLES["contact_create_response"]))
    request = EXAMPLES["contact_create_request"]["contact"]
    contact = client.contacts.create(request["name"], request["identification"])
    assert sent_json(adapter) == EXAMPLES["contact_create_request"]
    assert adapter.requests[0].method == "POST"
    assert contact.id == 50 and contact.depth == 0 and contact.credit_days == 0
    assert contact.bill_with_shipping is True and contact.billing_address is None


def test_update_contact_sends_only_the_fields_given():
    client, adapter = client_with((200, EXAMPLES["contact_update_response"]))
    request = EXAMPLES["contact_update_request"]["contact"]
    contact = client.contacts.update(
        50, alias=request["alias"], billing_address_email=request["billing_address_email"]
    )
    assert adapter.requests[0].method == "PUT"
    assert adapter.requests[0].url == f"{BASE}/contacts/50"
    assert sent_json(adapter) == EXAMPLES["contact_update_request"]
    assert contact.alias == "Cuack cuack"


def test_get_item_decodes_taxes_and_sat_keys():
    client, _ = client_with((200, EXAMPLES["item_get_response"]))
    item = client.items.get(1)
    assert item.price == Decimal("10.0")
    assert item.inventory == {}
    assert item.taxes[0].percentage == 16 and item.taxes[0].rate == Decimal("0.16")
    assert item.product_key is not None and item.product_key.value == "44121701"
    assert item.unit_key is not None and item.unit_key.value == "H87"


def test_list_items_of_the_example():
    client, _ = client_with((200, EXAMPLES["items_list_response"]))
    items = list(client.items.list())
    assert [i.name for i in items] == ["Bolígrafo de Punta Fina"]


def test_create_item_sends_the_basic_example_and_reads_the_answer_wrapped_in_items():
    client, adapter = client_with((201, EXAMPLES["item_create_response"]))
    request = EXAMPLES["item_create_request"]["item"]
    item = client.items.create(
        request["name"], Decimal("8.50"), request["product_key_code"], request["unit_key_code"]
    )
    assert sent_json(adapter) == EXAMPLES["item_create_request"]
    assert item.id == 50
    assert item.units == "Pieza"  # derived by the server: the example sends no units
    assert item.product_key is not None and item.product_key.name == "Lápices de madera"


def test_update_item_sends_a_partial_body():
    client, adapter = client_with((200, EXAMPLES["item_update_response"]))
    item = client.items.update(50, description="Lapiz de Madera", price=Decimal("9.5"))
    assert sent_json(adapter) == EXAMPLES["item_update_request"]
    assert item.price == 10  # the reference's answer, as printed


def test_delete_item_accepts_204_no_content():
    client, adapter = client_with((204, None))
    deletion = client.items.delete(50)
    assert deletion.id == 50 and deletion.soft is False
    assert adapter.requests[0].method == "DELETE"


def test_get_invoice_reads_every_documented_part():
    client, _ = client_with((200, EXAMPLES["invoice_get_response"]))
    invoice = client.invoices.get(150)
    assert invoice.id == 74740
    assert invoice.status is InvoiceStatus.OPENED and invoice.status.is_stamped
    assert invoice.number == "13804" and invoice.prefix == "A"
    assert invoice.series_and_number == "A-13804"
    assert invoice.currency is not None and invoice.currency.code == "USD"
    assert invoice.currency.exchange_rate == Decimal("18.6574")
    assert invoice.total == 116 and invoice.subtotal == 100
    assert invoice.created_at == datetime(2018, 3, 9, 16, 9, 48, 314000,
                                          tzinfo=timezone(timedelta(hours=-6)))
    assert invoice.sat_uuid == "90E59622-FCCC-4838-A792-5916AB8C81AB"
    assert invoice.stamp is not None and invoice.stamp.sat_certificate_number == "00001000000403442064"
    assert invoice.attachment("PDF") is not None and invoice.attachment("xml") is not None
    line = invoice.line_items[0]
    assert (line.item_id, line.quantity, line.price, line.units) == (2251, 1, 100, "Actividad")
    assert line.taxes[0].percentage == 0 and line.retentions == ()
    assert invoice.client is not None and invoice.client.identification == "XEXX010101000"
    assert invoice.cfdi_use is not None and invoice.cfdi_use.value == "G03"
    assert "sat_stamp" not in repr(invoice.stamp)


def test_listed_invoice_number_comes_as_an_integer_and_is_read_as_text():
    client, _ = client_with((200, EXAMPLES["invoices_list_response"]))
    (invoice,) = list(client.invoices.list())
    assert invoice.number == "1300"
    assert invoice.due_offset_days == 0 and invoice.date == date(2018, 3, 12)
    assert invoice.account_number == "4036"


def test_create_invoice_sends_exactly_the_basic_example():
    client, adapter = client_with((201, EXAMPLES["invoice_create_response"]))
    request = EXAMPLES["invoice_create_request"]["invoice"]
    line = request["line_items"][0]
    invoice = client.invoices.create(
        request["client_id"],
        [LineItemInput(line["item_id"], line["price"], line["quantity"], tax_ids=[1])],
        payment_method_code=request["payment_method_code"],
        date=date(2018, 3, 12),
        due_offset_days=30,
        cfdi_use_code=request["cfdi_use_code"],
    )
    assert sent_json(adapter) == EXAMPLES["invoice_create_request"]
    assert invoice.id == 74787 and invoice.number == "13814"
    assert invoice.due_at == date(2018, 4, 11)
    assert invoice.total == 2552


def test_create_invoice_accepts_line_items_in_the_references_own_shape():
    client, adapter = client_with((201, EXAMPLES["invoice_create_response"]))
    request = EXAMPLES["invoice_create_request"]["invoice"]
    client.invoices.create(
        request["client_id"], request["line_items"],
        payment_method_code="wire-transfer", date="2018-03-12", due_offset_days=30,
        cfdi_use_code="G03",
    )
    assert sent_json(adapter) == EXAMPLES["invoice_create_request"]


def test_pagination_headers_of_the_example_describe_207_pages():
    headers = EXAMPLES["pagination_headers"]
    client, adapter = client_with((200, {"invoices": []}, headers))
    page = client.invoices.page(5)
    assert adapter.requests[0].url == f"{BASE}/invoices?page=5"
    assert (page.number, page.per_page, page.total) == (5, 25, 5154)
    assert page.page_count == 207
    assert (page.prev_number, page.next_number) == (4, 6)
    assert page.links["first"] == "http://api.actiun.com/invoices?page=1"


def test_following_pages_never_downgrades_to_the_plain_http_links_of_the_example():
    headers = EXAMPLES["pagination_headers"]
    page_5 = {**headers}
    page_6 = {**headers, "Link": '<http://api.actiun.com/invoices?page=207>; rel="last"'}
    listed = EXAMPLES["invoices_list_response"]
    client, adapter = client_with((200, listed, page_5), (200, listed, page_6))
    assert len(list(client.invoices.list(start_page=5))) == 2
    assert [r.url for r in adapter.requests] == [
        f"{BASE}/invoices?page=5",
        f"{BASE}/invoices?page=6",
    ]
    assert all(r.headers["Authorization"] == KEY for r in adapter.requests)


@pytest.mark.parametrize(
    ("trusted", "expects_key"), [((), False), (("app.actiun.test",), True)]
)
def test_download_follows_the_examples_url_and_sends_the_key_only_to_trusted_hosts(
    trusted, expects_key
):
    def pdf(request):
        return make_response(request, 200, b"%PDF-1.4 example", {"Content-Type": "application/pdf"})

    adapter = ScriptedAdapter(pdf)
    client = ActiunClient(api_key=KEY, session=session_with(adapter),
                          trusted_download_hosts=trusted)
    invoice = client.invoices._one(EXAMPLES["invoice_get_response"])
    assert client.invoices.download(invoice, "pdf").startswith(b"%PDF")
    request = adapter.requests[0]
    assert request.url == "http://app.actiun.test/documents/pdf/f898dc15-06a1-4d83-9c9a-c8a127993ff3"
    assert ("Authorization" in request.headers) is expects_key
