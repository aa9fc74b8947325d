"""``apunto-connect invoice stamp-many``: a batch file in, a results CSV out, resumable."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from apunto_connect.cli import main
from apunto_connect.models import Customer, Invoice, LineItem, Tax, to_dict

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "data" / "invoices.csv"


def results(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["row"]: row for row in csv.DictReader(handle)}


def test_a_csv_batch_writes_one_result_row_per_invoice_and_exits_8_when_some_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "results.csv"
    code = main(["invoice", "stamp-many", str(SAMPLE), "--vendor", "facturama", "--sandbox",
                 "--concurrency", "4", "--output", str(output)])
    assert code == 8
    rows = results(output)
    assert list(rows) == ["1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008"]
    assert {r["status"] for k, r in rows.items() if k in {"1004", "1006"}} == {"invalid"}
    assert rows["1007"]["status"] == "StampRejected" and "CFDI40145" in rows["1007"]["error"]
    assert all(rows[k]["uuid"] and rows[k]["status"] == "stamped"
               for k in ("1001", "1002", "1003", "1005", "1008"))
    out, err = capsys.readouterr()
    assert "5 stamped" in out and "row 9 quantity" in err and "Traceback" not in err


def test_running_the_same_batch_again_in_one_sandbox_stamps_nothing_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    invoices = [
        Invoice(customer=Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015"),
                items=[LineItem("78101802", "E48", "Flete", 1, str(100 + n), taxes=[Tax.iva()])],
                payment_form="03", series="J", folio=str(n))
        for n in range(1, 4)
    ]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join(json.dumps(to_dict(i)) for i in invoices) + "\n", encoding="utf-8")
    state = tmp_path / "sandbox.json"
    common = ["invoice", "stamp-many", str(batch), "--vendor", "facturama", "--sandbox",
              "--sandbox-state", str(state)]
    assert main([*common, "--output", str(tmp_path / "first.csv")]) == 0
    first = results(tmp_path / "first.csv")
    assert [r["status"] for r in first.values()] == ["stamped"] * 3
    assert main([*common, "--output", str(tmp_path / "second.csv")]) == 0
    second = results(tmp_path / "second.csv")
    # The sandbox state keeps the emulator, not this process's journal: the vendor is asked
    # and answers with the CFDI it holds for each serie+folio, instead of a second one.
    assert [r["uuid"] for r in second.values()] == [r["uuid"] for r in first.values()]


def test_a_file_that_is_not_a_batch_is_exit_3(tmp_path: Path) -> None:
    odd = tmp_path / "batch.txt"
    odd.write_text("hello", encoding="utf-8")
    assert main(["invoice", "stamp-many", str(odd), "--vendor", "facturama", "--sandbox"]) == 3
