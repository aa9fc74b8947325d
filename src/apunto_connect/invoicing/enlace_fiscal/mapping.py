"""Enlace Fiscal's wire shapes <-> the SDK's models: pure functions, no I/O.

Bodies use the names of :data:`~.spec.SPEC` (pass ``spec=`` to use a provider's overrides).
Nothing here enforces a vendor rule: those are pre-flight issues. The only errors raised are
:class:`~apunto_connect.errors.ValidationError` for arguments that cannot be read at all.
"""

from __future__ import annotations

import base64
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from ..._answers import answer_mapper, cancellation_answer
from ..._wire import is_uuid, mexico_now, mexico_wall, text_or_none, utc_now
from ...errors import ValidationError
from ...models.invoices import (
    Cancellation,
    CancellationStatus,
    CancelMotive,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    RelatedDocuments,
    StampedInvoice,
    TaxFactor,
    TaxSummary,
)
from ...models.parties import Customer
from ...models.payments import PaidDocument, PaymentReceipt
from ...money import quantize, round_money
from .spec import NAME, resolve_spec

__all__ = [
    "aware_now",
    "enlace_fiscal_row_to_stamped",
    "enlace_fiscal_to_cancellation",
    "enlace_fiscal_to_stamped",
    "format_fecha",
    "invoice_to_enlace_fiscal",
    "is_accepted",
    "make_ref",
    "mexico_local_now",
    "parse_ref",
    "payment_to_enlace_fiscal",
    "solicitud",
    "xml_from_ack",
]

_FECHA = "%Y-%m-%d %H:%M:%S"

# -- time -----------------------------------------------------------------------------------


def mexico_local_now(now: Callable[[], datetime] = utc_now) -> datetime:
    """The current Mexico City wall time, naive (how Enlace Fiscal wants ``fechaEmision``).

    ``now`` returns an aware datetime; a ``now`` returning epoch seconds (the former form) still
    works, with a :class:`DeprecationWarning`.
    """
    return mexico_now(aware_now(now))


def aware_now(now: Callable[[], Any]) -> Callable[[], datetime]:
    """``now`` as a callable returning an aware datetime.

    A ``now`` that returns epoch seconds (this module's former ``now=``) is wrapped, with a
    :class:`DeprecationWarning`; a naive datetime is read as UTC.
    """
    sample = now()
    if isinstance(sample, datetime):
        return now
    warnings.warn(
        "now= returning epoch seconds is deprecated; pass a callable returning an aware "
        "datetime (e.g. lambda: datetime.now(timezone.utc))",
        DeprecationWarning,
        stacklevel=3,
    )
    return lambda: datetime.fromtimestamp(float(now()), tz=timezone.utc)


