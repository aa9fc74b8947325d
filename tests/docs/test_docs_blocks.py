"""Every Python block of README.md and docs/ runs against the sandbox as shown."""

from __future__ import annotations

import re
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine

from tests.docs.blocks import ROOT, all_blocks, blocks, pages

PAGES = [page for page in pages() if blocks(page)]
IDS = [str(page.relative_to(ROOT)) for page in PAGES]
CFDI_FIXTURES = ROOT / "tests" / "cfdi" / "fixtures"


# Names the docs use without defining them (docs/index.md says so): the invoice of the
# quickstart, a provider and what it stamped. Given to the type checker only, as declarations;
# a block that runs must make them itself.
GIVEN = """\
from apunto_connect import Invoice, StampedInvoice
from apunto_connect.invoicing.base import InvoiceProvider
invoice: Invoice
provider: InvoiceProvider
stamped: StampedInvoice
"""


@pytest.fixture
def reader_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding the reader's own CFDI files that docs/cfdi.md opens."""
    from apunto_connect.cfdi import build
    from tests.cfdi.samples import STAMP, freight_invoice

    f101 = build(freight_invoice(), STAMP)
    (tmp_path / "F-101.xml").write_bytes(f101)
    for folder in ("descargas/2025", "2025"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "F-101.xml").write_bytes(f101)
        for sample in CFDI_FIXTURES.glob("*40*.xml"):
            (tmp_path / folder / sample.name).write_bytes(sample.read_bytes())
    with zipfile.ZipFile(tmp_path / "descarga_masiva.zip", "w") as archive:
        archive.writestr("6F35D3B5-3651-4370-BC2C-14CDBE384CD7.xml", f101)
        archive.writestr("ABC.xml", b"<not a cfdi")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_docs_have_python_blocks_and_markers_are_known() -> None:
    found = all_blocks()
    assert len(found) >= 30
    assert {block.marker for block in found} <= {None, "needs-account"}


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_every_block_of_the_page_compiles(page: Path) -> None:
    for block in blocks(page):
        compile(block.source, block.label, "exec")


def run_page(page: Path) -> None:
    """Run the page's runnable blocks in order in one namespace, failing on the first error."""
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in blocks(page):
        if not block.runs:
            continue
        code = compile(block.source, block.label, "exec")
        try:
            exec(code, namespace)
        except Exception as exc:
            pytest.fail(f"{block.label} does not run as shown: {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_page_blocks_run_in_order_against_the_sandbox(
    page: Path, reader_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_page(page)


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_page_blocks_still_run_as_shown_a_year_from_now(
    page: Path, reader_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A fixed date in an example can age past a SAT time rule (a Fecha at most 72 hours old)
    # and break the page for every later reader; the clock moves on 400 days and keeps ticking.
    later = datetime.now(timezone.utc) + timedelta(days=400)
    with time_machine.travel(later, tick=True):
        run_page(page)


def page_module(page: Path) -> str:
    """All blocks of a page as one module, each preceded by a comment naming its line."""
    parts = [f"# {block.label}\n{block.source}" for block in blocks(page)]
    return GIVEN + "\n".join(parts)


@pytest.mark.slow
def test_every_page_type_checks(tmp_path: Path) -> None:
    import mypy.api as mypy_api  # the test extra installs mypy
    files = []
    for page in PAGES:
        name = re.sub(r"\W", "_", str(page.relative_to(ROOT)).removesuffix(".md"))
        path = tmp_path / f"{name}.py"
        path.write_text(page_module(page), encoding="utf-8")
        files.append(str(path))
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n", encoding="utf-8")
    stdout, stderr, _ = mypy_api.run(
        [
            "--config-file", str(config),
            "--cache-dir", str(ROOT / ".mypy_cache" / "docs-checks"),  # kept between runs
            "--check-untyped-defs",
            "--disable-error-code", "import-untyped",  # pandas ships no stubs
            "--no-error-summary",
            "--show-error-codes",
            *files,
        ]
    )
    assert not stderr, stderr
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert errors == [], "\n".join(errors)
