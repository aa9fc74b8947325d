"""A user's script type-checks under ``mypy --strict`` with the concrete providers inferred."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

HERE = Path(__file__).parent
SRC = HERE.parents[1] / "src"
EXPECT = re.compile(r"#\s*expect:\s*([a-z-]+)")


def run_mypy(path: Path, tmp_path: Path) -> list[str]:
    """Run ``mypy --strict`` on one file as a user would; return its error lines."""
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n", encoding="utf-8")  # not the project's config
    stdout, stderr, _ = mypy_api.run(
        [
            "--strict",
            "--config-file", str(config),
            "--cache-dir", str(tmp_path / "cache"),
            "--no-error-summary",
            "--show-error-codes",
            "--python-version", "3.10",
            str(path),
        ]
    )
    assert not stderr, stderr
    return [line for line in stdout.splitlines() if ": error:" in line]


@pytest.mark.slow
def test_user_script_passes_mypy_strict_with_concrete_providers_inferred(tmp_path: Path) -> None:
    errors = run_mypy(HERE / "user_script.py", tmp_path)
    assert errors == []


@pytest.mark.slow
def test_misspelled_method_and_unknown_download_format_are_rejected(tmp_path: Path) -> None:
    path = HERE / "rejected.py"
    expected = {
        (number, match.group(1))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if (match := EXPECT.search(line))
    }
    assert len(expected) == 5
    errors = run_mypy(path, tmp_path)
    reported = set()
    for line in errors:
        found = re.search(r":(\d+): error: .*\[([a-z-]+)\]$", line)
        assert found, line
        reported.add((int(found.group(1)), found.group(2)))
    assert reported == expected, "\n".join(errors)


def test_user_script_runs_against_the_sandbox() -> None:
    namespace = runpy.run_path(str(HERE / "user_script.py"))
    stamped = namespace["stamp_in_the_sandbox"]()
    assert stamped[0].uuid and stamped[1].uuid
