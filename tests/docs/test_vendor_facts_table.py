"""The vendor facts table in docs/vendors/index.md is what scripts/vendor_facts_table.py makes."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "vendor_facts_table", ROOT / "scripts" / "vendor_facts_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_table_is_the_generated_one():
    script = load_script()
    page = script.PAGE.read_text(encoding="utf-8")
    assert script.updated(page, script.render()) == page, (
        f"docs/vendors/index.md is stale; regenerate it with: {script.COMMAND}"
    )


def test_the_table_counts_every_fact_of_every_spec():
    script = load_script()
    table = script.render()
    for name, _page, module in script.VENDORS:
        spec = importlib.import_module(module).SPEC
        counts = spec.counts()
        row = (
            f"| {counts['official']} | {counts['public-integration']} | {counts['assumed']} "
            f"| {len(spec)} |"
        )
        assert f"({_page}) {row}" in table, name
        assert f"#### Assumed: {name} ({len(spec.assumed())})" in table
        for key in spec.assumed():
            assert f"| `{key}` |" in table


def test_check_fails_on_a_stale_table_and_names_the_command(tmp_path, monkeypatch, capsys):
    script = load_script()
    stale = tmp_path / "index.md"
    stale.write_text(f"# Vendors\n\n{script.START}\n| old |\n{script.END}\n", encoding="utf-8")
    monkeypatch.setattr(script, "PAGE", stale)
    monkeypatch.setattr(script, "ROOT", tmp_path)
    assert script.main(["--check"]) == 1
    assert script.COMMAND in capsys.readouterr().out
    assert script.main([]) == 0  # rewrites it
    assert script.main(["--check"]) == 0
    assert stale.read_text(encoding="utf-8").startswith("# Vendors\n\n" + script.START)


def test_a_page_without_markers_is_refused():
    script = load_script()
    with pytest.raises(ValueError, match="vendor-facts-table:start"):
        script.updated("# Vendors\n", "table")
