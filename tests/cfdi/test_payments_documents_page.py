"""docs/documents.md: every Python block runs as shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "documents.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)


def test_the_page_has_an_example_per_document() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_each_block_runs(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(BLOCKS[index], f"{PAGE.name}[{index}]", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    # The comment lines right after a print() show exactly what it prints.
    expected = re.findall(r"^\s*print\(.*\n\s*# (.+)$", BLOCKS[index], re.M)
    for line in expected:
        assert line.strip() in [p.strip() for p in printed], (line, printed)
    assert len(expected) == len([ln for ln in BLOCKS[index].splitlines()
                                 if ln.strip().startswith("print(")])
