"""The bulk CSV example on the emulators: validate all, stamp the valid ones, archive, report."""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from apunto_connect import LocalStorage, Sandbox
from apunto_connect.cfdi import parse
from apunto_connect.sandbox.facturama import SAT_NAME_MISMATCH

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "bulk_stamp_csv.py"
SAMPLE = ROOT / "examples" / "data" / "invoices.csv"
EXPECTED_STATUS = {
    "1001": "stamped", "1002": "stamped", "1003": "stamped", "1004": "invalid",
    "1005": "stamped", "1006": "invalid", "1007": "rejected", "1008": "stamped",
}


def load_example():
    spec = importlib.util.spec_from_file_location("bulk_stamp_csv_example", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example():
    return load_example()


def read_results(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["invoice_id", "status", "uuid", "total", "error", "xml_file"]
    return {row["invoice_id"]: row for row in rows}


def archived_files(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")}


def test_sample_csv_is_validated_stamped_archived_and_reported(example, tmp_path, capsys):
    output, archive = tmp_path / "out" / "results.csv", tmp_path / "archive"
    status = example.main([str(SAMPLE), "--sandbox", "--workers", "3", "--no-progress",
                           "--output", str(output), "--archive", str(archive)])
    assert status == 1  # two invalid invoices and one rejection in the sample
    results = read_results(output)
    assert {k: r["status"] for k, r in results.items()} == EXPECTED_STATUS
    assert list(results) == sorted(results)  # the input's order

    for row in results.values():
        if row["status"] != "stamped":
            assert not row["uuid"] and not row["xml_file"] and row["error"]
            continue
        cfdi = parse(archive / row["xml_file"])  # archived, and it is the CFDI reported
        assert cfdi.uuid == row["uuid"].upper() and str(cfdi.total) == row["total"]
        assert cfdi.folio == row["invoice_id"]
        assert (archive / row["xml_file"]).with_suffix(".pdf").is_file()
    assert results["1001"]["total"] == "34658.53"
    assert results["1002"]["total"] == "1995.20"  # USD, at the exchange rate of the CSV
    assert len(list(archive.rglob("*.xml"))) == 5

    report = capsys.readouterr().out
    assert "Validated 8 invoices: 6 valid, 2 invalid" in report
    assert "Results: 2 invalid, 1 rejected, 5 stamped" in report


def test_every_problem_of_an_invalid_invoice_is_reported_with_its_row(example, tmp_path, capsys):
    output = tmp_path / "results.csv"
    example.main([str(SAMPLE), "--sandbox", "--no-progress", "--output", str(output),
                  "--archive", str(tmp_path / "archive")])
    results = read_results(output)
    report = capsys.readouterr().out

    customer = results["1004"]["error"]
    for where, code in [("customer_name", "CFDI40145"), ("customer_zip", "APUNTO-504"),
                        ("customer_regime", "CFDI40158"), ("cfdi_use", "CFDI40161")]:
        assert f"invoice 1004 {where}: [{code}]" in customer
        assert f"invoice 1004 {where}: [{code}]" in report

    lines = results["1006"]["error"]  # rows 9 and 10 of the file (the header is row 1)
    for where, code in [("row 9 quantity", "CSV-002"), ("row 9 product_code", "CFDI40162"),
                        ("invoice 1006 exchange_rate", "CFDI40115"),
                        ("row 10 description", "APUNTO-302"), ("row 10 unit_price", "CFDI40166")]:
        assert f"{where}: [{code}]" in lines
        assert f"{where}: [{code}]" in report
    assert "1006 INVALID" in report and "'dos' is not a number" in lines


def test_vendor_rejection_is_reported_verbatim(example, tmp_path):
    output = tmp_path / "results.csv"
    example.main([str(SAMPLE), "--sandbox", "--no-progress", "--output", str(output),
                  "--archive", str(tmp_path / "archive")])
    assert read_results(output)["1007"]["error"] == SAT_NAME_MISMATCH


# Emulators without the SAT's test-taxpayer registry stamp invoice 1007 too.
STAMPED = {"facturama": 5, "enlace_fiscal": 5, "contadigital": 5, "alegra": 6, "actiun": 6}


@pytest.mark.parametrize("vendor", sorted(STAMPED))
def test_running_the_same_file_again_stamps_and_stores_nothing_twice(example, tmp_path, vendor):
    archive = tmp_path / "archive"
    with Sandbox(vendors=[vendor]) as sb:
        provider, storage = sb.invoice_provider(vendor), LocalStorage(archive)
        first = example.run(SAMPLE, provider, storage, output=tmp_path / "first.csv",
                            progress=False, out=io.StringIO())
        files = archived_files(archive)
        second = example.run(SAMPLE, provider, storage, output=tmp_path / "second.csv",
                             progress=False, out=io.StringIO())
        if vendor == "facturama":
            assert len(sb.emulator("facturama").invoices) == 5
    assert [(o.invoice_id, o.status, o.uuid, o.total) for o in second] == [
        (o.invoice_id, o.status, o.uuid, o.total) for o in first
    ]
    assert sum(o.status == "stamped" for o in first) == STAMPED[vendor]
    assert archived_files(archive) == files  # same files, not even rewritten
    assert len(files) == 2 * STAMPED[vendor]  # one XML and one PDF each


class CountingProvider:
    """Wraps a provider and records how many stamp requests were in flight at once."""

    def __init__(self, provider):
        self._provider = provider
        self._lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        send = provider.transport.request

        def counted(method, path, *args, **kwargs):
            if method != "POST" or not str(path).endswith("cfdis"):
                return send(method, path, *args, **kwargs)
            with self._lock:
                self.in_flight += 1
                self.most = max(self.most, self.in_flight)
            try:
                return send(method, path, *args, **kwargs)
            finally:
                with self._lock:
                    self.in_flight -= 1

        provider.transport.request = counted

    def __getattr__(self, name):
        return getattr(self._provider, name)


def test_stamping_never_exceeds_the_workers(example, tmp_path):
    with Sandbox(vendors=["facturama"], latency=0.005) as sb:
        provider = CountingProvider(sb.invoice_provider("facturama"))
        outcomes = example.run(SAMPLE, provider, LocalStorage(tmp_path / "archive"),
                               output=tmp_path / "results.csv", workers=2, progress=False,
                               out=io.StringIO())
    assert 1 <= provider.most <= 2
    assert sum(o.status == "stamped" for o in outcomes) == 5


def test_progress_bars_when_tqdm_is_installed_and_silence_when_not(example, tmp_path, monkeypatch,
                                                                   capsys):
    import tqdm  # noqa: F401  (the test extra installs it)

    with Sandbox(vendors=["facturama"]) as sb:
        provider = sb.invoice_provider("facturama")
        example.run(SAMPLE, provider, LocalStorage(tmp_path / "a"), output=tmp_path / "a.csv",
                    out=io.StringIO())
        assert "stamping" in capsys.readouterr().err

        monkeypatch.setitem(sys.modules, "tqdm", None)  # as if it were not installed
        monkeypatch.setitem(sys.modules, "tqdm.auto", None)
        outcomes = example.run(SAMPLE, provider, LocalStorage(tmp_path / "b"),
                               output=tmp_path / "b.csv", out=io.StringIO())
        assert capsys.readouterr().err == ""
    assert sum(o.status == "stamped" for o in outcomes) == 5


def test_a_file_without_the_required_columns_is_refused(example, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("invoice_id,customer_rfc\n1,EKU9003173C9\n", encoding="utf-8")
    status = example.main([str(bad), "--sandbox", "--no-progress",
                           "--output", str(tmp_path / "results.csv")])
    assert status == 2
    assert "lacks the columns customer_name" in capsys.readouterr().err
    assert not (tmp_path / "results.csv").exists()


def test_the_sample_is_never_stamped_on_a_real_account(example, capsys):
    with pytest.raises(SystemExit) as stopped:
        example.main(["--provider", "facturama"])
    assert stopped.value.code == 2
    assert "only with --sandbox" in capsys.readouterr().err


def test_rows_of_one_invoice_that_disagree_are_reported(example, tmp_path):
    rows = SAMPLE.read_text(encoding="utf-8").splitlines()
    header, first, second = rows[0], rows[1], rows[2].replace(",26015,", ",26016,")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("\n".join([header, first, second]) + "\n", encoding="utf-8")
    [item] = [example.validate(i) for i in example.read_invoices(mixed)]
    assert not item.valid
    assert [(i.field, i.code) for i in item.errors] == [("invoice 1001 customer_zip", "CSV-003")]


def test_the_script_runs_from_the_command_line(tmp_path):
    env = {**os.environ, "APUNTO_NO_KEYRING": "1"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--sandbox", "--no-progress"],  # the sample by default
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 1, done.stderr
    assert {k: r["status"] for k, r in read_results(tmp_path / "stamp-results.csv").items()} == (
        EXPECTED_STATUS
    )
    assert len(list((tmp_path / "cfdi-archive").rglob("*.xml"))) == 5
