"""The ControlT emulator on the wire: OAuth login, 401, late registration, 409 states, paging."""

from __future__ import annotations

import pytest

from apunto_connect.sandbox import Sandbox, SandboxClock

BASE = "https://app.controlt.com.co/apipublic/api"
LOGIN = {"grant_type": "password", "username": "apunto.sandbox",
         "password": "sandbox-controlt-api-key-0001", "company_code": "APT001"}
TRIP = {"trip_number": "SRV-EMU-1", "company_code": "APT001", "city_origin": "Manzanillo",
        "city_destination": "Querétaro"}
ASSIGN = {"nit_transport_company": "TBA850101AB1", "transport_company_name": "Transportes",
          "license_plate": "JAL12345", "fleet_type": "PROPIA", "driver_document": "GOMJ800101",
          "driver_first_name": "Juan", "driver_last_name": "Gómez", "driver_phone": "3312345678"}
WHO = {"user": "ana", "date": "10/09/2026 08:00:00"}


@pytest.fixture
def sb():
    with Sandbox(clock=SandboxClock(start=1_790_000_000), vendors=["controlt"]) as sandbox:
        yield sandbox


@pytest.fixture
def auth(sb):
    token = sb.session.post(f"{BASE}/login/oauth", data=LOGIN).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_login_is_an_oauth_password_grant(sb):
    bad = sb.session.post(f"{BASE}/login/oauth", data={**LOGIN, "password": "x"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    wrong_company = sb.session.post(f"{BASE}/login/oauth", data={**LOGIN, "company_code": "X"})
    assert "código de empresa" in wrong_company.json()["error_description"]
    good = sb.session.post(f"{BASE}/login/oauth", data=LOGIN).json()
    assert good["token_type"] == "bearer" and good["expires_in"] == 3600


def test_calls_without_a_live_token_are_denied(sb, auth):
    assert sb.session.get(f"{BASE}/Resume").json() == {"Message": "Authorization has been denied for this request."}
    assert sb.session.get(f"{BASE}/Resume", headers=auth).status_code == 200
    sb.clock.advance(3601)
    assert sb.session.get(f"{BASE}/Resume", headers=auth).status_code == 401


def test_registration_is_pending_then_created_and_duplicates_get_409(sb, auth):
    created = sb.session.post(f"{BASE}/Travel", json=TRIP, headers=auth)
    assert created.status_code == 202 and created.json()["state_request"] == "PENDIENTE"
    assert sb.session.post(f"{BASE}/Travel", json=TRIP, headers=auth).status_code == 409
    status = sb.session.get(f"{BASE}/Travel/request/SRV-EMU-1", headers=auth).json()
    assert status["state_request"] == "PENDIENTE" and status["id_monitoring_order"] is None
    sb.clock.advance(120)
    status = sb.session.get(f"{BASE}/Travel/request/SRV-EMU-1", headers=auth).json()
    assert status["state_request"] == "CREADO"
    travel = sb.session.get(f"{BASE}/Travel/{status['id_monitoring_order']}", headers=auth).json()
    assert travel["state_travel"] == "sin asignar" and travel["trip_number"] == "SRV-EMU-1"


def test_missing_fields_answer_400_with_model_state(sb, auth):
    response = sb.session.post(f"{BASE}/Travel", json={"trip_number": "X"}, headers=auth)
    assert response.status_code == 400
    assert set(response.json()["ModelState"]) == {"company_code", "city_origin", "city_destination"}


def test_lifecycle_states_and_409s(sb, auth):
    sb.session.post(f"{BASE}/Travel", json=TRIP, headers=auth)
    sb.clock.advance(120)
    travel_id = sb.session.get(f"{BASE}/Travel/request/SRV-EMU-1", headers=auth).json()["id_monitoring_order"]
    url = f"{BASE}/Travel/{travel_id}"
    early = sb.session.post(f"{url}/activate", json=WHO, headers=auth)
    assert early.status_code == 409 and "sin asignar" in early.json()["Message"]
    bad_fleet = sb.session.post(f"{url}/assign", json={**ASSIGN, "fleet_type": "RENTADA"}, headers=auth)
    assert bad_fleet.status_code == 400
    assert sb.session.post(f"{url}/assign", json=ASSIGN, headers=auth).json()["state_travel"] == "sin activar"
    assert sb.session.post(f"{url}/close", json=WHO, headers=auth).status_code == 409
    assert sb.session.post(f"{url}/activate", json=WHO, headers=auth).json()["activation_user"] == "ana"
    states = []
    for step in (0, 900, 6 * 3600, 3600):
        sb.clock.advance(step)
        token = sb.session.post(f"{BASE}/login/oauth", data=LOGIN).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        states.append(sb.session.get(url, headers=auth).json()["state_travel"])
    assert states == ["iniciado", "en tránsito", "descargando", "completado"]
    closed = sb.session.post(f"{url}/close", json=WHO, headers=auth).json()
    assert closed["state_travel"] == "finalizado" and closed["percentage_travel"] == 100
    assert sb.session.post(f"{url}/assign", json=ASSIGN, headers=auth).status_code == 409


def test_active_travels_page_with_size_and_page(sb, auth):
    for i in range(3):
        sb.session.post(f"{BASE}/Travel", json={**TRIP, "trip_number": f"SRV-EMU-{i}"}, headers=auth)
    assert sb.session.get(f"{BASE}/Resume", params={"size": 2, "page": 1}, headers=auth).json()["data"] == []
    sb.clock.advance(120)
    first = sb.session.get(f"{BASE}/Resume", params={"size": 2, "page": 1}, headers=auth).json()
    second = sb.session.get(f"{BASE}/Resume", params={"size": 2, "page": 2}, headers=auth).json()
    assert [t["trip_number"] for t in first["data"] + second["data"]] == ["SRV-EMU-0", "SRV-EMU-1", "SRV-EMU-2"]
    assert first["total"] == 3
