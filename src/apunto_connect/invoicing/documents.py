"""Which CFDI carries each fiscal document, and which capability stamping it needs."""

from __future__ import annotations

from typing import Any, Literal

from ..errors import UnsupportedOperation, ValidationError
from ..models.carta_porte import CartaPorteInvoice
from ..models.common import Capability
from ..models.credit_notes import CreditNote
from ..models.documents import FiscalDocument
from ..models.invoices import Invoice
from ..models.payments import PaymentReceipt

__all__ = [
    "DocumentKind",
    "document_capability",
    "host_invoice",
    "require_document_stamping",
    "stamping_unavailable",
]


def host_invoice(document: FiscalDocument) -> Invoice:
    """The CFDI that carries ``document`` (a receipt's type P, a credit note's type E ...)."""
    if isinstance(document, Invoice):
        return document
    if isinstance(document, CartaPorteInvoice):
        return document.invoice
    if isinstance(document, (PaymentReceipt, CreditNote)):
        return document.to_invoice()
    raise ValidationError(
        f"not a fiscal document: {type(document).__name__} (expected Invoice, PaymentReceipt, "
        "CreditNote or CartaPorteInvoice)", field="document", code="APUNTO-DOC-001",
    )


def document_capability(document: FiscalDocument) -> Capability | None:
    """The capability stamping ``document`` needs besides :attr:`Capability.STAMP`."""
    if isinstance(document, PaymentReceipt):
        return Capability.PAYMENT_RECEIPT
    if isinstance(document, CreditNote):
        return Capability.CREDIT_NOTE
    if isinstance(document, CartaPorteInvoice):
        return Capability.CARTA_PORTE
    if isinstance(document, Invoice) and document.global_info is not None:
        return Capability.GLOBAL_INVOICE
    return None


DocumentKind = Literal["payment", "credit_note", "carta_porte"]
"""The document kinds commands and store flows stamp besides invoices."""

_KIND_CAPABILITIES: dict[str, Capability] = {
    "payment": Capability.PAYMENT_RECEIPT,
    "credit_note": Capability.CREDIT_NOTE,
    "carta_porte": Capability.CARTA_PORTE,
}
_KIND_OPERATIONS = {
    "payment": "stamp a payment receipt",
    "credit_note": "stamp a credit note",
    "carta_porte": "stamp a Carta Porte",
}


def stamping_unavailable(provider: Any, kind: DocumentKind) -> str | None:
    """Why ``provider`` cannot stamp documents of ``kind``; ``None`` when it can."""
    capability = _KIND_CAPABILITIES[kind]
    if provider.supports(capability):
        return None
    name = getattr(provider, "name", "") or type(provider).__name__
    return f"{name} does not offer '{capability.value}'"


def require_document_stamping(provider: Any, kind: DocumentKind) -> None:
    """Raise :class:`UnsupportedOperation` (nothing sent) unless ``provider`` stamps ``kind``."""
    reason = stamping_unavailable(provider, kind)
    if reason is not None:
        name = getattr(provider, "name", "") or type(provider).__name__
        raise UnsupportedOperation(
            name, _KIND_OPERATIONS[kind],
            f"{reason}; `apunto_connect.cfdi.build` writes the XML meanwhile",
        )
