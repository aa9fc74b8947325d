"""The fiscal documents this SDK writes, as one type."""

from __future__ import annotations

from .carta_porte import CartaPorteInvoice
from .credit_notes import CreditNote
from .invoices import Invoice
from .payments import PaymentReceipt

__all__ = ["FiscalDocument"]

FiscalDocument = Invoice | PaymentReceipt | CreditNote | CartaPorteInvoice
"""An invoice, a payment receipt, a credit note or an invoice with Carta Porte."""
