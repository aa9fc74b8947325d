"""The ShipsGo emulator on the wire: auth, credits, duplicates, 422 shapes, voyage, paging."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from apunto_connect.sandbox import Sandbox, SandboxClock

BASE = "https://api.shipsgo.com/v2"
TOKEN = {"X-Shipsgo-User-Token": "sandbox-shipsgo-user-token-0001"}
DAY = 86400.0


@pytest.fixture
def sb():
    with Sandbox(clock=SandboxClock(start=1_790_000_000), vendors=["shipsgo"]) as sandbox:
        yield sandbox


def post(sb, body, headers=TOKEN):
    return sb.session.post(f"{BASE}/ocean/shipments", json=body, headers=headers)


def get(sb, path, **params):
    return sb.session.get(f"{BASE}{path}", params=params, headers=TOKEN)


def test_token_is_required_and_checked(sb):
    assert post(sb, {}, headers={}).json() == {"message": "TOKEN_MISSING"}
    response = post(sb, {}, headers={"X-Shipsgo-User-Token": "nope"})
    assert response.status_code == 401 and response.json() == {"message": "TOKEN_INVALID"}


def test_create_spends_a_credit_and_a_duplicate_answers_409_with_the_shipment(sb):
    body = {"reference": "APT-EMU-1", "container_number": "CSQU3054383"}
    first = post(sb, body)
    assert first.status_code == 200 and first.json()["message"] == "SUCCESS"
    again = post(sb, body)
    assert again.status_code == 409 and again.json()["message"] == "ALREADY_EXISTS"
    assert again.json()["shipment"]["id"] == first.json()["shipment"]["id"]
    assert get(sb, "/credits").json()["credits"] == 24


def test_duplicate_rules_follow_reference_then_booking_else_container(sb):
    post(sb, {"reference": "APT-EMU-1", "container_number": "CSQU3054383", "booking_number": "BK1"})
    # same container, other booking: booking is what is compared
    assert post(sb, {"reference": "APT-EMU-1", "container_number": "CSQU3054383",
                     "booking_number": "BK2"}).status_code == 200
    # other reference: a new shipment even for the same container
    assert post(sb, {"reference": "APT-EMU-2", "container_number": "CSQU3054383"}).status_code == 200
    assert post(sb, {"container_number": "CSQU3054383"}).status_code == 409


def test_402_when_credits_run_out(sb):
    sb.emulator("shipsgo").credits = 0
    response = post(sb, {"reference": "APT-EMU-1", "container_number": "CSQU3054383"})
    assert response.status_code == 402 and response.json() == {"message": "NOT_ENOUGH_CREDITS"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reference": "APT-EMU-1"}, "container_number"),
        ({"reference": "APT-EMU-1", "container_number": "CSQU305438"}, "container_number"),
        ({"reference": "AB", "container_number": "CSQU3054383"}, "reference"),
        ({"reference": "APT-EMU-1", "booking_number": "BK 1"}, "booking_number"),
        ({"reference": "APT-EMU-1", "booking_number": "BK1", "carrier": "MAERSK"}, "carrier"),
        ({"reference": "APT-EMU-1", "booking_number": "BK1", "tags": ["t"] * 11}, "tags"),
        ({"reference": "APT-EMU-1", "booking_number": "BK1", "followers": ["x"]}, "followers"),
    ],
)
def test_bad_payloads_answer_422_with_the_field(sb, body, field):
    response = post(sb, body)
    assert response.status_code == 422
    assert response.json()["message"] == "INVALID_PAYLOAD" and field in response.json()["errors"]
    assert sb.emulator("shipsgo").credits_spent == 0


def test_the_voyage_plays_out_on_the_sandbox_clock(sb):
    shipment_id = post(sb, {"reference": "APT-EMU-1", "container_number": "CSQU3054383"}).json()["shipment"]["id"]
    statuses = []
    for step in (0, 3 * 60, 10 * 60, 1.1 * DAY, 0.2 * DAY, 18.6 * DAY, 0.5 * DAY):
        sb.clock.advance(step)
        statuses.append(get(sb, f"/ocean/shipments/{shipment_id}").json()["shipment"]["status"])
    assert statuses == ["NEW", "INPROGRESS", "BOOKED", "LOADED", "SAILING", "ARRIVED", "DISCHARGED"]
    detail = get(sb, f"/ocean/shipments/{shipment_id}").json()["shipment"]
    movements = detail["containers"][0]["movements"]
    status_of = {(m["event"], m["location"]["code"]): m["status"] for m in movements}
    assert status_of[("DISC", "MXZLO")] == "ACT" and status_of[("EMRT", "MXZLO")] == "EST"
    assert [m["event"] for m in movements if m["location"]["code"] == "KRPUS"] == ["ARRV", "DISC", "LOAD", "DEPA"]


def test_list_pages_filters_and_orders(sb):
    for i, number in enumerate(["CSQU3054383", "TEXU3070079", "MSKU6011672"]):
        post(sb, {"reference": f"APT-EMU-{i}", "container_number": number, "tags": ["A" if i else "B"]})
    page = get(sb, "/ocean/shipments", skip=0, take=2, order_by="id,asc").json()
    assert [s["reference"] for s in page["shipments"]] == ["APT-EMU-0", "APT-EMU-1"]
    assert page["meta"] == {"more": True, "total": 3}
    filtered = get(sb, "/ocean/shipments", **{"filters[tags]": "eq:A", "filters[carrier]": "in:MAEU,XXXX"}).json()
    assert [s["reference"] for s in filtered["shipments"]] == ["APT-EMU-2"]
    bad = get(sb, "/ocean/shipments", take=101)
    assert bad.status_code == 422


def test_deleted_shipments_disappear(sb):
    shipment_id = post(sb, {"reference": "APT-EMU-1", "container_number": "CSQU3054383"}).json()["shipment"]["id"]
    assert sb.session.delete(f"{BASE}/ocean/shipments/{shipment_id}", headers=TOKEN).status_code == 200
    assert get(sb, f"/ocean/shipments/{shipment_id}").json() == {"message": "NOT_FOUND"}


def test_webhook_deliveries_are_signed_over_the_raw_body(sb):
    shipment_id = post(sb, {"reference": "APT-EMU-1", "container_number": "CSQU3054383"}).json()["shipment"]["id"]
    body, headers = sb.emulator("shipsgo").signed_webhook(shipment_id)
    secret = b"sandbox-shipsgo-webhook-secret"
    assert headers["X-Shipsgo-Webhook-Signature"] == hmac.new(secret, body, hashlib.sha256).hexdigest()
    envelope = json.loads(body)
    assert envelope["event"]["name"] == headers["X-Shipsgo-Webhook-Name"]
    assert envelope["shipment"]["id"] == shipment_id
