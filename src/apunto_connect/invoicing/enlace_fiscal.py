"""Enlace Fiscal (API v6): CFDI 4.0 stamping through one POST endpoint per action.

Enlace Fiscal is a Mexican PAC/invoicing service. Its JSON API v6 lives at
``https://api.enlacefiscal.com/v6/{accion}``: **every call is a POST** and the action name is the
path (``probarConexion``, ``obtenerSaldo``, ``generarCfdi``, ``informacionCfdi``,
``listarComprobantes``, ``cancelarCfdi``, ``enviarCorreo``).

* **Auth**: HTTP Basic ``Usuario:Token`` (the Usuario is normally the issuer's RFC) **plus** an
  ``x-api-key`` header. All three come from the portal's *API → Clave de Autorización* screen and
  are whitespace-sensitive (surrounding spaces are stripped, with a warning).
* **Environment**: there is no test host. The body field ``modo`` is ``"debug"`` (tests) or
  ``"produccion"``; ``environment="sandbox"`` here means ``modo="debug"``. Debug and production
  use *different* Token/x-api-key pairs.
* **Serie**: documents are issued in a serie registered in the portal (*Mi Cuenta → Datos
  Fiscales → Series Comerciales*) with "uso mediante API"; its name must match exactly.
* **Documents are identified by serie + folio**, not by UUID. This module's ``ref`` is
  ``"SERIE-FOLIO"`` (split at the last ``-``, so a serie may contain dashes but a folio may
  not); :func:`make_ref` and :func:`parse_ref` convert.
* **Envelopes**: ``generarCfdi`` takes ``{"CFDi": {...}}``; every other action takes
  ``{"Solicitud": {"rfc", "modo", "accion", ...}}``. Answers come as ``{"AckEnlaceFiscal": {...}}``.
  **An HTTP 200 whose ``estatusDocumento`` is not ``"aceptado"`` is a failure**: its
  ``mensajeError.codigoError``/``descripcionError`` are raised verbatim (code ``800`` = bad
  user/token → :class:`~apunto_connect.errors.AuthenticationError`; a ``CFDI40xxx`` rule in the
  text → :class:`~apunto_connect.errors.StampRejected` with ``sat_code``).
* **Amounts** are sent as strings with the currency's decimals and the SDK computes every line
  and document total itself; ``fechaEmision`` is Mexico City local time (``YYYY-MM-DD HH:MM:SS``).
* **Files**: the XML comes inline (``xmlCFDi``) and as a URL; the PDF URL is handed out at once
  but the file is generated asynchronously, so :meth:`EnlaceFiscalProvider.download` polls it
  with a bounded wait (injectable ``sleep``). Download links are fetched without credentials.
* **Retries**: read-only actions are marked idempotent (retried on 5xx and dropped
  connections); ``generarCfdi``, ``cancelarCfdi`` and ``enviarCorreo`` never are. After an
  ambiguous ``generarCfdi`` failure the document is looked up by serie+folio before anything is
  sent again, so an invoice is never stamped twice.

What is public and what is assumed
----------------------------------
No official documentation was found. The base URL, auth, actions, request envelopes, the
``CFDi`` field names, the success ack fields, the ``mensajeError`` shape, code 800 and the async
PDF come from third-party integrations (2017–2026). **Assumed** (kept in :data:`API` and
:data:`ERROR_CODES`, which you can override, and followed by the sandbox emulator): the key of
the rows of ``listarComprobantes`` and their fields, the cancellation status/receipt keys of
``cancelarCfdi``, the ``estadoCFDi`` values, the field names of related CFDIs, global
information and foreign receivers, and every error code other than ``800``. A 403
``{"message": "Forbidden"}`` (the usual gateway answer to a wrong ``x-api-key``) is read as an
authentication failure.

Sources: the Apunto + Enlace Fiscal help page (credentials, serie), third-party v6 clients in
PHP and JavaScript, ``fernandez14/go-enlacefiscal`` (code 800) and
``bscheiman/EnlaceFiscal`` (SOAP era). See ``docs/vendors/enlace_fiscal.md``.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import requests

from .._answers import answer_mapper
from .._overrides import merged_table
from ..credentials import CredentialField, Secret, resolve_credentials
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    Conflict,
    InsufficientCredits,
    NotFound,
    PermissionDenied,
    ProviderError,
    ServerError,
    Severity,
    StampRejected,
    Timeout,
    TransportError,
    ValidationError,
)
from ..http import DEFAULT_TIMEOUT, RetryPolicy, TimeoutValue, Transport, error_for_status
from ..journal import JournalStore
from ..journal.records import StampState
from ..models.common import Capability, ConnectionStatus
from ..models.invoices import (
    Cancellation,
    CancellationStatus,
    CancelMotive,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    StampedInvoice,
    TaxFactor,
    TaxSummary,
)
from ..models.parties import Issuer
from ..money import quantize, round_money
from ..redaction import redact
from .base import DownloadFormat, InvoiceProvider, StampAttempt

__all__ = [
    "API",
    "BASE_URL",
    "CANCEL_STATUSES",
    "CREDENTIALS",
    "DOCUMENT_STATUSES",
    "ERROR_CODES",
    "NAME",
    "EnlaceFiscalProvider",
    "enlace_fiscal_error",
    "enlace_fiscal_row_to_stamped",
    "enlace_fiscal_to_cancellation",
    "enlace_fiscal_to_stamped",
    "format_fecha",
    "invoice_to_enlace_fiscal",
    "is_accepted",
    "make_ref",
    "mexico_local_now",
    "parse_ref",
    "solicitud",
    "xml_from_ack",
]

NAME = "enlace_fiscal"
BASE_URL = "https://api.enlacefiscal.com/v6"

CREDENTIALS: tuple[CredentialField, ...] = (
    CredentialField("username", secret=False),  # "Usuario" in the portal, usually the RFC
    CredentialField("token"),  # "Clave de Autenticación (Token)"
    CredentialField("api_key"),  # "x-api-key"
    CredentialField("serie", secret=False),  # the serie registered for API use
    CredentialField("rfc", secret=False, required=False),  # issuer RFC when Usuario differs
)

API: dict[str, str] = {
    # Actions (the path below the base URL): seen in third-party v6 clients.
    "check_connection": "probarConexion",
    "balance": "obtenerSaldo",
    "stamp": "generarCfdi",
    "get": "informacionCfdi",
    "list": "listarComprobantes",
    "cancel": "cancelarCfdi",
    "send_email": "enviarCorreo",
    # Values sent in the body: seen in third-party v6 clients.
    "version_cfdi": "4.0",
    "version_ef": "6.5",
    "mode_production": "produccion",
    "mode_sandbox": "debug",
    "accepted": "aceptado",
    "balance_field": "saldo",
    # listarComprobantes has no known pagination; this is the earliest date asked for when
    # looking for the next folio or a UUID (a third-party client uses the same default).
    "list_since": "2017-01-01 00:00:00",
    # ASSUMED: no public source shows these names; the emulator follows them.
    "list_rows": "Comprobantes",
    "row_total": "total",
    "row_currency": "tipoMoneda",
    "row_customer_rfc": "rfcReceptor",
    "row_issued_at": "fechaEmision",
    "cancel_status": "estatusCancelacion",
    "cancel_receipt": "acuseCancelacion",
    "request_echo": "Peticion",
    "kind_field": "tipoComprobante",
    "related_field": "CfdiRelacionados",
    "global_field": "InformacionGlobal",
}
"""Every action name and field name this module uses that a user may need to change.

