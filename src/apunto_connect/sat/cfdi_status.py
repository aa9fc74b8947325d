"""Ask the SAT whether a CFDI is still valid and whether it can be cancelled.

The SAT's public SOAP service ``ConsultaCFDIService`` (no credentials) takes the printed-QR
expression of a stamped CFDI (issuer RFC, receiver RFC, total, UUID) and answers with its
state (``Vigente`` / ``Cancelado`` / ``No Encontrado``), whether and how it can be cancelled,
the status of a cancellation in progress and the EFOS check::

    from apunto_connect import sat

    answer = sat.status("6e546729-960a-4505-8e81-2d2952145bd9", "EKU9003173C9",
                        "URE180429TM6", "1160.00")
    answer.state, answer.cancellable          # ('Vigente', 'Cancelable sin aceptación')

    rows = sat.status_many(parsed_cfdis, workers=4, min_interval=0.25)
    pandas.DataFrame(rows)                    # one row per document, errors in a column

The service is slow and sometimes down: calls have timeouts and retries (it is a read, so
retrying is safe), and :func:`status_many` keeps a bounded number of requests in flight and a
minimum pause between request starts, so a folder of 10,000 CFDI does not hammer it. The
sandbox serves an emulator of the service (``Sandbox().emulator("sat_status")``).
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from .._wire import UUID_PATTERN
from ..errors import ApuntoError, Issue, ProviderError, Severity, ValidationError
from ..money import to_decimal
from .rfc import normalize_rfc

if TYPE_CHECKING:
    import requests

    from ..cfdi.models import Cfdi
    from ..http import Transport

__all__ = [
    "SOAP_ACTION",
    "STATUS_COLUMNS",
    "STATUS_URL",
    "CfdiStatus",
    "SatStatusClient",
    "StatusQuery",
    "status",
    "status_many",
]

STATUS_URL = "https://consultaqr.facturaelectronica.sat.gob.mx/ConsultaCFDIService.svc"
"""The SAT's public CFDI status service (SOAP 1.1)."""

SOAP_ACTION = "http://tempuri.org/IConsultaCFDIService/Consulta"
"""The SOAPAction header the service dispatches on."""

_SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
_RFC_SHAPE = re.compile(r"[A-ZÑ&]{3,4}[0-9]{6}[A-Z0-9]{3}")
_TOTAL_MAX = Decimal("1e18")  # the SAT's t_Importe has at most 18 integer digits


def _error(field: str, code: str, message: str, message_es: str) -> ValidationError:
    return ValidationError([Issue(field, code, message, message_es, Severity.ERROR)])


@attrs.frozen(slots=True)
class StatusQuery:
    """What the SAT needs to find a CFDI (the printed-QR expression).

    Build it with :meth:`of` (checks every field) or from a parsed CFDI with :meth:`from_cfdi`.
    """

    uuid: str
    issuer_rfc: str
    receiver_rfc: str
    total: Decimal

    @classmethod
    def of(cls, uuid: object, issuer_rfc: object, receiver_rfc: object, total: object) -> StatusQuery:
        """Check and normalise the four fields.

        Raises:
            ValidationError: a field is missing, not text, or malformed (the issue names it).
        """
        if not isinstance(uuid, str) or not UUID_PATTERN.fullmatch(uuid.strip()):
            raise _error(
                "uuid",
                "APUNTO-801",
                f"{uuid!r} is not a folio fiscal (UUID of 36 characters)",
                f"{uuid!r} no es un folio fiscal (UUID de 36 caracteres)",
            )
        rfcs = []
        for field, value in (("issuer_rfc", issuer_rfc), ("receiver_rfc", receiver_rfc)):
            text = normalize_rfc(value) if isinstance(value, str) else None
            if text is None or not _RFC_SHAPE.fullmatch(text):
                raise _error(
                    field,
                    "APUNTO-802",
                    f"{value!r} is not an RFC of 12 or 13 characters",
                    f"{value!r} no es un RFC de 12 o 13 caracteres",
                )
            rfcs.append(text)
        try:
            amount = to_decimal(total, field="total")
        except ValidationError:
            amount = Decimal(-1)
        if amount < 0 or amount >= _TOTAL_MAX:
            raise _error(
                "total",
                "APUNTO-803",
                f"{total!r} is not a CFDI total (0 or more, at most 18 integer digits)",
                f"{total!r} no es un total de CFDI (0 o más, máximo 18 enteros)",
            )
        return cls(uuid.strip(), rfcs[0], rfcs[1], amount)

    @classmethod
    def from_cfdi(cls, cfdi: Cfdi) -> StatusQuery:
        """The query of a parsed, stamped CFDI (:func:`apunto_connect.cfdi.parse`).

        Raises:
            ValidationError: the document is not stamped (no TimbreFiscalDigital UUID).
        """
        stamp = getattr(cfdi, "stamp", None)
        if stamp is None:
            raise _error(
                "uuid",
                "APUNTO-804",
                "the CFDI is not stamped (no TimbreFiscalDigital): the SAT cannot know it",
                "El CFDI no está timbrado (sin TimbreFiscalDigital): el SAT no puede conocerlo",
            )
        return cls.of(stamp.uuid, cfdi.issuer.rfc, cfdi.receiver.rfc, cfdi.total)

    @property
    def expression(self) -> str:
        """The printed-QR expression the service takes (``?re=…&rr=…&tt=…&id=…``)."""
        return f"?re={self.issuer_rfc}&rr={self.receiver_rfc}&tt={_total_text(self.total)}&id={self.uuid}"


