"""The invoicing interface every CFDI vendor implements."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import Any, Literal

from .._capabilities import ProviderBase
from .._emit import emitting
from ..events import INVOICE_CANCELLED, INVOICE_STAMP_FAILED, INVOICE_STAMPED
from ..models.common import Capability
from ..models.convert import to_dict
from ..models.invoices import Cancellation, CancelMotive, Invoice, StampedInvoice

__all__ = ["DownloadFormat", "InvoiceProvider"]

DownloadFormat = Literal["xml", "pdf"]


def _invoice_data(invoice: Invoice) -> dict[str, Any]:
    return {
        "series": invoice.series,
        "folio": invoice.folio,
        "customer_rfc": invoice.customer.rfc,
        "total": str(invoice.total),
        "currency": invoice.currency,
    }


def _stamped_data(stamped: StampedInvoice) -> dict[str, Any]:
    data: dict[str, Any] = to_dict(stamped)
    data.pop("raw", None)  # vendor payloads can be large and are not part of the event
    return data


def _on_stamped(provider: InvoiceProvider, result: Any, args: Any, kwargs: Any) -> None:
    provider.events.emit(INVOICE_STAMPED, provider.name, _stamped_data(result))


def _on_stamp_failed(provider: InvoiceProvider, error: Exception, args: Any, kwargs: Any) -> None:
    invoice = args[0] if args else kwargs.get("invoice")
    data = _invoice_data(invoice) if isinstance(invoice, Invoice) else {}
    data.update(error=type(error).__name__, message=str(error))
    provider.events.emit(INVOICE_STAMP_FAILED, provider.name, data)


def _on_cancelled(provider: InvoiceProvider, result: Any, args: Any, kwargs: Any) -> None:
    data: dict[str, Any] = to_dict(result)
    data.pop("raw", None)
    provider.events.emit(INVOICE_CANCELLED, provider.name, data)


class InvoiceProvider(ProviderBase):
    """Stamp, fetch, download, cancel and list CFDI 4.0 documents at one vendor.

    Implementations validate the invoice locally (``apunto_connect.sat.check``) before any
    network call, register the customer and products on the fly where the vendor needs them,
    and raise the typed errors of :mod:`apunto_connect.errors` with the vendor's text verbatim.

    Every implementation emits ``invoice.stamped``, ``invoice.stamp_failed`` and
    ``invoice.cancelled`` on :attr:`events` without writing any event code: the methods are
    wrapped when the subclass is created.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "stamp" in cls.__dict__:
            cls.stamp = emitting(_on_stamped, _on_stamp_failed)(cls.__dict__["stamp"])  # type: ignore[method-assign]
        if "cancel" in cls.__dict__:
            cls.cancel = emitting(_on_cancelled)(cls.__dict__["cancel"])  # type: ignore[method-assign]

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
