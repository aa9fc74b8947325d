"""What escapes a command handler becomes one line and the documented exit code."""

from __future__ import annotations

import argparse

import pytest

from apunto_connect.cli import main, rfc_cmd


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        (FileNotFoundError(2, "No such file or directory", "/x/y.pdf"), 3, "/x/y.pdf"),
        (ConnectionResetError(104, "Connection reset by peer"), 5, "Connection reset"),
        (ModuleNotFoundError("No module named 'googleapiclient'", name="googleapiclient"), 6,
         "apunto-connect[drive]"),
        (ModuleNotFoundError("No module named 'yaml'", name="yaml"), 6, "pip install pyyaml"),
        (RuntimeError("a bug"), 1, "unexpected RuntimeError"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_escaping_errors_map_to_documented_codes(
    error: BaseException, code: int, text: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def fail(args: argparse.Namespace) -> int:
        raise error

    monkeypatch.setattr(rfc_cmd, "_check", fail)
    assert main(["rfc", "check", "EKU9003173C9"]) == code
    err = capsys.readouterr().err
    assert text in err
    assert "Traceback" not in err


def test_an_unexpected_error_shows_its_traceback_only_with_verbose(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    def fail(args: argparse.Namespace) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(rfc_cmd, "_check", fail)
    assert main(["rfc", "check", "EKU9003173C9", "-v"]) == 1
    assert "Traceback" in capsys.readouterr().err