def _total_text(total: Decimal) -> str:
    """The total as a CFDI writes it: at least two decimals (``1160`` → ``1160.00``)."""
    exponent = total.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -2:
        return format(total.quantize(Decimal("0.01")), "f")
    return format(total, "f")


@attrs.frozen(slots=True)
class CfdiStatus:
    """The SAT's answer about one CFDI, with its texts kept verbatim.

    Attributes:
        query: what was asked.
        code: ``CodigoEstatus`` (``S - Comprobante obtenido satisfactoriamente.``).
        state: ``Estado``: ``Vigente``, ``Cancelado`` or ``No Encontrado``.
        cancellable: ``EsCancelable`` (``Cancelable sin aceptación``, ``Cancelable con
            aceptación``, ``No cancelable``), ``None`` when the SAT gives none.
        cancellation_status: ``EstatusCancelacion`` (``En proceso``, ``Plazo vencido``…).
        efos: ``ValidacionEFOS`` (``200`` when the issuer is not in the EFOS list).
    """

    query: StatusQuery
    code: str
    state: str
    cancellable: str | None = None
    cancellation_status: str | None = None
    efos: str | None = None

    @property
    def found(self) -> bool:
        """Whether the SAT knows the CFDI (``CodigoEstatus`` starts with ``S``)."""
        return self.code.startswith("S")

    @property
    def active(self) -> bool:
        """Whether the CFDI is ``Vigente``."""
        return self.state.strip().lower() == "vigente"

    @property
    def cancelled(self) -> bool:
        """Whether the CFDI is ``Cancelado``."""
        return self.state.strip().lower() == "cancelado"

    def as_row(self) -> dict[str, Any]:
        """A flat dict for ``pandas.DataFrame(rows)`` (same keys as :func:`status_many`)."""
        return _row(self.query, self, None)


STATUS_COLUMNS = (
    "source", "uuid", "issuer_rfc", "receiver_rfc", "total", "estado", "es_cancelable",
    "estatus_cancelacion", "validacion_efos", "codigo_estatus", "error",
)  # fmt: skip
"""The keys of every :func:`status_many` row, in display order."""


def _row(
    query: StatusQuery | None, answer: CfdiStatus | None, error: str | None, source: str | None = None
) -> dict[str, Any]:
    return {
        "source": source,
        "uuid": query.uuid if query else None,
        "issuer_rfc": query.issuer_rfc if query else None,
        "receiver_rfc": query.receiver_rfc if query else None,
        "total": query.total if query else None,
        "estado": answer.state if answer else None,
        "es_cancelable": answer.cancellable if answer else None,
        "estatus_cancelacion": answer.cancellation_status if answer else None,
        "validacion_efos": answer.efos if answer else None,
        "codigo_estatus": answer.code if answer else None,
        "error": error,
    }


