"""The README quickstart and the demo with only the core install (no extras): they run.

Extras are simulated as missing by an import hook in a fresh interpreter. Sandbox PDFs are
drawn only when downloaded, so stamping needs no extra.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.blocks import ROOT, blocks

EXTRA_MODULES = "fpdf,googleapiclient,google_auth_httplib2,google_auth_oauthlib,httplib2,tqdm,pandas,matplotlib"

HOOK = """
import sys
blocked = set(sys.argv[1].split(","))
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Blocker())
exec(compile(open(sys.argv[2], encoding="utf-8").read(), "README quickstart", "exec"))
"""


@pytest.mark.slow
def test_the_readme_quickstart_on_the_core_install(tmp_path: Path) -> None:
    (quickstart,) = [b for b in blocks(ROOT / "README.md") if "Sandbox()" in b.source]
    script = tmp_path / "quickstart.py"
    script.write_text(quickstart.source, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("APUNTO_")}
    result = subprocess.run(
        [sys.executable, "-c", HOOK, EXTRA_MODULES, str(script)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )
    assert "31920.00" in result.stdout  # the totals printed before any sandbox call
    assert result.returncode == 0, result.stderr
    assert "ModuleNotFoundError" not in result.stderr


@pytest.mark.slow
def test_the_demo_on_the_core_install_stamps_every_vendor_and_names_the_pdf_extra(
    tmp_path: Path,
) -> None:
    script = tmp_path / "demo.py"
    script.write_text(
        "from apunto_connect.cli import main\nraise SystemExit(main(['demo', '--output', 'out']))\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("APUNTO_")}
    result = subprocess.run(
        [sys.executable, "-c", HOOK, EXTRA_MODULES, str(script)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all steps ok" in result.stdout
    assert "pip install 'apunto-connect[sandbox]'" in result.stdout
    assert len(list((tmp_path / "out").rglob("*.xml"))) == 5
    assert not list((tmp_path / "out").rglob("*.pdf"))
