"""How the commands, the demo and the store flow tell whether a vendor stamps a document."""

from __future__ import annotations

from typing import Any, ClassVar, Union

import pytest

from apunto_connect.cli import _documents
from apunto_connect.cli._documents import require_document_stamping, stamping_unavailable
from apunto_connect.errors import UnsupportedOperation
from apunto_connect.models import Capability, CreditNote, Invoice, PaymentReceipt

Document = Union[Invoice, PaymentReceipt, CreditNote]  # noqa: UP007 - resolved from a string


class InvoicesOnly:
    name = "plain"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.STAMP})

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def stamp(self, invoice: Invoice, *, idempotency_key: str | None = None) -> Any:
        raise AssertionError("never called")


class Documents(InvoicesOnly):
    name = "documents"

    def stamp(self, document: Document, *, idempotency_key: str | None = None) -> Any:  # type: ignore[override]
        raise AssertionError("never called")


def test_a_stamp_that_names_the_document_class_can_stamp_it() -> None:
    if any(_documents._capability(k) for k in ("payment", "credit_note", "carta_porte")):
        pytest.skip("the SDK has document capabilities: the signature is not consulted")
    assert stamping_unavailable(Documents(), "payment") is None
    assert stamping_unavailable(Documents(), "credit_note") is None
    assert stamping_unavailable(Documents(), "carta_porte") is not None
    assert stamping_unavailable(InvoicesOnly(), "payment") is not None


def test_a_capability_member_decides_when_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_documents, "_capability", lambda kind: Capability.CANCEL)
    assert "does not offer 'cancel'" in (stamping_unavailable(Documents(), "payment") or "")
    offers = Documents()
    offers.capabilities = frozenset({Capability.STAMP, Capability.CANCEL})  # type: ignore[misc]
    assert stamping_unavailable(offers, "payment") is None


def test_require_raises_unsupported_operation_naming_the_vendor_and_the_document() -> None:
    with pytest.raises(UnsupportedOperation) as caught:
        require_document_stamping(InvoicesOnly(), "carta_porte")
    assert caught.value.provider == "plain"
    assert caught.value.operation == "stamp a Carta Porte"
    assert "cfdi.build" in str(caught.value)