def envelope(query: StatusQuery) -> bytes:
    """The SOAP 1.1 request body for ``query``."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{_SOAP_NS}" xmlns:tem="http://tempuri.org/">'
        "<soap:Header/><soap:Body><tem:Consulta><tem:expresionImpresa>"
        f"<![CDATA[{query.expression}]]>"
        "</tem:expresionImpresa></tem:Consulta></soap:Body></soap:Envelope>"
    ).encode()


def _text_of(root: Any, name: str) -> str | None:
    for element in root.iter():
        tag = element.tag
        if isinstance(tag, str) and tag.rpartition("}")[2] == name:
            text: str | None = element.text
            return text.strip() if text and text.strip() else None
    return None


def parse_answer(query: StatusQuery, body: bytes) -> CfdiStatus:
    """Read the service's SOAP answer (a fault becomes :class:`ProviderError`, text verbatim)."""
    from ..cfdi.safe_xml import parse_xml

    try:
        root = parse_xml(body, max_bytes=1_000_000, source="ConsultaCFDIService")
    except ValidationError as exc:
        raise ProviderError(
            f"unreadable answer from the SAT: {exc}", provider="sat_status", raw_body=_short(body)
        ) from None
    fault = _text_of(root, "faultstring")
    if fault is not None:
        raise ProviderError(fault, provider="sat_status", raw_body=_short(body))
    code = _text_of(root, "CodigoEstatus")
    state = _text_of(root, "Estado")
    if code is None or state is None:
        raise ProviderError(
            "the SAT's answer has no CodigoEstatus/Estado", provider="sat_status",
            raw_body=_short(body),
        )  # fmt: skip
    return CfdiStatus(
        query,
        code,
        state,
        _text_of(root, "EsCancelable"),
        _text_of(root, "EstatusCancelacion"),
        _text_of(root, "ValidacionEFOS"),
    )


def _short(body: bytes) -> str:
    return body[:2000].decode("utf-8", "replace")


def _soap_error(provider: str, response: requests.Response) -> ProviderError:
    """HTTP errors keep the SOAP fault text when there is one (WCF answers faults with 500)."""
    from ..http import default_error_mapper

    error = default_error_mapper(provider, response)
    match = re.search(rb"<faultstring[^>]*>(.*?)</faultstring>", response.content or b"", re.S)
    if match:
        error.message = match.group(1).decode("utf-8", "replace").strip()
        error.args = (error.message,)
    return error


