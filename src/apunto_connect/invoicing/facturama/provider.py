"""Facturama "API Web": CFDI 4.0 issued by the account owner, stamped by Facturama's PAC.

What the vendor is
    Facturama is a Mexican invoicing service and PAC. Its **API Web** mode issues CFDIs for one
    issuer, the account owner, whose fiscal profile and CSD are configured in Facturama's web
    app (the **Multiemisor** mode, ``api-lite/...``, is not what this provider speaks). The
    account needs the API module contracted, the API Web mode and stamps (timbres) available.

Base URLs
    production ``https://api.facturama.mx`` (the default) and Facturama's own test host
    ``https://apisandbox.facturama.mx`` (``environment="sandbox"``). **Production and sandbox are
    separate sign-ups**: sandbox credentials fail against production and the other way round.

Auth
    HTTP Basic with the API username and password of the Facturama account.

Facts
    Every path, query name, limit and vendor value is in :data:`~.spec.SPEC`, each marked
    official or assumed with its evidence; ``spec=`` overrides them per provider.

Idempotency
    Facturama has no idempotency header. The dedupe reference is the CFDI's **serie + folio**:
    ``stamp(invoice, idempotency_key=...)`` requires ``invoice.folio``. The key is claimed in
    the stamping journal; before the first send and after an ambiguous failure an active CFDI
    with that serie and folio is looked up (one list call) and returned instead of stamping
    again. The stamp POST itself is never retried by the transport.
"""

from __future__ import annotations

import base64
import binascii
import functools
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import requests

from ..._wire import decode_answer, encode_json, is_uuid, monotonic
from ...credentials import CredentialField, Secret, resolve_credentials
from ...errors import (
    ApuntoError,
    AuthenticationError,
    ConfigurationError,
    Conflict,
    NotFound,
    PermissionDenied,
    ProviderError,
    Severity,
    TransportError,
    ValidationError,
)
from ...http import RetryPolicy, Transport
from ...journal import JournalStore
from ...models.carta_porte import CartaPorteInvoice
from ...models.common import Capability, ConnectionStatus
from ...models.documents import FiscalDocument
from ...models.invoices import Cancellation, CancelMotive, Invoice, LineItem, StampedInvoice
from ...models.parties import Customer, Issuer
from ...models.payments import PaymentReceipt
from ...vendor_spec import VendorSpec
from ..attempts import customer_lock, product_lock
from ..base import DownloadFormat, InvoiceProvider, StampAttempt
from . import mapping
from .errors import facturama_error
from .mapping import facturama_stamp_answer, facturama_to_stamped, list_params
from .spec import SPEC, VENDOR

__all__ = ["CREDENTIALS", "FacturamaProvider"]

CREDENTIALS: tuple[CredentialField, ...] = (
    CredentialField("username", secret=False),
    CredentialField("password"),
)
"""API username and password (``APUNTO_FACTURAMA_USERNAME`` / ``APUNTO_FACTURAMA_PASSWORD``)."""

_ENVIRONMENTS = ("production", "sandbox")
_MAX_PAGES = 10_000  # a server that ignores "page" must not make list() loop forever

# The module tables of earlier releases -> spec keys (still honoured for one release).
LEGACY_KEYS: dict[str, dict[str, str]] = {
    "PATHS": {
        name: f"path.{name}"
        for name in (
            "tax_entity", "stamp", "cfdi", "list", "cancel", "file", "acuse", "client",
            "client_by_id", "clients_page", "product", "products_page", "validate_customer",
        )
    },
    "ASSUMPTIONS": {
        "list_page_size": "limit.list_page_size",
        "list_oldest_first": "value.list_oldest_first",
        "list_date_format": "value.list_date_format",
        "exempt_tax_name": "value.exempt_tax_name",
        "name_id": "value.name_id",
        "catalog_page_length": "limit.catalog_page_length",
    },
}
"""How the deprecated ``PATHS`` and ``ASSUMPTIONS`` tables name the facts now in ``SPEC``."""

_legacy_tables: dict[str, dict[str, Any]] = {}


