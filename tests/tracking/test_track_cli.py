"""``apunto-connect track``: JSON in and out, the sandbox, exit codes."""

from __future__ import annotations

import io
import json

import pytest

from apunto_connect.cli import _providers, main
from apunto_connect.sandbox import Sandbox, SandboxClock

TRIP = {"reference": "SRV-CLI-1", "mode": "land", "origin": "Manzanillo",
        "destination": "Querétaro", "service_status": "Activo"}
ASSIGNMENT = {
    "carrier_id": "TBA850101AB1", "carrier_name": "Transportes del Bajío",
    "vehicle": {"plate": "JAL12345", "fleet_type": "Vinculada"},
    "driver": {"identification": "GOMJ800101", "first_name": "Juan", "last_name": "Gómez",
               "phone": "3312345678"},
}


@pytest.fixture(autouse=True)
def fresh_sandbox(monkeypatch):
    sandbox = Sandbox(clock=SandboxClock(start=1_790_000_000), vendors=["controlt", "shipsgo"])
    monkeypatch.setattr(_providers, "_sandbox", sandbox)
    yield sandbox
    sandbox.close()


def run(capsys, *argv):
    code = main(["track", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_land_trip_lifecycle_from_the_command_line(capsys):
    code, out, _ = run(capsys, "create", "--provider", "controlt", "--sandbox", "--wait",
                       "--data", json.dumps(TRIP))
    assert code == 0
    created = json.loads(out)
    assert created["status"] == "created" and created["travel_id"] and "raw" not in created

    code, out, _ = run(capsys, "assign", "--provider", "controlt", "--sandbox", "SRV-CLI-1",
                       "--data", json.dumps(ASSIGNMENT))
    assert code == 0 and json.loads(out)["assignment"]["vehicle"]["fleet_type"] == "LINKED"

    code, out, _ = run(capsys, "activate", "--provider", "controlt", "--sandbox", "SRV-CLI-1",
                       "--by", "ana@apunto")
    assert code == 0 and json.loads(out)["activated_by"] == "ana@apunto"

    code, out, _ = run(capsys, "close", "--provider", "controlt", "--sandbox", "SRV-CLI-1",
                       "--by", "luis@apunto")
    assert code == 0 and json.loads(out)["status"] == "closed"

    code, out, _ = run(capsys, "get", "--provider", "controlt", "--sandbox", "SRV-CLI-1")
    assert code == 0 and json.loads(out)["closed_by"] == "luis@apunto"


def test_illegal_step_exits_4_with_the_status_named(capsys):
    run(capsys, "create", "--provider", "controlt", "--sandbox", "--wait", "--data", json.dumps(TRIP))
    code, out, err = run(capsys, "close", "--provider", "controlt", "--sandbox", "SRV-CLI-1",
                         "--by", "ana")
    assert code == 4 and out == ""
    assert "its status is CREATED" in err


def test_ocean_create_reads_standard_input_and_lists(capsys, monkeypatch, fresh_sandbox):
    shipment = {"reference": "APT-CLI-0001", "mode": "ocean", "container_number": "CSQU3054383"}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(shipment)))
    code, out, _ = run(capsys, "create", "--provider", "shipsgo", "--sandbox")
    assert code == 0
    tracking_id = json.loads(out)["tracking_id"]
    fresh_sandbox.clock.advance(21 * 86400)
    code, out, _ = run(capsys, "get", "--provider", "shipsgo", "--sandbox", tracking_id)
    assert json.loads(out)["status"] == "discharged" and json.loads(out)["eta"]
    code, out, _ = run(capsys, "list", "--provider", "shipsgo", "--sandbox",
                       "--filter", "reference=APT-CLI-0001")
    assert [json.loads(line)["tracking_id"] for line in out.splitlines()] == [tracking_id]


def test_bad_input_exits_3(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"reference": "APT-CLI-0001", "mode": "ocean",
                               "container_number": "MSCU1234567"}))
    code, _, err = run(capsys, "create", "--provider", "shipsgo", "--sandbox", "--data", f"@{bad}")
    assert code == 3 and "check digit" in err
    code, _, err = run(capsys, "create", "--provider", "shipsgo", "--sandbox", "--data", "{nope")
    assert code == 3 and "not valid JSON" in err
    code, _, err = run(capsys, "create", "--provider", "shipsgo", "--sandbox", "--data",
                       json.dumps({"reference": "x", "mode": "air"}))
    assert code == 3 and "invalid Shipment" in err


def test_non_iso_override_flag(capsys):
    data = {"reference": "APT-CLI-0002", "mode": "ocean", "container_number": "MSCU1234567"}
    code, out, _ = run(capsys, "create", "--provider", "shipsgo", "--sandbox", "--allow-non-iso",
                       "--data", json.dumps(data))
    assert code == 0 and json.loads(out)["container_number"] == "MSCU1234567"


def test_unsupported_step_exits_7(capsys):
    code, _, err = run(capsys, "activate", "--provider", "shipsgo", "--sandbox", "1", "--by", "ana")
    assert code == 7 and "does not support 'activate'" in err


def test_missing_credentials_exit_6_without_the_sandbox(capsys):
    code, _, err = run(capsys, "get", "--provider", "shipsgo", "123")
    assert code == 6 and "APUNTO_SHIPSGO_API_TOKEN" in err
