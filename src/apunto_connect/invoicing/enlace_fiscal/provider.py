"""The Enlace Fiscal provider: construction, account, stamping hooks, reading, cancelling.

Every request goes through :class:`~apunto_connect.http.Transport` (one POST per action, named
by ``path.*`` in the spec); download links go through a second transport without credentials.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

import requests

from ..._answers import cancellation_answer
from ..._overrides import warn_renamed
from ..._wire import decode_json, encode_json, is_uuid, mexico_now, utc_now
from ...credentials import CredentialField, Secret, resolve_credentials
from ...errors import (
    AuthenticationError,
    ConfigurationError,
    Conflict,
    NotFound,
    PermissionDenied,
    ProviderError,
    ServerError,
    Severity,
    Timeout,
    TransportError,
    ValidationError,
)
from ...http import DEFAULT_TIMEOUT, RetryPolicy, TimeoutValue, Transport
from ...journal import JournalStore
from ...journal.records import StampState
from ...models.common import Capability, ConnectionStatus
from ...models.invoices import (
    Cancellation,
    CancellationStatus,
    CancelMotive,
    Invoice,
    InvoiceStatus,
    StampedInvoice,
)
from ...models.parties import Issuer
from ...models.payments import PaymentReceipt
from ..base import DownloadFormat, InvoiceProvider, StampAttempt
from .errors import enlace_fiscal_error
from .mapping import (
    _ack_of,
    _as_datetime_text,
    _decimal,
    _text,
    aware_now,
    enlace_fiscal_row_to_stamped,
    enlace_fiscal_to_cancellation,
    enlace_fiscal_to_stamped,
    format_fecha,
    invoice_to_enlace_fiscal,
    is_accepted,
    make_ref,
    parse_ref,
    payment_to_enlace_fiscal,
    solicitud,
    xml_from_ack,
)
from .spec import NAME, resolve_spec

__all__ = ["CREDENTIALS", "EnlaceFiscalProvider"]

CREDENTIALS: tuple[CredentialField, ...] = (
    CredentialField("username", secret=False),  # "Usuario" in the portal, usually the RFC
    CredentialField("token"),  # "Clave de Autenticación (Token)"
    CredentialField("api_key"),  # "x-api-key"
    # The serie registered for API use. The field keeps its name so APUNTO_ENLACE_FISCAL_SERIE
    # and stored keyring entries go on working; the keyword is ``series=``.
    CredentialField("serie", secret=False),
    CredentialField("rfc", secret=False, required=False),  # issuer RFC when Usuario differs
)

_PDF_MAGIC = b"%PDF"
_READ_ONLY = frozenset({"check_connection", "balance", "get", "list"})
_RENAMED = {  # former keyword -> the shared vocabulary's (docs/concepts.md)
    "serie": "series",
    # e-mail on stamping: named email_on_stamp so it cannot be mistaken for send_email(),
    # the method that e-mails a CFDI afterwards (docs/concepts.md)
    "send_email": "email_on_stamp",
    "pdf_wait": "file_wait",
    "pdf_poll_interval": "file_poll_interval",
}


def _ambiguous(error: Exception) -> bool:
    """A failure after which the server may have acted on the request."""
    if isinstance(error, TransportError):
        return error.request_sent
    return isinstance(error, ServerError)


def _renamed_keywords(given: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The values of former keywords in ``given``, under their new names, with a warning.

    Raises:
        TypeError: a keyword that never existed, or a former and a new name both given.
    """
    unknown = sorted(set(given) - set(_RENAMED) - {"api"})
    if unknown:
        raise TypeError(f"EnlaceFiscalProvider() got unexpected keyword arguments {unknown}")
    values: dict[str, Any] = {}
    for old, new in _RENAMED.items():
        if old not in given:
            continue
        if current[new] is not None:
            raise TypeError(f"EnlaceFiscalProvider() got both {old}= and {new}=; use {new}=")
        warn_renamed("EnlaceFiscalProvider", old, new, stacklevel=3)
        values[new] = given[old]
    return values


