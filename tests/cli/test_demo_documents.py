"""The demo's payment receipt and Carta Porte steps: run, or skipped with the reason."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from apunto_connect import demo as demo_module
from apunto_connect.cli import main
from apunto_connect.cli._documents import stamping_unavailable
from apunto_connect.sandbox import Sandbox


def run_demo_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code = main(["demo", "--json", "--output", str(tmp_path / "archive")])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] is True, report
    return report


def steps_by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in report["steps"]}


def vendor_stamps(kind: str) -> bool:
    with Sandbox() as sb:
        return stamping_unavailable(sb.invoice_provider("facturama"), kind) is None  # type: ignore[arg-type]


def test_the_demo_pays_the_first_instalment_of_a_ppd_invoice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run_demo_json(tmp_path, capsys)
    step = steps_by_name(report)["payment"]
    payment = report["payment"]
    assert payment["installment"] == 1
    previous, paid, left = (Decimal(payment[k]) for k in
                            ("previous_balance", "amount_paid", "remaining_balance"))
    assert previous == Decimal(payment["invoice_total"]) and paid > 0 and left > 0
    assert previous - paid == left
    if vendor_stamps("payment"):
        assert not step["skipped"] and payment["receipt_uuid"]
    else:  # degrades clearly: skipped, with the reason, and the receipt built offline
        assert step["skipped"] and step["detail"].startswith("skipped: ")
        assert "payment receipt" in step["detail"] and "built offline" in step["detail"]
        assert payment["receipt_uuid"] is None


def test_the_demo_builds_the_carta_porte_of_its_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run_demo_json(tmp_path, capsys)
    steps = steps_by_name(report)
    names = [step["name"] for step in report["steps"]]
    assert names.index("trip") < names.index("waybill")
    waybill = report["waybill"]
    assert waybill["trip"] == report["trip"]["tracking_id"]
    assert waybill["plate"] == "JL12345" and waybill["operator"] == "Juan Gómez"
    assert waybill["distance_km"] == "530" and waybill["id_ccp"].startswith("CCC")
    if vendor_stamps("carta_porte"):
        assert not steps["waybill"]["skipped"] and waybill["uuid"]
    else:
        assert steps["waybill"]["skipped"] and "Carta Porte" in steps["waybill"]["detail"]


def test_a_vendor_without_the_capability_is_a_skipped_step_not_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from apunto_connect.invoicing import documents as _documents

    monkeypatch.setattr(_documents, "stamping_unavailable",
                        lambda provider, kind: f"{provider.name} cannot stamp {kind} here")
    assert main(["demo", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[skip] payment" in out and "cannot stamp payment here" in out
    assert "[skip] waybill" in out and "cannot stamp carta_porte here" in out
    assert "all steps ok (2 skipped: payment, waybill)" in out
    assert "(built offline, not stamped)" in out


def test_a_failing_document_step_fails_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    facts = demo_module.demo_waybill_facts()
    too_long = attrs.evolve(facts["truck"], plate="ABCDEFGHIJ")  # PlacaVM is 5 to 7 characters
    monkeypatch.setattr(demo_module, "demo_waybill_facts", lambda: {**facts, "truck": too_long})
    report = demo_module.run_demo(archive_dir=tmp_path)
    step = next(s for s in report.steps if s.name == "waybill")
    assert not step.ok and not step.skipped
    assert "CCP222" in step.detail
    assert report.ok is False