Entries marked ASSUMED are not confirmed by any public source; override them in a copy passed
as ``EnlaceFiscalProvider(api={...})`` (only the keys you give are replaced).
"""

ERROR_CODES: dict[str, type[ProviderError]] = {
    "800": AuthenticationError,  # "usuario o contraseña no son válidos" (third-party tests)
    # ASSUMED: the real codes of these failures are not public; the emulator uses them and the
    # text rules in ``_classify`` catch the real ones when their wording matches.
    "801": PermissionDenied,  # serie missing or not enabled for API use
    "802": Conflict,  # serie+folio already used
    "803": NotFound,  # serie+folio does not exist
    "804": InsufficientCredits,  # no stamps left
    "805": StampRejected,  # the PAC/SAT rejected the document
    "806": ProviderError,  # malformed request
    "807": Conflict,  # already cancelled / cannot be cancelled in its state
}
"""Enlace Fiscal ``codigoError`` → error class. Only ``800`` is confirmed publicly."""

CANCEL_STATUSES: dict[str, CancellationStatus] = {
    "cancelado": CancellationStatus.CANCELLED,
    "en proceso": CancellationStatus.REQUESTED,
    "solicitado": CancellationStatus.REQUESTED,
    "pendiente": CancellationStatus.PENDING,
    "rechazado": CancellationStatus.REJECTED,
}
"""ASSUMED values of the cancellation status (lower case) and what they mean."""

DOCUMENT_STATUSES: dict[str, InvoiceStatus] = {
    "vigente": InvoiceStatus.ACTIVE,
    "activo": InvoiceStatus.ACTIVE,
    "cancelado": InvoiceStatus.CANCELLED,
    "en proceso de cancelacion": InvoiceStatus.CANCEL_PENDING,
    "en proceso de cancelación": InvoiceStatus.CANCEL_PENDING,
}
"""``estadoCFDi`` values (lower case) and what they mean; anything unknown reads as active."""

_SAT_CODE = re.compile(r"\bCFDI\d{5,6}\b")
_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
_FECHA = "%Y-%m-%d %H:%M:%S"
_PDF_MAGIC = b"%PDF"
_READ_ONLY = frozenset({"check_connection", "balance", "get", "list"})


# -- time -----------------------------------------------------------------------------------


def _mexico_tz() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("America/Mexico_City")
    except Exception:  # no tz database on this machine: central Mexico is UTC-6 since 2022
        return timezone(timedelta(hours=-6), "CST")


def mexico_local_now(now: Callable[[], float] = time.time) -> datetime:
    """The current Mexico City wall time, naive (how Enlace Fiscal wants ``fechaEmision``)."""
    moment = datetime.fromtimestamp(now(), tz=timezone.utc).astimezone(_mexico_tz())
    return moment.replace(tzinfo=None, microsecond=0)


def format_fecha(moment: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in Mexico City time (aware values are converted, naive kept)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(_mexico_tz()).replace(tzinfo=None)
    return moment.strftime(_FECHA)


def _parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("T", " ")[:19]
    try:
        return datetime.strptime(text, _FECHA)
    except ValueError:
        try:
            return datetime.strptime(text[:10], "%Y-%m-%d")
        except ValueError:
            return None


# -- refs -----------------------------------------------------------------------------------


def make_ref(serie: str, folio: str | int) -> str:
    """The provider ``ref`` of a document: ``"SERIE-FOLIO"``."""
    return f"{serie}-{folio}"


def parse_ref(ref: str) -> tuple[str, str]:
    """Split a ``"SERIE-FOLIO"`` ref at its last dash.

    Raises:
        ValidationError: the ref has no dash, or an empty serie or folio (a UUID is not a ref:
            Enlace Fiscal identifies documents by serie and folio only).
    """
    serie, sep, folio = ref.strip().rpartition("-")
    if not sep or not serie or not folio or _UUID.match(ref.strip()):
        raise ValidationError(
            f"Enlace Fiscal documents are referenced as 'SERIE-FOLIO', got {ref!r}",
            field="ref",
            code="APUNTO-EF-001",
        )
    return serie, folio


def _is_uuid(value: str) -> bool:
    return bool(_UUID.match(value.strip()))


# -- formatting -----------------------------------------------------------------------------


def _places(currency: str) -> int:
    from ..sat.catalogs import currency_decimals

    return currency_decimals(currency)


def _money(value: Decimal, currency: str) -> str:
    return f"{round_money(value, currency):.{_places(currency)}f}"


def _plain(value: Decimal) -> str:
    """A number without exponent or trailing zeros (``1``, ``2.5``)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _unit_price(value: Decimal, currency: str) -> str:
    """At least the currency's decimals, up to the six the XSD allows, never losing precision."""
    places = _places(currency)
    six = f"{quantize(value, 6):.6f}"
    whole, _, decimals = six.partition(".")
    decimals = decimals.rstrip("0").ljust(places, "0")
    return f"{whole}.{decimals}" if decimals else whole