class EnlaceFiscalProvider(InvoiceProvider):
    """Stamp, fetch, download, cancel, list and e-mail CFDI 4.0 documents at Enlace Fiscal.

    Args:
        username: the portal's *Usuario* (normally the issuer's RFC).
        token: *Clave de Autenticación (Token)* for the chosen environment.
        api_key: the *x-api-key* for the chosen environment.
        series: the serie registered in the portal for API use (exact spelling); also read
            from the credential field ``serie`` (``APUNTO_ENLACE_FISCAL_SERIE``).
        rfc: the issuer RFC sent in every body, when it differs from ``username``.
        base_url: another server speaking the same API (the sandbox's loopback server).
        environment: ``production`` (``modo="produccion"``) or ``sandbox`` (``modo="debug"``).
        session: a :class:`requests.Session` to use (proxies, the in-process sandbox).
        timeout: ``(connect, read)`` seconds.
        max_retries: retries of safe calls.
        sleep: how to wait between retries and file polls (the sandbox passes its clock's).
        now: the aware current time, for ``fechaEmision`` when the invoice has none.
        file_wait: the longest total wait, in seconds, for a file drawn later (the PDF); 60.
        file_poll_interval: seconds between two polls of a file link; 5.
        email_on_stamp: ask Enlace Fiscal to e-mail the CFDI to ``customer.email`` on stamping
            (:meth:`send_email` e-mails a stamped CFDI afterwards).
        issuer: the account's fiscal profile (as registered in the portal), used only by the
            local pre-flight checks when ``invoice.issuer`` is not set.
        spec: overrides of :data:`~.spec.SPEC` entries (unknown keys are refused).
        journal: the stamping journal (a store, a path, or ``None`` for the default).

    Former keywords, accepted for one release with a :class:`DeprecationWarning`: ``serie=``
    (``series=``), ``send_email=`` (``email_on_stamp=``), ``pdf_wait=`` / ``pdf_poll_interval=``
    (``file_wait=`` / ``file_poll_interval=``), ``api=`` (the former table's keys, mapped to
    spec keys by :data:`~.spec.LEGACY_API_KEYS`) and a ``now`` returning epoch seconds.

    Idempotency: with ``idempotency_key``, the serie+folio chosen for the first attempt is
    remembered (for this provider object) and any later call with the same key first looks
    that document up; with an explicit ``invoice.folio`` the lookup works across processes too.
    Without a folio, the next folio is 1 + the highest numeric folio of the serie (listed once,
    then counted up in memory).
    """

    name: ClassVar[str] = NAME
    finds_existing: ClassVar[bool] = True  # by serie+folio (informacionCfdi)
    # No look-up before a key's first send: Enlace Fiscal itself refuses a serie+folio that is
    # taken (802), so a folio stamped elsewhere can never become a second CFDI.
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.STAMP,
            Capability.GET,
            Capability.DOWNLOAD_XML,
            Capability.DOWNLOAD_PDF,
            Capability.CANCEL,
            Capability.LIST,
            Capability.SEND_EMAIL,
            Capability.PAYMENT_RECEIPT,
            Capability.CREDIT_NOTE,
            Capability.GLOBAL_INVOICE,
        }
    )

    def __init__(
        self,
        *,
        username: str | None = None,
        token: str | Secret | None = None,
        api_key: str | Secret | None = None,
        series: str | None = None,
        rfc: str | None = None,
        base_url: str | None = None,
        environment: str = "production",
        session: requests.Session | None = None,
        timeout: TimeoutValue | None = None,
        max_retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = utc_now,
        file_wait: float | None = None,
        file_poll_interval: float | None = None,
        email_on_stamp: bool | None = None,
        issuer: Issuer | None = None,
        spec: Mapping[str, Any] | None = None,
        journal: JournalStore | str | None = None,
        **former: Any,
    ) -> None:
        renamed = _renamed_keywords(
            former,
            {
                "series": series,
                "email_on_stamp": email_on_stamp,
                "file_wait": file_wait,
                "file_poll_interval": file_poll_interval,
            },
        )
        series = renamed.get("series", series)
        email_on_stamp = renamed.get("email_on_stamp", email_on_stamp)
        file_wait = renamed.get("file_wait", file_wait)
        file_poll_interval = renamed.get("file_poll_interval", file_poll_interval)
        creds = resolve_credentials(
            NAME,
            CREDENTIALS,
            {"username": username, "token": token, "api_key": api_key, "serie": series, "rfc": rfc},
        )
        self.spec = resolve_spec(spec, former.get("api"), stacklevel=3)
        env = environment.strip().lower()
        modes = {
            "production": self.spec["value.mode_production"],
            "produccion": self.spec["value.mode_production"],
            "sandbox": self.spec["value.mode_sandbox"],
            "debug": self.spec["value.mode_sandbox"],
        }
        if env not in modes:
            raise ConfigurationError(
                f"unknown Enlace Fiscal environment {environment!r}; use 'production' or "
                "'sandbox' (modo 'produccion' or 'debug')"
            )
        self.mode = modes[env]
        self.environment = (
            "sandbox" if self.mode == self.spec["value.mode_sandbox"] else "production"
        )
        self.username: str = creds["username"]
        self.series: str = creds["serie"]
        self.rfc: str = (creds["rfc"] or self.username).upper()
        token_secret: Secret = creds["token"]
        key_secret: Secret = creds["api_key"]
        retry = RetryPolicy().with_max_retries(max_retries)
        self._sleep = sleep
        self._now = aware_now(now)  # a former now= returning epoch seconds is wrapped, warned
        self.file_wait = 60.0 if file_wait is None else file_wait
        self.file_poll_interval = max(5.0 if file_poll_interval is None else file_poll_interval, 0.001)
        self.email_on_stamp = bool(email_on_stamp)  # send_email() is the method that e-mails later
        self.issuer = issuer
        self._configured_issuer = issuer
        self.transport = Transport(
            NAME,
            base_url or self.spec["path.base_url"],
            auth=requests.auth.HTTPBasicAuth(self.username, token_secret.reveal()),
            headers={
                self.spec["header.api_key"]: key_secret.reveal(),
                "Content-Type": "application/json",
            },
            timeout=timeout or DEFAULT_TIMEOUT,
            retry=retry,
            session=session,
            error_mapper=self._error,
            secrets=(token_secret.reveal(), key_secret.reveal()),
            sleep=sleep,
        )
        # Download links are public URLs: credentials are never sent to them.
        self._files = Transport(
            NAME,
            base_url or self.spec["path.base_url"],
            headers={"Accept": "*/*"},
            timeout=timeout or DEFAULT_TIMEOUT,
            retry=retry,
            session=session,
            sleep=sleep,
        )
        self._lock = threading.Lock()
        self._set_journal(journal)
        self._folios: dict[str, int] = {}  # highest folio reserved per serie

    def __repr__(self) -> str:
        return (
            f"EnlaceFiscalProvider(base_url={self.transport.base_url!r}, "
            f"username={self.username!r}, series={self.series!r}, mode={self.mode!r})"
        )

    @property
    def serie(self) -> str:
        """Deprecated alias of :attr:`series` (kept for one release)."""
        return self.series

    def _error(self, provider: str, response: requests.Response) -> ProviderError:
        """The transport's error mapper, with this provider's spec (codes, accepted status)."""
        return enlace_fiscal_error(provider, response, spec=self.spec)

    def _call(self, operation: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """POST ``body`` to the action of ``operation``; return the accepted ack or raise."""
        response = self.transport.request(
            "POST",
            self.spec[f"path.{operation}"],
            data=encode_json(body),
            idempotent=operation in _READ_ONLY,
        )
        try:
            payload = decode_json(response.content)
        except ValueError:
            # Not JSON: the transport's own decoder raises its TransportError (request sent,
            # outcome unknown), which keeps an unreadable stamp answer ambiguous.
            payload = self.transport.decode_json(response)
        ack = _ack_of(payload)
        if ack is None or not is_accepted(ack, self.spec):
            raise self._error(NAME, response)
        return ack

    def _solicitud(self, operation: str, **extra: Any) -> dict[str, Any]:
        return solicitud(self.spec[f"path.{operation}"], rfc=self.rfc, mode=self.mode, **extra)

    # -- account --------------------------------------------------------------------------

    def _check_connection(self) -> ConnectionStatus:
        """Call ``probarConexion``; bad credentials give ``ok=False`` with the vendor's text."""
        try:
            ack = self._call("check_connection", self._solicitud("check_connection"))
        except (AuthenticationError, PermissionDenied) as exc:
            return ConnectionStatus(
                provider=NAME,
                ok=False,
                account=self.rfc,
                environment=self.environment,
                detail=exc.message,
                extra={"mode": self.mode, "serie": self.series, "vendor_code": exc.vendor_code},
            )
        detail = _text(ack.get("mensaje")) or _text(ack.get("estatusDocumento")) or "ok"
        return ConnectionStatus(
            provider=NAME,
            ok=True,
            account=self.rfc,
            environment=self.environment,
            detail=detail,
            extra={"mode": self.mode, "serie": self.series},
        )

    def balance(self) -> Decimal:
        """The account's ``saldo`` (``obtenerSaldo``) in the current mode, as Enlace Fiscal says it."""
        ack = self._call("balance", self._solicitud("balance"))
        value = _decimal(ack.get(self.spec["field.balance"]))
        if value is None:
            raise ProviderError(
                f"obtenerSaldo answered without a numeric {self.spec['field.balance']!r}",
                provider=NAME,
                details=dict(ack),
            )
        return value

    # -- stamping -------------------------------------------------------------------------

    def _journal_account(self) -> str:
        return f"{self.username}/{self.rfc}"

    def _initial_reference(self, invoice: Invoice) -> dict[str, str]:
        """Serie+folio identify a document; the folio is chosen at send time when not given."""
        reference = {"series": invoice.series or self.series}
        if invoice.folio:
            reference["folio"] = invoice.folio
        return reference

    def _can_find(self, attempt: StampAttempt) -> bool:
        return bool(attempt.reference.get("folio"))

    def _send_stamp(self, attempt: StampAttempt, prepared: Any) -> StampedInvoice:
        """POST ``generarCfdi`` once per folio.

        The serie is ``invoice.series`` or the provider's; the folio is ``invoice.folio``, the
        one an earlier attempt of the same key stored, or the next free one. A folio taken by
        another writer (refused without stamping) makes an automatic folio move to the next.
        """
        invoice = attempt.invoice
        serie = attempt.reference.get("series") or invoice.series or self.series
        folio = attempt.reference.get("folio") or ""
        auto_folio = not invoice.folio
        if not folio:
            folio = self._next_folio(serie)
        issued_at = self._issued_at(invoice)
        receipt = attempt.document if isinstance(attempt.document, PaymentReceipt) else None
        for _ in range(3):
            if receipt is not None:
                # A payment receipt has its own action (generarReciboElectronicoPago).
                operation = "payment"
                body = payment_to_enlace_fiscal(
                    receipt, rfc=self.rfc, serie=serie, folio=folio, mode=self.mode,
                    issued_at=issued_at, spec=self.spec,
                )
            else:
                operation = "stamp"
                body = invoice_to_enlace_fiscal(
                    invoice,
                    rfc=self.rfc,
                    serie=serie,
                    folio=folio,
                    mode=self.mode,
                    issued_at=issued_at,
                    spec=self.spec,
                    send_email=self.email_on_stamp,
                )
            attempt.sending(series=serie, folio=folio)
            try:
                ack = self._call(operation, body)
            except Conflict:
                if not auto_folio or attempt.previous_state in (StampState.SENT, StampState.UNKNOWN):
                    raise  # the base looks the folio up: it may be this key's own CFDI
                # Another writer took the folio: a duplicate is refused without stamping, so
                # listing again and taking the next free folio is safe.
                folio = self._next_folio(serie, refresh=True)
                continue
            except (TransportError, ServerError):
                raise
            except ProviderError:
                if auto_folio:
                    self._release_folio(serie, folio)
                raise
            return enlace_fiscal_to_stamped(
                ack, invoice=invoice.with_changes(series=serie, folio=folio), spec=self.spec
            )
        raise Conflict(
            f"folios of serie {serie!r} kept being taken by other writers; set invoice.folio",
            provider=NAME,
        )

    def _find_existing(self, attempt: StampAttempt) -> StampedInvoice | None:
        """The document with the attempt's serie+folio, if it is this invoice's.

        Raises:
            Conflict: that serie+folio holds a CFDI for another receiver or total.
        """
        serie, folio = attempt.reference.get("series") or self.series, attempt.reference["folio"]
        found = self._find(serie, folio)
        if found is None:
            return None
        invoice = attempt.invoice
        same_receiver = (found.customer_rfc or "").upper() == invoice.customer.rfc
        if not same_receiver or (found.total is not None and found.total != invoice.total):
            raise Conflict(
                f"{make_ref(serie, folio)} is already stamped ({found.uuid}) for "
                f"{found.customer_rfc} with total {found.total}",
                provider=NAME,
            )
        return found

    def _issued_at(self, invoice: Invoice) -> datetime:
        """``fechaEmision``: the invoice's date in Mexico City wall time, else ``now``."""
        moment = invoice.issued_at
        if moment is None:
            return mexico_now(self._now)
        if moment.tzinfo is not None:
            return mexico_now(lambda: moment)
        return moment.replace(microsecond=0)

    def _find(self, serie: str, folio: str) -> StampedInvoice | None:
        """The document ``serie``-``folio``, or ``None`` when Enlace Fiscal does not know it."""
        try:
            return self.get(make_ref(serie, folio))
        except NotFound:
            return None

    def _find_quietly(self, serie: str, folio: str) -> StampedInvoice | None:
        """Like :meth:`_find`, but a failing lookup counts as "don't know" (the caller re-raises)."""
        try:
            return self._find(serie, folio)
        except (ProviderError, TransportError):
            return None

    def _next_folio(self, serie: str, *, refresh: bool = False) -> str:
        """Reserve the next numeric folio of ``serie``.

        The serie is listed once per provider (``listarComprobantes`` has no pagination, so the
        answer grows with the account); later folios count up from memory, and a duplicate
        refused by Enlace Fiscal (another writer) makes the caller list again with ``refresh``.
        """
        with self._lock:
            known = self._folios.get(serie)
        if known is None or refresh:
            listed = 0
            for row in self._rows(since=self.spec["limit.list_since"], until=None, serie=serie):
                folio = _text(row.get("folioInterno")) or _text(row.get("folio")) or ""
                if folio.isdigit() and (_text(row.get("serie")) or serie) == serie:
                    listed = max(listed, int(folio))
            known = max(listed, known or 0)
        with self._lock:
            reserved = max(known, self._folios.get(serie, 0)) + 1
            self._folios[serie] = reserved
        return str(reserved)

    def _release_folio(self, serie: str, folio: str) -> None:
        """Give back a reserved folio that was certainly not used (no gap in the numbering)."""
        with self._lock:
            if folio.isdigit() and self._folios.get(serie) == int(folio):
                self._folios[serie] = int(folio) - 1

    # -- reading --------------------------------------------------------------------------

    def get(self, ref: str) -> StampedInvoice:
        """Fetch a document by ``"SERIE-FOLIO"`` (``informacionCfdi``) or by a UUID it can find."""
        self.require(Capability.GET)
        serie, folio = self._resolve(ref)
        body = self._solicitud("get", incluirPeticion=0, CFDi={"serie": serie, "folio": folio})
        return enlace_fiscal_to_stamped(self._call("get", body), spec=self.spec)

    def _resolve(self, ref: str) -> tuple[str, str]:
        """``(serie, folio)`` of a ref, or of a UUID found in the serie's list."""
        if not is_uuid(ref):
            return parse_ref(ref)
        wanted = ref.strip().upper()
        for row in self._rows(since=self.spec["limit.list_since"], until=None, serie=self.series):
            if (_text(row.get("folioFiscalUUID")) or "").upper() == wanted:
                found = enlace_fiscal_row_to_stamped(row, spec=self.spec)
                return found.series or self.series, found.folio or ""
        raise NotFound(
            f"no document with UUID {wanted} in serie {self.series!r}; Enlace Fiscal finds "
            "documents by serie and folio",
            provider=NAME,
        )

    def download(self, ref: str, fmt: DownloadFormat) -> bytes:
        """The XML (inline in the ack, else its URL) or the PDF (polled until generated)."""
        if fmt == "xml":
            self.require(Capability.DOWNLOAD_XML)
        elif fmt == "pdf":
            self.require(Capability.DOWNLOAD_PDF)
        else:
            raise ValidationError(f"format must be 'xml' or 'pdf', got {fmt!r}", field="fmt")
        stamped = self.get(ref)
        if fmt == "xml":
            inline = xml_from_ack(stamped.raw, self.spec["field.xml_inline"])
            if inline is not None:
                return inline
            url = _text(stamped.raw.get("descargaXmlCFDi"))
            if url is None:
                raise NotFound(f"{ref}: Enlace Fiscal gave neither XML nor an XML link", provider=NAME)
            return self._fetch(url, ref, "XML", lambda body: body.lstrip().startswith(b"<"))
        url = _text(stamped.raw.get("descargaArchivoPDF"))
        if url is None:
            raise NotFound(f"{ref}: Enlace Fiscal gave no PDF link", provider=NAME)
        return self._fetch(url, ref, "PDF", lambda body: body.startswith(_PDF_MAGIC))

    def _fetch(self, url: str, ref: str, what: str, complete: Callable[[bytes], bool]) -> bytes:
        """GET a download link until it serves the file, waiting at most ``file_wait`` seconds.

        Until Enlace Fiscal has generated the file the link answers 403/404 (or something that
        is not the file); each poll is one bounded attempt, so the loop always ends.
        """
        polls = int(self.file_wait // self.file_poll_interval) + 1
        waited = 0.0
        for attempt in range(polls):
            response = self._files.request("GET", url, expected=(403, 404))
            if response.status_code < 400 and complete(response.content):
                return response.content
            if attempt + 1 < polls:
                self._sleep(self.file_poll_interval)
                waited += self.file_poll_interval
        raise Timeout(
            f"{NAME}: the {what} of {ref} was not ready after waiting {waited:g}s "
            f"(last answer HTTP {response.status_code})",
            provider=NAME,
            request_sent=False,
        )

    def list(self, **filters: Any) -> Iterator[StampedInvoice]:
        """Iterate over the documents of a serie issued in a date range (``listarComprobantes``).

        Filters: ``since`` and ``until`` (date, datetime or ``YYYY-MM-DD[ HH:MM:SS]``; by
        default from 2017 until now) and ``serie`` (the provider's by default). Enlace Fiscal
        has no known pagination: the range comes back in one answer.
        """
        self.require(Capability.LIST)
        unknown = set(filters) - {"since", "until", "serie"}
        if unknown:
            raise ValidationError(
                f"unknown filters {sorted(unknown)}; Enlace Fiscal filters by since, until, serie",
                field="filters",
                code="APUNTO-EF-004",
            )
        since = filters.get("since") or self.spec["limit.list_since"]
        until = filters.get("until")
        serie = filters.get("serie") or self.series
        since_text = _as_datetime_text(since)
        until_text = _as_datetime_text(until, end_of_day=True) if until is not None else None

        def rows() -> Iterator[StampedInvoice]:
            for row in self._rows(since=since_text, until=until_text, serie=serie):
                yield enlace_fiscal_row_to_stamped(row, spec=self.spec)

        return rows()

    def _rows(
        self, *, since: str, until: str | None, serie: str
    ) -> Sequence[Mapping[str, Any]]:
        until = until or format_fecha(mexico_now(self._now))
        body = self._solicitud(
            "list", Comprobantes={"fechaInicial": since, "fechaFinal": until, "serie": serie}
        )
        ack = self._call("list", body)
        rows = ack.get(self.spec["field.list_rows"]) or []
        if isinstance(rows, Mapping):  # a single row may come unwrapped
            rows = [rows]
        return [row for row in rows if isinstance(row, Mapping)]

    # -- cancelling and e-mailing ----------------------------------------------------------

    def _cancel(
        self, ref: str, motive: CancelMotive, replacement_uuid: str | None
    ) -> Cancellation:
        """Cancel with ``cancelarCfdi`` (by serie+folio) and a SAT motive.

        Motive ``01`` needs the replacement document: give its UUID (looked up in the serie's
        list) or, cheaper, its ``"SERIE-FOLIO"`` ref — Enlace Fiscal takes the substitute as
        serie+folio. If the answer is lost, the document's state is read back instead of
        cancelling again.
        """
        self.require(Capability.CANCEL)
        from ...sat import validate_cancellation

        given_as_ref = bool(replacement_uuid) and not is_uuid(replacement_uuid or "")
        issues = validate_cancellation(motive, None if given_as_ref else replacement_uuid)
        if given_as_ref:  # Enlace Fiscal's own way: the substitute's "SERIE-FOLIO"
            issues = [i for i in issues if i.field != "replacement_uuid"]
            parse_ref(replacement_uuid or "")
        if any(i.severity is Severity.ERROR for i in issues):
            raise ValidationError(issues)
        motive = CancelMotive(motive)
        serie, folio = parse_ref(ref)
        cfdi: dict[str, Any] = {"serie": serie, "folio": folio, "motivo": motive.value}
        substitute_uuid: str | None = None
        if replacement_uuid and motive.requires_replacement:
            sub_serie, sub_folio = self._resolve(replacement_uuid)
            cfdi["ComprobanteSustitucion"] = {"serie": sub_serie, "folio": sub_folio}
            substitute_uuid = replacement_uuid.upper() if is_uuid(replacement_uuid) else None
        body = self._solicitud("cancel", CFDi=cfdi)
        try:
            ack = self._call("cancel", body)
        except (TransportError, ServerError) as exc:
            if not _ambiguous(exc):
                raise
            current = self._find_quietly(serie, folio)
            if current is None or current.status not in (
                InvoiceStatus.CANCELLED,
                InvoiceStatus.CANCEL_PENDING,
            ):
                raise
            status = (
                CancellationStatus.CANCELLED
                if current.status is InvoiceStatus.CANCELLED
                else CancellationStatus.REQUESTED
            )
            return cancellation_answer(
                current.raw, status, current.uuid, "state read back after a lost answer",
                provider=NAME, ref=ref, motive=motive, replacement_uuid=substitute_uuid,
            )
        return enlace_fiscal_to_cancellation(
            ack, ref=ref, motive=motive, replacement_uuid=substitute_uuid, spec=self.spec
        )

    def _send_email(
        self, ref: str, recipients: Sequence[str], *, message: str | None, subject: str | None
    ) -> str:
        """``enviarCorreo`` with ``CFDi{serie, folio, EnviarCFDI{Correos, mensajeCorreo}}``.

        ``message`` becomes ``mensajeCorreo``; the call has no subject. The action's name and
        body are assumed (sources disagree, see ``path.send_email`` in the spec); not retried.
        """
        from ..email import refuse_email_option

        refuse_email_option("Enlace Fiscal", "subject", subject)
        serie, folio = parse_ref(ref)
        envio: dict[str, Any] = {"Correos": list(recipients)}
        if message:
            envio["mensajeCorreo"] = message
        body = self._solicitud(
            "send_email", CFDi={"serie": serie, "folio": folio, "EnviarCFDI": envio}
        )
        ack = self._call("send_email", body)
        return str(ack.get("mensaje") or ack.get("descripcion") or "")

    def release(self) -> None:
        """Close the connection pools this provider opened."""
        self.transport.close()
        self._files.close()

