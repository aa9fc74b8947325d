"""Emulator of the SAT's public CFDI status service (``ConsultaCFDIService``, SOAP 1.1).

It speaks the real contract: ``POST /ConsultaCFDIService.svc`` with ``SOAPAction:
http://tempuri.org/IConsultaCFDIService/Consulta`` and a ``Consulta/expresionImpresa`` body
(``?re=…&rr=…&tt=…&id=…``), answered with ``ConsultaResult`` (CodigoEstatus, EsCancelable,
Estado, EstatusCancelacion, ValidacionEFOS). A wrong SOAPAction gets the WCF contract-mismatch
fault with HTTP 500, as the real host does.

The emulated SAT knows the documents registered with :meth:`SatStatusEmulator.register` (or
:meth:`~SatStatusEmulator.register_xml` for a stamped XML); anything else is ``No Encontrado``,
as is a known UUID asked with another RFC or total (the SAT matches all four fields).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import ClassVar
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import attrs

from .framework import Emulator, EmulatorRequest, EmulatorResponse, route

__all__ = ["SatStatusEmulator", "StatusRecord"]

BASE_URL = "https://consultaqr.facturaelectronica.sat.gob.mx"

FOUND = "S - Comprobante obtenido satisfactoriamente."
NOT_FOUND = "N - 602: Comprobante no encontrado."
BAD_EXPRESSION = "N - 601: La expresión impresa proporcionada no es válida."

_EXPRESSION = re.compile(r"<(?:\w+:)?expresionImpresa>(.*?)</(?:\w+:)?expresionImpresa>", re.S)
_CDATA = re.compile(r"^\s*<!\[CDATA\[(.*)\]\]>\s*$", re.S)
_ACTION = "http://tempuri.org/IConsultaCFDIService/Consulta"


@attrs.define(slots=True)
class StatusRecord:
    """One CFDI as the emulated SAT holds it."""

    uuid: str
    issuer_rfc: str
    receiver_rfc: str
    total: Decimal
    state: str = "Vigente"
    cancellable: str = "Cancelable sin aceptación"
    cancellation_status: str = ""
    efos: str = "200"


class SatStatusEmulator(Emulator):
    """The SAT's ``ConsultaCFDIService``: no credentials, one SOAP operation."""

    name: ClassVar[str] = "sat_status"
    kind: ClassVar[str] = "sat"
    base_urls: ClassVar[tuple[str, ...]] = (BASE_URL,)
    demo_credentials: ClassVar[Mapping[str, str]] = {}

    def setup(self) -> None:
        """No CFDI registered yet."""
        self.documents: dict[str, StatusRecord] = {}
        self.queries = 0

    def provider_options(self) -> dict[str, object]:
        """The client talks to the service URL itself (its path is part of the base URL)."""
        return {"base_url": f"{BASE_URL}/ConsultaCFDIService.svc"}

    # -- state ------------------------------------------------------------------------------

    def register(
        self,
        uuid: str,
        issuer_rfc: str,
        receiver_rfc: str,
        total: Decimal | str,
        *,
        state: str = "Vigente",
        cancellable: str = "Cancelable sin aceptación",
        cancellation_status: str = "",
        efos: str = "200",
    ) -> StatusRecord:
        """Make the emulated SAT know a CFDI (as a PAC's stamp would)."""
        record = StatusRecord(
            uuid.upper(), issuer_rfc.upper(), receiver_rfc.upper(), Decimal(str(total)), state,
            cancellable, cancellation_status, efos,
        )  # fmt: skip
        with self.lock:
            self.documents[record.uuid] = record
        return record

    def register_xml(self, xml: bytes, **options: str) -> StatusRecord:
        """Register a stamped CFDI from its XML (UUID, RFCs and total read from it)."""
        from ..cfdi import parse

        cfdi = parse(xml)
        if cfdi.stamp is None:
            raise ValueError("the document is not stamped")
        return self.register(
            cfdi.stamp.uuid, cfdi.issuer.rfc, cfdi.receiver.rfc, cfdi.total, **options
        )

    def cancel(self, uuid: str, *, status: str = "Cancelado sin aceptación") -> None:
        """Mark a known CFDI cancelled (``EstatusCancelacion`` as the SAT words it)."""
        with self.lock:
            record = self.documents[uuid.upper()]
            record.state = "Cancelado"
            record.cancellable = "No cancelable"
            record.cancellation_status = status

    # -- the service ------------------------------------------------------------------------

    @route("POST", "/ConsultaCFDIService.svc")
    def consulta(self, request: EmulatorRequest) -> EmulatorResponse:
        """``IConsultaCFDIService/Consulta``."""
        action = request.header("soapaction").strip('"')
        if action != _ACTION:
            return _fault(
                "a:ActionNotSupported",
                f"The message with Action '{action}' cannot be processed at the receiver, due "
                "to a ContractFilter mismatch at the EndpointDispatcher. This may be because of "
                "either a contract mismatch (mismatched Actions between sender and receiver) or "
                "a binding/security mismatch between the sender and the receiver.  Check that "
                "sender and receiver have the same contract and the same binding (including "
                "security requirements, e.g. Message, Transport, None).",
            )
        found = _EXPRESSION.search(request.body.decode("utf-8", "replace"))
        if found is None:
            return _fault("a:DeserializationFailed", "The formatter threw an exception while "
                          "trying to deserialize the message: expresionImpresa is missing.")  # fmt: skip
        text = found.group(1)
        cdata = _CDATA.match(text)
        expression = cdata.group(1) if cdata else _unescape(text)
        self.queries += 1
        fields = dict(parse_qsl(expression.lstrip("?"), keep_blank_values=True))
        try:
            total = Decimal(fields.get("tt", ""))
        except InvalidOperation:
            total = None
        if not all(fields.get(key) for key in ("re", "rr", "id")) or total is None:
            return _answer(BAD_EXPRESSION, "No Encontrado")
        record = self.documents.get(fields["id"].upper())
        if (
            record is None
            or record.issuer_rfc != fields["re"].upper()
            or record.receiver_rfc != fields["rr"].upper()
            or record.total != total
        ):
            return _answer(NOT_FOUND, "No Encontrado")
        return _answer(
            FOUND, record.state, record.cancellable, record.cancellation_status, record.efos
        )


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _element(name: str, value: str | None) -> str:
    if value is None:
        return ""
    if not value:
        return f"<a:{name}/>"
    return f"<a:{name}>{escape(value)}</a:{name}>"