def _rate(rate: Decimal) -> str:
    return f"{quantize(rate, 6):.6f}"


def _tax_row(tax: TaxSummary, currency: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "tipo": "retencion" if tax.withholding else "traslado",
        "claveImpuesto": tax.kind.value,
        "tipoFactor": tax.factor.value.lower(),
        "baseImpuesto": _money(tax.base, currency),
    }
    if tax.factor is not TaxFactor.EXEMPT and tax.rate is not None:
        row["tasaOCuota"] = _rate(tax.rate)
        row["importe"] = _money(tax.amount or Decimal(0), currency)
    return row


# -- mappers (pure) -------------------------------------------------------------------------


def solicitud(action: str, *, rfc: str, mode: str, **extra: Any) -> dict[str, Any]:
    """The ``{"Solicitud": {...}}`` envelope every action but ``generarCfdi`` takes."""
    return {"Solicitud": {"rfc": rfc, "modo": mode, "accion": action, **extra}}


def invoice_to_enlace_fiscal(
    invoice: Invoice,
    *,
    rfc: str,
    serie: str,
    folio: str,
    mode: str,
    issued_at: datetime,
    api: Mapping[str, str] = API,
    send_email: bool = False,
) -> dict[str, Any]:
    """Map ``invoice`` to the ``generarCfdi`` body ``{"CFDi": {...}}``.

    Amounts are strings with the currency's decimals; line amounts, taxes and document totals
    are computed here (``invoice.totals``) because Enlace Fiscal expects the client to send them.
    ``issued_at`` must already be Mexico City local time (see :func:`mexico_local_now`).
    """
    currency = invoice.currency
    totals = invoice.totals
    cfdi: dict[str, Any] = {
        "versionCFDi": api["version_cfdi"],
        "versionEF": api["version_ef"],
        "modo": mode,
        "rfc": rfc,
        "serie": serie,
        "folioInterno": str(folio),
        "fechaEmision": format_fecha(issued_at),
        "tipoMoneda": currency,
        "subTotal": _money(totals.subtotal, currency),
        "total": _money(totals.total, currency),
        "exportacion": invoice.export_code,
    }
    if invoice.kind is not InvoiceKind.INCOME:
        cfdi[api["kind_field"]] = invoice.kind.value
    if totals.discount:
        cfdi["descuentos"] = _money(totals.discount, currency)
    if invoice.exchange_rate is not None:
        cfdi["tipoCambio"] = _plain(invoice.exchange_rate)
    payment: dict[str, Any] = {
        "metodoDePago": invoice.effective_payment_method.value,
        "formaDePago": invoice.effective_payment_form,
    }
    if invoice.payment_terms:
        payment["condicionesDePago"] = invoice.payment_terms
    cfdi["DatosDePago"] = payment
    customer = invoice.customer
    receptor: dict[str, Any] = {
        "rfc": customer.rfc,
        "nombre": customer.legal_name,
        "regimenFiscal": customer.tax_regime,
        "usoCfdi": invoice.effective_cfdi_use,
        "DomicilioFiscal": {"cp": customer.zip_code},
    }
    if customer.tax_residence:
        receptor["residenciaFiscal"] = customer.tax_residence
    if customer.foreign_tax_id:
        receptor["numRegIdTrib"] = customer.foreign_tax_id
    cfdi["Receptor"] = receptor
    partidas = []
    for item, line in zip(invoice.items, totals.lines, strict=True):
        partida: dict[str, Any] = {
            "cantidad": _plain(item.quantity),
            "claveUnidad": item.unit_code,
            "unidad": item.unit_name or item.unit_code,
            "claveProdServ": item.product_code,
            "descripcion": item.description,
            "valorUnitario": _unit_price(item.unit_price, currency),
            "importe": _money(line.amount, currency),
            "objetoDeImpuesto": item.effective_tax_object,
        }
        if item.sku:
            partida["noIdentificacion"] = item.sku
        if line.discount:
            partida["descuento"] = _money(line.discount, currency)
        if line.taxes:
            partida["Impuestos"] = [_tax_row(tax, currency) for tax in line.taxes]
        partidas.append(partida)
    cfdi["Partidas"] = partidas
    groups = (*totals.transferred, *totals.withheld)
    if groups:
        summary: dict[str, Any] = {}
        if any(t.amount is not None for t in totals.transferred):
            summary["traslados"] = _money(totals.total_transferred, currency)
        if totals.withheld:
            summary["retenciones"] = _money(totals.total_withheld, currency)
        cfdi["Impuestos"] = {
            "Totales": summary,
            "Impuestos": [_tax_row(tax, currency) for tax in groups],
        }
    if invoice.related:
        cfdi[api["related_field"]] = [
            {"tipoRelacion": group.relation_type, "UUIDs": list(group.uuids)}
            for group in invoice.related
        ]
    if invoice.global_info is not None:
        cfdi[api["global_field"]] = {
            "periodicidad": invoice.global_info.periodicity,
            "meses": invoice.global_info.months,
            "anio": str(invoice.global_info.year),
        }
    if invoice.notes:
        cfdi["BloquesInfoAdicional"] = {
            "BloqueInferior": {"titulo": "Observaciones", "texto": invoice.notes}
        }
    if send_email and customer.email:
        cfdi["EnviarCFDI"] = {"Correos": [customer.email]}
    return {"CFDi": cfdi}


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def xml_from_ack(ack: Mapping[str, Any]) -> bytes | None:
    """The inline XML of an ack (``xmlCFDi``), as raw text or base64, or ``None``."""
    value = ack.get("xmlCFDi")
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.startswith("<"):
        return text.encode("utf-8")
    try:
        decoded = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    return decoded if decoded.lstrip().startswith(b"<") else None


