from __future__ import annotations

import json
import subprocess
import sys

from apunto_connect import __version__
from apunto_connect.cli import main


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2


def test_demo_runs_the_main_job_end_to_end(capsys, tmp_path):
    code = main(["demo", "--json", "--output", str(tmp_path / "archive")])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] is True
    uuids = {row["uuid"] for row in report["invoices"]}
    assert len(uuids) == 5 and all(row["parsed"] for row in report["invoices"])
    assert {row["provider"] for row in report["invoices"]} == {
        "facturama", "alegra", "enlace_fiscal", "contadigital", "actiun"}
    assert any(row["cancelled"] for row in report["invoices"])
    assert report["trip"]["statuses"][-1] == "closed"
    assert report["container"]["eta"]
    archived = sorted(p.name for p in (tmp_path / "archive").rglob("*.xml"))
    assert len(archived) == 5
    validate = next(step for step in report["steps"] if step["name"] == "validate")
    assert "CFDI40158" in validate["detail"]


def test_demo_prints_a_summary_table(capsys, tmp_path):
    assert main(["demo", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "vendor" in out and "Travel ID" in out and "ETA" in out
    assert "all steps ok" in out


def test_credentials_show_never_prints_the_value(monkeypatch, capsys):
    monkeypatch.setenv("APUNTO_FACTURAMA_PASSWORD", "Sup3r-Secret-Pass")
    assert main(["credentials", "show", "facturama", "password", "username"]) == 0
    out = capsys.readouterr().out
    assert "Sup3r-Secret-Pass" not in out
    assert "password: ******** (from environment)" in out
    assert "Pass" not in out  # not even the last characters
    assert "username: not set" in out


def test_credentials_set_without_keyring_is_a_clear_configuration_error(capsys):
    code = main(["credentials", "set", "facturama", "username=demo"])
    assert code == 6
    err = capsys.readouterr().err
    assert err.startswith("error: No usable keyring")
    assert "Traceback" not in err


def test_console_script_module_entry_point_runs():
    out = subprocess.run(
        [sys.executable, "-m", "apunto_connect", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert __version__ in out.stdout


def test_rfc_check_reports_valid_warning_and_invalid(capsys):
    code = main(["rfc", "check", "eku-900317-3c9", "MCI7306249Y1", "GODE561331GR8", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 3  # one invalid RFC
    assert [r["valid"] for r in rows] == [True, True, False]
    assert rows[0]["normalized"] == "EKU9003173C9" and rows[0]["kind"] == "moral"
    assert any(i["severity"] == "warning" for i in rows[1]["issues"])  # wrong check digit
    assert main(["rfc", "check", "MCI7306249Y1", "--strict"]) == 3
    assert main(["rfc", "check", "XAXX010101000"]) == 0


def test_sandbox_serve_prints_every_base_url_and_stops_by_itself():
    out = subprocess.run(
        [sys.executable, "-m", "apunto_connect", "sandbox", "serve", "--for", "0.2"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "sandbox listening on http://127.0.0.1:" in out.stdout
    for vendor in ("facturama", "alegra", "enlace_fiscal", "contadigital", "actiun", "controlt", "shipsgo"):
        assert f"  {vendor}" in out.stdout
    assert "sandbox stopped" in out.stdout


def test_demo_without_the_sandbox_extra_keeps_the_xml_and_names_the_extra(
    capsys, tmp_path, monkeypatch
):
    # A core install (`pip install apunto-connect`) has no fpdf2: the emulators draw no PDFs.
    monkeypatch.setitem(sys.modules, "fpdf", None)  # `import fpdf` now fails
    code = main(["demo", "--json", "--output", str(tmp_path / "archive")])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] is True
    assert len({row["uuid"] for row in report["invoices"]}) == 5
    assert all(row["parsed"] for row in report["invoices"])
    assert len(list((tmp_path / "archive").rglob("*.xml"))) == 5
    assert not list((tmp_path / "archive").rglob("*.pdf"))
    details = {step["name"]: step["detail"] for step in report["steps"]}
    assert "pip install 'apunto-connect[sandbox]'" in details["stamp:facturama"]
    assert "XML only" in details["archive"]
