"""One run of the stamping path for one document, and the small rules it follows.

:class:`StampAttempt` is what :class:`~apunto_connect.invoicing.base.InvoiceProvider` hands its
vendor hooks; the helpers below decide what a failure means and what an event carries.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import ApuntoError, ServerError, TransportError
from ..journal.records import Claim, StampState
from ..models.convert import to_dict
from ..models.documents import FiscalDocument
from ..models.invoices import Invoice, LineItem, StampedInvoice
from ..models.parties import Customer

if TYPE_CHECKING:
    from .base import InvoiceProvider

__all__ = ["DEFAULT_SETTLE_SECONDS", "StampAttempt"]

DEFAULT_SETTLE_SECONDS = 300.0
"""How long after a stamp request was sent a vendor's "not found" is still not trusted.

A vendor may commit a request after the client gave up waiting (a late commit). Within this
window a retry that finds nothing raises :class:`StampOutcomeUnknown` instead of sending again;
after it, "not found" means the request never took effect and sending again is safe."""


_LOCK_STRIPES = 64
"""Locks that serialize registering one customer or product (hashed into a fixed set)."""


def customer_lock(customer: Customer) -> str:
    """The registration lock name of a customer (one per RFC)."""
    return f"customer:{customer.rfc}"


def product_lock(item: LineItem) -> str:
    """The registration lock name of a line's product: its SAT product code.

    Coarser than any vendor's own identity of a product (code and name, SKU, unit), so two
    lines a vendor would file as one product can never register it at the same time.
    """
    return f"product:{item.product_code}"


def _canonical_hash(document: FiscalDocument) -> str:
    """SHA-256 of the document's canonical JSON: the same document always hashes the same.

    An invoice hashes as it always did (keys already in journals stay valid); the other
    documents hash with their kind, so a receipt never matches an invoice's key.
    """
    data: Any = to_dict(document)
    if not isinstance(document, Invoice):
        data = {"document": type(document).__name__, "data": data}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


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


def _ambiguous(error: BaseException) -> bool:
    """True when the vendor may have acted on a request although no usable answer came."""
    if isinstance(error, TransportError):
        return error.request_sent
    if isinstance(error, ServerError):
        return True
    return not isinstance(error, ApuntoError)  # a bug after sending: the outcome is unknown


@attrs.define(eq=False)
class StampAttempt:
    """One run of the stamping path for one invoice, handed to the vendor hooks.

    Hooks read :attr:`reference` (what an earlier attempt for the same key stored), store what
    finds the document again with :meth:`remember` *before* sending, and call :meth:`sending`
    right before the request that creates the CFDI. Anything a hook raises before
    :meth:`sending` is known not to have stamped anything.
    """

    provider: InvoiceProvider
    invoice: Invoice
    key: str | None
    claim: Claim | None
    reference: dict[str, str] = attrs.field(factory=dict)
    sent: bool = False
    document: FiscalDocument | None = None
    """The document being stamped (``None``: :attr:`invoice` itself)."""

    @property
    def stamped_document(self) -> FiscalDocument:
        """The document this attempt stamps: :attr:`document`, else the invoice."""
        return self.document if self.document is not None else self.invoice

    @property
    def previous_state(self) -> StampState | None:
        """The key's state before this attempt (``None`` without a key)."""
        return self.claim.record.state if self.claim is not None else None

    def remember(self, **reference: str) -> None:
        """Store (durably, with a key) what finds this document again at the vendor."""
        self.reference.update({name: str(value) for name, value in reference.items()})
        if self.claim is not None:
            self.provider.journal.set_reference(self.claim, self.reference)

    def sending(self, **reference: str) -> None:
        """Record that the request that creates the CFDI is about to leave.

        ``reference`` is what finds this document again at the vendor, stored durably in the
        same journal write (like :meth:`remember`, one write fewer).
        """
        if reference:
            self.reference.update({name: str(value) for name, value in reference.items()})
        if self.claim is not None and not self.sent:
            self.provider.journal.mark_sent(self.claim, self.reference if reference else None)
        elif self.claim is not None and reference:
            self.provider.journal.set_reference(self.claim, self.reference)
        self.sent = True


