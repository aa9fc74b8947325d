"""The three resources of the Actiun API: contacts, items (products or services) and invoices."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

import requests

from .._wire import decode_json, encode_json
from ..errors import Timeout, TransportError, ValidationError
from .inputs import LineItemInput, contact_body, invoice_body, item_body, list_params
from .models import Contact, Deletion, Invoice, InvoiceStatus, Item, decode
from .pagination import Page, iterate_pages

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .client import ActiunClient

__all__ = ["Contacts", "Invoices", "Items"]

T = TypeVar("T", Contact, Item, Invoice)
DocumentFormat = Literal["pdf", "xml"]
_SIGNATURES: dict[str, tuple[bytes, ...]] = {"pdf": (b"%PDF",), "xml": (b"<",)}


class _Resource(Generic[T]):
    """Reading, paging and listing shared by every resource."""

    kind: ClassVar[str] = ""
    model: type[T]

    def __init__(self, client: ActiunClient) -> None:
        self._client = client

    # -- paths and envelopes -----------------------------------------------------------------

    def _path(self, record_id: int | str | None = None) -> str:
        base: str = self._client.spec[f"path.{self.kind}"]
        return base if record_id is None else f"{base}/{_id_segment(record_id)}"

    def _one(self, data: Any) -> T:
        """Unwrap ``{"<singular>": {...}}`` (or the plural key holding one object)."""
        singular, plural = self._client.spec[f"field.envelope.{self.kind}"]
        if isinstance(data, Mapping):
            for key in (singular, plural):
                inner = data.get(key)
                if isinstance(inner, Mapping):
                    return decode(self.model, inner, provider=self._client.provider)
            if "id" in data:  # a server that does not wrap at all
                return decode(self.model, data, provider=self._client.provider)
        raise TransportError(
            f"{self._client.provider}: expected {{{singular!r}: {{...}}}} in the answer, got "
            f"{type(data).__name__}",
            provider=self._client.provider,
            request_sent=True,
        )

    def _many(self, data: Any) -> tuple[T, ...]:
        plural = self._client.spec[f"field.envelope.{self.kind}"][1]
        records = data.get(plural) if isinstance(data, Mapping) else data
        if records is None:
            records = []
        if not isinstance(records, list):
            raise TransportError(
                f"{self._client.provider}: expected a list under {plural!r}",
                provider=self._client.provider,
                request_sent=True,
            )
        return tuple(decode(self.model, record, provider=self._client.provider)
                     for record in records)

    def _send(self, method: str, path: str, body: Any, *, idempotent: bool | None = None) -> Any:
        """Send ``body`` as JSON with amounts written exactly (``Decimal``, never floats)."""
        options: dict[str, Any] = {} if idempotent is None else {"idempotent": idempotent}
        response = self._client.transport.request(
            method, path, data=encode_json(body),
            headers={"Content-Type": "application/json"}, **options,
        )
        return self._decoded(response)

    def _decoded(self, response: requests.Response) -> Any:
        """The JSON answer with amounts kept exact (``Decimal``); ``None`` when empty."""
        try:
            return decode_json(response.content)
        except ValueError:
            # Not JSON: the transport raises its TransportError (request_sent=True).
            return self._client.transport.decode_json(response)

    # -- reading -----------------------------------------------------------------------------

    def get(self, record_id: int | str) -> T:
        """Fetch one record by id."""
        data = self._decoded(self._client.transport.request("GET", self._path(record_id)))
        return self._one(data)

    def _fetch_page(self, number: int, params: Mapping[str, str]) -> Page[T]:
        query = dict(params)
        if number != 1:  # the server treats a missing page as page 1
            query[self._client.spec["field.page"]] = str(number)
        response = self._client.transport.request("GET", self._path(), params=query or None)
        items = self._many(self._decoded(response))
        return Page.from_headers(items, number, response.headers, spec=self._client.spec)

    def _iterate(
        self,
        params: Mapping[str, str],
        *,
        concurrency: int,
        start_page: int,
        max_pages: int | None,
    ) -> Iterator[T]:
        pages = iterate_pages(
            lambda number: self._fetch_page(number, params),
            start=start_page,
            concurrency=concurrency,
            executor=self._client.executor,
            max_pages=max_pages,
        )
        for page in pages:
            yield from page.items


def _id_segment(record_id: int | str) -> str:
    text = str(record_id).strip()
    if not text.isdigit():
        raise ValidationError(f"{record_id!r} is not an Actiun id (a positive integer)",
                              field="id", code="ACTIUN-ID")
    return text


class _Searchable(_Resource[T]):
    """A resource listed by one free-text ``query`` (what it matches depends on the resource)."""

    def page(self, number: int = 1, *, query: str | None = None) -> Page[T]:
        """One page of the records that match ``query``."""
        return self._fetch_page(number, list_params(query=query, spec=self._client.spec))

    def list(
        self,
        query: str | None = None,
        *,
        concurrency: int = 1,
        start_page: int = 1,
        max_pages: int | None = None,
    ) -> Iterator[T]:
        """Every record (that matches ``query``), page after page, lazily."""
        params = list_params(query=query, spec=self._client.spec)
        return self._iterate(params, concurrency=concurrency, start_page=start_page,
                             max_pages=max_pages)


class Contacts(_Searchable[Contact]):
    """``/contacts``: customers and suppliers of the account.

    ``query`` matches the name. Soft-deleted contacts do not appear in :meth:`page` and
    :meth:`list` (the server hides them from searches).
    """

    kind = "contacts"
    model = Contact

    def create(
        self,
        name: str,
        identification: str,
        *,
        billing_address_email: str | None = None,
        alias: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Contact:
        """Create a contact (``identification`` is the RFC in Mexico)."""
        body = contact_body(name=name, identification=identification,
                            billing_address_email=billing_address_email, alias=alias, extra=extra,
                            spec=self._client.spec)
        return self._one(self._send("POST", self._path(), body))

    def update(
        self,
        record_id: int | str,
        *,
        name: str | None = None,
        identification: str | None = None,
        billing_address_email: str | None = None,
        alias: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Contact:
        """Change the given fields of a contact (``PUT``, only what is passed is sent)."""
        body = contact_body(name=name, identification=identification,
                            billing_address_email=billing_address_email, alias=alias,
                            extra=extra, partial=True, spec=self._client.spec)
        data = self._send("PUT", self._path(record_id), body)
        return self._one(data)

    def delete(self, record_id: int | str) -> Deletion:
        """Delete a contact; ``soft`` tells when the server only marked it as deleted.

        A contact with related documents (invoices...) is not removed, only hidden from the
        main searches (the reference's soft delete rule).
        """
        response = self._client.transport.request("DELETE", self._path(record_id))
        data = self._decoded(response)
        if not isinstance(data, Mapping) or not data:
            return Deletion(id=int(_id_segment(record_id)), soft=False)
        contact = self._one(data)
        soft = contact.marked_deleted(self._client.spec["field.soft_delete"])
        return Deletion(id=contact.id, soft=soft, record=contact)

    def find_by_identification(
        self, identification: str, *, name_hint: str | None = None, concurrency: int = 4
    ) -> Contact | None:
        """The live contact whose ``identification`` (RFC) is ``identification``, if any.

        The API searches by name only, so the contacts named like ``name_hint`` are looked at
        first and, when none matches, every contact is scanned (pages fetched concurrently).
        """
        wanted = _normalized_id(identification)
        deleted_fields = self._client.spec["field.soft_delete"]

        def matches(contact: Contact) -> bool:
            return _normalized_id(contact.identification) == wanted and not contact.marked_deleted(
                deleted_fields
            )

        if name_hint:
            found = next((c for c in self.list(query=name_hint) if matches(c)), None)
            if found is not None:
                return found
        return next((c for c in self.list(concurrency=concurrency) if matches(c)), None)


def _normalized_id(value: str | None) -> str:
    return "".join((value or "").split()).upper()


class Items(_Searchable[Item]):
    """``/items``: the products and services the account sells or buys.

    ``query`` matches the name or the description.
    """

    kind = "items"
    model = Item

    def create(
        self,
        name: str,
        price: Decimal | str | int,
        product_key_code: str,
        unit_key_code: str,
        *,
        units: str | None = None,
        description: str | None = None,
        sku: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Item:
        """Create a product or service with its SAT product and unit keys.

        The server wraps this answer in ``items`` (plural); it is read all the same.
        """
        body = item_body(name=name, price=price, product_key_code=product_key_code,
                         unit_key_code=unit_key_code, units=units, description=description,
                         sku=sku, extra=extra, spec=self._client.spec)
        return self._one(self._send("POST", self._path(), body))

    def update(
        self,
        record_id: int | str,
        *,
        name: str | None = None,
        price: Decimal | str | int | None = None,
        product_key_code: str | None = None,
        unit_key_code: str | None = None,
        units: str | None = None,
        description: str | None = None,
        sku: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Item:
        """Change the given fields of an item (``PUT``, only what is passed is sent)."""
        body = item_body(name=name, price=price, product_key_code=product_key_code,
                         unit_key_code=unit_key_code, units=units, description=description,
                         sku=sku, extra=extra, partial=True, spec=self._client.spec)
        data = self._send("PUT", self._path(record_id), body)
        return self._one(data)

    def delete(self, record_id: int | str) -> Deletion:
        """Delete an item (the server answers ``204 No Content``)."""
        self._client.transport.request("DELETE", self._path(record_id))
        return Deletion(id=int(_id_segment(record_id)), soft=False)


class Invoices(_Resource[Invoice]):
    """``/invoices``: sales invoices (facturas de venta)."""

    kind = "invoices"
    model = Invoice

    def page(
        self,
        number: int = 1,
        *,
        order_field: str | None = None,
        order_direction: str | None = None,
    ) -> Page[Invoice]:
        """One page of invoices, ordered by ``order_field`` ``order_direction`` (ASC/DESC)."""
        params = list_params(order_field=order_field, order_direction=order_direction,
                             spec=self._client.spec)
        return self._fetch_page(number, params)

    def list(
        self,
        *,
        order_field: str | None = None,
        order_direction: str | None = None,
        concurrency: int = 1,
        start_page: int = 1,
        max_pages: int | None = None,
    ) -> Iterator[Invoice]:
        """Every invoice, lazily; ``concurrency`` pages are fetched at once, order kept.

        Raises:
            ValidationError: (before any request) ``order_field`` not in id, date, due_at,
                status, created_at, or ``order_direction`` not ASC/DESC.
        """
        params = list_params(order_field=order_field, order_direction=order_direction,
                             spec=self._client.spec)
        return self._iterate(params, concurrency=concurrency, start_page=start_page,
                             max_pages=max_pages)

    def create(
        self,
        client_id: int,
        line_items: Sequence[LineItemInput | Mapping[str, Any]],
        *,
        payment_method_code: str,
        date: date | str | None = None,
        due_offset_days: int | None = None,
        currency_code: str | None = None,
        exchange_rate: Decimal | str | int | None = None,
        type_code: str | None = None,
        payment_type_code: str | None = None,
        cfdi_use_code: str | None = None,
        description: str | None = None,
        account_number: str | None = None,
    ) -> Invoice:
        """Create (and have the server stamp) a sales invoice.

        The request is sent once: it is never retried after the server may have received it,
        because a repeat could issue a second CFDI.

        Raises:
            ValidationError: (before any request) unknown codes, PPD with a payment method
                other than ``other``, no lines, bad amounts.
        """
        body = invoice_body(
            client_id=client_id, line_items=line_items, payment_method_code=payment_method_code,
            date=date, due_offset_days=due_offset_days, currency_code=currency_code,
            exchange_rate=exchange_rate, type_code=type_code,
            payment_type_code=payment_type_code, cfdi_use_code=cfdi_use_code,
            description=description, account_number=account_number, spec=self._client.spec,
        )
        data = self._send("POST", self._path(), body, idempotent=False)
        return self._one(data)

    def wait_while_stamping(
        self,
        invoice: Invoice | int | str,
        *,
        timeout: float = 60.0,
        interval: float = 1.0,
    ) -> Invoice:
        """Poll the invoice until its status is no longer ``stamping`` (bounded by ``timeout``).

        Raises:
            Timeout: still stamping after ``timeout`` seconds (``request_sent`` is ``True``:
                the invoice exists; look it up later instead of creating it again).
        """
        current = invoice if isinstance(invoice, Invoice) else self.get(invoice)
        deadline = self._client.clock() + timeout
        wait = max(interval, 0.0)
        while current.status is InvoiceStatus.STAMPING:
            if self._client.clock() + wait > deadline:
                raise Timeout(
                    f"{self._client.provider}: invoice {current.id} is still stamping after "
                    f"{timeout:g}s; fetch it again later",
                    provider=self._client.provider,
                    request_sent=True,
                )
            self._client.sleep(wait)
            current = self.get(current.id)
            wait = min(wait * 1.5, max(interval, 5.0))
        return current

    def download(self, invoice: Invoice | int | str, fmt: DocumentFormat | str) -> bytes:
        """The invoice's PDF or XML, fetched from its attachment's ``download_url``.

        The key goes along only to hosts the client trusts (see
        :class:`~apunto_connect.actiun.client.ActiunClient`), so a pre-signed storage URL
        still works and the key never reaches a third party.

        Raises:
            ValidationError: ``fmt`` is not ``pdf`` or ``xml``.
            NotFound: the invoice has no such attachment (not stamped yet?).
        """
        wanted = str(fmt).strip().lower()
        if wanted not in _SIGNATURES:
            raise ValidationError(f"{fmt!r} is not a format; use 'pdf' or 'xml'",
                                  field="fmt", code="ACTIUN-FORMAT")
        record = invoice if isinstance(invoice, Invoice) else self.get(invoice)
        attachment = record.attachment(wanted)
        if attachment is None or not attachment.download_url:
            from ..errors import NotFound

            status = record.status_text or "unknown"
            raise NotFound(
                f"invoice {record.id} has no {wanted.upper()} attachment (status {status})",
                provider=self._client.provider,
            )
        response = self._client.transport.request(
            "GET", attachment.download_url, headers={"Accept": "*/*"}
        )
        return _checked_document(self._client.provider, response, wanted)


def _checked_document(provider: str, response: requests.Response, fmt: str) -> bytes:
    content = response.content
    head = content.lstrip(b"\xef\xbb\xbf \t\r\n")[:16].lower()
    is_html = head.startswith((b"<!doctype", b"<html"))
    if not head.startswith(tuple(s.lower() for s in _SIGNATURES[fmt])) or is_html:
        kind = response.headers.get("Content-Type", "no content type")
        raise TransportError(
            f"{provider}: expected a {fmt.upper()} from {response.url}, got {kind} "
            f"({len(content)} bytes)",
            provider=provider,
            request_sent=True,
        )
    return content
