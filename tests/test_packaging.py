"""What the distributions carry: the sdist holds everything its own tests read."""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_sdist_carries_the_cassettes_and_examples_its_tests_read(tmp_path: Path) -> None:
    import hatchling.builders.sdist as builder_module  # the test extra installs it
    builder = builder_module.SdistBuilder(str(ROOT))
    (sdist,) = list(builder.build(directory=str(tmp_path), versions=["standard"]))
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for folder in ("cassettes", "examples", "tests", "docs", "src/apunto_connect"):
        assert any(name.startswith(folder + "/") for name in names), folder
    assert "examples/ops_analyst.ipynb" in names
    assert any(name.startswith("cassettes/facturama/") for name in names)


def test_extras_and_classifiers() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - the test extra installs tomli there
        import tomli as tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    notebook = {req.split(">=")[0] for req in project["optional-dependencies"]["notebook"]}
    assert notebook == {"pandas", "matplotlib", "tqdm"}
    assert "Programming Language :: Python :: 3.13" in project["classifiers"]