def _document_status(value: Any) -> InvoiceStatus:
    text = (_text(value) or "").lower()
    return DOCUMENT_STATUSES.get(text, InvoiceStatus.ACTIVE)


@answer_mapper(NAME, "acknowledgement")
def enlace_fiscal_to_stamped(
    ack: Mapping[str, Any], *, invoice: Invoice | None = None, provider: str = NAME
) -> StampedInvoice:
    """Map an accepted ``AckEnlaceFiscal`` (from ``generarCfdi`` or ``informacionCfdi``).

    Totals, currency, receiver and Fecha come from the inline XML when there is one, else from
    ``invoice`` (the document just sent). The untouched ack is kept in ``raw``.
    """
    serie = _text(ack.get("serie")) or (invoice.series if invoice else None) or ""
    folio = _text(ack.get("folioInterno")) or _text(ack.get("folio")) or ""
    total = currency = customer_rfc = issuer_rfc = None
    issued_at: datetime | None = None
    xml = xml_from_ack(ack)
    if xml is not None:
        from ..cfdi import parse

        try:
            cfdi = parse(xml, source="xmlCFDi")
        except ValidationError:
            cfdi = None
        if cfdi is not None:
            total, currency, issued_at = cfdi.total, cfdi.currency, cfdi.issued_at
            customer_rfc, issuer_rfc = cfdi.receiver.rfc, cfdi.issuer.rfc
    if invoice is not None:
        total = total if total is not None else invoice.total
        currency = currency or invoice.currency
        customer_rfc = customer_rfc or invoice.customer.rfc
        issued_at = issued_at or invoice.issued_at
    uuid = _text(ack.get("folioFiscalUUID"))
    return StampedInvoice(
        provider=provider,
        id=make_ref(serie, folio),
        uuid=uuid.upper() if uuid else None,
        status=_document_status(ack.get("estadoCFDi")),
        total=total,
        currency=currency,
        series=serie or None,
        folio=folio or None,
        issuer_rfc=issuer_rfc or _text(ack.get("rfc")),
        customer_rfc=customer_rfc,
        issued_at=issued_at,
        stamped_at=_parse_datetime(ack.get("fechaTFD")),
        raw=dict(ack),
    )


