"""The ContaDigital provider: construction, account, stamping hooks, reading, cancelling.

Every request goes through :class:`~apunto_connect.http.Transport`; paths and field names come
from ``self.spec`` (:data:`~.spec.SPEC` with the caller's ``spec=`` overrides).

**Auth.** ``POST /api/conectar.json`` with ``{"ApiKey": ...}`` returns a bearer token, sent as
``Authorization: Bearer <token>``. The real lifetime is unknown; the token is cached for
``spec["limit.token_ttl"]`` seconds and fetched again once when the vendor answers 401.

**Never stamping twice.** A stamp is one POST that the retry engine never repeats after the
request may have reached the server. With an ``idempotency_key`` the provider saves the invoice
first as a draft (``SoloGuardar``) and then stamps that draft by its id, so an interrupted
stamp is resolved by reading the draft back (``GET factura.json``) instead of issuing again.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import requests

from ..._wire import decode_answer, encode_json, is_uuid, mexico_now, monotonic, utc_now
from ...credentials import CredentialField, Secret, resolve_credentials
from ...errors import (
    ApuntoError,
    AuthenticationError,
    ConfigurationError,
    InsufficientCredits,
    Issue,
    NotFound,
    PermissionDenied,
    ProviderError,
    ServerError,
    Severity,
    TransportError,
    ValidationError,
)
from ...http import DEFAULT_TIMEOUT, RetryPolicy, TimeoutValue, Transport
from ...journal import JournalStore
from ...models.common import Capability, ConnectionStatus
from ...models.invoices import Cancellation, CancelMotive, Invoice, LineItem, StampedInvoice
from ...models.parties import Customer
from ...redaction import redact
from ...vendor_spec import VendorSpec
from ..base import DownloadFormat, InvoiceProvider, StampAttempt
from .errors import contadigital_error
from .mapping import (
    Catalog,
    ResolvedIds,
    SeriesInfo,
    _as_int,
    _customer_matches,
    _issue,
    _looks_like,
    _vendor_text,
    catalog_from_contadigital,
    contadigital_issues,
    contadigital_to_cancellation,
    contadigital_to_stamped,
    customer_to_contadigital,
    invoice_to_contadigital,
    path,
    pick,
    product_to_contadigital,
    rename,
)
from .spec import ContaDigitalApi, legacy_spec

__all__ = ["CREDENTIALS", "ContaDigitalProvider"]

CREDENTIALS: tuple[CredentialField, ...] = (
    CredentialField("api_key"),
    # IdEmpresa: taken from the token reply when not given (assumed field, see the spec).
    CredentialField("company_id", secret=False, required=False),
    # The serie to stamp with; ContaDigital's default active serie when not given.
    CredentialField("series", secret=False, required=False),
)
"""What the provider needs: the API key (public fact), optionally the company id and serie."""


class _BearerAuth(requests.auth.AuthBase):
    """Adds the cached bearer token to every request sent to the ContaDigital host."""

    def __init__(self, provider: ContaDigitalProvider) -> None:
        self._provider = provider

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return self._provider._authorize(request)


class ContaDigitalProvider(InvoiceProvider):
    """Stamp, fetch, download and cancel CFDI 4.0 at ContaDigital.

    Args:
        api_key: the key from *Perfil de usuario → API Facturación* (env
            ``APUNTO_CONTADIGITAL_API_KEY``).
        company_id: IdEmpresa; read from the token reply when not given.
        series: the serie to stamp with; ContaDigital's default active serie when not given.
            ``Invoice.series`` wins for one invoice.
        branch: the sucursal by name; else the one whose postal code is the issuer's, else the
            first.
        base_url: the host (``https://app.contadigital.mx``), or any compatible server.
        environment: ``production`` or ``sandbox`` (ContaDigital's test prefix on the host).
        session, timeout, max_retries, retry: transport options.
        sleep: how to wait between retries.
        clock: monotonic seconds, for retry pacing and the token cache.
        now: the aware current time; the document date (Mexico City wall time) is read from it
            when the invoice carries none.
        spec: overrides of :data:`~.spec.SPEC` (``{"path.products": ...}``); unknown keys
            are refused.
        journal: the stamping journal (``docs/idempotency.md``).
        api: deprecated (one release): a :class:`~.spec.ContaDigitalApi`, turned into ``spec``
            overrides.
    """

    name: ClassVar[str] = "contadigital"
    finds_existing: ClassVar[bool] = True  # by the draft id the key stored
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.STAMP,
            Capability.GET,
            Capability.DOWNLOAD_XML,
            Capability.DOWNLOAD_PDF,
            Capability.CANCEL,
            Capability.SEND_EMAIL,
        }
    )

    def __init__(
        self,
        *,
        api_key: str | Secret | None = None,
        company_id: int | str | None = None,
        series: str | None = None,
        branch: str | None = None,
        base_url: str | None = None,
        environment: str = "production",
        session: requests.Session | None = None,
        timeout: TimeoutValue | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = monotonic,
        now: Callable[[], datetime] = utc_now,
        spec: Mapping[str, Any] | None = None,
        journal: JournalStore | str | None = None,
        api: ContaDigitalApi | None = None,
    ) -> None:
        if environment not in ("production", "sandbox"):
            raise ConfigurationError(
                f"environment must be 'production' or 'sandbox', not {environment!r}"
            )
        found = resolve_credentials(
            self.name,
            CREDENTIALS,
            {"api_key": api_key, "company_id": company_id, "series": series},
        )
        self._api_key: Secret = found["api_key"]
        self._company_id: int | None = None
        if found["company_id"] is not None:
            try:
                self._company_id = int(found["company_id"])
            except ValueError:
                raise ConfigurationError(
                    f"contadigital company_id must be an integer (IdEmpresa), not {found['company_id']!r}"
                ) from None
        self.series: str | None = found["series"]
        self.branch = branch
        self.environment = environment
        if isinstance(spec, VendorSpec):
            spec = spec.with_overrides(None)  # this provider's own record of assumptions used
        self.spec: VendorSpec = legacy_spec(spec, api, where="ContaDigitalProvider")
        host = (base_url or self.spec["value.production_url"]).rstrip("/")
        self.base_url = host + (self.spec["path.test_prefix"] if environment == "sandbox" else "")
        policy = (retry or RetryPolicy()).with_max_retries(max_retries)
        self._clock = clock
        self._now = now
        self.transport = Transport(
            self.name,
            self.base_url,
            auth=_BearerAuth(self),
            headers={"Content-Type": "application/json; charset=utf-8"},
            timeout=timeout or DEFAULT_TIMEOUT,
            retry=policy,
            session=session,
            error_mapper=functools.partial(contadigital_error, spec=self.spec),
            on_unauthorized=self._on_unauthorized,
            secrets=[self._api_key.reveal()],
            sleep=sleep,
            clock=clock,
        )
        self._host = _host_of(self.base_url)
        self._local = threading.local()
        self._token_lock = threading.RLock()
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._catalog_lock = threading.RLock()
        self._catalog: Catalog | None = None
        self._products: dict[tuple[str, str], int] = {}
        self._customers: dict[Customer, int] = {}
        self._customers_lock = threading.Lock()
        self._set_journal(journal)

    def __repr__(self) -> str:
        return f"ContaDigitalProvider(base_url={self.base_url!r}, environment={self.environment!r})"

    # -- account: token ----------------------------------------------------------------------

    def _authorize(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if getattr(self._local, "connecting", False) or _host_of(request.url or "") != self._host:
            # The token exchange needs no token, and files on other hosts must not get it.
            return request
        token = self._current_token()
        self._local.sent_token = token
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    def _current_token(self) -> str:
        with self._token_lock:
            if self._token is None or self._clock() >= self._token_expires_at:
                self._connect()
            assert self._token is not None
            return self._token

    def _connect(self) -> None:
        """Exchange the API key for a token (caller holds the token lock)."""
        self._local.connecting = True
        try:
            result = self._call(
                "POST", "connect", rename(self.spec, {"ApiKey": self._api_key.reveal()}),
                operation="connect",
                idempotent=True,  # a token exchange creates nothing worth protecting
            )
        finally:
            self._local.connecting = False
        token = pick(self.spec, result, "token")
        if not isinstance(token, str) or not token:
            raise AuthenticationError(
                "ContaDigital's token reply carried no token", provider=self.name
            )
        if self._company_id is None:
            company = _as_int(pick(self.spec, result, "token_company_id"), default=0)
            self._company_id = company or None
        self._token = token
        self._token_expires_at = self._clock() + self.spec["limit.token_ttl"]

    def _on_unauthorized(self) -> bool:
        if getattr(self._local, "connecting", False):
            return False  # the key itself was refused: nothing to refresh
        sent = getattr(self._local, "sent_token", None)
        with self._token_lock:
            # Another thread may have refreshed already; only a stale token is replaced.
            if self._token is None or self._token == sent:
                self._token = None
                self._connect()
        return True

    @property
    def company_id(self) -> int:
        """IdEmpresa: the configured one, else the one the token reply named."""
        if self._company_id is None:
            self._current_token()
        if self._company_id is None:
            raise ConfigurationError(
                "ContaDigital did not name the company (IdEmpresa) when connecting; pass "
                "company_id= or set APUNTO_CONTADIGITAL_COMPANY_ID"
            )
        return self._company_id

    # -- requests ----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        purpose: str,
        body: Any = None,
        *,
        operation: str = "",
        idempotent: bool | None = None,
        expected: Iterable[int] = (),
        **params: object,
    ) -> Any:
        """One request; returns ``Resultado`` or raises the typed error of the envelope."""
        data = encode_json(body) if body is not None else None
        response = self.transport.request(
            method, path(self.spec, purpose, **params), data=data, idempotent=idempotent,
            expected=expected,
        )
        if response.status_code == 404 and 404 in expected:
            return None
        decoded = decode_answer(response, self.transport)
        code = pick(self.spec, decoded, "code")
        if code is None:
            raise TransportError(
                f"{self.name}: the reply to {method} {self.spec['path.' + purpose]} has no "
                f"{'/'.join(self.spec['field.code'])} envelope",
                provider=self.name,
                request_sent=True,
            )
        if _as_int(code, default=-1) != self.spec["value.ok_code"]:
            raise contadigital_error(self.name, response, spec=self.spec, operation=operation)
        return pick(self.spec, decoded, "result")

    # -- account: catalog, check_connection --------------------------------------------------

    def catalog(self, *, refresh: bool = False) -> Catalog:
        """The account's ids (``utiles``), fetched once and cached; ``refresh`` re-reads it."""
        with self._catalog_lock:
            if self._catalog is None or refresh:
                result = self._call("GET", "catalog", company_id=self.company_id)
                catalog = catalog_from_contadigital(result or {}, self.spec)
                self._catalog = catalog
                for product in catalog.products:
                    self._products[(product.product_code, product.name.upper())] = product.id
            return self._catalog

    def _series_problem(self, catalog: Catalog, wanted: str | None) -> tuple[SeriesInfo | None, str]:
        serie = catalog.find_series(wanted)
        if serie is None and wanted:
            names = ", ".join(s.name for s in catalog.series) or "none"
            return None, f"serie {wanted!r} does not exist in ContaDigital (series: {names})"
        if serie is None:
            return None, "ContaDigital has no active serie; activate one in ContaDigital"
        if not serie.active:
            return serie, f"serie {serie.name!r} is inactive in ContaDigital; activate it or pick another"
        return serie, ""

    def _check_connection(self) -> ConnectionStatus:
        """Get a token, read the account catalog and check that the serie is valid and active.

        Wrong keys and accounts not enabled for API invoicing come back as ``ok=False`` with the
        vendor's text; so does a serie that does not exist or is inactive.
        """
        try:
            with self._token_lock:
                self._token = None  # prove the key works now, not 50 minutes ago
            catalog = self.catalog(refresh=True)
        except (AuthenticationError, PermissionDenied) as exc:
            return ConnectionStatus(
                provider=self.name, ok=False, environment=self.environment, detail=exc.message
            )
        serie, problem = self._series_problem(catalog, self.series)
        account = f"{catalog.rfc} {catalog.legal_name}".strip() or None
        extra = {
            "company_id": catalog.company_id,
            "series": serie.name if serie else self.series,
            "series_active": bool(serie and serie.active),
            "branches": [b.name for b in catalog.branches],
        }
        if problem:
            return ConnectionStatus(
                provider=self.name, ok=False, account=account, environment=self.environment,
                detail=problem, extra=extra,
            )
        assert serie is not None
        return ConnectionStatus(
            provider=self.name, ok=True, account=account, environment=self.environment,
            detail=f"connected; serie {serie.name} is active", extra=extra,
        )

    # -- stamping hooks: the ids an invoice refers to ----------------------------------------

    def _resolve(self, invoice: Invoice) -> ResolvedIds:
        catalog = self.catalog()
        try:
            return self._resolve_with(invoice, catalog)
        except ValidationError:
            # The account may have changed since the catalog was read; look once more.
            return self._resolve_with(invoice, self.catalog(refresh=True))

    def _resolve_with(self, invoice: Invoice, catalog: Catalog) -> ResolvedIds:
        issues: list[Issue] = []
        if invoice.issuer is not None and catalog.rfc and invoice.issuer.rfc != catalog.rfc.upper():
            issues.append(_issue(
                "issuer.rfc", "APUNTO-CD-030",
                f"ContaDigital issues for the account's RFC {catalog.rfc}, not {invoice.issuer.rfc}",
                f"ContaDigital emite con el RFC de la cuenta {catalog.rfc}, no {invoice.issuer.rfc}",
            ))
        serie, problem = self._series_problem(catalog, invoice.series or self.series)
        if problem:
            issues.append(_issue("series", "APUNTO-CD-031", problem, problem))
        zip_code = invoice.issuer.zip_code if invoice.issuer else None
        branch = catalog.find_branch(zip_code, self.branch)
        if branch is None:
            issues.append(_issue(
                "issuer.zip_code", "APUNTO-CD-032",
                f"no ContaDigital sucursal {self.branch or ''} to issue from".replace("  ", " "),
                "No hay una sucursal de ContaDigital desde la cual emitir",
            ))
        currency_id = catalog.currencies.get(invoice.currency.upper())
        if currency_id is None:
            issues.append(_issue(
                "currency", "APUNTO-CD-033",
                f"currency {invoice.currency} is not enabled in the ContaDigital account",
                f"La moneda {invoice.currency} no está habilitada en la cuenta de ContaDigital",
            ))
        form = catalog.payment_forms.get(invoice.effective_payment_form)
        if form is None:
            issues.append(_issue(
                "payment_form", "APUNTO-CD-034",
                f"payment form {invoice.effective_payment_form} is not in the ContaDigital account",
                f"La forma de pago {invoice.effective_payment_form} no está en la cuenta",
            ))
        unit_ids = []
        for index, item in enumerate(invoice.items):
            unit_id = catalog.units.get(item.unit_code)
            if unit_id is None:
                issues.append(_issue(
                    f"items[{index}].unit_code", "APUNTO-CD-035",
                    f"unit {item.unit_code} is not enabled in the ContaDigital account",
                    f"La unidad {item.unit_code} no está habilitada en la cuenta de ContaDigital",
                ))
            unit_ids.append(unit_id or 0)
        if issues:
            raise ValidationError(issues)
        assert serie is not None and branch is not None and currency_id is not None
        assert form is not None
        product_ids = tuple(
            self._product_id(item, catalog.company_id, unit_id)
            for item, unit_id in zip(invoice.items, unit_ids, strict=True)
        )
        return ResolvedIds(
            company_id=catalog.company_id,
            rfc_id=catalog.rfc_id,
            series_id=serie.id,
            branch_id=branch.id,
            place_id=branch.place_id,
            place_zip=branch.zip_code,
            customer_id=self._customer_id(invoice.customer, catalog, form[0]),
            currency_id=currency_id,
            payment_form_id=form[0],
            payment_form_text=f"{invoice.effective_payment_form} {form[1]}".strip(),
            product_ids=product_ids,
            unit_ids=tuple(unit_ids),
        )

    def _product_id(self, item: LineItem, company_id: int, unit_id: int) -> int:
        key = (item.product_code, item.product_name.upper())
        with self._catalog_lock:
            known = self._products.get(key)
            if known is not None:
                return known
            body = product_to_contadigital(item, company_id, unit_id, self.spec)
            # Registering a product twice is harmless; it creates no fiscal document.
            result = self._call("POST", "products", body, idempotent=True)
            product_id = _as_int(pick(self.spec, result, "product_id"))
            self._products[key] = product_id
            return product_id

    def _customer_id(self, customer: Customer, catalog: Catalog, payment_form_id: int) -> int:
        # One registration at a time: two first stamps for a new customer must not both create
        # it (ContaDigital refuses the second as a duplicate RFC).
        with self._customers_lock:
            known = self._customers.get(customer)
            if known is None:
                known = self._register_customer(customer, catalog, payment_form_id)
                self._customers[customer] = known
            return known

    def _find_customer(self, customer: Customer, company_id: int) -> Any:
        found = self._call(
            "GET", "customer_by_rfc", company_id=company_id, rfc=customer.rfc, expected=(404,)
        )
        if isinstance(found, list):
            found = next(
                (c for c in found
                 if str(pick(self.spec, c, "customer_name", "")).upper() == customer.legal_name),
                found[0] if found else None,
            )
        return found if _as_int(pick(self.spec, found, "customer_id"), default=0) else None

    def _register_customer(self, customer: Customer, catalog: Catalog, payment_form_id: int) -> int:
        found = self._find_customer(customer, catalog.company_id)
        if found is None:
            body = customer_to_contadigital(
                customer, catalog.company_id, payment_form_id=payment_form_id, spec=self.spec
            )
            try:
                result = self._call("POST", "customers", body, idempotent=True)
            except ProviderError:
                # Created meanwhile (another process, or a retried POST that had landed)?
                found = self._find_customer(customer, catalog.company_id)
                if found is None:
                    raise
            else:
                created_id = _as_int(pick(self.spec, result, "customer_id"))
                self._customer_created(customer, str(created_id))
                return created_id
        existing_id = _as_int(pick(self.spec, found, "customer_id"))
        if not _customer_matches(found, customer, self.spec):
            # An inactive customer, or one saved with other fiscal data, is updated: the SAT
            # compares the receiver with its records, so stale data would be rejected.
            body = customer_to_contadigital(
                customer, catalog.company_id, payment_form_id=payment_form_id,
                customer_id=existing_id, spec=self.spec,
            )
            self._call("PUT", "customers", body)
        return existing_id

    # -- stamping hooks ----------------------------------------------------------------------

    def _vendor_issues(self, invoice: Invoice) -> list[Issue]:
        return contadigital_issues(invoice, self.spec)

    def _journal_account(self) -> str:
        # The API key identifies the account; only a fingerprint of it is stored.
        digest = hashlib.sha256(self._api_key.reveal().encode()).hexdigest()[:16]
        return f"{self.base_url}#{digest}"

    def _prepare_stamp(self, invoice: Invoice) -> Any:
        """Register the customer and products first when needed; their ContaDigital ids."""
        return self._resolve(invoice)

    def _can_find(self, attempt: StampAttempt) -> bool:
        return bool(attempt.reference.get("draft_id"))

    def _resend_is_safe(self, attempt: StampAttempt) -> bool:
        # A draft is stamped at most once: stamping the same draft again cannot make a second
        # CFDI (ContaDigital refuses it as already stamped).
        return bool(attempt.reference.get("draft_id"))

    def _find_existing(self, attempt: StampAttempt) -> StampedInvoice | None:
        """The attempt's draft, when it is stamped."""
        try:
            existing = self.get(attempt.reference["draft_id"])
        except NotFound:
            return None
        return existing if existing.uuid else None

    def _send_stamp(self, attempt: StampAttempt, prepared: Any) -> StampedInvoice:
        """Create and stamp; with a key, through a draft whose id is remembered first.

        Without a key: one create-and-stamp POST. With a key: save a draft (not fiscal, spends
        no credit, safe to retry), remember its id, then stamp the draft by id.
        """
        invoice, ids = attempt.invoice, prepared
        issued_at = mexico_now(self._now)
        if attempt.key is None:
            body = invoice_to_contadigital(invoice, ids, issued_at=issued_at, spec=self.spec)
            attempt.sending()
            result = self._call("POST", "invoices", body, operation="stamp", idempotent=False)
            return self._stamped(result, invoice)
        draft_id = _as_int(attempt.reference.get("draft_id")) or None
        new_draft: dict[str, str] = {}
        if draft_id is not None:
            try:
                existing = self.get(str(draft_id))
            except NotFound:
                draft_id = None  # the draft was deleted in ContaDigital: start over
            else:
                if existing.uuid:
                    return existing
        if draft_id is None:
            draft = invoice_to_contadigital(
                invoice, ids, issued_at=issued_at, spec=self.spec, save_only=True
            )
            saved = self._call("POST", "invoices", draft, operation="stamp", idempotent=True)
            draft_id = _as_int(pick(self.spec, saved, "invoice_id"))
            if not draft_id:
                raise TransportError(
                    f"{self.name}: the draft reply carried no invoice id", provider=self.name,
                    request_sent=False,  # a draft is no fiscal document: nothing was stamped
                )
            new_draft = {"draft_id": str(draft_id)}
        body = invoice_to_contadigital(
            invoice, ids, issued_at=issued_at, spec=self.spec, invoice_id=draft_id
        )
        # A new draft's id is stored with the "sent" record, in one write before the stamp
        # request; a crash before that only leaves a draft, which is no fiscal document.
        attempt.sending(**new_draft)
        try:
            result = self._call("POST", "invoices", body, operation="stamp", idempotent=False)
        except InsufficientCredits as exc:
            exc.saved_id = exc.saved_id or str(draft_id)
            raise
        except ProviderError as exc:
            if isinstance(exc, ServerError):
                raise
            # "Already stamped": a concurrent or late request for this draft won; it is ours.
            try:
                current = self.get(str(draft_id))
            except ApuntoError:
                raise exc from None
            if current.uuid:
                return current
            raise
        return self._stamped(result, invoice)

    def _stamped(self, result: Any, invoice: Invoice | None = None) -> StampedInvoice:
        if not isinstance(result, Mapping):
            raise TransportError(
                f"{self.name}: unexpected Resultado {type(result).__name__}", provider=self.name,
                request_sent=True,
            )
        issuer_rfc = self._catalog.rfc if self._catalog else None
        return contadigital_to_stamped(
            result, spec=self.spec, provider=self.name, invoice=invoice, issuer_rfc=issuer_rfc
        )

    # -- reading -----------------------------------------------------------------------------

    @staticmethod
    def _invoice_id(ref: str) -> int:
        text = str(ref).strip()
        if not re.fullmatch(r"[0-9]+", text):
            hint = " (a UUID cannot be looked up)" if is_uuid(text) else ""
            raise ValidationError(
                f"ContaDigital documents are referred to by their numeric id (IdFactura), "
                f"not {ref!r}{hint}",
                field="ref", code="APUNTO-CD-040",
            )
        return int(text)

    def _invoice_result(self, ref: str) -> Mapping[str, Any]:
        invoice_id = self._invoice_id(ref)
        result = self._call("GET", "invoice", company_id=self.company_id, invoice_id=invoice_id)
        if not isinstance(result, Mapping) or not result:
            raise NotFound(f"ContaDigital returned no invoice {invoice_id}", provider=self.name)
        return result

    def get(self, ref: str) -> StampedInvoice:
        """Fetch an invoice (stamped or a saved draft) by its ContaDigital id."""
        self.require(Capability.GET)
        return self._stamped(self._invoice_result(ref))

    def download(self, ref: str, fmt: DownloadFormat) -> bytes:
        """The CFDI XML or the PDF, from the base64 in the reply or from its download link."""
        self.require(Capability.DOWNLOAD_PDF if fmt == "pdf" else Capability.DOWNLOAD_XML)
        if fmt not in ("xml", "pdf"):
            raise ValidationError(f"format must be 'xml' or 'pdf', not {fmt!r}", field="fmt")
        result = self._invoice_result(ref)
        encoded = pick(self.spec, result, f"{fmt}_base64")
        if isinstance(encoded, str) and encoded:
            try:
                content = base64.b64decode(encoded, validate=False)
            except (binascii.Error, ValueError) as exc:
                raise TransportError(
                    f"{self.name}: the {fmt} of invoice {ref} is not valid base64: {exc}",
                    provider=self.name, request_sent=True,
                ) from None
        else:
            link = pick(self.spec, result, f"{fmt}_url")
            if not isinstance(link, str) or not link:
                raise NotFound(
                    f"ContaDigital holds no {fmt.upper()} for invoice {ref} "
                    "(is it stamped?)",
                    provider=self.name,
                )
            content = self.transport.request("GET", link).content
        if not _looks_like(fmt, content):
            raise ProviderError(
                f"ContaDigital's {fmt.upper()} for invoice {ref} is not a {fmt.upper()} document",
                provider=self.name, raw_body=redact(content[:200].decode("utf-8", "replace")),
            )
        return content

    # -- cancelling --------------------------------------------------------------------------

    def _cancel(
        self, ref: str, motive: CancelMotive, replacement_uuid: str | None
    ) -> Cancellation:
        """Cancel with a SAT motive: ``DELETE /api/cfdi.json`` with a JSON body."""
        from ...sat import validate_cancellation

        self.require(Capability.CANCEL)
        invoice_id = self._invoice_id(ref)
        problems = validate_cancellation(motive, replacement_uuid)
        if any(i.severity is Severity.ERROR for i in problems):
            raise ValidationError(problems)
        motive = CancelMotive(motive)
        replacement = (
            replacement_uuid.strip().upper()
            if replacement_uuid and motive.requires_replacement  # only 01 takes one
            else None
        )
        body = {
            "IdEmpresa": self.company_id,
            "IdFactura": invoice_id,
            "Motivo": motive.value,
            "UUIDSustitucion": replacement,
        }
        # Cancelling twice is harmless (the SAT answers "already cancelled"), so a DELETE may
        # be retried after a dropped connection.
        result = self._call("DELETE", "invoices", rename(self.spec, body), operation="cancel")
        return contadigital_to_cancellation(
            result, str(invoice_id), motive, replacement, spec=self.spec,
            provider=self.name,
        )

    # -- e-mail, release ---------------------------------------------------------------------

    def _send_email(
        self, ref: str, recipients: Sequence[str], *, message: str | None, subject: str | None
    ) -> str:
        """``GET /api/cfdi/enviar.json/{IdEmpresa}/{IdFactura}/{email}``, one per address.

        The address travels in the path, so each gets its own request; the call carries no
        subject or message. Returns ContaDigital's answers, one line per address.
        """
        from ..email import refuse_email_option

        refuse_email_option("ContaDigital", "message", message)
        refuse_email_option("ContaDigital", "subject", subject)
        invoice_id = self._invoice_id(ref)
        answers = []
        for address in recipients:
            # A GET with an effect: not retried once sent, or the e-mail could go out twice.
            result = self._call(
                "GET", "email", idempotent=False,
                company_id=self.company_id, invoice_id=invoice_id, email=address,
            )
            answers.append(str(_vendor_text(None, result, self.spec) or ""))
        return "\n".join(a for a in answers if a)

    def send_by_email(self, ref: str, email: str) -> str:
        """Deprecated name of :meth:`send_email` (kept for one release)."""
        warnings.warn(
            "ContaDigitalProvider.send_by_email() is deprecated; use send_email()",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.send_email(ref, email)

    def release(self) -> None:
        """Close the connection pools this provider opened."""
        self.transport.close()


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()

