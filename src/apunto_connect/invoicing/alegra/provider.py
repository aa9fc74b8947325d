"""The Alegra provider: construction, account, stamping hooks, reading, cancelling.

Alegra computes the amounts from catalog ids, so a stamp first makes sure the customer exists
as a *contact* (found by RFC), each line as an *item* carrying its SAT product key and every tax
as a tax (transferred) or a retention (withheld); then ``POST /invoices`` with
``stamp.generateStamp``. :meth:`AlegraProvider.stamp_many` creates drafts and stamps them with
``POST /invoices/stamp`` (at most ``limit.stamp_batch`` ids per call). Files come back as URLs
and may appear some seconds after stamping, so :meth:`AlegraProvider.download` polls with a
bounded wait. Every request goes through :class:`~apunto_connect.http.Transport`, paced to
Alegra's per-minute budget by :class:`RateLimitBucket` from the answers' rate headers.

Paths and field names come from ``self.spec`` (:data:`.spec.SPEC` with the caller's
``spec=`` overrides); the body mappers are in :mod:`.mapping`, the error mapper in
:mod:`.errors`.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import attrs
import requests

from ..._pacing import HeaderPacedBucket, PacedBasicAuth
from ..._wire import decode_answer, encode_json, is_uuid, mexico_now, monotonic, utc_now
from ...credentials import CredentialField, Secret, resolve_credentials
from ...errors import (
    ApuntoError,
    AuthenticationError,
    ConfigurationError,
    Issue,
    NotFound,
    PermissionDenied,
    ProviderError,
    Severity,
    StampRejected,
    Timeout,
    TransportError,
    ValidationError,
)
from ...http import DEFAULT_TIMEOUT, RetryPolicy, TimeoutValue, Transport
from ...journal import JournalStore
from ...models.common import Capability, ConnectionStatus
from ...models.invoices import (
    Cancellation,
    CancelMotive,
    Invoice,
    InvoiceStatus,
    LineItem,
    StampedInvoice,
)
from ...models.parties import Customer, Issuer
from ...sat import validate_cancellation
from ...vendor_spec import VendorSpec
from ..base import DownloadFormat, InvoiceProvider, StampAttempt
from ..bulk import StampOutcome as _BulkStampOutcome
from .errors import alegra_error, stamp_result_error
from .mapping import (
    PROVIDER,
    TaxRef,
    _get,
    _text,
    alegra_issues,
    alegra_tax_matches,
    alegra_to_cancellation,
    alegra_to_stamped,
    answer_rows,
    cancel_to_alegra,
    contact_is_current,
    contact_matches,
    customer_to_alegra,
    idempotency_marker,
    invoice_to_alegra,
    item_matches,
    line_to_alegra_item,
    list_params,
    tax_ref,
    tax_to_alegra,
)
from .spec import PRODUCTION_URL, SPEC, with_legacy_keys

__all__ = ["CREDENTIALS", "AlegraProvider", "RateLimitBucket", "StampOutcome"]

CREDENTIALS: tuple[CredentialField, ...] = (
    CredentialField("email", secret=False, env_aliases=("APUNTO_ALEGRA_USERNAME",)),
    CredentialField("token", env_aliases=("APUNTO_ALEGRA_API_KEY",)),
)

_ALLOWED_ENVIRONMENTS = frozenset({"production"})
_EMAIL = re.compile(r"^[^@\s:]+@[^@\s:]+\.[^@\s:]{2,}$")
_LOOKUP_PAGES = 2  # newest pages scanned for an idempotency marker (2 × 30 invoices)
_UUID_SCAN_PAGES = 10  # pages scanned when ``get``/``download`` receive a UUID
_MAX_PAGES = 100_000  # a server that ignores ``start`` must not make list() loop forever
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


# -- pacing -----------------------------------------------------------------------------------


class RateLimitBucket(HeaderPacedBucket):
    """Alegra's request budget: 150 per user and minute, announced in ``X-Rate-Limit-*``.

    A :class:`~apunto_connect._pacing.HeaderPacedBucket` with Alegra's budget and header names
    from the spec (``limit.requests_per_minute``, ``header.rate_*``).

    Args:
        limit: requests per window (150 at Alegra).
        window: window length in seconds.
        clock: monotonic seconds (injectable for tests).
        sleep: how to wait (injectable for tests; the sandbox passes its clock's sleep).
        spec: where the budget and the headers' names come from.
    """

    def __init__(
        self,
        limit: int | None = None,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = monotonic,
        sleep: Callable[[float], None] = time.sleep,
        spec: Mapping[str, Any] = SPEC,
    ) -> None:
        limit_name, left_name = spec["header.rate_limit"], spec["header.rate_remaining"]
        names = (limit_name, left_name, spec["header.rate_reset"])
        super().__init__(
            int(spec["limit.requests_per_minute"]) if limit is None else limit,
            window,
            headers=names,
            clock=clock,
            sleep=sleep,
        )


# What happened to one invoice of ``stamp_many``: the outcome every vendor shares.
StampOutcome = _BulkStampOutcome


# -- the provider -------------------------------------------------------------------------------


class AlegraProvider(InvoiceProvider):
    """CFDI 4.0 sales invoices through Alegra (Mexico).

    Args:
        email: the Alegra account e-mail (Basic user name); must be an e-mail.
        token: the API token (Basic password).
        base_url: another server speaking Alegra's API (the loopback sandbox, a proxy).
        environment: only ``"production"``: Alegra has no public test host for Mexico.
        session: a :class:`requests.Session` to send everything through.
        timeout: ``(connect, read)`` seconds.
        max_retries: retries of safe requests (stamping is never retried blindly).
        sleep: how to wait (pacing, polling, retries); the sandbox passes its clock's.
        clock: monotonic seconds (pacing, polling deadlines, retries).
        now: the aware current time; the invoice date is its Mexico City date.
        spec: overrides of :data:`~apunto_connect.invoicing.alegra.SPEC` (paths, field names,
            limits); unknown keys are refused.
        api: deprecated, the old ``ALEGRA_API`` keys (``cancel.motive``); use ``spec=``
            (``field.cancel.motive``).
        issuer: the account's fiscal identity, for pre-flight rules that need it and for
            ``issuer_rfc`` in results (Alegra always issues as the account owner).
        rate_limit: requests per minute to pace to (Alegra's published 150 by default).
        file_wait: seconds to wait for the XML/PDF URLs after stamping.
        file_poll_interval: seconds between file polls.
        journal: the stamping journal (``docs/idempotency.md``).
    """

    name: ClassVar[str] = PROVIDER
    finds_existing: ClassVar[bool] = True  # by the key's marker in the observations
    asks_before_first_send: ClassVar[bool] = True  # a refused or batch attempt leaves drafts
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.STAMP,
            Capability.STAMP_MANY,
            Capability.GET,
            Capability.DOWNLOAD_XML,
            Capability.DOWNLOAD_PDF,
            Capability.CANCEL,
            Capability.LIST,
            Capability.SEND_EMAIL,
        }
    )

    def __init__(
        self,
        *,
        email: str | None = None,
        token: str | Secret | None = None,
        base_url: str | None = None,
        environment: str = "production",
        session: requests.Session | None = None,
        timeout: TimeoutValue | None = None,
        max_retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = monotonic,
        now: Callable[[], datetime] = utc_now,
        spec: Mapping[str, Any] | VendorSpec | None = None,
        issuer: Issuer | None = None,
        rate_limit: int | None = None,
        file_wait: float = 30.0,
        file_poll_interval: float = 1.0,
        journal: JournalStore | str | None = None,
        api: Mapping[str, str] | None = None,
    ) -> None:
        if environment not in _ALLOWED_ENVIRONMENTS:
            raise ConfigurationError(
                f"Alegra has no {environment!r} environment for Mexico (only production); "
                "use apunto_connect.Sandbox() to work offline"
            )
        creds = resolve_credentials(PROVIDER, CREDENTIALS, {"email": email, "token": token})
        self.email = _validated_email(str(creds["email"]))
        secret: Secret = creds["token"]
        self.environment = environment
        self.spec = SPEC.with_overrides(with_legacy_keys(spec, api))
        self.issuer = issuer
        self.file_wait = file_wait
        self.file_poll_interval = max(file_poll_interval, 0.01)
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._page_size = int(self.spec["limit.page_size"])
        self.rate_limiter = RateLimitBucket(rate_limit, clock=clock, sleep=sleep, spec=self.spec)
        retry = RetryPolicy().with_max_retries(max_retries)
        common: dict[str, Any] = {
            "timeout": timeout or DEFAULT_TIMEOUT,
            "retry": retry,
            "session": session,
            "error_mapper": functools.partial(alegra_error, spec=self.spec),
            "secrets": (secret.reveal(),),
            "sleep": sleep,
            "clock": clock,
        }
        self.base_url = (base_url or PRODUCTION_URL).rstrip("/")
        self.transport = Transport(
            PROVIDER,
            self.base_url,
            auth=PacedBasicAuth(self.email, secret, self.rate_limiter),
            **common,
        )
        # File URLs may point at a storage host: never send the account's credentials there.
        self._files = Transport(PROVIDER, self.base_url, auth=None, **common)
        self._cache_lock = threading.Lock()
        self._contacts: dict[tuple[str, str], str] = {}
        self._items: dict[tuple[str, str, str, str], str] = {}
        self._taxes: dict[TaxRef, str] = {}
        self._set_journal(journal)
        self._configured_issuer = issuer
        self._account_rfc: str | None = issuer.rfc if issuer else None

    def __repr__(self) -> str:
        return f"AlegraProvider(email={self.email!r}, base_url={self.base_url!r})"

    def release(self) -> None:
        """Close the connection pools this provider opened."""
        self.transport.close()
        self._files.close()

    # -- construction: low-level I/O -----------------------------------------------------------

    def _path(self, key: str, **params: str) -> str:
        # Ids come from callers: quoted, so "1/void" or "../company" cannot reach another path.
        return str(self.spec[key]).format(**{k: quote(v, safe="") for k, v in params.items()})

    def _get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return decode_answer(self.transport.request("GET", path, params=params), self.transport)

    def _send_json(
        self, method: str, path: str, body: Any, *, idempotent: bool | None = None
    ) -> Any:
        response = self.transport.request(
            method, path, data=encode_json(body), headers=_JSON_HEADERS, idempotent=idempotent
        )
        return decode_answer(response, self.transport)

    # -- account -------------------------------------------------------------------------------

    def _check_connection(self) -> ConnectionStatus:
        """Read the company behind the credentials (``GET /company``).

        Refused credentials (401) or an account whose plan has no API access (403) give
        ``ok=False`` with Alegra's message; other failures raise.
        """
        try:
            company = self._get_json(self._path("path.company"))
        except (AuthenticationError, PermissionDenied) as exc:
            return ConnectionStatus(
                provider=PROVIDER, ok=False, environment=self.environment, detail=exc.message
            )
        company = company if isinstance(company, Mapping) else {}
        name = _text(company.get("name"))
        rfc = _text(company.get("identification"))
        if rfc and self._account_rfc is None:
            self._account_rfc = rfc.upper()
        account = " ".join(part for part in (name, f"({rfc})" if rfc else None) if part)
        return ConnectionStatus(
            provider=PROVIDER,
            ok=True,
            account=account or self.email,
            environment=self.environment if self.base_url == PRODUCTION_URL else "custom",
            detail=f"Alegra account {self.email}",
            extra={
                "email": self.email,
                "rfc": rfc,
                "rate_limit_per_minute": self.rate_limiter.limit,
                "rate_limit_remaining": int(self.rate_limiter.tokens),
            },
        )

    # -- stamping hooks: validation ------------------------------------------------------------

    def _check(self, invoice: Invoice, prefix: str = "") -> list[Issue]:
        found = [i for i in self.preflight(invoice) if i.severity is Severity.ERROR]
        if prefix:
            found = [attrs.evolve(i, field=f"{prefix}{i.field}") for i in found]
        return found

    # -- stamping hooks: catalogs (contacts, items, taxes) -------------------------------------

    def _remembered(self, table: dict[Any, str], key: object, register: Callable[[], str]) -> str:
        """The Alegra id ``table`` holds for ``key``; else ``register()``'s, kept for next time.

        The lock guards the table only; ``register`` (requests to Alegra) runs outside it, so
        one slow lookup does not hold up the others.
        """
        with self._cache_lock:
            cached = table.get(key)
        if cached:
            return cached
        found = register()
        with self._cache_lock:
            table[key] = found
        return found

    def _search(
        self, path_key: str, query_key: str, text: str, matches: Callable[[Any], bool]
    ) -> Any:
        """The first row of the catalog at ``path_key`` searched for ``text`` that ``matches``.

        ``query_key`` names the spec field the search text travels in; ``None`` when no row
        of the answer matches (Alegra's search is loose, so every row is checked).
        """
        found = self._get_json(self._path(path_key), {self.spec[query_key]: text})
        return next((row for row in answer_rows(found, self.spec) if matches(row)), None)

    def _ensure_contact(self, customer: Customer) -> str:
        return self._remembered(
            self._contacts, (customer.rfc, customer.legal_name),
            lambda: self._register_contact(customer),
        )

    def _register_contact(self, customer: Customer) -> str:
        """The id of ``customer``'s contact, created or brought up to date as needed."""
        match = self._search(
            "path.contacts", "field.query.contact_rfc", customer.rfc,
            lambda row: contact_matches(row, customer, self.spec),
        )
        body = customer_to_alegra(customer, self.spec)
        if match is None:
            created = self._send_json("POST", self._path("path.contacts"), body)
            contact_id = str(_get(created, self.spec["field.ref.id"]))
            self._customer_created(customer, contact_id)
        else:
            contact_id = str(_get(match, self.spec["field.ref.id"]))
            if not contact_is_current(match, customer, self.spec):
                # The SAT compares régimen and postal code: the contact must carry today's.
                self._send_json(
                    "PUT", self._path("path.contact", id=contact_id), body, idempotent=True
                )
        return contact_id

    def _load_tax_catalogs(self) -> list[tuple[bool, Mapping[str, Any]]]:
        entries: list[tuple[bool, Mapping[str, Any]]] = []
        for withholding, key in ((False, "path.taxes"), (True, "path.retentions")):
            answer = self._get_json(self._path(key))
            entries.extend((withholding, row) for row in answer_rows(answer, self.spec))
        return entries

    def _ensure_taxes(self, refs: Iterable[TaxRef]) -> dict[TaxRef, str]:
        wanted = list(dict.fromkeys(refs))
        with self._cache_lock:
            missing = [ref for ref in wanted if ref not in self._taxes]
        if missing:
            catalog = self._load_tax_catalogs()
            for ref in missing:
                entry = next(
                    (
                        row
                        for withholding, row in catalog
                        if withholding == ref.withholding and alegra_tax_matches(row, ref, self.spec)
                    ),
                    None,
                )
                if entry is None:
                    key = "path.retentions" if ref.withholding else "path.taxes"
                    entry = self._send_json("POST", self._path(key), tax_to_alegra(ref, self.spec))
                    catalog.append((ref.withholding, entry))
                with self._cache_lock:
                    self._taxes[ref] = str(_get(entry, self.spec["field.ref.id"]))
        with self._cache_lock:
            return {ref: self._taxes[ref] for ref in wanted}

    def _ensure_item(self, item: LineItem, currency: str) -> str:
        return self._remembered(
            self._items, (item.product_code, item.product_name, item.unit_code, item.sku or ""),
            lambda: self._register_item(item, currency),
        )

    def _register_item(self, item: LineItem, currency: str) -> str:
        """The id of the item ``item`` sells, created when Alegra has none that matches."""
        match = self._search(
            "path.items", "field.query.item_search", item.product_name,
            lambda row: item_matches(row, item, self.spec),
        )
        if match is None:
            match = self._send_json(
                "POST", self._path("path.items"), line_to_alegra_item(item, currency, self.spec)
            )
        return str(_get(match, self.spec["field.ref.id"]))

    def _prepare(self, invoice: Invoice) -> tuple[str, list[str], dict[TaxRef, str]]:
        client_id = self._ensure_contact(invoice.customer)
        tax_ids = self._ensure_taxes(tax_ref(t) for item in invoice.items for t in item.taxes)
        item_ids = [self._ensure_item(item, invoice.currency) for item in invoice.items]
        return client_id, item_ids, tax_ids

    def _today(self) -> date:
        return mexico_now(self._now).date()

    # -- stamping hooks: the stamp -------------------------------------------------------------

    def _journal_account(self) -> str:
        return self.email

    def _vendor_issues(self, invoice: Invoice) -> list[Issue]:
        return alegra_issues(invoice, self.spec)

    def _prepare_stamp(self, invoice: Invoice) -> tuple[str, list[str], dict[TaxRef, str]]:
        """Register what is missing (contact, taxes, items) and return their Alegra ids."""
        return self._prepare(invoice)

    def _send_stamp(self, attempt: StampAttempt, prepared: Any) -> StampedInvoice:
        """Create and stamp in one ``POST /invoices``.

        The key travels as a marker in the internal observations, so :meth:`_find_existing`
        can find the invoice again.
        """
        body = self._marked_body(attempt, prepared, stamp=True)
        attempt.sending(**self._marker(attempt))  # stored with the "sent" record, one write
        data = self._send_json("POST", self._path("path.invoices"), body, idempotent=False)
        stamped = self._to_stamped(data)
        if stamped.uuid is None:
            raise StampRejected(
                _text(_get(data, self.spec["field.answer.stamp_message"]))
                or "Alegra saved the invoice without a stamp",
                provider=PROVIDER,
                details=data if isinstance(data, Mapping) else None,
            )
        return stamped

    def _marked_body(self, attempt: StampAttempt, prepared: Any, *, stamp: bool) -> dict[str, Any]:
        """The ``POST /invoices`` body of ``attempt`` (stamped now, or saved as a draft).

        The key's marker goes in the body; the caller stores it (:meth:`_marker`) before the
        request is sent, so a lost answer can be looked up by :meth:`_find_existing`.
        """
        client_id, item_ids, tax_ids = prepared
        body = invoice_to_alegra(
            attempt.invoice,
            client_id=client_id,
            item_ids=item_ids,
            tax_ids=tax_ids,
            issued_on=self._today(),
            idempotency_key=attempt.key,
            stamp=stamp,
            spec=self.spec,
        )
        return body

    def _marker(self, attempt: StampAttempt) -> dict[str, str]:
        """The journal reference that finds ``attempt``'s invoice again (none without a key)."""
        return {"marker": idempotency_marker(attempt.key)} if attempt.key is not None else {}

    def _can_find(self, attempt: StampAttempt) -> bool:
        return attempt.key is not None  # the marker comes from the key

    def _find_existing(self, attempt: StampAttempt) -> StampedInvoice | None:
        """The invoice carrying the key's marker; a saved draft of it is stamped now."""
        assert attempt.key is not None
        previous = self._find_by_key(attempt.key)
        return None if previous is None else self._finish_previous(previous)

    def _to_stamped(self, data: Any) -> StampedInvoice:
        if not isinstance(data, Mapping) or _get(data, self.spec["field.answer.id"]) is None:
            raise TransportError(
                f"{PROVIDER}: the answer carries no invoice: {str(data)[:200]!r}",
                provider=PROVIDER,
                request_sent=True,
            )
        return alegra_to_stamped(data, issuer_rfc=self._account_rfc, spec=self.spec)

    def _find_by_key(self, key: str) -> Mapping[str, Any] | None:
        """The invoice carrying the idempotency marker of ``key`` among the newest ones."""
        marker = idempotency_marker(key)
        for page in range(_LOOKUP_PAGES):
            page_rows, total = self._list_page(
                {
                    self.spec["field.query.order_field"]: self.spec["field.answer.id"],
                    self.spec["field.query.order_direction"]: self.spec["value.order.descending"],
                },
                start=page * self._page_size,
                limit=self._page_size,
            )
            for row in page_rows:
                if marker in (_text(_get(row, self.spec["field.invoice.observations"])) or ""):
                    return row
            if self._last_page(len(page_rows), total, page):
                break
        return None

    def _last_page(self, count: int, total: int | None, page: int) -> bool:
        """Whether page ``page`` (0-based, ``count`` rows) of a scan is the last one."""
        size = self._page_size
        return count < size or (total is not None and (page + 1) * size >= total)

    def _finish_previous(self, row: Mapping[str, Any]) -> StampedInvoice:
        found = self._to_stamped(row)
        if found.uuid is None and found.status is InvoiceStatus.DRAFT:
            # The create was saved but its stamp never happened (or never answered).
            outcome = self._stamp_ids([found.id])[found.id]
            if isinstance(outcome, ApuntoError):
                raise outcome
            found = outcome
        return found

    # -- many at once: Alegra stamps up to 10 saved drafts with one request ----------------------

    def _native_batch_size(self) -> int:
        return int(self.spec["limit.stamp_batch"])

    def _create_draft(self, attempt: StampAttempt, prepared: Any) -> str:
        """Save the invoice as a draft carrying the key's marker (not fiscal: no stamp)."""
        body = self._marked_body(attempt, prepared, stamp=False)
        attempt.remember(**self._marker(attempt))
        created = self._send_json("POST", self._path("path.invoices"), body)
        draft_id = self._to_stamped(created).id
        attempt.remember(draft_id=draft_id)
        return draft_id

    def _stamp_drafts(self, ids: Sequence[str]) -> Mapping[str, StampedInvoice | ApuntoError]:
        return self._stamp_ids(ids)

    def _stamp_ids(self, ids: Sequence[str]) -> dict[str, StampedInvoice | ApuntoError]:
        """Stamp up to 10 existing invoices; after a lost answer, read each one instead."""
        results: dict[str, StampedInvoice | ApuntoError] = {}
        try:
            answer = self._send_json(
                "POST", self._path("path.stamp"), {self.spec["field.stamp.ids"]: list(ids)}
            )
        except TransportError as exc:
            if not exc.request_sent:
                raise
            for invoice_id in ids:  # whatever Alegra did, reading tells us; resending could not
                try:
                    found = self.get(invoice_id)
                except (ProviderError, TransportError) as error:
                    results[invoice_id] = error
                    continue
                results[invoice_id] = found if found.uuid else exc
            return results
        except ProviderError as exc:
            return dict.fromkeys(ids, exc)
        id_field = self.spec["field.answer.id"]
        entries = {
            str(_get(e, id_field)): e for e in answer_rows(answer, self.spec) if isinstance(e, Mapping)
        }
        for invoice_id in ids:
            entry = entries.get(invoice_id)
            if entry is None or not _get(entry, self.spec["field.stamp.success"]):
                results[invoice_id] = stamp_result_error(
                    entry or {id_field: invoice_id}, spec=self.spec
                )
                continue
            try:
                results[invoice_id] = self.get(invoice_id)
            except (ProviderError, TransportError) as error:
                results[invoice_id] = error
        return results

    # -- reading -------------------------------------------------------------------------------

    def _resolve_id(self, ref: str) -> str:
        ref = ref.strip()
        if not is_uuid(ref):
            return ref
        wanted = ref.upper()
        for page in range(_UUID_SCAN_PAGES):
            page_rows, total = self._list_page({}, start=page * self._page_size, limit=self._page_size)
            for row in page_rows:
                if (_text(_get(row, self.spec["field.answer.uuid"])) or "").upper() == wanted:
                    return str(_get(row, self.spec["field.answer.id"]))
            if self._last_page(len(page_rows), total, page):
                break
        raise NotFound(
            f"no Alegra invoice with UUID {wanted} among the newest "
            f"{_UUID_SCAN_PAGES * self._page_size}; use Alegra's invoice id",
            provider=PROVIDER,
        )

    def get(self, ref: str) -> StampedInvoice:
        """Fetch an invoice by Alegra id (or by UUID, searched among the newest 300)."""
        self.require(Capability.GET)
        invoice_id = self._resolve_id(ref)
        return self._to_stamped(self._get_json(self._path("path.invoice", id=invoice_id)))

    def file_urls(self, ref: str) -> dict[str, str]:
        """The XML and PDF URLs Alegra reports now (empty while they are being generated)."""
        self.require(Capability.GET)
        invoice_id = self._resolve_id(ref)
        data = self._get_json(
            self._path("path.invoice", id=invoice_id),
            {self.spec["field.query.fields"]: self.spec["value.files"]},
        )
        urls = {}
        for fmt in ("xml", "pdf"):
            value = _text(_get(data, self.spec[f"field.answer.{fmt}"]))
            if value:
                urls[fmt] = value
        return urls

    def download(self, ref: str, fmt: DownloadFormat) -> bytes:
        """Download the XML or PDF, waiting up to ``file_wait`` seconds for Alegra to make it."""
        if fmt not in ("xml", "pdf"):
            raise ValidationError(f"unknown format {fmt!r}; use 'xml' or 'pdf'", field="fmt")
        self.require(Capability.DOWNLOAD_XML if fmt == "xml" else Capability.DOWNLOAD_PDF)
        invoice_id = self._resolve_id(ref)
        deadline = self._clock() + self.file_wait
        attempts = int(self.file_wait / self.file_poll_interval) + 2
        for _ in range(attempts):
            url = self.file_urls(invoice_id).get(fmt)
            if url:
                return self._fetch_file(url, fmt)
            if self._clock() >= deadline:
                break
            self._sleep(self.file_poll_interval)
        raise Timeout(
            f"{PROVIDER}: the {fmt.upper()} of invoice {invoice_id} was not ready after "
            f"{self.file_wait:g}s",
            provider=PROVIDER,
            request_sent=False,
        )

    def _fetch_file(self, url: str, fmt: str) -> bytes:
        absolute = url if urlsplit(url).scheme else self.transport.url(url)
        same_origin = absolute.lower().startswith(self.base_url.lower() + "/")
        transport = self.transport if same_origin else self._files
        response = transport.request("GET", absolute, headers={"Accept": "*/*"})
        content = response.content
        head = content[:1024].lstrip()
        looks_right = head.startswith(b"%PDF") if fmt == "pdf" else head.startswith(b"<")
        if not looks_right or head.lower().startswith((b"<!doctype html", b"<html")):
            raise TransportError(
                f"{PROVIDER}: the {fmt.upper()} URL answered something else "
                f"({response.headers.get('Content-Type', 'no content type')})",
                provider=PROVIDER,
                request_sent=True,
            )
        return content

    # -- reading: listing ----------------------------------------------------------------------

    def _list_page(
        self, params: Mapping[str, Any], *, start: int, limit: int
    ) -> tuple[list[Mapping[str, Any]], int | None]:
        query = {
            **params,
            self.spec["field.query.start"]: start,
            self.spec["field.query.limit"]: limit,
            self.spec["field.query.metadata"]: "true",
        }
        answer = self._get_json(self._path("path.invoices"), query)
        total = None
        if isinstance(answer, Mapping):
            total_value = _get(answer, self.spec["field.answer.total_rows"])
            total = int(total_value) if isinstance(total_value, int | Decimal | str) else None
        return [row for row in answer_rows(answer, self.spec) if isinstance(row, Mapping)], total

    def list(self, **filters: Any) -> Iterator[StampedInvoice]:
        """Iterate lazily over invoices, newest pages fetched only when needed.

        Filters: ``status`` (an :class:`InvoiceStatus` or Alegra's ``draft``/``open``/
        ``closed``/``void``), ``date_start`` and ``date_end`` (dates), ``query`` (free text),
        ``order_field``/``order_direction``, ``page_size`` (1–30) and Alegra's own parameter
        names (``client_id``...); anything else raises :class:`ValidationError`. The same
        filters go with every page.
        """
        self.require(Capability.LIST)
        params, page_size = list_params(filters, self.spec)
        return self._iterate(params, page_size)

    def _iterate(self, params: Mapping[str, Any], page_size: int) -> Iterator[StampedInvoice]:
        start = 0
        for _ in range(_MAX_PAGES):
            page_rows, total = self._list_page(params, start=start, limit=page_size)
            for row in page_rows:
                yield self._to_stamped(row)
            start += len(page_rows)
            if len(page_rows) < page_size or not page_rows or (total is not None and start >= total):
                return


    # -- cancelling ----------------------------------------------------------------------------

    def _send_email(
        self, ref: str, recipients: Sequence[str], *, message: str | None, subject: str | None
    ) -> str:
        """``POST /invoices/{id}/email`` with ``{"emails": [...]}``; answers Alegra's message.

        Alegra's call carries the addresses only (the text is the account's template).
        """
        from ..email import refuse_email_option

        refuse_email_option("Alegra", "message", message)
        refuse_email_option("Alegra", "subject", subject)
        invoice_id = self._resolve_id(ref)
        body = {self.spec["field.email.emails"]: list(recipients)}
        # Not idempotent: a repeat after a lost answer would e-mail twice.
        answer = self._send_json(
            "POST", self._path("path.email", id=invoice_id), body, idempotent=False
        )
        return str(answer.get("message") or "") if isinstance(answer, Mapping) else ""

    def _cancel(
        self, ref: str, motive: CancelMotive, replacement_uuid: str | None
    ) -> Cancellation:
        """Void the invoice at Alegra, which cancels it at the SAT.

        How Alegra takes the SAT motive and the replacement UUID is **not public**: they are
        sent as the spec's ``field.cancel.motive``/``field.cancel.replacement``. After a lost
        answer the invoice is read back, so a repeated call never voids twice.
        """
        self.require(Capability.CANCEL)
        issues = [i for i in validate_cancellation(motive, replacement_uuid) if i.severity is Severity.ERROR]
        if issues:
            raise ValidationError(issues)
        motive = CancelMotive(motive)
        if not motive.requires_replacement:
            replacement_uuid = None  # only motive 01 carries one (the SAT ignores it otherwise)
        invoice_id = self._resolve_id(ref)
        body = cancel_to_alegra(motive, replacement_uuid, self.spec)
        try:
            data = self._send_json("POST", self._path("path.void", id=invoice_id), body)
        except TransportError as exc:
            if not exc.request_sent:
                raise
            data = self._get_json(self._path("path.invoice", id=invoice_id))
            status = (_text(_get(data, self.spec["field.answer.status"])) or "").lower()
            if status not in (self.spec["value.status.void"], "voided"):
                raise
        if not isinstance(data, Mapping):
            data = self._get_json(self._path("path.invoice", id=invoice_id))
        return alegra_to_cancellation(
            data if isinstance(data, Mapping) else {},
            ref=invoice_id,
            motive=motive,
            replacement_uuid=replacement_uuid.upper() if replacement_uuid else None,
            spec=self.spec,
        )

# -- module helpers ---------------------------------------------------------------------------


def _validated_email(value: str) -> str:
    email = value.strip()
    if not _EMAIL.match(email):
        raise ValidationError(
            [
                Issue(
                    field="email",
                    code="APUNTO-ALEGRA-001",
                    message="the Alegra user name must be the account's e-mail address",
                    message_es="El usuario de Alegra debe ser el correo electrónico de la cuenta",
                )
            ]
        )
    return email
