"""Prints how many documentation blocks ran, so a silently skipped page shows."""

from __future__ import annotations

import pytest

from tests.docs.blocks import all_blocks


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    found = all_blocks()
    ran = sum(block.runs for block in found)
    pages = len({block.page for block in found})
    terminalreporter.write_line(
        f"docs: {len(found)} Python blocks on {pages} pages: {ran} run against the sandbox, "
        f"{len(found) - ran} need an account (compiled and type-checked only)"
    )
