"""Actiun: CFDI sales invoices through the Actiun API, behind the invoicing interface.

Actiun is a Mexican invoicing and accounting web app whose REST API (developers.actiun.com)
creates contacts, products or services (items) and sales invoices, and stamps the invoices as
CFDI. The full client lives in :mod:`apunto_connect.actiun`; this provider adapts the SDK's
:class:`~apunto_connect.models.Invoice` to it.

Base URL and auth (public): ``https://api.actiun.com`` (no public test host: ``environment``
only accepts ``"production"``; point ``base_url`` at any compatible server, or use
:class:`apunto_connect.Sandbox`). The account's private key travels in ``Authorization``
exactly as the reference's examples show (no scheme).

How a stamp works here:

1. local pre-flight (:func:`apunto_connect.sat.preflight` plus Actiun's own limits,
   :func:`~apunto_connect.invoicing.actiun.mapping.actiun_issues`) before any request;
2. the customer is found by RFC (``identification``) — the API searches by name only, so the
   contacts named like the customer are looked at first, then every contact — or created;
3. each line's product is found by SKU or name with the same SAT product and unit keys, or
   created;
4. ``POST /invoices`` with the SAT payment form mapped to ``payment_method_code``
   (``SPEC["value.sat_payment_forms"]``), PUE/PPD, the CFDI use, currency and taxes by tax id;
5. while the invoice is ``stamping`` the provider polls (bounded by ``stamp_wait``, with an
   injectable ``sleep``); ``opened`` (or later) with a SAT UUID is a stamped invoice,
   ``drafted`` without one is :class:`~apunto_connect.errors.StampRejected`.

Never twice: the create is sent once (no retry after the server may have got it). If the
answer is lost (``TransportError`` with ``request_sent=True``), calling :meth:`stamp` again with
the same ``idempotency_key`` first looks for the invoice among those newer than the first attempt
(same customer, lines and total, not claimed by another key) and only creates it when it is not
there. Actiun has no dedupe reference, so with a key the provider notes the newest invoice id
before creating (one extra ``GET /invoices``) and keeps it in the journal.

What the reference does not offer, this provider does not pretend to: there is **no
cancellation** (``cancel`` raises :class:`~apunto_connect.errors.UnsupportedOperation` before any
request, and ``Capability.CANCEL`` is not declared), Actiun assigns the series and number
itself (``Invoice.series``/``folio`` are ignored), and a contact carries no régimen fiscal or
postal code through the API (keep them up to date in Actiun itself).

Assumed (in :data:`~apunto_connect.invoicing.actiun.spec.SPEC`, changed with ``spec={...}``):
the tax ids other than 1 (IVA 16 %) and 2 (IVA 0 %) — pass ``tax_ids=`` with your account's
ids — and the line fields ``retentions``, ``description`` and ``discount`` (a percentage).

Sources: the Actiun API reference (developers.actiun.com), the SAT's c_FormaPago catalog.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import requests

from ..._overrides import warn_renamed
from ...actiun.client import CREDENTIALS as CLIENT_CREDENTIALS
from ...actiun.client import ActiunClient
from ...actiun.inputs import LineItemInput
from ...actiun.models import Contact
from ...actiun.models import Invoice as ActiunInvoice
from ...credentials import CredentialField, Secret
from ...errors import (
    AuthenticationError,
    ConfigurationError,
    Issue,
    NotFound,
    StampRejected,
    ValidationError,
)
from ...http import TimeoutValue
from ...journal import JournalStore
from ...models.common import Capability, ConnectionStatus
from ...models.invoices import (
    Cancellation,
    CancelMotive,
    Invoice,
    LineItem,
    StampedInvoice,
)
from ...models.parties import Customer, Issuer
from ...vendor_spec import VendorSpec
from ..attempts import customer_lock, product_lock
from ..base import DownloadFormat, InvoiceProvider, StampAttempt
from .mapping import (
    PROVIDER,
    TaxKey,
    _as_int,
    _catalog_tax_ids,
    _signature,
    _signature_text,
    actiun_issues,
    actiun_to_stamped,
    invoice_to_actiun,
    line_to_actiun,
)
from .spec import SPEC

__all__ = ["CREDENTIALS", "ActiunInvoiceProvider"]

CREDENTIALS: tuple[CredentialField, ...] = CLIENT_CREDENTIALS
"""``api_key``: the account's private key (``APUNTO_ACTIUN_API_KEY``)."""

