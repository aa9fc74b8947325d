"""Invoicing (CFDI 4.0) providers: one module per vendor, all behind :class:`InvoiceProvider`."""

from .base import DownloadFormat, InvoiceProvider

__all__ = ["DownloadFormat", "InvoiceProvider"]
