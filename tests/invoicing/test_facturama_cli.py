"""``apunto-connect invoice ...`` with Facturama: in-process sandbox and a loopback server."""

from __future__ import annotations

import json
from pathlib import Path

import fpdf  # noqa: F401  (the test extra installs it; emulators draw PDFs with it)
import pytest

from apunto_connect.cfdi import parse
from apunto_connect.cli import _providers, main
from apunto_connect.models import Customer, Invoice, LineItem, Tax, to_dict
from apunto_connect.sandbox import Sandbox
from apunto_connect.sandbox.facturama import FacturamaEmulator


@pytest.fixture(autouse=True)
def fresh_sandbox(monkeypatch):
    """Each test gets its own in-process sandbox (the command keeps one per process)."""
    monkeypatch.setattr(_providers, "_sandbox", None)


def invoice_file(tmp_path: Path, folio: str = "4001", **changes) -> Path:
    invoice = Invoice(
        customer=Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "86991"),
        items=[LineItem("78101802", "E48", "Flete", 1, "2500", unit_name="Servicio",
                        taxes=[Tax.iva(), Tax.iva_withholding("0.04")])],
        payment_form="03",
        series="CLI",
        folio=folio,
    ).with_changes(**changes)
    path = tmp_path / f"invoice-{folio}.json"
    path.write_text(json.dumps(to_dict(invoice), ensure_ascii=False), encoding="utf-8")
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_stamp_get_download_and_cancel_in_the_sandbox(tmp_path, capsys):
    sandbox = ("--provider", "facturama", "--sandbox")
    code, out, _ = run(capsys, "invoice", "stamp", str(invoice_file(tmp_path)), *sandbox,
                       "--idempotency-key", "cli-4001")
    assert code == 0
    stamped = json.loads(out)
    assert stamped["total"] == "2800.00" and stamped["folio"] == "4001"
    assert "raw" not in stamped

    code, out, _ = run(capsys, "invoice", "get", stamped["uuid"], *sandbox, "--raw")
    fetched = json.loads(out)
    assert code == 0 and fetched["id"] == stamped["id"]
    assert fetched["raw"]["Complement"]["TaxStamp"]["Uuid"] == stamped["uuid"]

    xml_path = tmp_path / "out.xml"
    code, out, _ = run(capsys, "invoice", "download", stamped["id"], *sandbox,
                       "--output", str(xml_path))
    assert code == 0 and json.loads(out)["bytes"] == xml_path.stat().st_size
    assert parse(xml_path.read_bytes()).stamp.uuid == stamped["uuid"]
    pdf_path = tmp_path / "out.pdf"
    assert run(capsys, "invoice", "download", stamped["id"], *sandbox, "--format", "pdf",
               "--output", str(pdf_path))[0] == 0
    assert pdf_path.read_bytes().startswith(b"%PDF-")

    code, out, _ = run(capsys, "invoice", "cancel", stamped["id"], *sandbox, "--motive", "02")
    assert code == 0 and json.loads(out)["status"] == "cancelled"


def test_invalid_invoice_exits_3_before_any_call(tmp_path, capsys):
    path = invoice_file(tmp_path, payment_method="PPD")  # form 03 with PPD: CFDI40105
    code, _, err = run(capsys, "invoice", "stamp", str(path), "--provider", "facturama",
                       "--sandbox")
    assert code == 3 and "CFDI40105" in err


def test_vendor_rejection_exits_4_with_the_vendors_text(tmp_path, capsys):
    customer = Customer("EKU9003173C9", "ESCUELA KEMPER", "601", "26015")
    path = invoice_file(tmp_path, customer=customer)
    code, _, err = run(capsys, "invoice", "stamp", str(path), "--provider", "facturama",
                       "--sandbox")
    assert code == 4
    assert "El campo Nombre del receptor, debe pertenecer al nombre asociado" in err


def test_motive_01_without_replacement_exits_3(capsys):
    code, _, err = run(capsys, "invoice", "cancel", "abc2", "--provider", "facturama",
                       "--sandbox", "--motive", "01")
    assert code == 3 and "replacement" in err


def test_bad_files_are_validation_errors(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert run(capsys, "invoice", "stamp", str(broken), "--provider", "facturama",
               "--sandbox")[0] == 3
    not_invoice = tmp_path / "x.json"
    not_invoice.write_text('{"customer": 5}', encoding="utf-8")
    code, _, err = run(capsys, "invoice", "stamp", str(not_invoice), "--provider", "facturama",
                       "--sandbox")
    assert code == 3 and "not an invoice" in err
    assert run(capsys, "invoice", "stamp", str(tmp_path / "missing.json"), "--provider",
               "facturama", "--sandbox")[0] == 3


def test_yaml_invoice_is_read_when_pyyaml_is_installed(tmp_path, capsys):
    import yaml  # PyYAML, a dependency of vcrpy (test extra)
    data = json.loads(invoice_file(tmp_path).read_text(encoding="utf-8"))
    path = tmp_path / "invoice.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code, out, _ = run(capsys, "invoice", "stamp", str(path), "--provider", "facturama",
                       "--sandbox")
    assert code == 0 and json.loads(out)["customer_rfc"] == "URE180429TM6"


def test_real_use_with_environment_credentials_against_a_loopback_server(tmp_path, capsys,
                                                                         monkeypatch):
    monkeypatch.setenv("APUNTO_FACTURAMA_USERNAME", FacturamaEmulator.demo_credentials["username"])
    monkeypatch.setenv("APUNTO_FACTURAMA_PASSWORD", FacturamaEmulator.demo_credentials["password"])
    with Sandbox(vendors=["facturama"]) as sandbox:
        url = sandbox.serve().base_url("facturama")
        code, out, _ = run(capsys, "invoice", "stamp", str(invoice_file(tmp_path)),
                           "--provider", "facturama", "--base-url", url)
        assert code == 0
        stamped = json.loads(out)
        code, out, _ = run(capsys, "invoice", "get", stamped["id"], "--provider", "facturama",
                           "--base-url", url)
        assert code == 0 and json.loads(out)["uuid"] == stamped["uuid"]
        assert len(sandbox.emulator("facturama").invoices) == 1
    monkeypatch.setenv("APUNTO_FACTURAMA_PASSWORD", "wrong")
    with Sandbox(vendors=["facturama"]) as sandbox:
        url = sandbox.serve().base_url("facturama")
        code, _, err = run(capsys, "invoice", "get", "abc2", "--provider", "facturama",
                           "--base-url", url)
        assert code == 4 and "Authorization has been denied" in err
        assert "wrong" not in err


def test_model_state_details_are_shown_on_stderr(tmp_path, capsys, monkeypatch):
    from apunto_connect.errors import StampRejected
    from apunto_connect.invoicing.facturama import FacturamaProvider

    def reject(self, invoice, *, idempotency_key=None):
        raise StampRejected("La solicitud no es válida.", provider="facturama",
                            details={"Items[0].Quantity": ["La cantidad debe ser mayor a cero."]})

    monkeypatch.setattr(FacturamaProvider, "stamp", reject)
    code, _, err = run(capsys, "invoice", "stamp", str(invoice_file(tmp_path)), "--provider",
                       "facturama", "--sandbox")
    assert code == 4
    assert 'vendor details: {"Items[0].Quantity": ["La cantidad debe ser mayor a cero."]}' in err
