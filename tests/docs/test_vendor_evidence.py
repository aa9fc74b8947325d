"""The vendor evidence: cited by address or repository, never by an index id; counts that add up."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from tests.docs.test_vendor_facts_table import load_script

ROOT = Path(__file__).resolve().parents[2]
EVIDENCE = ROOT / "docs" / "vendors" / "evidence"
SPEC_MODULES = [module for _name, _page, module in load_script().VENDORS]

# A search-index file id is a long bare number; a machine path names this machine's folders.
# Neither may reach the evidence: a reader cannot follow either.
INDEX_ID = re.compile(r"(?<![\w.-])\d{9,}(?![\w.-])")
MACHINE_PATH = re.compile(r"(?:^|[\s(`])/(?:work|tmp|home|root)/")


def _problems(text: str) -> list[str]:
    return INDEX_ID.findall(text) + MACHINE_PATH.findall(text)


@pytest.mark.parametrize("module", SPEC_MODULES)
def test_spec_evidence_cites_no_index_id_and_no_machine_path(module: str) -> None:
    spec = importlib.import_module(module).SPEC
    for key in spec:
        evidence = spec.fact(key).evidence
        assert not _problems(evidence), f"{module} {key}: {evidence}"


@pytest.mark.parametrize("page", sorted(EVIDENCE.glob("*.md")), ids=lambda p: p.name)
def test_evidence_pages_cite_no_index_id_and_no_machine_path(page: Path) -> None:
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        assert not _problems(line), f"{page.name}:{number}: {line[:120]}"


@pytest.mark.parametrize("module", SPEC_MODULES)
def test_a_fact_with_one_source_is_never_called_public(module: str) -> None:
    # "one source" is what the evidence says of a single integration: that is assumed, however
    # good the source (two repositories are needed for public-integration).
    spec = importlib.import_module(module).SPEC
    for key in spec:
        fact = spec.fact(key)
        if fact.evidence.lower().startswith("one source"):
            assert fact.source == "assumed", f"{module} {key} is {fact.source}: {fact.evidence}"


def _count_rows() -> list[list[str]]:
    text = (EVIDENCE / "README.md").read_text(encoding="utf-8")
    table = text.split("| Vendor | Rows assumed before |", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    return [[cell.strip().strip("*") for cell in row.strip("|").split("|")] for row in rows]


def _number(cell: str) -> int:
    # "7 (write side) + 8 (read side, third-party)" counts 15 rows.
    return sum(int(n) for n in re.findall(r"\d+", cell))


def test_the_counts_table_adds_up() -> None:
    rows = _count_rows()
    vendors, total = rows[:-1], rows[-1]
    assert total[0] == "Total" and len(vendors) == 8
    for row in vendors:
        before, classified = _number(row[1]), [_number(cell) for cell in row[2:6]]
        assert sum(classified) == before, f"{row[0]}: {classified} do not add up to {before}"
        assert _number(row[6]) <= classified[0] + classified[1], row[0]
    for column in range(1, 7):
        assert _number(total[column]) == sum(_number(row[column]) for row in vendors), column