def legacy_table(name: str) -> dict[str, Any]:
    """The deprecated table ``name`` (``PATHS``, ``ASSUMPTIONS``, ``SAT_MESSAGE_CODES``).

    A copy of the spec's values, made once; a provider built afterwards applies whatever the
    caller changed in it as ``spec=`` overrides (with a :class:`DeprecationWarning`).
    """
    table = _legacy_tables.get(name)
    if table is None:
        if name == "SAT_MESSAGE_CODES":
            table = dict(SPEC["value.sat_message_codes"])
        else:
            table = {old: SPEC.fact(key).value for old, key in LEGACY_KEYS[name].items()}
        table = _legacy_tables.setdefault(name, table)
    return table


def _legacy_overrides() -> dict[str, Any]:
    """Spec overrides for what the caller changed in the deprecated tables."""
    overrides: dict[str, Any] = {}
    for name, table in _legacy_tables.items():
        if name == "SAT_MESSAGE_CODES":
            if table != dict(SPEC.fact("value.sat_message_codes").value):
                overrides["value.sat_message_codes"] = dict(table)
            continue
        for old, key in LEGACY_KEYS[name].items():
            if old in table and table[old] != SPEC.fact(key).value:
                overrides[key] = table[old]
    if overrides:
        warnings.warn(
            "changing apunto_connect.invoicing.facturama.PATHS/ASSUMPTIONS/SAT_MESSAGE_CODES is "
            f"deprecated; pass spec={overrides!r} to FacturamaProvider instead",
            DeprecationWarning,
            stacklevel=4,
        )
    return overrides


