"""``APUNTO_LOG`` switches the library's logging on, without any code, with secrets redacted."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
from apunto_connect import Sandbox
from apunto_connect.errors import NotFound
with Sandbox(vendors=["facturama"]) as sb:
    provider = sb.invoice_provider("facturama")
    try:
        provider.get("does-not-exist")
    except NotFound:
        print("not found")
"""


def run(level: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APUNTO_")}
    env["APUNTO_NO_KEYRING"] = "1"
    if level is not None:
        env["APUNTO_LOG"] = level
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120,
        check=True,
    )


def test_apunto_log_debug_logs_requests_to_stderr_with_secrets_redacted() -> None:
    result = run("debug")
    assert result.stdout.strip() == "not found"
    assert "apunto_connect" in result.stderr
    assert "GET" in result.stderr and "404" in result.stderr
    from apunto_connect.sandbox.facturama import FacturamaEmulator

    assert FacturamaEmulator.demo_credentials["password"] not in result.stderr


def test_without_apunto_log_the_library_prints_nothing() -> None:
    result = run(None)
    assert result.stdout.strip() == "not found"
    assert result.stderr == ""


def test_configuring_twice_attaches_one_handler() -> None:
    import logging

    from apunto_connect import logsetup

    logger = logging.getLogger("apunto_connect")
    before = (list(logger.handlers), logger.level)
    try:
        logsetup.configure_logging("info")
        logsetup.configure_logging("DEBUG")
        logsetup.configure_logging("nonsense")
        ours = [h for h in logger.handlers if isinstance(h, logsetup._StderrHandler)]
        assert len(ours) == 1
        assert logger.level == logging.DEBUG
    finally:
        logger.handlers[:] = before[0]
        logger.setLevel(before[1])