_ENVIRONMENTS = frozenset({"production"})

_RENAMED = {"stamp_timeout": "stamp_wait", "poll_interval": "stamp_poll_interval"}
"""Keywords of earlier releases and their names in the shared vocabulary."""


def _renamed(old: str, value: float | None, new_value: float) -> float:
    """``value`` given under an old keyword (with a warning), else the new keyword's value."""
    if value is None:
        return new_value
    warn_renamed("ActiunInvoiceProvider", old, _RENAMED[old], stacklevel=3)
    return value


class ActiunInvoiceProvider(InvoiceProvider):
    """Stamp, fetch, download and list CFDI through Actiun (no cancellation in its API).

    Args:
        api_key: the account's private key (else ``APUNTO_ACTIUN_API_KEY`` or the keyring).
        base_url: another Actiun-compatible server.
        environment: only ``"production"`` (Actiun has no public test host).
        session, timeout, max_retries, sleep, clock: transport options (see
            :class:`~apunto_connect.actiun.ActiunClient`).
        issuer: the account owner, for the SAT pre-flight checks that need it.
        tax_ids: ``{(name, rate, withholding): tax_id}`` of the account, merged over the ids of
            ``SPEC["value.taxes"]`` (:data:`~apunto_connect.invoicing.actiun.DEFAULT_TAX_IDS`).
        type_code: Actiun document type (FACT, ARR, DON, HON).
        stamp_wait: longest wait, in seconds, for an invoice to leave ``stamping``.
        stamp_poll_interval: first wait between polls (grows up to 5 s).
        concurrency: pages fetched at once when scanning (contacts by RFC, UUID look-ups, list).
        client: an :class:`~apunto_connect.actiun.ActiunClient` to use instead of building one
            (it brings its own ``spec``).
        journal: the stamping journal (see :doc:`idempotency`).
        spec: overrides of :data:`~apunto_connect.invoicing.actiun.spec.SPEC`, e.g.
            ``{"path.invoices": "/v2/invoices"}``; unknown keys are refused.
        stamp_timeout, poll_interval: the earlier names of ``stamp_wait`` and
            ``stamp_poll_interval`` (deprecated, still accepted for one release).
    """

    name = PROVIDER
    finds_existing = True  # by the invoice id, or by scanning newer invoices after a lost create
    capabilities = frozenset(
        {Capability.STAMP, Capability.GET, Capability.DOWNLOAD_XML, Capability.DOWNLOAD_PDF,
         Capability.LIST}
    )

    def __init__(
        self,
        *,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        environment: str = "production",
        session: requests.Session | None = None,
        timeout: TimeoutValue | None = None,
        max_retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        issuer: Issuer | None = None,
        tax_ids: Mapping[TaxKey, int] | None = None,
        type_code: str = "FACT",
        stamp_wait: float = 120.0,
        stamp_poll_interval: float = 2.0,
        concurrency: int = 4,
        client: ActiunClient | None = None,
        journal: JournalStore | str | None = None,
        spec: Mapping[str, object] | None = None,
        stamp_timeout: float | None = None,
        poll_interval: float | None = None,
    ) -> None:
        if environment not in _ENVIRONMENTS:
            raise ConfigurationError(
                f"Actiun has no {environment!r} environment (only production); use base_url= "
                "for another compatible server or apunto_connect.Sandbox() to work offline"
            )
        if client is not None and spec is not None:
            raise ConfigurationError(
                "spec= cannot change a client that is passed in; build the ActiunClient with "
                "spec= instead"
            )
        self.spec: VendorSpec = client.spec if client is not None else SPEC.with_overrides(spec)
        type_codes = self.spec["value.type_codes"]
        if type_code not in type_codes:
            raise ConfigurationError(
                f"type_code {type_code!r} is not one of {', '.join(type_codes)}"
            )
        self.environment = environment
        self._owns_client = client is None
        self.client = client or ActiunClient(
            api_key, base_url, session=session, timeout=timeout, max_retries=max_retries,
            sleep=sleep, clock=clock, max_workers=max(1, concurrency), provider=PROVIDER,
            spec=self.spec,
        )
        self.issuer = issuer
        self.tax_ids: dict[TaxKey, int] = {
            **_catalog_tax_ids(self.spec["value.taxes"]), **(tax_ids or {})
        }
        self.type_code = type_code
        self.stamp_wait = _renamed("stamp_timeout", stamp_timeout, stamp_wait)
        self.stamp_poll_interval = _renamed("poll_interval", poll_interval, stamp_poll_interval)
        self.concurrency = max(1, concurrency)
        self._lock = threading.Lock()
        self._contacts: dict[str, int] = {}
        self._items: dict[tuple[str, str, str], tuple[int, str | None]] = {}
        self._set_journal(journal)
        self._configured_issuer = issuer
        self._uuids: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"ActiunInvoiceProvider(base_url={self.client.base_url!r})"

    def release(self) -> None:
        """Close the connections and listing threads of the client it built (not a given one)."""
        if self._owns_client:
            self.client.close()

    # -- account ------------------------------------------------------------------------------

    def _check_connection(self) -> ConnectionStatus:
        """Read the first page of contacts; refused credentials give ``ok=False``."""
        try:
            page = self.client.contacts.page(1)
        except AuthenticationError as exc:
            return ConnectionStatus(provider=PROVIDER, ok=False, environment=self._environment(),
                                    detail=exc.message)
        return ConnectionStatus(
            provider=PROVIDER,
            ok=True,
            environment=self._environment(),
            detail=f"Actiun API at {self.client.base_url}",
            extra={"contacts": page.total, "per_page": page.per_page},
        )

    def _environment(self) -> str:
        base = self.spec["path.base_url"].rstrip("/")
        return self.environment if self.client.base_url == base else "custom"

    def _journal_account(self) -> str:
        return self.client.account_fingerprint()

    # -- stamping hooks -----------------------------------------------------------------------

    def _vendor_issues(self, invoice: Invoice) -> list[Issue]:
        return actiun_issues(invoice, self.tax_ids, self.spec)

    def _prepare_stamp(self, invoice: Invoice) -> tuple[int, list[LineItemInput]]:
        """Find or create the contact and the items; the create call's arguments."""
        client_id = self._ensure_contact(invoice.customer)
        lines = [self._line(item, invoice.currency) for item in invoice.items]
        return client_id, lines

    def _send_stamp(self, attempt: StampAttempt, prepared: Any) -> StampedInvoice:
        """Create the invoice in Actiun, wait while it is stamping, return it stamped.

        Actiun has no idempotency key or free-text field to mark the invoice with. With a key,
        what finds a lost create again is stored first: the newest invoice id before it (ids
        grow), the contact, the lines and the total.

        Raises:
            StampRejected: Actiun left the invoice ``drafted`` without a SAT stamp.
            Timeout: still ``stamping`` after ``stamp_wait`` (the invoice id is kept: a
                repeat with the same key waits for it instead of creating another).
        """
        client_id, lines = prepared
        invoice = attempt.invoice
        arguments = invoice_to_actiun(invoice, client_id, lines, type_code=self.type_code,
                                      spec=self.spec)
        recovery: dict[str, str] = {}
        if attempt.key is not None:
            recovery = {
                "newest_before": str(self._newest_invoice_id()),
                "client_id": str(client_id),
                "signature": _signature_text(_signature(lines)),
                "total": str(invoice.total),
            }
        attempt.sending(**recovery)
        created = self.client.invoices.create(**arguments)
        if attempt.key is not None:
            attempt.remember(invoice_id=str(created.id))
        return self._finish(created)

    def _can_find(self, attempt: StampAttempt) -> bool:
        return "invoice_id" in attempt.reference or "newest_before" in attempt.reference

    def _find_existing(self, attempt: StampAttempt) -> StampedInvoice | None:
        """The invoice this key created, if Actiun has it.

        By its id when the create answered, else the newest invoice after ``newest_before``
        with the same contact, lines and total that no other key of this journal holds.
        """
        invoice_id = _as_int(attempt.reference.get("invoice_id"))
        if invoice_id is None:
            invoice_id = self._recover(attempt.reference)
            if invoice_id is None:
                return None
            attempt.remember(invoice_id=str(invoice_id))
        return self._finish(self.client.invoices.get(invoice_id))

    def _finish(self, invoice: ActiunInvoice) -> StampedInvoice:
        settled = self.client.invoices.wait_while_stamping(
            invoice, timeout=self.stamp_wait, interval=self.stamp_poll_interval
        )
        if not settled.sat_uuid:
            status = settled.status_text or "unknown"
            raise StampRejected(
                f"Actiun left invoice {settled.id} as '{status}' without a SAT stamp; open it "
                "in Actiun to see why",
                provider=PROVIDER,
                details={"invoice_id": settled.id, "status": status},
            )
        with self._lock:
            self._uuids[settled.sat_uuid.upper()] = settled.id
        return actiun_to_stamped(settled)

    def _newest_invoice_id(self) -> int:
        page = self.client.invoices.page(1, order_field="id", order_direction="DESC")
        return max((invoice.id for invoice in page.items), default=0)

    def _recover(self, reference: Mapping[str, str]) -> int | None:
        """The id of the invoice a lost create made, if it exists."""
        newest_before = _as_int(reference.get("newest_before")) or 0
        client_id = _as_int(reference.get("client_id"))
        signature = reference.get("signature")
        total = Decimal(reference.get("total") or "0")
        claimed = {
            record.vendor_id
            for record in self.journal.records(vendor=self.name)
            if record.account == self._journal_account() and record.vendor_id
        }
        newest_first = self.client.invoices.list(order_field="id", order_direction="DESC")
        for candidate in newest_first:
            if candidate.id <= newest_before:
                return None
            if str(candidate.id) in claimed or not candidate.client or \
                    candidate.client.id != client_id:
                continue
            lines = tuple(sorted(
                (line.item_id or 0, (line.quantity or Decimal(0)).normalize(),
                 (line.price or Decimal(0)).normalize())
                for line in candidate.line_items
            ))
            if _signature_text(lines) == signature and candidate.total == total:
                return candidate.id
        return None

    # -- stamping hooks: the contact and items an invoice refers to --------------------------

    def _batch_registrations(
        self, invoices: Sequence[Invoice]
    ) -> list[tuple[str, Callable[[], object]]]:
        """Each distinct contact and item of the batch, found or created on its own."""
        work: dict[object, tuple[str, Callable[[], object]]] = {}
        for invoice in invoices:
            customer = invoice.customer
            work.setdefault(("contact", customer.rfc), (
                customer_lock(customer), functools.partial(self._ensure_contact, customer)
            ))
            for item in invoice.items:
                work.setdefault(("item", *_item_key(item)), (
                    product_lock(item), functools.partial(self._ensure_item, item)
                ))
        return list(work.values())

    def _ensure_contact(self, customer: Customer) -> int:
        with self._lock:
            cached = self._contacts.get(customer.rfc)
        if cached is not None:
            return cached
        contacts = self.client.contacts
        found: Contact | None = contacts.find_by_identification(
            customer.rfc, name_hint=customer.legal_name, concurrency=self.concurrency
        )
        if found is None:
            found = contacts.create(customer.legal_name, customer.rfc,
                                    billing_address_email=customer.email)
            self._customer_created(customer, str(found.id))
        elif (found.name or "").strip().upper() != customer.legal_name:
            # The CFDI carries the contact's name; the SAT compares it with its records.
            found = contacts.update(found.id, name=customer.legal_name)
        with self._lock:
            self._contacts[customer.rfc] = found.id
        return found.id

    def _line(self, item: LineItem, currency: str) -> LineItemInput:
        item_id, description = self._ensure_item(item)
        return line_to_actiun(item, item_id, currency, self.tax_ids,
                              catalog_description=description)

    def _ensure_item(self, item: LineItem) -> tuple[int, str | None]:
        name = item.product_name
        key = _item_key(item)
        with self._lock:
            cached = self._items.get(key)
        if cached is not None:
            return cached
        for candidate in self.client.items.list(query=name):
            same_product = (
                (candidate.sku == item.sku) if item.sku
                else (candidate.name or "").strip().casefold() == name.casefold()
            )
            keys = (
                candidate.product_key.value if candidate.product_key else None,
                candidate.unit_key.value if candidate.unit_key else None,
            )
            if same_product and keys == (item.product_code, item.unit_code):
                found = (candidate.id, candidate.description)
                break
        else:
            created = self.client.items.create(
                name, item.unit_price, item.product_code, item.unit_code,
                units=item.unit_name, description=item.description, sku=item.sku,
            )
            found = (created.id, created.description)
        with self._lock:
            self._items[key] = found
        return found

    # -- reading ------------------------------------------------------------------------------

    def _invoice(self, ref: str) -> ActiunInvoice:
        text = str(ref).strip()
        if text.isdigit():
            return self.client.invoices.get(int(text))
        wanted = text.upper()
        with self._lock:
            known = self._uuids.get(wanted)
        if known is not None:
            return self.client.invoices.get(known)
        for candidate in self.client.invoices.list(order_field="created_at",
                                                   order_direction="DESC",
                                                   concurrency=self.concurrency):
            if (candidate.sat_uuid or "").upper() == wanted:
                return candidate
        raise NotFound(f"no Actiun invoice with id or UUID {ref!r}", provider=PROVIDER,
                       status_code=404)

    def get(self, ref: str) -> StampedInvoice:
        """Fetch by Actiun id, or by SAT UUID (scans the invoices, newest first)."""
        self.require(Capability.GET)
        return actiun_to_stamped(self._invoice(ref))

    def download(self, ref: str, fmt: DownloadFormat) -> bytes:
        """The CFDI XML or the PDF, from the invoice's attachments."""
        self.require(Capability.DOWNLOAD_XML if fmt == "xml" else Capability.DOWNLOAD_PDF)
        return self.client.invoices.download(self._invoice(ref), fmt)

    def list(self, **filters: Any) -> Iterator[StampedInvoice]:
        """Every invoice, lazily.

        Filters: ``order_field`` (id, date, due_at, status, created_at), ``order_direction``
        (ASC, DESC), ``concurrency`` (pages at once), ``max_pages``.
        """
        self.require(Capability.LIST)
        unknown = set(filters) - {"order_field", "order_direction", "concurrency", "max_pages"}
        if unknown:
            raise ValidationError(f"unknown filters {sorted(unknown)}; Actiun lists by "
                                  "order_field, order_direction", field="filters")
        options = {"concurrency": self.concurrency, **filters}
        invoices = self.client.invoices.list(**options)  # validates before the first request
        return (actiun_to_stamped(invoice) for invoice in invoices)

    # -- cancelling ---------------------------------------------------------------------------

    def cancel(
        self, ref: str, motive: CancelMotive, replacement_uuid: str | None = None
    ) -> Cancellation:
        """Not offered by Actiun's API: raises before any request."""
        self.require(Capability.CANCEL, "Actiun's API has no cancellation; cancel the CFDI in "
                                        "the Actiun web app.")
        raise AssertionError("unreachable")  # pragma: no cover


def _item_key(item: LineItem) -> tuple[str, str, str]:
    """What makes two lines one Actiun item: SKU (else name), SAT product and unit codes."""
    return (item.sku or item.product_name.casefold(), item.product_code, item.unit_code)