class FacturamaProvider(InvoiceProvider):
    """Facturama API Web: stamp, get, download, cancel and list CFDI 4.0 for the account owner.

    Args:
        username: API username (else ``APUNTO_FACTURAMA_USERNAME`` or the keyring).
        password: API password (else ``APUNTO_FACTURAMA_PASSWORD`` or the keyring).
        base_url: any compatible server (the loopback sandbox, a proxy); wins over
            ``environment``.
        environment: ``"production"`` (default) or ``"sandbox"`` — Facturama's own test host,
            which needs a separate sandbox account.
        session: a :class:`requests.Session` to use (proxies, mTLS, the in-process sandbox).
        timeout: ``(connect, read)`` seconds.
        max_retries: retries of safe requests (the stamp POST is never retried after it may
            have reached Facturama).
        sleep: how to wait between retries (the sandbox passes its clock's).
        clock: monotonic seconds, for retry pacing.
        issuer: the account's issuer data, for full pre-flight checks without a ``TaxEntity``
            call; fetched from Facturama when a stamp needs it and it is not given.
        expedition_place: default LugarExpedicion (else ``invoice.issuer.zip_code``, else the
            account's tax address).
        register_catalog: create/update the Client and Products in Facturama while stamping,
            as Facturama's web app shows them (default ``True``).
        journal: the stamping journal (``docs/idempotency.md``).
        spec: overrides of :data:`~.spec.SPEC` (unknown keys are refused).
    """

    name: ClassVar[str] = VENDOR
    finds_existing: ClassVar[bool] = True  # by serie + folio (GET Cfdi filters)
    asks_before_first_send: ClassVar[bool] = True  # a folio may have been stamped elsewhere
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.STAMP,
            Capability.GET,
            Capability.DOWNLOAD_XML,
            Capability.DOWNLOAD_PDF,
            Capability.CANCEL,
            Capability.LIST,
            Capability.VALIDATE_CUSTOMER,
            Capability.SEND_EMAIL,
            Capability.PAYMENT_RECEIPT,
            Capability.CREDIT_NOTE,
            Capability.CARTA_PORTE,
            Capability.GLOBAL_INVOICE,
        }
    )

    # -- construction -------------------------------------------------------------------------

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | Secret | None = None,
        base_url: str | None = None,
        environment: str = "production",
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] | None = None,
        max_retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = monotonic,
        issuer: Issuer | None = None,
        expedition_place: str | None = None,
        register_catalog: bool = True,
        journal: JournalStore | str | None = None,
        spec: Mapping[str, Any] | VendorSpec | None = None,
    ) -> None:
        if environment not in _ENVIRONMENTS:
            raise ConfigurationError(
                f"unknown Facturama environment {environment!r}; use one of {sorted(_ENVIRONMENTS)}"
            )
        overrides = _legacy_overrides()
        if isinstance(spec, VendorSpec):
            spec = {key: spec.fact(key).value for key in spec}
        self.spec: VendorSpec = SPEC.with_overrides({**overrides, **(spec or {})})
        creds = resolve_credentials(
            VENDOR, CREDENTIALS, {"username": username, "password": password}
        )
        secret: Secret = creds["password"]
        self.environment = environment
        self._username: str = creds["username"]
        self._issuer = issuer
        self._configured_issuer = issuer
        self._expedition_place = expedition_place
        self.register_catalog = register_catalog
        retry = RetryPolicy().with_max_retries(max_retries)
        options: dict[str, Any] = {}
        if timeout is not None:
            options["timeout"] = timeout
        self.transport = Transport(
            VENDOR,
            base_url or str(self.spec[f"value.base_url.{environment}"]),
            auth=requests.auth.HTTPBasicAuth(self._username, secret.reveal()),
            retry=retry,
            session=session,
            error_mapper=functools.partial(facturama_error, spec=self.spec),
            secrets=(secret.reveal(),),
            sleep=sleep,
            clock=clock,
            **options,
        )
        self._json_headers = {"Content-Type": str(self.spec["header.content_type"])}
        self._lock = threading.Lock()
        self._client_ids: dict[tuple[tuple[str, str], ...], str] = {}
        self._product_ids: dict[tuple[str, str], str] = {}
        self._set_journal(journal)

    def __repr__(self) -> str:
        base_url = self.transport.base_url
        return f"FacturamaProvider(base_url={base_url!r}, username={self._username!r})"

    def release(self) -> None:
        """Close the connection pools this provider opened."""
        self.transport.close()

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return decode_answer(self.transport.request("GET", path, params=params), self.transport)

    def _send_json(
        self, method: str, path: str, body: Any, *, idempotent: bool | None = None
    ) -> Any:
        """``body`` as exact JSON (Decimal amounts as numbers); the decoded answer."""
        options: dict[str, Any] = {} if idempotent is None else {"idempotent": idempotent}
        response = self.transport.request(
            method, path, data=encode_json(body), headers=self._json_headers, **options
        )
        return decode_answer(response, self.transport)

    # -- account ------------------------------------------------------------------------------

    def _check_connection(self) -> ConnectionStatus:
        """Check the credentials with ``GET TaxEntity`` and describe the fiscal profile.

        Wrong credentials (or an inactive subscription, which Facturama also answers with 401)
        give ``ok=False`` with Facturama's message; other failures raise.
        """
        try:
            profile = self._get(self.spec["path.tax_entity"]) or {}
        except (AuthenticationError, PermissionDenied) as exc:
            return ConnectionStatus(
                provider=VENDOR, ok=False, environment=self.environment, detail=exc.message
            )
        rfc = profile.get("Rfc")
        name = profile.get("TaxName")
        address = profile.get("TaxAddress") or {}
        return ConnectionStatus(
            provider=VENDOR,
            ok=True,
            account=" ".join(str(p) for p in (rfc, name) if p) or None,
            environment=self.environment,
            detail="credentials accepted (API Web)",
            extra={
                "rfc": rfc,
                "tax_name": name,
                "fiscal_regime": profile.get("FiscalRegime"),
                "zip_code": address.get("ZipCode"),
            },
        )

    def account_issuer(self) -> Issuer:
        """The account owner as an :class:`Issuer` (from ``TaxEntity``; fetched once)."""
        if self._issuer is not None:
            return self._issuer
        profile = self._get(self.spec["path.tax_entity"]) or {}
        address = profile.get("IssuedIn") or profile.get("TaxAddress") or {}
        issuer = Issuer(
            rfc=str(profile.get("Rfc") or ""),
            legal_name=str(profile.get("TaxName") or ""),
            tax_regime=str(profile.get("FiscalRegime") or ""),
            zip_code=str(address.get("ZipCode") or ""),
        )
        self._issuer = issuer
        return issuer

    def validate_customer(self, customer: Customer) -> dict[str, bool]:
        """Ask Facturama whether the SAT knows the receiver as given (``api/customers/validate``).

        Returns ``{"exists", "name_matches", "zip_code_matches", "regime_matches"}`` as
        booleans, from Facturama's ``ExistRfc``, ``MatchName``, ``MatchZipCode`` and
        ``MatchFiscalRegime``. Useful before stamping for a new customer.
        """
        self.require(Capability.VALIDATE_CUSTOMER)
        answer = self._send_json(
            "POST",
            self.spec["path.validate_customer"],
            mapping.customer_validation_body(customer),
            idempotent=True,  # a read-only check: safe to repeat
        )
        return mapping.customer_validation(answer or {})

    # -- stamping hooks -----------------------------------------------------------------------

    def _vendor_issues(self, invoice: Invoice) -> list[Any]:
        return list(mapping.facturama_issues(invoice))

    def _journal_account(self) -> str:
        return self._username

    def _prepare_stamp(self, invoice: Invoice) -> dict[str, Any]:
        """The ``3/cfdis`` body; registers the Client and Products first (``register_catalog``)."""
        body = mapping.invoice_to_facturama(
            invoice, expedition_place=self._expedition_for(invoice), spec=self.spec
        )
        if self.register_catalog:
            self._ensure_client(invoice)
            self._ensure_products(invoice)
        return body

    def _prepare_document(self, document: FiscalDocument, invoice: Invoice) -> Any:
        """The ``3/cfdis`` body of a receipt (CfdiType P), a credit note (type E) or a waybill.

        A waybill registers its host's client and products like an invoice, then sends the
        host with ``Complemento.CartaPorte31``.
        """
        if isinstance(document, PaymentReceipt):
            # No Items and no catalog products: the receipt's concept is the SAT's fixed one.
            return mapping.payment_to_facturama(
                document, expedition_place=self._expedition_for(invoice), spec=self.spec
            )
        body = self._prepare_stamp(invoice)
        if isinstance(document, CartaPorteInvoice):
            body = mapping.waybill_to_facturama(
                document, expedition_place=self._expedition_for(invoice), spec=self.spec
            )
        return body

    def _send_stamp(self, attempt: StampAttempt, prepared: Any) -> StampedInvoice:
        """``POST 3/cfdis`` once: Facturama has no idempotency header; serie+folio finds it."""
        attempt.sending()
        data = self._send_json("POST", self.spec["path.stamp"], prepared, idempotent=False)
        return facturama_stamp_answer(data, spec=self.spec)

    def _can_find(self, attempt: StampAttempt) -> bool:
        return bool(attempt.reference.get("folio"))  # without a folio nothing identifies it

    def _find_existing(self, attempt: StampAttempt) -> StampedInvoice | None:
        return self._find_issued(attempt.invoice)

    def _expedition_for(self, invoice: Invoice) -> str:
        if invoice.issuer is not None and invoice.issuer.zip_code:
            return invoice.issuer.zip_code
        if self._expedition_place:
            return self._expedition_place
        place = self.account_issuer().zip_code
        if not place:
            raise ValidationError(
                "no place of issue: set invoice.issuer, expedition_place= or the tax address in "
                "Facturama's fiscal profile",
                field="issuer.zip_code",
                code="APUNTO-FACTURAMA-004",
            )
        return place

    def _find_issued(self, invoice: Invoice) -> StampedInvoice | None:
        """The active CFDI with this invoice's serie+folio, if Facturama has one.

        Raises:
            Conflict: that serie+folio is taken by a CFDI for another receiver or total.
        """
        series = invoice.series or ""
        folio = invoice.folio or ""
        filters: dict[str, Any] = {"status": "active"}
        if series:
            filters["series"] = series
        if folio.isdigit():
            filters.update(folio_start=folio, folio_end=folio)
        else:
            filters["keyword"] = folio
        for row in self._rows(list_params(filters, spec=self.spec)):
            if str(row.get("Serie") or "") != series or str(row.get("Folio") or "") != folio:
                continue
            if str(row.get("Status") or "active").lower() not in ("active", ""):
                continue
            if row.get("IsActive") is False:
                continue
            same_receiver = str(row.get("Rfc") or "").upper() == invoice.customer.rfc
            total = mapping._money(row.get("Total"))
            if not same_receiver or total is None or total != invoice.total:
                raise Conflict(
                    f"serie {series!r} folio {folio!r} is already stamped (Id {row.get('Id')}) "
                    f"for {row.get('Rfc')} with total {row.get('Total')}",
                    provider=VENDOR,
                    details=dict(row),
                )
            return self.get(str(row["Id"]))
        return None

    def _find_existing_batch(
        self, invoices: Sequence[Invoice]
    ) -> Mapping[tuple[str, str], StampedInvoice | None] | None:
        """One listing per serie for a batch's numeric folio range, instead of one per invoice.

        A folio found for the same receiver and total is fetched; one taken by another CFDI is
        left out, so the invoice's own look-up raises the ``Conflict``.
        """
        wanted: dict[str, dict[str, Invoice]] = {}
        for invoice in invoices:
            if invoice.folio and invoice.folio.isdigit():
                wanted.setdefault(invoice.series or "", {})[invoice.folio] = invoice
        known: dict[tuple[str, str], StampedInvoice | None] = {}
        for series, by_folio in wanted.items():
            numbers = [int(folio) for folio in by_folio]
            filters: dict[str, Any] = {
                "status": "active", "folio_start": str(min(numbers)), "folio_end": str(max(numbers)),
            }
            if series:
                filters["series"] = series
            try:
                rows = list(self._rows(list_params(filters, spec=self.spec)))
            except ApuntoError:
                continue  # no batch answer: each invoice asks for itself
            found = {
                str(row.get("Folio") or ""): row for row in rows
                if str(row.get("Serie") or "") == series and row.get("IsActive") is not False
                and str(row.get("Status") or "active").lower() in ("active", "")
            }
            for folio, invoice in by_folio.items():
                row = found.get(folio)
                if row is None:
                    known[(series, folio)] = None
                    continue
                same = (str(row.get("Rfc") or "").upper() == invoice.customer.rfc
                        and mapping._money(row.get("Total")) == invoice.total)
                if same:
                    known[(series, folio)] = self.get(str(row["Id"]))
        return known

    def _page(self, path: str, search: str) -> list[Mapping[str, Any]]:
        params = {"start": 0, "length": self.spec["limit.catalog_page_length"], "search": search}
        data = self._get(path, params) or {}
        rows = data.get("data") if isinstance(data, Mapping) else data
        return [row for row in rows or () if isinstance(row, Mapping)]

    def _ensure_client(self, invoice: Invoice) -> str:
        """Find the receiver among Facturama's Clients by RFC; create or refresh it."""
        wanted = mapping.customer_to_facturama_client(
            invoice.customer, invoice.effective_cfdi_use
        )
        rfc = invoice.customer.rfc
        # Keyed by the whole record: changed customer data (a new postal code) is looked up and
        # refreshed again instead of trusting the cache.
        cache_key = tuple(sorted((k, str(v)) for k, v in wanted.items()))
        cached = self._client_ids.get(cache_key)
        if cached is not None:
            return cached
        existing = next(
            (row for row in self._page(self.spec["path.clients_page"], rfc)
             if str(row.get("Rfc") or "").upper() == rfc),
            None,
        )
        if existing is None:
            created = self._send_json(
                "POST", self.spec["path.client"], wanted, idempotent=False
            ) or {}
            client_id = str(created.get("Id") or "")
            self._customer_created(invoice.customer, client_id)
        else:
            client_id = str(existing.get("Id") or "")
            stale = any(str(existing.get(k) or "") != str(v) for k, v in wanted.items())
            if stale and client_id:
                self.transport.request(
                    "PUT", self.spec["path.client_by_id"].format(id=client_id),
                    data=encode_json({"Id": client_id, **wanted}), headers=self._json_headers,
                )
        if client_id:
            with self._lock:
                self._client_ids[cache_key] = client_id
        return client_id

    def _ensure_products(self, invoice: Invoice) -> None:
        """Register each line's product (with its taxes) unless one with that code+name exists."""
        for item in invoice.items:
            self._ensure_product(item, invoice.currency)

    def _ensure_product(self, item: LineItem, currency: str) -> None:
        key = (item.product_code, item.product_name.upper())
        if key in self._product_ids:
            return
        match = next(
            (
                row for row in self._page(self.spec["path.products_page"], item.product_name)
                if str(row.get("CodeProdServ") or "") == item.product_code
                and str(row.get("Name") or "").strip().upper() == key[1]
            ),
            None,
        )
        if match is None:
            product = mapping.line_to_facturama_product(item, currency, spec=self.spec)
            match = self._send_json(
                "POST", self.spec["path.product"], product, idempotent=False
            ) or {}
        with self._lock:
            self._product_ids[key] = str(match.get("Id") or "")

    def _batch_registrations(
        self, invoices: Sequence[Invoice]
    ) -> list[tuple[str, Callable[[], object]]]:
        """Each distinct Client and Product of the batch, registered on its own.

        Also the account's tax profile, when an invoice needs it for its place of issue.
        """
        if not self.register_catalog:
            return []
        work: dict[str, Callable[[], object]] = {}
        if any(not (invoice.issuer and invoice.issuer.zip_code) for invoice in invoices) \
                and not self._expedition_place:
            work["issuer"] = self.account_issuer  # the place of issue every body needs
        products: dict[tuple[str, str], tuple[str, Callable[[], object]]] = {}
        for invoice in invoices:
            work.setdefault(customer_lock(invoice.customer),
                            functools.partial(self._ensure_client, invoice))
            for item in invoice.items:
                products.setdefault(
                    (item.product_code, item.product_name.upper()),
                    (product_lock(item),
                     functools.partial(self._ensure_product, item, invoice.currency)),
                )
        return [*work.items(), *products.values()]

    # -- reading ------------------------------------------------------------------------------

    def _resolve_id(self, ref: str) -> str:
        """Facturama's Id for ``ref``: an Id passes through; a UUID is searched with keyword."""
        ref = ref.strip()
        if not ref:
            raise ValidationError("empty reference", field="ref", code="APUNTO-FACTURAMA-005")
        if not is_uuid(ref):
            return ref
        for row in self._rows(list_params({"keyword": ref}, spec=self.spec)):
            if str(row.get("Uuid") or "").upper() == ref.upper():
                return str(row["Id"])
        raise NotFound(f"no CFDI with UUID {ref} at Facturama", provider=VENDOR, status_code=None)

    def get(self, ref: str) -> StampedInvoice:
        """Fetch a CFDI by Facturama Id or by UUID (``GET cfdi/{id}?type=issued``)."""
        self.require(Capability.GET)
        cfdi_id = self._resolve_id(ref)
        data = self._get(
            self.spec["path.cfdi"].format(id=cfdi_id), {"type": self.spec["value.issued_type"]}
        )
        if not isinstance(data, Mapping):
            raise NotFound(f"Facturama returned no CFDI for {ref}", provider=VENDOR)
        return facturama_to_stamped(data, spec=self.spec)

    def download(self, ref: str, fmt: DownloadFormat) -> bytes:
        """The CFDI XML or PDF, decoded from Facturama's base64 ``Content``."""
        if fmt not in ("xml", "pdf"):
            raise ValidationError(
                f"format must be 'xml' or 'pdf', not {fmt!r}", field="fmt",
                code="APUNTO-FACTURAMA-006",
            )
        self.require(Capability.DOWNLOAD_XML if fmt == "xml" else Capability.DOWNLOAD_PDF)
        cfdi_id = self._resolve_id(ref)
        return self._file(self.spec["path.file"], fmt, cfdi_id)

    def download_acuse(self, ref: str, fmt: str = "xml") -> bytes:
        """The cancellation receipt (acuse) of a cancelled CFDI."""
        cfdi_id = self._resolve_id(ref)
        return self._file(self.spec["path.acuse"], fmt, cfdi_id)

    def _file(self, template: str, fmt: str, cfdi_id: str) -> bytes:
        path = template.format(format=fmt, type=self.spec["value.issued_type"], id=cfdi_id)
        response = self.transport.request("GET", path)
        kind = response.headers.get("Content-Type", "").lower()
        if "json" not in kind and response.content[:1] not in (b"{", b"["):
            return response.content  # some deployments answer with the raw file
        data = decode_answer(response, self.transport)
        content = data.get("Content") if isinstance(data, Mapping) else None
        if not isinstance(content, str):
            raise TransportError(
                f"{VENDOR}: file answer without Content from {path}", provider=VENDOR,
                request_sent=True,
            )
        # Standard base64 is documented; the URL-safe alphabet is accepted too, as the
        # vendor's own SDKs decode with it.
        normalized = "".join(content.split()).replace("-", "+").replace("_", "/")
        try:
            return base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise TransportError(
                f"{VENDOR}: Content of {path} is not base64: {exc}", provider=VENDOR,
                request_sent=True,
            ) from None

    def list(self, **filters: Any) -> Iterator[StampedInvoice]:
        """Issued CFDIs, lazily, page by page; every filter is sent with every page.

        Filters: ``keyword``, ``status`` (``all``/``active``/``canceled`` or an
        :class:`InvoiceStatus`), ``folio_start``, ``folio_end``, ``rfc``, ``customer_name``,
        ``date_start``, ``date_end`` (dates), ``branch_id``, ``series``, ``order_number``,
        ``kind``, ``payment_method``, ``issuer_rfc`` — or Facturama's own parameter names.
        Rows are Facturama's search results (fewer fields than :meth:`get`).
        """
        self.require(Capability.LIST)
        params = list_params(filters, spec=self.spec)  # unknown filters fail here, before a call
        return (facturama_to_stamped(row, spec=self.spec) for row in self._rows(params))

    def _rows(self, params: Mapping[str, str]) -> Iterator[Mapping[str, Any]]:
        seen_page: list[str] | None = None
        for page in range(_MAX_PAGES):
            rows = self._get(self.spec["path.list"], {**params, "page": page})
            if isinstance(rows, Mapping):  # tolerate a wrapped answer
                rows = rows.get("data") or rows.get("Data") or []
            rows = [row for row in rows or () if isinstance(row, Mapping)]
            if not rows:
                return
            ids = [str(row.get("Id")) for row in rows]
            if ids == seen_page:
                return  # the server ignored "page": stop instead of looping
            seen_page = ids
            yield from rows

    # -- e-mail -------------------------------------------------------------------------------

    def _send_email(
        self, ref: str, recipients: Sequence[str], *, message: str | None, subject: str | None
    ) -> str:
        """``POST Cfdi?cfdiType=issued&cfdiId=&email=&subject=`` (no body), one per address.

        Facturama's call takes one address, so each gets its own request; a refusal
        (``success: false``) stops there with Facturama's ``msj`` verbatim.
        """
        from ..email import refuse_email_option

        refuse_email_option("Facturama API Web", "message", message)
        cfdi_id = self._resolve_id(ref)
        names = self.spec["field.email_params"]
        answers: list[str] = []
        for address in recipients:
            params = {
                names["type"]: str(self.spec["value.issued_type"]),
                names["id"]: cfdi_id,
                names["email"]: address,
            }
            if subject:
                params[names["subject"]] = subject
            # Not idempotent: a repeat after a lost answer would e-mail twice.
            data = decode_answer(
                self.transport.request(
                    "POST", self.spec["path.email"], params=params, idempotent=False
                ),
                self.transport,
            )
            answer = data if isinstance(data, Mapping) else {}
            text = str(answer.get("msj") or answer.get("Message") or "")
            if answer.get("success") is not True:
                raise ProviderError(
                    text or f"Facturama did not e-mail CFDI {cfdi_id} to {address}",
                    provider=VENDOR,
                    details=dict(answer),
                )
            answers.append(text)
        return "\n".join(a for a in answers if a)

    # -- cancelling ---------------------------------------------------------------------------

    def _cancel(
        self, ref: str, motive: CancelMotive, replacement_uuid: str | None
    ) -> Cancellation:
        """Cancel with a SAT motive (``DELETE cfdi/{id}?type=issued&motive=&uuidReplacement=``).

        Motive ``01`` needs ``replacement_uuid``; both are checked locally, before any call,
        by :func:`apunto_connect.sat.rules.validate_cancellation`. The UUID is only sent with
        motive 01.
        """
        self.require(Capability.CANCEL)
        from ...sat.rules import validate_cancellation

        issues = validate_cancellation(motive, replacement_uuid)
        if any(issue.severity is Severity.ERROR for issue in issues):
            raise ValidationError(issues)
        motive = CancelMotive(motive)
        if not motive.requires_replacement:
            replacement_uuid = None  # only motive 01 carries one; the SAT ignores it otherwise
        cfdi_id = self._resolve_id(ref)
        params = {"type": str(self.spec["value.issued_type"]), "motive": motive.value}
        if replacement_uuid:
            params["uuidReplacement"] = replacement_uuid.strip().upper()
        data = decode_answer(
            self.transport.request(
                "DELETE", self.spec["path.cancel"].format(id=cfdi_id), params=params
            ),
            self.transport,
        )
        return mapping.facturama_to_cancellation(
            data if isinstance(data, Mapping) else {}, ref=ref, motive=motive,
            replacement_uuid=params.get("uuidReplacement"), spec=self.spec,
        )
