"""The Python blocks of docs/sat.md run as shown (against the sandbox, never the network)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "sat.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
# The opening summary uses a placeholder ``invoice``; every other block is complete.
RUNNABLE = [block for block in BLOCKS if "sat.preflight(invoice)" not in block]


@pytest.mark.parametrize("block", RUNNABLE, ids=[f"block{i}" for i in range(len(RUNNABLE))])
def test_doc_block_runs_and_prints_what_its_comments_say(block: str) -> None:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(block, str(DOC), "exec"), {})
    printed = output.getvalue().splitlines()
    promised = [
        line.split("# ", 1)[1].split(" (")[0].strip()
        for line in block.splitlines()
        if line.lstrip().startswith("print(") and "# " in line
    ]
    assert len(printed) == len(promised)
    for got, want in zip(printed, promised, strict=True):
        assert got == want


def test_the_catalog_block_comments_match_the_catalogs() -> None:
    from apunto_connect.sat import catalogs

    block = next(b for b in RUNNABLE if "catalogs.product(" in b)
    names: dict[str, object] = {"catalogs": catalogs}
    for line in block.splitlines():
        if "#" not in line or line.startswith("from"):
            continue
        expression, comment = (part.strip() for part in line.split("#", 1))
        expected = comment.split(":")[0].strip() if comment.startswith("None") else comment
        target, equals, value = expression.partition(" = ")
        value = value if equals else expression
        result = eval(value, names)
        if equals:
            names[target] = result
        got = repr(result)
        if expected.endswith("...)"):
            assert got.startswith(expected[:-4])
        else:
            assert got == expected