@answer_mapper(NAME, "list row")
def enlace_fiscal_row_to_stamped(
    row: Mapping[str, Any], *, api: Mapping[str, str] = API, provider: str = NAME
) -> StampedInvoice:
    """Map one row of ``listarComprobantes`` (field names from :data:`API`, assumed)."""
    serie = _text(row.get("serie")) or ""
    folio = _text(row.get("folioInterno")) or _text(row.get("folio")) or ""
    uuid = _text(row.get("folioFiscalUUID"))
    return StampedInvoice(
        provider=provider,
        id=make_ref(serie, folio),
        uuid=uuid.upper() if uuid else None,
        status=_document_status(row.get("estadoCFDi")),
        total=_decimal(row.get(api["row_total"])),
        currency=_text(row.get(api["row_currency"])),
        series=serie or None,
        folio=folio or None,
        customer_rfc=_text(row.get(api["row_customer_rfc"])),
        issued_at=_parse_datetime(row.get(api["row_issued_at"])),
        stamped_at=_parse_datetime(row.get("fechaTFD")),
        raw=dict(row),
    )


@answer_mapper(NAME, "cancellation")
def enlace_fiscal_to_cancellation(
    ack: Mapping[str, Any],
    *,
    ref: str,
    motive: CancelMotive,
    replacement_uuid: str | None = None,
    api: Mapping[str, str] = API,
    provider: str = NAME,
) -> Cancellation:
    """Map an accepted ``cancelarCfdi`` ack; an accepted ack without a status means cancelled."""
    raw_status = (_text(ack.get(api["cancel_status"])) or "cancelado").lower()
    status = CANCEL_STATUSES.get(raw_status, CancellationStatus.CANCELLED)
    uuid = _text(ack.get("folioFiscalUUID"))
    return Cancellation(
        provider=provider,
        ref=ref,
        motive=motive,
        status=status,
        uuid=uuid.upper() if uuid else None,
        replacement_uuid=replacement_uuid,
        message=_text(ack.get(api["cancel_status"])) or "",
        raw=dict(ack),
    )


def _message_of(error: Any) -> str:
    """``descripcionError`` verbatim, whichever of the known shapes it comes in."""
    if isinstance(error, str):
        return error
    if isinstance(error, Mapping):
        for key in ("texto", "descripcion", "mensaje"):
            if isinstance(error.get(key), str):
                return str(error[key])
        return str(dict(error))
    if isinstance(error, Sequence):
        return "\n".join(_message_of(part) for part in error)
    return "" if error is None else str(error)


