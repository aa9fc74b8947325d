"""Which fiscal documents a vendor stamps, for the CLI commands that build them.

The rule lives with the providers (:mod:`apunto_connect.invoicing.documents`); this module
names a document's kind for messages.
"""

from __future__ import annotations

from ..invoicing.documents import (
    DocumentKind,
    require_document_stamping,
    stamping_unavailable,
)

__all__ = ["DocumentKind", "document_kind", "require_document_stamping", "stamping_unavailable"]

_CLASS_NAMES = {
    "payment": "PaymentReceipt",
    "credit_note": "CreditNote",
    "carta_porte": "CartaPorteInvoice",
}


def document_kind(document: object) -> DocumentKind:
    """``payment``, ``credit_note`` or ``carta_porte`` for a document model."""
    name = type(document).__name__
    for kind, class_name in _CLASS_NAMES.items():
        if name == class_name:
            return kind  # type: ignore[return-value]
    raise TypeError(f"not a fiscal document this module knows: {name}")
