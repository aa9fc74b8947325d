"""The Alegra emulator on the wire: auth, envelopes, limits, numbering, files and the 429."""

from __future__ import annotations

import pytest
import requests

from apunto_connect import Sandbox
from apunto_connect.sandbox import SandboxClock
from apunto_connect.sandbox.alegra import DEMO_EMAIL, DEMO_TOKEN

BASE = "https://api.alegra.com/api/v1"
AUTH = (DEMO_EMAIL, DEMO_TOKEN)


@pytest.fixture
def sb():
    with Sandbox(seed=2, vendors=["alegra"], clock=SandboxClock(start=1_772_467_200)) as sandbox:
        yield sandbox


def call(sb, method: str, path: str, **kwargs) -> requests.Response:
    kwargs.setdefault("auth", AUTH)
    return sb.session.request(method, f"{BASE}/{path}", timeout=5, **kwargs)


def contact(sb, rfc="EKU9003173C9", name="ESCUELA KEMPER URGATE", zip_code="26015") -> str:
    body = {
        "name": name,
        "identification": rfc,
        "regime": "GENERAL_REGIME_OF_MORAL_PEOPLE_LAW",
        "regimeObject": ["GENERAL_REGIME_OF_MORAL_PEOPLE_LAW"],
        "address": {"zipCode": zip_code},
        "type": ["client"],
    }
    response = call(sb, "POST", "contacts", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def item(sb, name="Flete terrestre", key="78101802") -> str:
    body = {"name": name, "price": 100, "productKey": key, "unitKey": "E48"}
    response = call(sb, "POST", "items", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def invoice_body(client_id: str, item_id: str, **extra) -> dict:
    body = {
        "date": "2026-03-02",
        "dueDate": "2026-03-02",
        "client": {"id": client_id},
        "items": [{"id": item_id, "price": 1000, "quantity": 1, "tax": [{"id": "1"}]}],
        "paymentForm": "03",
        "paymentMethod": "PUE",
        "cfdiUse": "G03",
    }
    body.update(extra)
    return body


def test_wrong_credentials_get_alegras_error_envelope(sb):
    response = call(sb, "GET", "company", auth=(DEMO_EMAIL, "wrong"))
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Usuario o token de acceso inválido"}


def test_every_authenticated_answer_carries_the_rate_limit_headers(sb):
    first = call(sb, "GET", "company")
    missing = call(sb, "GET", "invoices/404")
    assert missing.status_code == 404
    for response, remaining in ((first, "149"), (missing, "148")):
        assert response.headers["X-Rate-Limit-Limit"] == "150"
        assert response.headers["X-Rate-Limit-Remaining"] == remaining
        assert response.headers["X-Rate-Limit-Reset"] == "60"


def test_the_151st_request_in_a_minute_is_refused_then_the_window_resets(sb):
    for _ in range(150):
        assert call(sb, "GET", "company").status_code == 200
    refused = call(sb, "GET", "company")
    assert refused.status_code == 429
    assert refused.json()["code"] == 429
    assert refused.headers["X-Rate-Limit-Remaining"] == "0"
    sb.clock.advance(60)
    assert call(sb, "GET", "company").status_code == 200


def test_list_limit_above_30_is_refused_and_metadata_adds_the_total(sb):
    assert call(sb, "GET", "contacts", params={"limit": 31}).status_code == 400
    contact(sb)
    bare = call(sb, "GET", "contacts", params={"limit": 30}).json()
    with_meta = call(sb, "GET", "contacts", params={"limit": 30, "metadata": "true"}).json()
    assert isinstance(bare, list) and with_meta["metadata"] == {"total": 1}


def test_mexican_items_need_a_sat_product_key_and_a_short_name(sb):
    no_key = call(sb, "POST", "items", json={"name": "Flete", "price": 1, "unitKey": "E48"})
    assert no_key.status_code == 400 and "productKey" in no_key.json()["message"]
    long_name = call(
        sb, "POST", "items", json={"name": "x" * 51, "productKey": "78101802", "unitKey": "E48"}
    )
    assert long_name.status_code == 400 and "2 y 50" in long_name.json()["message"]


def test_create_with_generate_stamp_numbers_and_stamps_in_one_call(sb):
    client_id, item_id = contact(sb), item(sb)
    created = call(
        sb, "POST", "invoices",
        json=invoice_body(client_id, item_id, stamp={"generateStamp": True}),
    )
    assert created.status_code == 201, created.text
    data = created.json()
    assert data["status"] == "open" and len(data["stamp"]["uuid"]) == 36
    assert data["total"] == 1160 and data["numberTemplate"]["fullNumber"] == "A1"
    again = call(
        sb, "POST", "invoices",
        json=invoice_body(client_id, item_id, numberTemplate={"prefix": "A", "number": "1"}),
    )
    assert again.status_code == 400 and "A1" in again.json()["message"]


def test_batch_stamp_takes_at_most_ten_ids_and_answers_per_id(sb):
    client_id, item_id = contact(sb), item(sb)
    ids = [
        call(sb, "POST", "invoices", json=invoice_body(client_id, item_id)).json()["id"]
        for _ in range(2)
    ]
    too_many = call(sb, "POST", "invoices/stamp", json={"ids": [str(n) for n in range(11)]})
    assert too_many.status_code == 400
    answer = call(sb, "POST", "invoices/stamp", json={"ids": [*ids, "999"]}).json()
    assert [(r["id"], r["success"]) for r in answer["data"]] == [
        (ids[0], True), (ids[1], True), ("999", False)
    ]


def test_file_urls_appear_after_the_delay_and_need_no_credentials(sb):
    client_id, item_id = contact(sb), item(sb)
    data = call(
        sb, "POST", "invoices",
        json=invoice_body(client_id, item_id, stamp={"generateStamp": True}),
    ).json()
    early = call(sb, "GET", f"invoices/{data['id']}", params={"fields": "pdf,xml"}).json()
    assert "pdf" not in early and "xml" not in early
    sb.clock.advance(3)
    ready = call(sb, "GET", f"invoices/{data['id']}", params={"fields": "pdf,xml"}).json()
    assert ready["pdf"].startswith(BASE + "/files/")
    pdf = sb.session.get(ready["pdf"], timeout=5)
    xml = sb.session.get(ready["xml"], timeout=5)
    assert pdf.content.startswith(b"%PDF") and b"TimbreFiscalDigital" in xml.content
    assert "X-Rate-Limit-Remaining" not in pdf.headers


def test_a_stamped_invoice_is_voided_with_a_motive_and_reopened_unstamped(sb):
    client_id, item_id = contact(sb), item(sb)
    data = call(
        sb, "POST", "invoices",
        json=invoice_body(client_id, item_id, stamp={"generateStamp": True}),
    ).json()
    bad = call(sb, "POST", f"invoices/{data['id']}/void", json={"motive": "01"})
    assert bad.status_code == 400
    voided = call(sb, "POST", f"invoices/{data['id']}/void", json={"motive": "02"}).json()
    assert voided["status"] == "void" and voided["stamp"]["cancellationStatus"] == "cancelled"
    twice = call(sb, "POST", f"invoices/{data['id']}/void", json={"motive": "02"})
    assert twice.status_code == 400
    reopened = call(sb, "POST", f"invoices/{data['id']}/open").json()
    assert reopened["status"] == "open" and "stamp" not in reopened


def test_sat_test_taxpayers_must_match_the_registry(sb):
    client_id = contact(sb, zip_code="01000")
    item_id = item(sb)
    refused = call(
        sb, "POST", "invoices",
        json=invoice_body(client_id, item_id, stamp={"generateStamp": True}),
    )
    assert refused.status_code == 400
    assert "CFDI40147" in refused.json()["error"]["message"]
    # Alegra keeps the invoice as a draft and answers the refusal with it (public integrations
    # read invoice.status == "draft" there); the draft is listed, unstamped.
    draft = refused.json()["invoice"]
    assert draft["status"] == "draft" and "stamp" not in draft
    listed = call(sb, "GET", "invoices").json()
    assert [row["id"] for row in listed] == [draft["id"]] and listed[0]["status"] == "draft"


def test_a_plan_without_api_is_refused(sb):
    sb.emulator("alegra").plan = "EMPRENDEDOR"
    response = call(sb, "GET", "company")
    assert response.status_code == 403 and response.json()["code"] == 403


def test_the_loopback_server_hands_out_loopback_file_urls(sb):
    server = sb.serve()
    base = server.base_url("alegra")
    session = requests.Session()
    headers = {"Content-Type": "application/json"}

    def post(path, body):
        return session.post(f"{base}/{path}", json=body, auth=AUTH, headers=headers, timeout=5)

    client_id = post("contacts", {
        "name": "ESCUELA KEMPER URGATE", "identification": "EKU9003173C9",
        "regime": "GENERAL_REGIME_OF_MORAL_PEOPLE_LAW",
        "address": {"zipCode": "26015"},
    }).json()["id"]
    item_id = post("items", {"name": "Flete", "productKey": "78101802", "unitKey": "E48"}).json()["id"]
    data = post("invoices", invoice_body(client_id, item_id, stamp={"generateStamp": True})).json()
    sb.clock.advance(3)
    ready = session.get(
        f"{base}/invoices/{data['id']}", params={"fields": "pdf"}, auth=AUTH, timeout=5
    ).json()
    assert ready["pdf"].startswith(f"{base}/files/")
    assert session.get(ready["pdf"], timeout=5).content.startswith(b"%PDF")
    session.close()


def test_a_contact_carries_the_regime_by_alegras_name_not_the_sat_code(sb):
    body = {"name": "ESCUELA KEMPER URGATE", "identification": "EKU9003173C9",
            "address": {"zipCode": "26015"}, "type": ["client"]}
    sat_code = call(sb, "POST", "contacts", json={**body, "regime": "601"})
    assert sat_code.status_code == 400 and "GENERAL_REGIME_OF_MORAL_PEOPLE_LAW" in sat_code.text
    mismatch = call(sb, "POST", "contacts", json={
        **body, "regime": "GENERAL_REGIME_OF_MORAL_PEOPLE_LAW", "regimeObject": ["REGIME_OF_TRUST"],
    })
    assert mismatch.status_code == 400
    named = call(sb, "POST", "contacts", json={
        **body, "regime": "GENERAL_REGIME_OF_MORAL_PEOPLE_LAW",
        "regimeObject": ["GENERAL_REGIME_OF_MORAL_PEOPLE_LAW"],
    })
    assert named.status_code == 201