def _answer(
    code: str,
    state: str,
    cancellable: str | None = None,
    cancellation_status: str | None = None,
    efos: str | None = None,
) -> EmulatorResponse:
    body = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        '<ConsultaResponse xmlns="http://tempuri.org/"><ConsultaResult '
        'xmlns:a="http://schemas.datacontract.org/2004/07/Sat.Cfdi.Negocio.ConsultaCfdi.Servicio" '
        'xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
        f"{_element('CodigoEstatus', code)}{_element('EsCancelable', cancellable)}"
        f"{_element('Estado', state)}{_element('EstatusCancelacion', cancellation_status)}"
        f"{_element('ValidacionEFOS', efos)}"
        "</ConsultaResult></ConsultaResponse></s:Body></s:Envelope>"
    )
    return EmulatorResponse(200, body.encode(), {"Content-Type": "text/xml; charset=utf-8"})


def _fault(code: str, text: str) -> EmulatorResponse:
    body = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
        f'<faultcode xmlns:a="http://schemas.microsoft.com/ws/2005/05/addressing/none">{code}'
        f'</faultcode><faultstring xml:lang="en-US">{escape(text)}</faultstring>'
        "</s:Fault></s:Body></s:Envelope>"
    )
    return EmulatorResponse(500, body.encode(), {"Content-Type": "text/xml; charset=utf-8"})
