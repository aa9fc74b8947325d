"""The Actiun emulator speaks the reference: paths, bodies, headers, statuses and quirks."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest
import requests

from apunto_connect.actiun import ActiunClient, LineItemInput, parse_link_header
from apunto_connect.cfdi import parse
from apunto_connect.sandbox import Sandbox
from apunto_connect.sandbox.actiun import DEMO_API_KEY, ActiunEmulator

BASE = "https://api.actiun.com"
AUTH = {"Authorization": DEMO_API_KEY, "Content-Type": "application/json"}


@pytest.fixture
def sb():
    with Sandbox(vendors=["actiun"], seed=11) as sandbox:
        yield sandbox


@pytest.fixture
def emulator(sb) -> ActiunEmulator:
    return sb.emulator("actiun")


def call(sb, method: str, path: str, **kw) -> requests.Response:
    headers = {**AUTH, **kw.pop("headers", {})}
    return sb.session.request(method, f"{BASE}{path}", headers=headers, **kw)


def make_invoice(sb, *, rfc: str = "ACM131115G35", lines=None) -> dict:
    contact = call(sb, "POST", "/contacts", json={"contact": {"name": "ACME", "identification": rfc}})
    item = call(sb, "POST", "/items", json={"item": {
        "name": "Flete", "price": 1500, "product_key_code": "78101802", "unit_key_code": "E48"}})
    item_id = item.json()["items"]["id"]
    body = {"invoice": {
        "client_id": contact.json()["contact"]["id"],
        "payment_method_code": "wire-transfer",
        "line_items": lines or [{"item_id": item_id, "price": 1500, "quantity": 2,
                                 "taxes": [{"tax_id": 1}], "retentions": [{"tax_id": 4}]}],
    }}
    created = call(sb, "POST", "/invoices", json=body)
    assert created.status_code == 201, created.text
    return created.json()["invoice"]


@pytest.mark.parametrize("header", [{}, {"Authorization": "wrong"}, {"Authorization": "Bearer x"}])
def test_a_missing_or_wrong_key_gets_the_references_401(sb, header):
    response = sb.session.get(f"{BASE}/contacts", headers=header)
    assert response.status_code == 401
    assert response.json() == {"error": "Credenciales no válidas."}


def test_basic_access_with_the_key_is_accepted_too(sb):
    token = base64.b64encode(f"{DEMO_API_KEY}:".encode()).decode()
    response = sb.session.get(f"{BASE}/contacts", headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 200


def test_methods_a_path_does_not_have_get_405_and_unknown_paths_404(sb):
    assert call(sb, "DELETE", "/invoices/1").status_code == 405
    assert call(sb, "PUT", "/invoices/1", json={}).json() == {
        "error": "Operación no permitida. Ocurre cuando el método del request es inválido para "
        "el endpoint requerido."
    }
    missing = call(sb, "GET", "/payments")
    assert missing.status_code == 404 and missing.json()["error"] == "El objeto que buscas no existe."


def test_listing_headers_follow_the_reference(sb, emulator):
    emulator.seed_invoices(60)
    first = call(sb, "GET", "/invoices")
    assert first.headers["Per-Page"] == "25" and first.headers["Total"] == "60"
    assert first.headers["Cache-Control"] == "max-age=0, private, must-revalidate"
    assert first.headers["Etag"].startswith('W/"')
    links = parse_link_header(first.headers["Link"])
    assert links == {"first": f"{BASE}/invoices?page=1", "last": f"{BASE}/invoices?page=3",
                     "next": f"{BASE}/invoices?page=2"}
    assert len(first.json()["invoices"]) == 25
    middle = call(sb, "GET", "/invoices?page=2&order_field=date")
    assert set(parse_link_header(middle.headers["Link"])) == {"first", "prev", "last", "next"}
    assert "order_field=date" in parse_link_header(middle.headers["Link"])["next"]
    assert call(sb, "GET", "/invoices?page=abc").json() == first.json()  # as page 1
    assert call(sb, "GET", "/invoices?page=9").json() == {"invoices": []}


def test_bad_order_values_are_a_400(sb):
    response = call(sb, "GET", "/invoices?order_field=total")
    assert response.status_code == 400 and "order_field" in response.json()["errors"]


def test_clients_is_an_alias_of_contacts_as_in_the_references_examples(sb):
    call(sb, "POST", "/contacts", json={"contact": {"name": "ACME", "identification": "ACM131115G35"}})
    assert call(sb, "GET", "/clients?page=1").json() == call(sb, "GET", "/contacts").json()


def test_contact_query_matches_names_and_items_query_matches_descriptions(sb):
    for name in ("Transportes Norte", "Aduanas Sur"):
        call(sb, "POST", "/contacts", json={"contact": {"name": name, "identification": "ACM131115G35"}})
    call(sb, "POST", "/items", json={"item": {"name": "Flete", "description": "Servicio de arrastre",
                                              "price": 10, "product_key_code": "78101802",
                                              "unit_key_code": "E48"}})
    names = [c["name"] for c in call(sb, "GET", "/contacts?query=norte").json()["contacts"]]
    assert names == ["Transportes Norte"]
    assert call(sb, "GET", "/items?query=arrastre").json()["items"][0]["name"] == "Flete"
    listed = call(sb, "GET", "/contacts").json()["contacts"][0]
    assert set(listed) == {"id", "name", "identification", "alias"}


def test_item_create_answers_under_items_and_delete_answers_204(sb):
    created = call(sb, "POST", "/items", json={"item": {
        "name": "Lápiz No. 2", "price": 8.50, "product_key_code": "44121706", "unit_key_code": "H87"}})
    assert created.status_code == 201
    body = created.json()
    assert "item" not in body and body["items"]["units"] == "Pieza"
    assert body["items"]["product_key"] == {"id": 26870, "name": "Lápices de madera", "value": "44121706"}
    assert body["items"]["images"] == []
    item_id = body["items"]["id"]
    updated = call(sb, "PUT", f"/items/{item_id}", json={"item": {"description": "Lapiz de Madera", "price": 9.5}})
    assert updated.json()["item"]["price"] == 9.5
    deleted = call(sb, "DELETE", f"/items/{item_id}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert call(sb, "GET", f"/items/{item_id}").status_code == 404


def test_missing_required_fields_are_a_400_naming_them(sb):
    response = call(sb, "POST", "/items", json={"item": {"name": "x"}})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"price", "product_key_code", "unit_key_code"}
    malformed = call(sb, "POST", "/contacts", data=b"{not json")
    assert malformed.status_code == 400 and "error" in malformed.json()


def test_invoice_goes_from_stamping_to_opened_with_a_uuid_and_attachments(sb):
    created = make_invoice(sb)
    assert created["status"] == "stamping" and created["stamp"] is None
    assert created["attachments"] == [] and isinstance(created["number"], int)
    assert created["due_offset_days"] == "0"
    sb.clock.advance(ActiunEmulator.stamping_seconds)
    invoice = call(sb, "GET", f"/invoices/{created['id']}").json()["invoice"]
    assert invoice["status"] == "opened" and invoice["number"] == str(created["number"])
    assert len(invoice["stamp"]["sat_uuid"]) == 36
    assert [a["type"] for a in invoice["attachments"]] == ["Pdf", "Xml"]
    assert all(a["download_url"].startswith(f"{BASE}/documents/") for a in invoice["attachments"])
    assert invoice["total"] == 3360  # 3000 + 480 IVA - 120 IVA retenido (4 %)
    assert invoice["line_items"][0]["retentions"][0]["percentage"] == 4
    assert invoice["payment_method"] == "Transferencia electrónica"


def test_attachments_are_real_cfdi_and_pdf_and_need_the_key(sb):
    created = make_invoice(sb)
    sb.clock.advance(10)
    invoice = call(sb, "GET", f"/invoices/{created['id']}").json()["invoice"]
    xml_url = invoice["attachments"][1]["download_url"]
    assert sb.session.get(xml_url).status_code == 401
    xml = sb.session.get(xml_url, headers=AUTH)
    assert xml.headers["Content-Type"] == "application/xml"
    cfdi = parse(xml.content)
    assert cfdi.stamp is not None and cfdi.stamp.uuid == invoice["stamp"]["sat_uuid"]
    assert cfdi.total == Decimal(str(invoice["total"]))
    assert cfdi.series == "A" and cfdi.folio == str(created["number"])
    assert cfdi.payment_form == "03"
    assert invoice["stamp"]["cfd_stamp"] == cfdi.stamp.cfd_seal
    pdf = sb.session.get(invoice["attachments"][0]["download_url"], headers=AUTH)
    assert pdf.content.startswith(b"%PDF")


def test_a_receiver_without_a_valid_rfc_leaves_the_invoice_drafted(sb):
    created = make_invoice(sb, rfc="NO-ES-UN-RFC")
    sb.clock.advance(10)
    invoice = call(sb, "GET", f"/invoices/{created['id']}").json()["invoice"]
    assert invoice["status"] == "drafted" and invoice["stamp"] is None


def test_ppd_with_a_payment_method_other_than_other_is_refused(sb):
    contact = call(sb, "POST", "/contacts", json={"contact": {"name": "A", "identification": "ACM131115G35"}})
    response = call(sb, "POST", "/invoices", json={"invoice": {
        "client_id": contact.json()["contact"]["id"], "payment_method_code": "cash",
        "payment_type_code": "PPD", "line_items": []}})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"payment_method_code", "line_items"}


def test_seeded_invoices_download_with_the_uuid_they_were_listed_with(sb, emulator):
    emulator.seed_invoices(30)
    listed = call(sb, "GET", "/invoices?page=2").json()["invoices"][0]
    assert listed["status"] == "opened" and listed["stamp"]["cfd_stamp"] is None
    xml = sb.session.get(listed["attachments"][1]["download_url"], headers=AUTH).content
    cfdi = parse(xml)
    assert cfdi.stamp is not None and cfdi.stamp.uuid == listed["stamp"]["sat_uuid"]
    assert cfdi.total == Decimal(str(listed["total"]))


def test_holding_the_benchmarks_5154_invoices_gives_207_pages(sb, emulator):
    emulator.seed_invoices(5154)
    response = call(sb, "GET", "/invoices?page=5")
    links = parse_link_header(response.headers["Link"])
    assert response.headers["Total"] == "5154"
    assert links["last"].endswith("page=207") and links["prev"].endswith("page=4")
    assert links["next"].endswith("page=6")


def test_the_loopback_server_points_links_and_downloads_back_at_itself(sb):
    server = sb.serve()
    base = server.base_url("actiun")
    client = ActiunClient(api_key=DEMO_API_KEY, base_url=base, sleep=sb.clock.sleep,
                          clock=sb.clock.now)
    try:
        contact = client.contacts.create("ACME", "ACM131115G35")
        item = client.items.create("Flete", "1500", "78101802", "E48")
        invoice = client.invoices.create(contact.id, [LineItemInput(item.id, "1500", 1, tax_ids=[1])],
                                         payment_method_code="cash")
        stamped = client.invoices.wait_while_stamping(invoice)
        attachment = stamped.attachment("xml")
        assert attachment is not None and attachment.download_url.startswith(base + "/documents/")
        assert parse(client.invoices.download(stamped, "xml")).stamp.uuid == stamped.sat_uuid
        page = client.contacts.page(1)
        assert page.links["first"].startswith(base + "/contacts")
    finally:
        client.close()
