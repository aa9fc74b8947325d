"""Typed, immutable models shared by every provider (attrs, Decimal money)."""

from __future__ import annotations

from .common import Capability, ConnectionStatus
from .convert import from_dict, to_dict
from .invoices import (
    Cancellation,
    CancellationStatus,
    CancelMotive,
    GlobalInformation,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    InvoiceTotals,
    LineItem,
    LineTotals,
    PaymentMethod,
    RelatedDocuments,
    StampedInvoice,
    Tax,
    TaxFactor,
    TaxKind,
    TaxSummary,
)
from .parties import Customer, Issuer, PartnerType
from .storage import StoredFile
from .tracking import (
    Assignment,
    Driver,
    FleetType,
    Shipment,
    Tracking,
    TrackingEvent,
    TrackingMode,
    TrackingStatus,
    Vehicle,
)

__all__ = [
    "Assignment",
    "CancelMotive",
    "Cancellation",
    "CancellationStatus",
    "Capability",
    "ConnectionStatus",
    "Customer",
    "Driver",
    "FleetType",
    "GlobalInformation",
    "Invoice",
    "InvoiceKind",
    "InvoiceStatus",
    "InvoiceTotals",
    "Issuer",
    "LineItem",
    "LineTotals",
    "PartnerType",
    "PaymentMethod",
    "RelatedDocuments",
    "Shipment",
    "StampedInvoice",
    "StoredFile",
    "Tax",
    "TaxFactor",
    "TaxKind",
    "TaxSummary",
    "Tracking",
    "TrackingEvent",
    "TrackingMode",
    "TrackingStatus",
    "Vehicle",
    "from_dict",
    "to_dict",
]