def format_fecha(moment: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in Mexico City time (aware values are converted, naive kept)."""
    return mexico_wall(moment).strftime(_FECHA)


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
    if not sep or not serie or not folio or is_uuid(ref):
        raise ValidationError(
            f"Enlace Fiscal documents are referenced as 'SERIE-FOLIO', got {ref!r}",
            field="ref",
            code="APUNTO-EF-001",
        )
    return serie, folio


# -- formatting -----------------------------------------------------------------------------


def _places(currency: str) -> int:
    from ...sat.catalogs import currency_decimals

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


def _document_head(
    names: Mapping[str, Any], *, rfc: str, serie: str, folio: str, mode: str, issued_at: datetime
) -> dict[str, Any]:
    """The fields every ``CFDi`` body opens with: versions, mode, issuer, serie, folio, date."""
    return {
        "versionCFDi": names["value.version_cfdi"],
        "versionEF": names["value.version_ef"],
        "modo": mode,
        "rfc": rfc,
        "serie": serie,
        "folioInterno": str(folio),
        "fechaEmision": format_fecha(issued_at),
    }


def _receiver(customer: Customer, cfdi_use: str) -> dict[str, Any]:
    """The ``Receptor`` of a body: RFC, name, régimen, use of the CFDI and postal code."""
    return {
        "rfc": customer.rfc,
        "nombre": customer.legal_name,
        "regimenFiscal": customer.tax_regime,
        "usoCfdi": cfdi_use,
        "DomicilioFiscal": {"cp": customer.zip_code},
    }


def _related_rows(related: Sequence[RelatedDocuments]) -> list[dict[str, Any]]:
    """The ``CfdiRelacionados`` rows: one per relation type, with its UUIDs."""
    return [{"tipoRelacion": group.relation_type, "UUIDs": list(group.uuids)} for group in related]


def invoice_to_enlace_fiscal(
    invoice: Invoice,
    *,
    rfc: str,
    serie: str,
    folio: str,
    mode: str,
    issued_at: datetime,
    spec: Mapping[str, Any] | None = None,
    send_email: bool = False,
    api: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Map ``invoice`` to the ``generarCfdi`` body ``{"CFDi": {...}}``.

    Amounts are strings with the currency's decimals; line amounts, taxes and document totals
    are computed here (``invoice.totals``) because Enlace Fiscal expects the client to send them.
    ``issued_at`` must already be Mexico City local time (see :func:`mexico_local_now`).
    ``spec`` overrides field names (``api=``, the former table, is deprecated).
    """
    names = resolve_spec(spec, api, copy=False)
    currency = invoice.currency
    totals = invoice.totals
    cfdi: dict[str, Any] = {
        **_document_head(names, rfc=rfc, serie=serie, folio=folio, mode=mode, issued_at=issued_at),
        "tipoMoneda": currency,
        "subTotal": _money(totals.subtotal, currency),
        "total": _money(totals.total, currency),
        "exportacion": invoice.export_code,
    }
    if invoice.kind is not InvoiceKind.INCOME:
        cfdi[names["field.kind"]] = invoice.kind.value
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
    receptor = _receiver(customer, invoice.effective_cfdi_use)
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
        cfdi[names["field.related"]] = _related_rows(invoice.related)
    if invoice.global_info is not None:
        cfdi[names["field.global_info"]] = {
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


def _paid_document_row(document: PaidDocument) -> dict[str, Any]:
    currency = document.currency
    row: dict[str, Any] = {"idDocumento": document.uuid}
    if document.series:
        row["serie"] = document.series
    if document.folio:
        row["folioInterno"] = document.folio
    row.update({
        "tipoMoneda": currency,
        "equivalencia": _plain(document.equivalence),
        "numParcialidad": str(document.installment),
        "saldoAnterior": _money(document.previous_balance, currency),
        "importePagado": _money(document.amount_paid, currency),
        "impoSaldoInsoluto": _money(document.remaining_balance, currency),
        "objetoDeImpuesto": document.tax_object,
    })
    if document.taxes:
        row["Impuestos"] = [_tax_row(tax, currency) for tax in document.taxes]
    return row


def _payment_tax_row(tax: TaxSummary) -> dict[str, Any]:
    # ImpuestosP carry up to six decimals (document taxes over EquivalenciaDR): sent as they are.
    row: dict[str, Any] = {
        "tipo": "retencion" if tax.withholding else "traslado",
        "claveImpuesto": tax.kind.value,
        "tipoFactor": tax.factor.value.lower(),
    }
    if not tax.withholding:
        row["baseImpuesto"] = _plain(tax.base)
    if tax.factor is not TaxFactor.EXEMPT and tax.rate is not None:
        row["tasaOCuota"] = _rate(tax.rate)
        row["importe"] = _plain(tax.amount or Decimal(0))
    return row


def payment_to_enlace_fiscal(
    receipt: PaymentReceipt,
    *,
    rfc: str,
    serie: str,
    folio: str,
    mode: str,
    issued_at: datetime,
    spec: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Map a payment receipt to the ``generarReciboElectronicoPago`` body ``{"CFDi": {...}}``.

    The shape the public integrations send for CFDI 4.0 / Pagos 2.0: the receiver with
    ``usoCfdi`` CP01, no ``DatosDePago`` (a type P carries no FormaPago), and one
    ``ComplementoPago`` element with ``Totales`` and the ``Pago`` list, each with its
    ``DocumentosRelacionados`` (saldo anterior, pagado, insoluto) and their taxes.
    """
    names = resolve_spec(spec, None, copy=False)
    customer = receipt.customer
    totals_names: Mapping[str, str] = names["field.payment_totals"]
    totals = receipt.totals
    summary: dict[str, str] = {}
    for attribute, wire in totals_names.items():
        value = getattr(totals, attribute)
        if value is not None:
            summary[wire] = _money(value, "MXN")
    pagos = []
    for payment in receipt.payments:
        pago: dict[str, Any] = {
            "fechaPago": format_fecha(payment.paid_at),
            "formaDePago": payment.form,
            "tipoMoneda": payment.currency,
            "tipoCambio": _plain(payment.effective_exchange_rate),
            "monto": _money(payment.amount, payment.currency),
        }
        if payment.operation_number:
            pago["numeroOperacion"] = payment.operation_number
        taxes = (*payment.transferred, *payment.withheld)
        if taxes:
            pago["Impuestos"] = [_payment_tax_row(tax) for tax in taxes]
        pago["DocumentosRelacionados"] = [_paid_document_row(d) for d in payment.documents]
        pagos.append(pago)
    cfdi: dict[str, Any] = {
        **_document_head(names, rfc=rfc, serie=serie, folio=folio, mode=mode, issued_at=issued_at),
        "Receptor": _receiver(customer, "CP01"),
        "ComplementoPago": [{"Totales": summary, "Pago": pagos}],
    }
    if receipt.related:
        cfdi[names["field.related"]] = _related_rows(receipt.related)
    return {"CFDi": cfdi}


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None


_text = text_or_none


def xml_from_ack(ack: Mapping[str, Any], field: str = "xmlCFDi") -> bytes | None:
    """The inline XML of an ack (``field``: ``xmlCFDi``), as base64 or raw text, or ``None``.

    Base64 is what the two public integrations that read it decode
    (``value.xml_inline_base64``); raw XML is still read, so an account that answers either
    way works.
    """
    value = ack.get(field)
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


def _document_status(value: Any, statuses: Mapping[str, InvoiceStatus]) -> InvoiceStatus:
    text = (_text(value) or "").lower()
    return statuses.get(text, InvoiceStatus.ACTIVE)


@answer_mapper(NAME, "acknowledgement")
def enlace_fiscal_to_stamped(
    ack: Mapping[str, Any],
    *,
    invoice: Invoice | None = None,
    provider: str = NAME,
    spec: Mapping[str, Any] | None = None,
) -> StampedInvoice:
    """Map an accepted ``AckEnlaceFiscal`` (from ``generarCfdi`` or ``informacionCfdi``).

    Totals, currency, receiver and Fecha come from the inline XML when there is one, else from
    ``invoice`` (the document just sent). The untouched ack is kept in ``raw``.
    """
    names = resolve_spec(spec, copy=False)
    serie = _text(ack.get("serie")) or (invoice.series if invoice else None) or ""
    folio = _text(ack.get("folioInterno")) or _text(ack.get("folio")) or ""
    total = currency = customer_rfc = issuer_rfc = None
    issued_at: datetime | None = None
    xml = xml_from_ack(ack, names["field.xml_inline"])
    if xml is not None:
        from ...cfdi import parse

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
        status=_document_status(ack.get("estadoCFDi"), names["value.document_statuses"]),
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
    row: Mapping[str, Any],
    *,
    spec: Mapping[str, Any] | None = None,
    provider: str = NAME,
    api: Mapping[str, str] | None = None,
) -> StampedInvoice:
    """Map one row of ``listarComprobantes`` (field names from the spec, assumed)."""
    names = resolve_spec(spec, api, copy=False)
    serie = _text(row.get("serie")) or ""
    folio = _text(row.get("folioInterno")) or _text(row.get("folio")) or ""
    uuid = _text(row.get("folioFiscalUUID"))
    return StampedInvoice(
        provider=provider,
        id=make_ref(serie, folio),
        uuid=uuid.upper() if uuid else None,
        status=_document_status(row.get("estadoCFDi"), names["value.document_statuses"]),
        total=_decimal(row.get(names["field.row_total"])),
        currency=_text(row.get(names["field.row_currency"])),
        series=serie or None,
        folio=folio or None,
        customer_rfc=_text(row.get(names["field.row_customer_rfc"])),
        issued_at=_parse_datetime(row.get(names["field.row_issued_at"])),
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
    spec: Mapping[str, Any] | None = None,
    provider: str = NAME,
    api: Mapping[str, str] | None = None,
) -> Cancellation:
    """Map an accepted ``cancelarCfdi`` ack; an accepted ack without a status means cancelled."""
    names = resolve_spec(spec, api, copy=False)
    raw_status = (_text(ack.get(names["field.cancel_status"])) or "cancelado").lower()
    status = names["value.cancel_statuses"].get(raw_status, CancellationStatus.CANCELLED)
    uuid = _text(ack.get("folioFiscalUUID"))
    return cancellation_answer(
        ack, status, uuid, _text(ack.get(names["field.cancel_status"])) or "",
        provider=provider, ref=ref, motive=motive, replacement_uuid=replacement_uuid,
    )


# -- acks -------------------------------------------------------------------------------------


def _errors_of(ack: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = ack.get("mensajeError")
    if isinstance(found, Mapping):
        return [found]
    if isinstance(found, Sequence) and not isinstance(found, str):
        return [e for e in found if isinstance(e, Mapping)]
    if isinstance(found, str):
        return [{"descripcionError": found}]
    return []


def is_accepted(
    ack: Mapping[str, Any],
    spec: Mapping[str, Any] | None = None,
    *,
    api: Mapping[str, str] | None = None,
) -> bool:
    """Tell whether an ``AckEnlaceFiscal`` reports success.

    A status other than ``aceptado`` or any ``mensajeError`` is a failure, whatever the HTTP
    status said.
    """
    if _errors_of(ack):
        return False
    names = resolve_spec(spec, api, copy=False)
    status = ack.get("estatusDocumento")
    return status is None or str(status).strip().lower() == names["value.accepted"]


def _ack_of(body: Any) -> Mapping[str, Any] | None:
    if isinstance(body, Mapping):
        ack = body.get("AckEnlaceFiscal")
        if isinstance(ack, Mapping):
            return ack
    return None


# -- list filters -----------------------------------------------------------------------------


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
