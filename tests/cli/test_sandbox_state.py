"""``--sandbox-state FILE`` carries the emulators from one command to the next."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apunto_connect.cli import _providers, main
from apunto_connect.models import Customer, Invoice, LineItem, Tax, to_dict


def new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a new ``apunto-connect`` process starts with: no in-process sandbox."""
    monkeypatch.setattr(_providers, "_sandbox", None)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def invoice_file(tmp_path: Path) -> str:
    invoice = Invoice(
        customer=Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "86991"),
        items=[LineItem("78101802", "E48", "Flete", 1, "2500", taxes=[Tax.iva()])],
        payment_form="03",
    )
    path = tmp_path / "invoice.json"
    path.write_text(json.dumps(to_dict(invoice)), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("vendor", ["facturama", "alegra", "enlace_fiscal", "contadigital", "actiun"])
def test_an_invoice_stamped_in_one_command_is_found_by_the_next(
    vendor: str, invoice_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = str(tmp_path / "sandbox.json")
    sandbox = ("--provider", vendor, "--sandbox", "--sandbox-state", state)
    new_process(monkeypatch)
    code, out, err = run(capsys, "invoice", "stamp", invoice_file, *sandbox)
    assert code == 0, err
    stamped = json.loads(out)

    new_process(monkeypatch)
    code, out, err = run(capsys, "invoice", "get", stamped["id"], *sandbox)
    assert code == 0, err
    assert json.loads(out)["uuid"] == stamped["uuid"]

    new_process(monkeypatch)  # without the state file the next process starts empty
    code, _, _ = run(capsys, "invoice", "get", stamped["id"], "--provider", vendor, "--sandbox")
    assert code == 4


def test_a_trip_created_in_one_command_is_activated_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path / "sandbox.json")
    sandbox = ("--provider", "controlt", "--sandbox", "--sandbox-state", state)
    shipment = json.dumps({"reference": "SRV-9", "mode": "land", "origin": "Manzanillo",
                           "destination": "Querétaro", "service_status": "Activo"})
    new_process(monkeypatch)
    code, out, err = run(capsys, "track", "create", "--data", shipment, "--wait", *sandbox)
    assert code == 0, err
    trip = json.loads(out)
    assert trip["travel_id"]

    new_process(monkeypatch)
    code, out, err = run(capsys, "track", "get", trip["tracking_id"], *sandbox)
    assert code == 0, err
    assert json.loads(out)["travel_id"] == trip["travel_id"]


def test_one_state_file_serves_drive_and_invoice_commands(
    invoice_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = str(tmp_path / "sandbox.json")
    drive = ("--provider", "google_drive", "--sandbox", "--sandbox-state", state)
    new_process(monkeypatch)
    code, out, err = run(capsys, "invoice", "stamp", invoice_file, "--provider", "facturama",
                         "--sandbox", "--sandbox-state", state)
    assert code == 0, err
    stamped = json.loads(out)
    code, _, err = run(capsys, "storage", "upload", invoice_file, *drive)
    assert code == 0, err

    new_process(monkeypatch)
    code, out, _ = run(capsys, "storage", "list", *drive)
    assert code == 0 and "invoice.json" in out
    code, out, _ = run(capsys, "invoice", "get", stamped["id"], "--provider", "facturama",
                       "--sandbox", "--sandbox-state", state)
    assert code == 0 and json.loads(out)["id"] == stamped["id"]


def test_a_state_file_refuses_code_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import base64
    import pickle

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    payload = base64.b64encode(pickle.dumps({"x": Evil()})).decode()
    state = tmp_path / "evil.json"
    state.write_text(json.dumps({
        "format": "apunto-connect sandbox state", "version": 1, "clock_offset": 0,
        "emulators": {"facturama": {"pickle": payload}},
    }), encoding="utf-8")
    code, out, err = run(capsys, "invoice", "get", "X", "--provider", "facturama", "--sandbox",
                         "--sandbox-state", str(state))
    assert code == 3
    assert "pwned" not in out
    assert "not allowed" in err
