"""The invoicing interface every CFDI vendor implements."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import Any, Literal

from .._capabilities import ProviderBase
from ..models.common import Capability
from ..models.invoices import Cancellation, CancelMotive, Invoice, StampedInvoice

__all__ = ["DownloadFormat", "InvoiceProvider"]

DownloadFormat = Literal["xml", "pdf"]


class InvoiceProvider(ProviderBase):
    """Stamp, fetch, download, cancel and list CFDI 4.0 documents at one vendor.

    Implementations validate the invoice locally (``apunto_connect.sat.check``) before any
    network call, register the customer and products on the fly where the vendor needs them,
    and raise the typed errors of :mod:`apunto_connect.errors` with the vendor's text verbatim.
    """

    @abstractmethod
    def stamp(self, invoice: Invoice, *, idempotency_key: str | None = None) -> StampedInvoice:
        """Issue and stamp (timbrar) ``invoice``; never stamps twice for one idempotency key."""

    @abstractmethod
    def get(self, ref: str) -> StampedInvoice:
        """Fetch a stamped invoice by the vendor's id (or UUID where the vendor allows)."""

    @abstractmethod
    def download(self, ref: str, fmt: DownloadFormat) -> bytes:
        """Return the CFDI XML or the PDF representation as bytes."""

    def cancel(
        self, ref: str, motive: CancelMotive, replacement_uuid: str | None = None
    ) -> Cancellation:
        """Cancel a CFDI with a SAT motive (01 needs ``replacement_uuid``)."""
        self.require(Capability.CANCEL)
        raise NotImplementedError

    def list(self, **filters: Any) -> Iterator[StampedInvoice]:
        """Iterate over the vendor's issued invoices, page by page, lazily."""
        self.require(Capability.LIST)
        raise NotImplementedError

    def close(self) -> None:
        """Release network resources; same as :meth:`release`."""
        self.release()
