"""How the commands, the demo and the store flow tell whether a vendor stamps a document."""

from __future__ import annotations

import pytest

from apunto_connect import Sandbox
from apunto_connect.errors import UnsupportedOperation
from apunto_connect.invoicing.documents import require_document_stamping, stamping_unavailable


def test_a_vendor_with_the_capability_stamps_the_document() -> None:
    with Sandbox(vendors=["facturama"]) as sb:
        facturama = sb.invoice_provider("facturama")
        assert stamping_unavailable(facturama, "payment") is None
        assert stamping_unavailable(facturama, "carta_porte") is None
        require_document_stamping(facturama, "credit_note")  # does not raise


def test_a_vendor_without_it_is_refused_before_any_request() -> None:
    with Sandbox(vendors=["alegra"]) as sb:
        alegra = sb.invoice_provider("alegra")
        assert "payment_receipt" in (stamping_unavailable(alegra, "payment") or "")
        with pytest.raises(UnsupportedOperation, match=r"cfdi\.build"):
            require_document_stamping(alegra, "payment")
