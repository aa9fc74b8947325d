"""Sandbox PDFs are drawn on first download, never at stamp time, and only need fpdf2 then."""

from __future__ import annotations

import sys

import pytest

from apunto_connect import Sandbox
from apunto_connect.cfdi import parse
from apunto_connect.errors import ConfigurationError
from apunto_connect.registry import available_providers
from apunto_connect.sandbox import EMULATORS
from tests.invoicing.test_contract import contract_invoice

PROVIDERS = [name for name in available_providers("invoicing") if name in EMULATORS]


@pytest.mark.parametrize("name", PROVIDERS)
def test_stamping_needs_no_fpdf2_and_a_pdf_download_names_the_extra(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Sandbox(vendors=[name], seed=21) as sb:
        provider = sb.invoice_provider(name)
        with monkeypatch.context() as without_fpdf:
            without_fpdf.setitem(sys.modules, "fpdf", None)  # `import fpdf` now fails
            stamped = provider.stamp(contract_invoice(folio="601"), idempotency_key=f"lazy-{name}")
            assert parse(provider.download(stamped.id, "xml")).uuid.upper() == stamped.uuid.upper()
            with pytest.raises(ConfigurationError, match=r"apunto-connect\[sandbox\]"):
                provider.download(stamped.id, "pdf")


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_pdf_is_drawn_once_on_first_download_and_kept(name: str) -> None:
    import fpdf  # noqa: F401  (the test extra installs it)

    from apunto_connect.sandbox import documents

    drawn: list[str] = []
    original = documents.render_pdf

    def counting_render(cfdi, totals):
        drawn.append(cfdi.uuid)
        return original(cfdi, totals)

    with Sandbox(vendors=[name], seed=22) as sb, pytest.MonkeyPatch.context() as patch:
        patch.setattr(documents, "render_pdf", counting_render)
        provider = sb.invoice_provider(name)
        stamped = provider.stamp(contract_invoice(folio="602"), idempotency_key=f"once-{name}")
        provider.get(stamped.id)
        assert drawn == []
        first = provider.download(stamped.id, "pdf")
        second = provider.download(stamped.id, "pdf")
        assert first.startswith(b"%PDF") and first == second
        assert len(drawn) == 1 and drawn[0].upper() == stamped.uuid.upper()