def _errors_of(ack: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = ack.get("mensajeError")
    if isinstance(found, Mapping):
        return [found]
    if isinstance(found, Sequence) and not isinstance(found, str):
        return [e for e in found if isinstance(e, Mapping)]
    if isinstance(found, str):
        return [{"descripcionError": found}]
    return []


_TEXT_RULES: tuple[tuple[re.Pattern[str], type[ProviderError]], ...] = (
    (re.compile(r"(?i)usuario o contrase"), AuthenticationError),
    (re.compile(r"(?i)saldo insuficiente|sin saldo|timbres? (insuficientes|disponibles)"), InsufficientCredits),
    (re.compile(r"(?i)ya (fue|ha sido) (utilizad|registrad|emitid)|duplicad"), Conflict),
    (re.compile(r"(?i)no (existe|se encontr)"), NotFound),
)


def _classify(code: str | None, message: str, sat_code: str | None) -> type[ProviderError] | None:
    if code and code in ERROR_CODES:
        return ERROR_CODES[code]
    if sat_code:
        return StampRejected
    for pattern, cls in _TEXT_RULES:
        if pattern.search(message):
            return cls
    return None


def is_accepted(ack: Mapping[str, Any], api: Mapping[str, str] = API) -> bool:
    """Tell whether an ``AckEnlaceFiscal`` reports success.

    A status other than ``aceptado`` or any ``mensajeError`` is a failure, whatever the HTTP
    status said.
    """
    if _errors_of(ack):
        return False
    status = ack.get("estatusDocumento")
    return status is None or str(status).strip().lower() == api["accepted"]


def _ack_of(body: Any) -> Mapping[str, Any] | None:
    if isinstance(body, Mapping):
        ack = body.get("AckEnlaceFiscal")
        if isinstance(ack, Mapping):
            return ack
    return None


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _from_ack(provider: str, response: requests.Response, ack: Mapping[str, Any]) -> ProviderError:
    errors = _errors_of(ack)
    first = errors[0] if errors else {}
    code = _text(first.get("codigoError"))
    message = "\n".join(_message_of(e.get("descripcionError")) for e in errors).strip()
    if not message:
        status = _text(ack.get("estatusDocumento")) or "sin estatus"
        message = f"estatusDocumento: {status}"
    sat_code = None
    found = _SAT_CODE.search(message)
    if found:
        sat_code = found.group(0)
    elif code and code.upper().startswith("CFDI"):
        sat_code = code.upper()
    details: Any = errors[0] if len(errors) == 1 else errors or dict(ack)
    request_id = _text(ack.get("numeroReferencia"))
    cls = _classify(code, message, sat_code)
    if cls is None and response.status_code >= 400:
        return error_for_status(
            provider, response, message, vendor_code=code, details=details, request_id=request_id
        )
    common: dict[str, Any] = {
        "provider": provider,
        # A failure inside a 200 has no meaningful HTTP status.
        "status_code": None if response.status_code < 400 else response.status_code,
        "vendor_code": code,
        "details": details,
        "request_id": request_id,
        "raw_body": redact(response.text[:4000]) if response.content else None,
    }
    if cls is None:
        return ProviderError(message, **common)
    if cls is StampRejected:
        return StampRejected(message, sat_code=sat_code, **common)
    return cls(message, **common)


def enlace_fiscal_error(provider: str, response: requests.Response) -> ProviderError:
    """Map a failed answer (non-2xx, or a 200 whose ack is not ``aceptado``) to a typed error.

    The vendor's ``descripcionError`` is kept verbatim in ``.message``, ``codigoError`` in
    ``vendor_code``, a ``CFDI40xxx`` rule found in the text in ``StampRejected.sat_code`` and
    ``numeroReferencia`` in ``request_id``. Gateway answers (``{"message": ...}``, HTML pages,
    empty bodies) are mapped by HTTP status; a 403 means the ``x-api-key`` was refused.
    """
    body = _json_or_none(response)
    ack = _ack_of(body)
    if ack is not None and (not is_accepted(ack) or response.status_code >= 400):
        return _from_ack(provider, response, ack)
    message = None
    if isinstance(body, Mapping):
        for key in ("message", "Message", "mensaje", "error"):
            if isinstance(body.get(key), str) and body[key].strip():
                message = str(body[key])
                break
    if message is None:
        text = response.text.strip()
        message = text[:500] if text and not text.startswith("<") else ""
        message = message or f"HTTP {response.status_code} {response.reason or ''}".strip()
    details = body if isinstance(body, (Mapping, list)) else None
    if response.status_code == 403:
        return AuthenticationError(
            message,
            provider=provider,
            status_code=403,
            details=details,
            raw_body=redact(response.text[:4000]) if response.content else None,
        )
    if response.status_code < 400:
        return ProviderError(
            f"unexpected answer without AckEnlaceFiscal: {message}",
            provider=provider,
            status_code=response.status_code,
            details=details,
            raw_body=redact(response.text[:4000]) if response.content else None,
        )
    return error_for_status(provider, response, message, details=details)


# -- the provider ---------------------------------------------------------------------------


def _ambiguous(error: Exception) -> bool:
    """A failure after which the server may have acted on the request."""
    if isinstance(error, TransportError):
        return error.request_sent
    return isinstance(error, ServerError)


def _as_datetime_text(value: Any, *, end_of_day: bool = False) -> str:
    if isinstance(value, datetime):
        return format_fecha(value)
    if isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
        if end_of_day:
            moment += timedelta(days=1, seconds=-1)
        return format_fecha(moment)
    parsed = _parse_datetime(value)
    if parsed is not None:
        if end_of_day and len(str(value).strip()) <= 10:
            parsed += timedelta(days=1, seconds=-1)
        return parsed.strftime(_FECHA)
    raise ValidationError(
        f"expected a date, datetime or 'YYYY-MM-DD[ HH:MM:SS]', got {value!r}",
        field="filters",
        code="APUNTO-EF-002",
    )


class EnlaceFiscalProvider(InvoiceProvider):
    """Stamp, fetch, download, cancel, list and e-mail CFDI 4.0 documents at Enlace Fiscal.

    Args:
        username: the portal's *Usuario* (normally the issuer's RFC).
        token: *Clave de Autenticación (Token)* for the chosen environment.
        api_key: the *x-api-key* for the chosen environment.
        serie: the serie registered in the portal for API use (exact spelling).
        rfc: the issuer RFC sent in every body, when it differs from ``username``.
        base_url: another server speaking the same API (the sandbox's loopback server).
        environment: ``production`` (``modo="produccion"``) or ``sandbox`` (``modo="debug"``).
        session: a :class:`requests.Session` to use (proxies, the in-process sandbox).
        timeout: ``(connect, read)`` seconds.
        max_retries: retries of safe calls.
        sleep: how to wait between retries and PDF polls (inject a fake in tests).
        now: wall clock (epoch seconds) used for ``fechaEmision`` when the invoice has none.
        pdf_wait: the longest total wait, in seconds, for the asynchronous PDF.
        pdf_poll_interval: seconds between two PDF polls.
        email_on_stamp: ask Enlace Fiscal to e-mail the CFDI to ``customer.email`` on stamping.
        issuer: the account's fiscal profile (as registered in the portal), used only by the
            local pre-flight checks when ``invoice.issuer`` is not set.
        api: overrides of :data:`API` entries (assumed names).

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
        }
    )

    def __init__(
        self,
        *,
        username: str | None = None,
        token: str | Secret | None = None,
        api_key: str | Secret | None = None,
        serie: str | None = None,
        rfc: str | None = None,
        base_url: str | None = None,
        environment: str = "production",
        session: requests.Session | None = None,
        timeout: TimeoutValue | None = None,
        max_retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
        pdf_wait: float = 60.0,
        pdf_poll_interval: float = 5.0,
        email_on_stamp: bool = False,
        issuer: Issuer | None = None,
        api: Mapping[str, str] | None = None,
        journal: JournalStore | str | None = None,
    ) -> None:
        creds = resolve_credentials(
            NAME,
            CREDENTIALS,
            {"username": username, "token": token, "api_key": api_key, "serie": serie, "rfc": rfc},
        )
        self.api: dict[str, str] = merged_table("Enlace Fiscal", API, api, "API table")
        env = environment.strip().lower()
        modes = {
            "production": self.api["mode_production"],
            "produccion": self.api["mode_production"],
            "sandbox": self.api["mode_sandbox"],
            "debug": self.api["mode_sandbox"],
        }
        if env not in modes:
            raise ConfigurationError(
                f"unknown Enlace Fiscal environment {environment!r}; use 'production' or "
                "'sandbox' (modo 'produccion' or 'debug')"
            )
        self.mode = modes[env]
        self.environment = "sandbox" if self.mode == self.api["mode_sandbox"] else "production"
        self.username: str = creds["username"]
        self.serie: str = creds["serie"]
        self.rfc: str = (creds["rfc"] or self.username).upper()
        token_secret: Secret = creds["token"]
        key_secret: Secret = creds["api_key"]
        retry = RetryPolicy() if max_retries is None else RetryPolicy(max_retries=max_retries)
        self._sleep = sleep
        self._now = now
        self.pdf_wait = pdf_wait
        self.pdf_poll_interval = max(pdf_poll_interval, 0.001)
        self.email_on_stamp = email_on_stamp
        self.issuer = issuer
        self._configured_issuer = issuer
        self.transport = Transport(
            NAME,
            base_url or BASE_URL,
            auth=requests.auth.HTTPBasicAuth(self.username, token_secret.reveal()),
            headers={"x-api-key": key_secret.reveal(), "Content-Type": "application/json"},
            timeout=timeout or DEFAULT_TIMEOUT,
            retry=retry,
            session=session,
            error_mapper=enlace_fiscal_error,
            secrets=(token_secret.reveal(), key_secret.reveal()),
            sleep=sleep,
        )
        # Download links are public URLs: credentials are never sent to them.
        self._files = Transport(
            NAME,
            base_url or BASE_URL,
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
            f"username={self.username!r}, serie={self.serie!r}, mode={self.mode!r})"
        )

    # -- plumbing -------------------------------------------------------------------------

    def _call(self, operation: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """POST ``body`` to the action of ``operation``; return the accepted ack or raise."""
        response = self.transport.request(
            "POST",
            self.api[operation],
            json=body,
            idempotent=operation in _READ_ONLY,
        )
        payload = self.transport.decode_json(response)
        ack = _ack_of(payload)
        if ack is None or not is_accepted(ack, self.api):
            raise enlace_fiscal_error(NAME, response)
        return ack

    def _solicitud(self, operation: str, **extra: Any) -> dict[str, Any]:
        return solicitud(self.api[operation], rfc=self.rfc, mode=self.mode, **extra)

    # -- account --------------------------------------------------------------------------

    def check_connection(self) -> ConnectionStatus:
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
                extra={"mode": self.mode, "serie": self.serie, "vendor_code": exc.vendor_code},
            )
        detail = _text(ack.get("mensaje")) or _text(ack.get("estatusDocumento")) or "ok"
        return ConnectionStatus(
            provider=NAME,
            ok=True,
            account=self.rfc,
            environment=self.environment,
            detail=detail,
            extra={"mode": self.mode, "serie": self.serie},
        )

    def balance(self) -> Decimal:
        """The account's ``saldo`` (``obtenerSaldo``) in the current mode, as Enlace Fiscal says it."""
        ack = self._call("balance", self._solicitud("balance"))
        value = _decimal(ack.get(self.api["balance_field"]))
        if value is None:
            raise ProviderError(
                f"obtenerSaldo answered without a numeric {self.api['balance_field']!r}",
                provider=NAME,
                details=dict(ack),
            )
        return value

    # -- stamping -------------------------------------------------------------------------

    def _journal_account(self) -> str:
        return f"{self.username}/{self.rfc}"

    def _initial_reference(self, invoice: Invoice) -> dict[str, str]:
        """Serie+folio identify a document; the folio is chosen at send time when not given."""
        reference = {"series": invoice.series or self.serie}
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
        serie = attempt.reference.get("series") or invoice.series or self.serie
        folio = attempt.reference.get("folio") or ""
        auto_folio = not invoice.folio
        if not folio:
            folio = self._next_folio(serie)
        issued_at = self._issued_at(invoice)
        for _ in range(3):
            attempt.remember(series=serie, folio=folio)
            body = invoice_to_enlace_fiscal(
                invoice,
                rfc=self.rfc,
                serie=serie,
                folio=folio,
                mode=self.mode,
                issued_at=issued_at,
                api=self.api,
                send_email=self.email_on_stamp,
            )
            attempt.sending()
            try:
                ack = self._call("stamp", body)
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
                ack, invoice=invoice.with_changes(series=serie, folio=folio)
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
        serie, folio = attempt.reference.get("series") or self.serie, attempt.reference["folio"]
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
        if invoice.issued_at is None:
            return mexico_local_now(self._now)
        if invoice.issued_at.tzinfo is not None:
            return invoice.issued_at.astimezone(_mexico_tz()).replace(tzinfo=None, microsecond=0)
        return invoice.issued_at.replace(microsecond=0)

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
            for row in self._rows(since=self.api["list_since"], until=None, serie=serie):
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
        return enlace_fiscal_to_stamped(self._call("get", body))

    def _resolve(self, ref: str) -> tuple[str, str]:
        """``(serie, folio)`` of a ref, or of a UUID found in the serie's list."""
        if not _is_uuid(ref):
            return parse_ref(ref)
        wanted = ref.strip().upper()
        for row in self._rows(since=self.api["list_since"], until=None, serie=self.serie):
            if (_text(row.get("folioFiscalUUID")) or "").upper() == wanted:
                found = enlace_fiscal_row_to_stamped(row, api=self.api)
                return found.series or self.serie, found.folio or ""
        raise NotFound(
            f"no document with UUID {wanted} in serie {self.serie!r}; Enlace Fiscal finds "
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
            inline = xml_from_ack(stamped.raw)
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
        """GET a download link until it serves the file, waiting at most ``pdf_wait`` seconds.

        Until Enlace Fiscal has generated the file the link answers 403/404 (or something that
        is not the file); each poll is one bounded attempt, so the loop always ends.
        """
        polls = int(self.pdf_wait // self.pdf_poll_interval) + 1
        waited = 0.0
        for attempt in range(polls):
            response = self._files.request("GET", url, expected=(403, 404))
            if response.status_code < 400 and complete(response.content):
                return response.content
            if attempt + 1 < polls:
                self._sleep(self.pdf_poll_interval)
                waited += self.pdf_poll_interval
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
        since = filters.get("since") or self.api["list_since"]
        until = filters.get("until")
        serie = filters.get("serie") or self.serie
        since_text = _as_datetime_text(since)
        until_text = _as_datetime_text(until, end_of_day=True) if until is not None else None

        def rows() -> Iterator[StampedInvoice]:
            for row in self._rows(since=since_text, until=until_text, serie=serie):
                yield enlace_fiscal_row_to_stamped(row, api=self.api)

        return rows()

    def _rows(
        self, *, since: str, until: str | None, serie: str
    ) -> Sequence[Mapping[str, Any]]:
        until = until or format_fecha(mexico_local_now(self._now))
        body = self._solicitud(
            "list", Comprobantes={"fechaInicial": since, "fechaFinal": until, "serie": serie}
        )
        ack = self._call("list", body)
        rows = ack.get(self.api["list_rows"]) or []
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
        from ..sat import validate_cancellation

        given_as_ref = bool(replacement_uuid) and not _is_uuid(replacement_uuid or "")
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
            substitute_uuid = replacement_uuid.upper() if _is_uuid(replacement_uuid) else None
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
            return Cancellation(
                provider=NAME,
                ref=ref,
                motive=motive,
                status=status,
                uuid=current.uuid,
                replacement_uuid=substitute_uuid,
                message="state read back after a lost answer",
                raw=dict(current.raw),
            )
        return enlace_fiscal_to_cancellation(
            ack, ref=ref, motive=motive, replacement_uuid=substitute_uuid, api=self.api
        )

    def send_email(self, ref: str, emails: Sequence[str], message: str | None = None) -> None:
        """E-mail the CFDI (XML and PDF) to ``emails`` with ``enviarCorreo``; not retried."""
        recipients = [e.strip() for e in emails if e and e.strip()]
        if not recipients:
            raise ValidationError("at least one e-mail address is needed", field="emails")
        serie, folio = parse_ref(ref)
        envio: dict[str, Any] = {"Correos": recipients}
        if message:
            envio["mensajeCorreo"] = message
        body = self._solicitud(
            "send_email", CFDi={"serie": serie, "folio": folio, "EnviarCFDI": envio}
        )
        self._call("send_email", body)

    def release(self) -> None:
        """Close the connection pools this provider opened."""
        self.transport.close()
        self._files.close()

