"""Typed, immutable models shared by every provider (attrs, Decimal money)."""

from __future__ import annotations

from . import carta_porte, invoices, tracking
from .carta_porte import *  # noqa: F403  (the names of carta_porte.__all__)
from .common import Capability, ConnectionStatus
from .convert import from_dict, to_dict
from .credit_notes import CreditNote, CreditNoteReason
from .global_invoice import Ticket, global_invoice
from .invoices import *  # noqa: F403  (the names of invoices.__all__)
from .parties import Customer, Issuer, PartnerType
from .payments import PaidDocument, PayableInvoice, Payment, PaymentReceipt, ReceiptTotals
from .storage import StoredFile
from .tracking import *  # noqa: F403  (the names of tracking.__all__)

__all__ = [
    "Capability",
    "ConnectionStatus",
    "CreditNote",
    "CreditNoteReason",
    "Customer",
    "Issuer",
    "PaidDocument",
    "PartnerType",
    "PayableInvoice",
    "Payment",
    "PaymentReceipt",
    "ReceiptTotals",
    "StoredFile",
    "Ticket",
    "from_dict",
    "global_invoice",
    "to_dict",
    *carta_porte.__all__,
    *invoices.__all__,
    *tracking.__all__,
]
