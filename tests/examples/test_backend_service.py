"""The backend example on the emulators: stamp once, archive once, typed errors as plain results."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from apunto_connect import CredentialsNotFound, LocalStorage, Sandbox, ValidationError
from apunto_connect.cfdi import parse
from apunto_connect.sandbox import Fault
from apunto_connect.sandbox.facturama import SAT_NAME_MISMATCH

ROOT = Path(__file__).resolve().parents[2]


def load_example():
    path = ROOT / "examples" / "backend_service.py"
    spec = importlib.util.spec_from_file_location("backend_service_example", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def example():
    module = load_example()
    yield module
    module.shutdown()


def archived_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def order(example, order_id: int) -> dict:
    return copy.deepcopy(next(o for o in example.SAMPLE_ORDERS if o["id"] == order_id))


def test_order_is_stamped_and_archived_once_even_when_retried(example, tmp_path):
    with Sandbox(vendors=["facturama"]) as sb:
        billing = example.configure(sb.invoice_provider("facturama"), LocalStorage(tmp_path))
        first = example.issue_invoice(order(example, 5001), billing)
        files = archived_files(tmp_path)
        again = example.issue_invoice(order(example, 5001), billing)  # a redelivered task

        assert first["ok"] and first["http_status"] == 201, first
        assert first["idempotency_key"] == "order-5001"
        assert again["uuid"] == first["uuid"] and again["total"] == first["total"] == "34658.53"
        assert len(sb.emulator("facturama").invoices) == 1
        assert archived_files(tmp_path) == files  # nothing stored twice, nothing rewritten
        assert sorted(Path(f).suffix for f in files) == [".pdf", ".xml"]
        xml_id = next(f for f in first["files"] if f.endswith(".xml"))
        cfdi = parse(tmp_path / xml_id)
        assert cfdi.uuid == first["uuid"].upper() and str(cfdi.total) == "34658.53"
        assert (cfdi.series, cfdi.folio) == ("W", "5001")


def test_events_are_logged(example, tmp_path, caplog):
    caplog.set_level("INFO", logger="billing")
    with Sandbox(vendors=["facturama"]) as sb:
        billing = example.configure(sb.invoice_provider("facturama"), LocalStorage(tmp_path))
        result = example.issue_invoice(order(example, 5001), billing)
    messages = [r.getMessage() for r in caplog.records if r.name == "billing"]
    assert f"stamped {result['uuid']} via facturama, total 34658.53" in messages
    assert sum(m.startswith("archived CFDI/") for m in messages) == 2


def test_invalid_order_lists_every_problem_and_calls_nobody(example, tmp_path):
    with Sandbox(vendors=["facturama"]) as sb:
        billing = example.configure(sb.invoice_provider("facturama"), LocalStorage(tmp_path))
        result = example.issue_invoice(order(example, 5003), billing)
        assert sb.emulator("facturama").clients == {} and sb.emulator("facturama").invoices == {}
    assert result["http_status"] == 422 and result["error"] == "invalid_invoice"
    found = {(i["field"], i["code"]) for i in result["issues"]}
    assert found >= {
        ("lines[1].quantity", "ORDER-002"),
        ("customer.name", "CFDI40145"),
        ("customer.zip_code", "APUNTO-504"),
        ("customer.tax_regime", "CFDI40158"),
        ("customer.cfdi_use", "CFDI40161"),
    }
    assert all(i["message"] and i["message_es"] for i in result["issues"])
    assert archived_files(tmp_path) == {}


def test_order_without_required_fields_names_each_one(example):
    bare = {"id": 7, "customer": {"rfc": "EKU9003173C9"}, "payment_method": "CASH",
            "lines": [{"product_code": "78101802", "quantity": "1"}]}
    with pytest.raises(ValidationError) as caught:
        example.order_to_invoice(bare)
    assert {(i.field, i.code) for i in caught.value.issues} == {
        ("customer.name", "ORDER-001"),
        ("customer.tax_regime", "ORDER-001"),
        ("customer.zip_code", "ORDER-001"),
        ("lines[0].unit_code", "ORDER-001"),
        ("lines[0].description", "ORDER-001"),
        ("lines[0].unit_price", "ORDER-001"),
        ("payment_method", "ORDER-003"),
    }


def test_vendor_rejection_is_passed_through_verbatim(example, tmp_path):
    with Sandbox(vendors=["facturama"]) as sb:
        billing = example.configure(sb.invoice_provider("facturama"), LocalStorage(tmp_path))
        result = example.issue_invoice(order(example, 5004), billing)
    assert result["ok"] is False and result["error"] == "rejected"
    assert result["message"] == SAT_NAME_MISMATCH
    assert result["sat_code"] == "CFDI40145" and result["retry"] is False
    assert archived_files(tmp_path) == {}


def test_lost_answer_says_retry_later_with_the_same_key(example, tmp_path):
    # Every Enlace Fiscal POST is committed and then its connection drops: the stamp and the
    # look-up that follows it both fail, so nobody knows whether the CFDI exists.
    faults = [Fault("drop_after", vendor="enlace_fiscal", method="POST", times=-1)]
    with Sandbox(vendors=["enlace_fiscal"], faults=faults) as sb:
        billing = example.configure(sb.invoice_provider("enlace_fiscal"), LocalStorage(tmp_path),
                                    series="APUNTO")
        lost = example.issue_invoice(order(example, 5001), billing)
        assert lost["ok"] is False and lost["http_status"] == 503
        assert lost["error"] == "retry_later" and lost["retry"] is True
        assert lost["request_sent"] is True
        assert "retry later with the same idempotency key" in lost["hint"]
        assert lost["idempotency_key"] == "order-5001"
        assert len(sb.emulator("enlace_fiscal").documents) == 1  # it was stamped after all

        sb.faults.clear()
        retried = example.issue_invoice(order(example, 5001), billing)
        assert retried["ok"] is True, retried
        assert len(sb.emulator("enlace_fiscal").documents) == 1  # found, not stamped again
        assert parse(tmp_path / retried["files"][0]).uuid == retried["uuid"].upper()


def test_lost_answer_on_facturama_says_the_cfdi_may_exist(example, tmp_path):
    faults = [
        # the idempotency look-up before the stamp goes through (a no-op fault uses it up)...
        Fault("latency", vendor="facturama", method="GET", path="/cfdi", latency=0, times=1),
        # ...the stamp is committed but its answer is lost, and so is every later look-up
        Fault("drop_after", vendor="facturama", method="POST", path="/3/cfdis"),
        Fault("drop_before", vendor="facturama", method="GET", path="/cfdi", times=-1),
    ]
    with Sandbox(vendors=["facturama"], faults=faults) as sb:
        billing = example.configure(sb.invoice_provider("facturama"), LocalStorage(tmp_path))
        lost = example.issue_invoice(order(example, 5001), billing)
        assert len(sb.emulator("facturama").invoices) == 1
    assert lost["error"] == "retry_later"
    assert lost["request_sent"] is True


def test_service_is_built_once_per_process_from_the_environment(example, monkeypatch, tmp_path):
    monkeypatch.setenv("APUNTO_NO_KEYRING", "1")
    monkeypatch.setenv("BILLING_PROVIDER", "facturama")
    monkeypatch.setenv("BILLING_ARCHIVE_DIR", str(tmp_path / "archive"))
    monkeypatch.setenv("APUNTO_FACTURAMA_USERNAME", "env-user")
    monkeypatch.setenv("APUNTO_FACTURAMA_PASSWORD", "env-password")
    first = example.service()
    assert example.service() is first  # one provider per process, reused
    assert first.provider.name == "facturama" and first.series == "W"
    assert first.storage.root == (tmp_path / "archive").resolve()
    example.shutdown()
    assert example.service() is not first


def test_service_without_credentials_fails_naming_where_it_looked(example, monkeypatch):
    monkeypatch.setenv("APUNTO_NO_KEYRING", "1")
    monkeypatch.delenv("APUNTO_FACTURAMA_USERNAME", raising=False)
    monkeypatch.delenv("APUNTO_FACTURAMA_PASSWORD", raising=False)
    monkeypatch.setenv("BILLING_PROVIDER", "facturama")
    with pytest.raises(CredentialsNotFound, match="APUNTO_FACTURAMA_"):
        example.service()


def test_main_runs_the_sample_orders_on_the_sandbox(example, tmp_path, capsys):
    assert example.main(["--sandbox", "--archive", str(tmp_path)]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["order_id"] for r in results] == ["5001", "5002", "5003", "5004", "5001"]
    assert [r["http_status"] for r in results] == [201, 201, 422, 422, 201]
    assert results[4]["uuid"] == results[0]["uuid"]  # the retried order is not stamped twice
    assert results[1]["currency"] == "USD" and results[1]["total"] == "1624.00"
    assert len(list(tmp_path.rglob("*.xml"))) == 2


def test_main_without_sandbox_only_checks_the_account(example, monkeypatch, capsys):
    monkeypatch.setenv("APUNTO_NO_KEYRING", "1")
    monkeypatch.delenv("APUNTO_FACTURAMA_USERNAME", raising=False)
    monkeypatch.delenv("APUNTO_FACTURAMA_PASSWORD", raising=False)
    assert example.main(["--provider", "facturama"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # no order was issued
    assert "CredentialsNotFound" in captured.err and "APUNTO_FACTURAMA_" in captured.err
