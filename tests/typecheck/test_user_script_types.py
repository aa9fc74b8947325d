"""A user's script type-checks under ``mypy --strict`` with the concrete providers inferred."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import mypy.api as mypy_api  # the test extra installs mypy
import pytest

HERE = Path(__file__).parent
EXPECT = re.compile(r"#\s*expect:\s*([a-z-]+)")


# A cache kept between runs (mypy checks it against the sources): the package is analysed once.
CACHE = HERE.parents[1] / ".mypy_cache" / "user-checks"


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """``mypy --strict`` on both files, as a user would run it; error lines per file name."""
    config = tmp_path_factory.mktemp("mypy") / "mypy.ini"
    config.write_text("[mypy]\n", encoding="utf-8")  # not the project's config
    files = [HERE / "user_script.py", HERE / "rejected.py"]
    stdout, stderr, _ = mypy_api.run(
        [
            "--strict",
            "--config-file", str(config),
            "--cache-dir", str(CACHE),
            "--no-error-summary",
            "--show-error-codes",
            "--python-version", "3.10",
            *map(str, files),
        ]
    )
    assert not stderr, stderr
    errors: dict[str, list[str]] = {path.name: [] for path in files}
    for line in stdout.splitlines():
        if ": error:" in line:
            errors[Path(line.split(":", 1)[0]).name].append(line)
    return errors


@pytest.mark.slow
def test_user_script_passes_mypy_strict_with_concrete_providers_inferred(
    mypy_errors: dict[str, list[str]],
) -> None:
    assert mypy_errors["user_script.py"] == []


@pytest.mark.slow
def test_misspelled_method_and_unknown_download_format_are_rejected(
    mypy_errors: dict[str, list[str]],
) -> None:
    path = HERE / "rejected.py"
    expected = {
        (number, match.group(1))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if (match := EXPECT.search(line))
    }
    assert len(expected) == 5
    reported = set()
    for line in mypy_errors["rejected.py"]:
        found = re.search(r":(\d+): error: .*\[([a-z-]+)\]$", line)
        assert found, line
        reported.add((int(found.group(1)), found.group(2)))
    assert reported == expected, "\n".join(mypy_errors["rejected.py"])


def test_user_script_runs_against_the_sandbox() -> None:
    namespace = runpy.run_path(str(HERE / "user_script.py"))
    stamped = namespace["stamp_in_the_sandbox"]()
    assert stamped[0].uuid and stamped[1].uuid
