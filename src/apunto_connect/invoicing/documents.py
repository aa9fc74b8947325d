"""Which CFDI carries each fiscal document, and which capability stamping it needs."""

from __future__ import annotations

from ..errors import ValidationError
from ..models.carta_porte import CartaPorteInvoice
from ..models.common import Capability
from ..models.credit_notes import CreditNote
from ..models.documents import FiscalDocument
from ..models.invoices import Invoice
from ..models.payments import PaymentReceipt

__all__ = ["document_capability", "host_invoice"]


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
