"""Options of the whole command (``-v``, ``--base-url``) work before or after the command."""

from __future__ import annotations

import pytest

from apunto_connect.cli import main
from apunto_connect.sandbox import Sandbox
from apunto_connect.sandbox.facturama import FacturamaEmulator


@pytest.fixture
def facturama_url(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("APUNTO_FACTURAMA_USERNAME", FacturamaEmulator.demo_credentials["username"])
    monkeypatch.setenv("APUNTO_FACTURAMA_PASSWORD", FacturamaEmulator.demo_credentials["password"])
    with Sandbox(vendors=["facturama"]) as sandbox:
        yield sandbox.serve().base_url("facturama")


@pytest.mark.parametrize("where", ["before", "after"])
def test_base_url_before_or_after_the_command_reaches_the_server(
    where: str, facturama_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["invoice", "get", "NOPE", "--provider", "facturama"]
    argv = (["--base-url", facturama_url, *command] if where == "before"
            else [*command, "--base-url", facturama_url])
    assert main(argv) == 4  # the loopback emulator answered 404: the URL was used
    assert "facturama HTTP 404" in capsys.readouterr().err


def test_base_url_after_the_command_wins_over_the_one_before(
    facturama_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--base-url", "http://127.0.0.1:9", "invoice", "get", "NOPE",
            "--provider", "facturama", "--base-url", facturama_url]
    assert main(argv) == 4


@pytest.mark.parametrize("url", ["notaurl", "ftp://example.com/x", "http://", "//host/path"])
def test_a_base_url_that_is_not_http_is_a_configuration_error(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invoice", "get", "X", "--provider", "facturama", "--base-url", url]) == 6
    assert "--base-url" in capsys.readouterr().err


def test_verbose_before_and_after_adds_up(capsys: pytest.CaptureFixture[str]) -> None:
    from apunto_connect.cli import build_parser
    from apunto_connect.cli._options import merged

    args = merged(build_parser().parse_args(["-v", "rfc", "check", "EKU9003173C9", "-v"]))
    assert args.verbose == 2