class _Pacer:
    """At least ``interval`` seconds between request starts, across threads."""

    def __init__(self, interval: float, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if self.interval <= 0:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


class SatStatusClient:
    """Client of the SAT's ``ConsultaCFDIService`` (thread-safe; one per process is enough).

    Args:
        base_url: the service URL (the emulator's loopback URL in tests).
        session: a :class:`requests.Session` (the sandbox's to reach its emulator in process).
        timeout: ``(connect, read)`` seconds; the service is slow, so the read is generous.
        max_retries: retries on connection errors, 429 and 5xx (a status query is a read).
        sleep, clock: injectable for tests.
    """

    def __init__(
        self,
        base_url: str = STATUS_URL,
        *,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (5.0, 30.0),
        max_retries: int = 2,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from ..http import RetryPolicy, Transport

        self.base_url = base_url
        self._sleep = sleep
        self._clock = clock
        self.transport: Transport = Transport(
            "sat_status",
            base_url,
            headers={"Accept": "text/xml"},
            timeout=timeout,
            retry=RetryPolicy(max_retries=max_retries),
            session=session,
            error_mapper=_soap_error,
            sleep=sleep,
            clock=clock,
        )

    def status(
        self,
        uuid: object = None,
        issuer_rfc: object = None,
        receiver_rfc: object = None,
        total: object = None,
        *,
        cfdi: Cfdi | None = None,
    ) -> CfdiStatus:
        """Ask the SAT about one CFDI, by its four fields or as a parsed document (``cfdi=``).

        Raises:
            ValidationError: a field is malformed (nothing was sent).
            ProviderError: the service refused or faulted (its text verbatim).
            TransportError: no usable answer (timeouts, connection errors) after retries.
        """
        query = _query(uuid, issuer_rfc, receiver_rfc, total, cfdi)
        return self.ask(query)

    def ask(self, query: StatusQuery) -> CfdiStatus:
        """Send one prepared :class:`StatusQuery`."""
        response = self.transport.request(
            "POST",
            self.base_url,
            data=envelope(query),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": SOAP_ACTION},
            idempotent=True,
        )
        return parse_answer(query, response.content)

    def status_many(
        self,
        documents: Iterable[object],
        *,
        workers: int = 4,
        min_interval: float = 0.25,
        on_result: Callable[[dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Ask about many CFDI; one DataFrame-ready row per document, in input order.

        Args:
            documents: parsed CFDI, :class:`StatusQuery` objects, or ``(uuid, issuer_rfc,
                receiver_rfc, total)`` tuples / mappings with those keys.
            workers: requests in flight at most (1–16).
            min_interval: seconds between request starts, across all workers (politeness:
                0.25 s is at most four requests a second).
            on_result: called with each row as it completes (progress bars).

        A document that cannot be asked about, or whose request fails, gets its row with the
        reason in ``error`` instead of stopping the batch.

        Raises:
            ValidationError: ``workers`` or ``min_interval`` out of range.
        """
        if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= 16:
            raise _error("workers", "APUNTO-805", "workers must be 1-16", "workers debe ser 1-16")
        if not isinstance(min_interval, (int, float)) or not 0 <= min_interval <= 60:
            raise _error(
                "min_interval", "APUNTO-805", "min_interval must be 0-60 seconds",
                "min_interval debe ser de 0 a 60 segundos",
            )  # fmt: skip
        pacer = _Pacer(float(min_interval), self._clock, self._sleep)

        def one(document: object) -> dict[str, Any]:
            source = getattr(document, "source", None)
            source = source if isinstance(source, str) else None
            try:
                query = _as_query(document)
            except ValidationError as exc:
                row = _row(None, None, str(exc), source)
            else:
                pacer.wait()
                try:
                    answer = self.ask(query)
                except ApuntoError as exc:
                    row = _row(query, None, f"{type(exc).__name__}: {exc}", source)
                else:
                    row = _row(query, answer, None, source)
            if on_result is not None:
                on_result(row)
            return row

        rows: list[dict[str, Any]] = []
        pending: deque[Future[dict[str, Any]]] = deque()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sat-status") as pool:
            # A short queue of submitted documents keeps the input lazy (a parse_many stream
            # of 10,000 files is read as the answers come) and the rows in input order.
            for document in _documents(documents):
                pending.append(pool.submit(one, document))
                if len(pending) >= workers * 4:
                    rows.append(pending.popleft().result())
            while pending:
                rows.append(pending.popleft().result())
        return rows

    def close(self) -> None:
        """Close the connections this client opened."""
        self.transport.close()

    def __enter__(self) -> SatStatusClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _documents(documents: Iterable[object]) -> Iterator[object]:
    if isinstance(documents, (str, bytes)) or not isinstance(documents, Iterable):
        raise _error(
            "documents",
            "APUNTO-805",
            "documents must be an iterable of CFDI, queries or (uuid, rfc, rfc, total) tuples",
            "documents debe ser un iterable de CFDI, consultas o tuplas (uuid, rfc, rfc, total)",
        )
    yield from documents


def _as_query(document: object) -> StatusQuery:
    if isinstance(document, StatusQuery):
        return document
    if isinstance(document, tuple) and len(document) == 4:
        return StatusQuery.of(*document)
    if isinstance(document, Mapping):
        return StatusQuery.of(
            document.get("uuid"), document.get("issuer_rfc"), document.get("receiver_rfc"),
            document.get("total"),
        )  # fmt: skip
    if hasattr(document, "stamp") and hasattr(document, "issuer") and hasattr(document, "receiver"):
        return StatusQuery.from_cfdi(document)  # type: ignore[arg-type]
    raise _error(
        "document",
        "APUNTO-805",
        f"cannot ask the SAT about a {type(document).__name__}",
        f"No se puede consultar al SAT un {type(document).__name__}",
    )


def _query(
    uuid: object, issuer_rfc: object, receiver_rfc: object, total: object, cfdi: object
) -> StatusQuery:
    if cfdi is not None:
        return _as_query(cfdi)
    if isinstance(uuid, StatusQuery) or (
        hasattr(uuid, "stamp") and issuer_rfc is None and receiver_rfc is None
    ):
        return _as_query(uuid)
    return StatusQuery.of(uuid, issuer_rfc, receiver_rfc, total)


_DEFAULT: SatStatusClient | None = None
_DEFAULT_LOCK = threading.Lock()


def _default_client() -> SatStatusClient:
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = SatStatusClient()
        return _DEFAULT


def status(
    uuid: object = None,
    issuer_rfc: object = None,
    receiver_rfc: object = None,
    total: object = None,
    *,
    cfdi: Cfdi | None = None,
    client: SatStatusClient | None = None,
) -> CfdiStatus:
    """Ask the SAT whether a CFDI is ``Vigente`` and cancellable (see :class:`SatStatusClient`).

    ``status(uuid, issuer_rfc, receiver_rfc, total)`` or ``status(parsed_cfdi)``; pass
    ``client=`` to reach another URL (the sandbox's emulator) or reuse settings.
    """
    return (client or _default_client()).status(uuid, issuer_rfc, receiver_rfc, total, cfdi=cfdi)


def status_many(
    documents: Iterable[object],
    *,
    workers: int = 4,
    min_interval: float = 0.25,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    client: SatStatusClient | None = None,
) -> list[dict[str, Any]]:
    """Ask about many CFDI with bounded concurrency and pacing (see :meth:`SatStatusClient.status_many`)."""
    return (client or _default_client()).status_many(
        documents, workers=workers, min_interval=min_interval, on_result=on_result
    )
