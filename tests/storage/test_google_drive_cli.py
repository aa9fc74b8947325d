"""``apunto-connect drive …`` and ``storage …`` on the sandbox (and local storage)."""

from __future__ import annotations

import json
import stat

import pytest

from apunto_connect.cli import main


@pytest.fixture
def state(tmp_path):
    return str(tmp_path / "drive-state.json")


def sandbox(state, *extra):
    return ["--sandbox", "--sandbox-state", state, *extra]


def test_drive_status_on_the_sandbox(capsys):
    assert main(["drive", "status", "--sandbox"]) == 0
    out = capsys.readouterr().out
    assert "connected: yes" in out
    assert "account: archivo@example.com (Archivo Apunto)" in out
    assert "scopes: https://www.googleapis.com/auth/drive.file" in out
    assert "access token expires:" in out


def test_drive_status_json(capsys):
    assert main(["drive", "status", "--sandbox", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["connected"] is True and data["account"] == "archivo@example.com"


def test_login_then_status_then_disconnect_with_a_token_file(tmp_path, state, capsys):
    token_file = tmp_path / "token.json"
    tokens = ["--token-file", str(token_file)]

    assert main(["drive", "status", *sandbox(state, *tokens)]) == 6  # not signed in yet
    assert "connected: no" in capsys.readouterr().out

    assert main(["drive", "login", *sandbox(state, *tokens), "--login-hint", "otra.cuenta@example.com"]) == 0
    assert "account: otra.cuenta@example.com" in capsys.readouterr().out
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    saved = json.loads(token_file.read_text())
    assert set(saved) == {"refresh_token", "client_id", "account"}

    assert main(["drive", "status", *sandbox(state, *tokens)]) == 0
    assert "otra.cuenta@example.com" in capsys.readouterr().out

    assert main(["drive", "disconnect", *sandbox(state, *tokens)]) == 0
    assert "access revoked at Google" in capsys.readouterr().out
    assert not token_file.exists()
    assert main(["drive", "status", *sandbox(state, *tokens)]) == 6


def test_disconnecting_the_demo_account_is_remembered_by_the_sandbox_state(state, capsys):
    assert main(["drive", "disconnect", *sandbox(state)]) == 0
    assert main(["drive", "status", *sandbox(state)]) == 4
    out = capsys.readouterr().out
    assert "connected: no" in out and "Token has been expired or revoked." in out


def test_drive_login_without_an_oauth_client_explains_the_set_up(capsys):
    assert main(["drive", "login", "--no-browser"]) == 6
    err = capsys.readouterr().err
    assert "Google Cloud console" in err and "--client-config" in err
    assert "Traceback" not in err


def test_storage_upload_list_download_on_the_drive_sandbox(tmp_path, state, capsys):
    source = tmp_path / "factura.xml"
    source.write_bytes(b"<cfdi/>")
    base = ["--provider", "google_drive", *sandbox(state)]

    assert main(["storage", "upload", str(source), "--folder", "CFDI/EKU9003173C9/2026/11",
                 "--meta", "uuid=ABC", *base]) == 0
    file_id, size, where = capsys.readouterr().out.splitlines()[0].split("\t")
    assert (size, where) == ("7", "CFDI/EKU9003173C9/2026/11/factura.xml")

    assert main(["storage", "upload", str(source), "--folder", "CFDI/EKU9003173C9/2026/11", *base]) == 0
    assert capsys.readouterr().out.split("\t")[0] == file_id  # same content: same file

    assert main(["storage", "list", "--recursive", "--json", *base]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(f["id"], f["metadata"]) for f in listed] == [(file_id, {"uuid": "ABC"})]

    target = tmp_path / "back.xml"
    assert main(["storage", "download", file_id, "-o", str(target), *base]) == 0
    assert target.read_bytes() == b"<cfdi/>"


def test_storage_on_local_files(tmp_path, capsys):
    source = tmp_path / "a.pdf"
    source.write_bytes(b"%PDF")
    root = ["--root", str(tmp_path / "archive")]
    assert main(["storage", "upload", str(source), "--folder", "x", *root]) == 0
    file_id = capsys.readouterr().out.split("\t")[0]
    assert file_id == "x/a.pdf"
    assert main(["storage", "list", "--folder", "x", *root]) == 0
    assert capsys.readouterr().out.startswith("x/a.pdf\t4\tx/a.pdf")
    assert main(["storage", "download", file_id, *root]) == 0
    assert capsys.readouterr().out == "%PDF"


def test_storage_usage_errors_are_clear(tmp_path, capsys):
    assert main(["storage", "upload", str(tmp_path / "missing.xml")]) == 3
    assert "no such file" in capsys.readouterr().err
    source = tmp_path / "a.xml"
    source.write_bytes(b"x")
    assert main(["storage", "upload", str(source), "--meta", "novalue", "--root", str(tmp_path / "r")]) == 3
    assert main(["storage", "list", "--sandbox"]) == 3  # --sandbox is for google_drive
    assert main(["storage", "download", "1NoSuchFileInTheSandbox", "--provider", "google_drive", "--sandbox"]) == 4
    assert "File not found: 1NoSuchFileInTheSandbox." in capsys.readouterr().err
