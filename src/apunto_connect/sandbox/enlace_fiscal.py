"""Offline emulator of Enlace Fiscal's JSON API v6 (``https://api.enlacefiscal.com/v6``).

It speaks what :mod:`apunto_connect.invoicing.enlace_fiscal` documents, with the same
assumptions (the field names of :data:`~apunto_connect.invoicing.enlace_fiscal.SPEC`, which
``spec=`` overrides as it does for the provider, and its assumed ``value.error.*`` codes):

* one POST path per action (``probarConexion``, ``obtenerSaldo``, ``generarCfdi``,
  ``informacionCfdi``, ``listarComprobantes``, ``cancelarCfdi``, ``enviarCorreo``); other methods
  get 405;
* auth: a wrong or missing ``x-api-key`` gets the gateway's 403 ``{"message": "Forbidden"}``
  (assumed); a wrong Usuario/Token, or a pair of the other ``modo``, gets HTTP 200 with
  ``AckEnlaceFiscal.mensajeError`` code ``800`` and the text third-party tests show;
* ``modo`` ``debug`` and ``produccion`` are separate worlds: own Token/x-api-key pair, own stamp
  balance (one stamp per accepted ``generarCfdi``) and own documents;
* ``generarCfdi`` checks what Enlace Fiscal or the SAT would reject — the serie must exist and be
  enabled for API use (as the help page warns), serie+folio must be new (a duplicate is rejected,
  assumed code ``802``), ``fechaEmision`` must be Mexico City local time (not in the future, not
  older than 72 h), the client-computed amounts must add up (CFDI40108/40111/40119), a SAT test
  receiver must carry its registered name and postal code (CFDI40145/40147), the SAT pre-flight
  rules must pass, and the balance must not be empty — then issues a real CFDI 4.0
  XML and PDF through :mod:`apunto_connect.sandbox.documents`;
* the XML is inline (``xmlCFDi``) and at ``descargaXmlCFDi``; the PDF link answers 404 until
  :attr:`EnlaceFiscalEmulator.pdf_delay` seconds of sandbox time have passed (the real PDF is
  generated asynchronously); download links need no credentials;
* ``cancelarCfdi`` cancels at once when the SAT allows it without the receiver's consent (total up
  to $1,000 MXN, generic RFCs, or within 24 h of stamping); otherwise the cancellation stays
  "en proceso" until :meth:`EnlaceFiscalEmulator.resolve_cancellation` decides it.

Rejection texts are the emulator's own wording, in the style of Enlace Fiscal and of the SAT's
error matrix; they are not copies of the real service's messages.
"""

from __future__ import annotations

import base64
import bisect
import random
import secrets
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import attrs

from ..cfdi.build import PLACEHOLDER_CERTIFICATE_NUMBER
from ..errors import ValidationError
from ..invoicing.enlace_fiscal.spec import BASE_URL, SPEC
from ..models.invoices import (
    GlobalInformation,
    Invoice,
    InvoiceKind,
    LineItem,
    RelatedDocuments,
    Tax,
    TaxFactor,
    TaxSummary,
)
from ..models.parties import Customer, Issuer
from ..models.payments import PaidDocument, Payment, PaymentReceipt
from ..money import sat_tax_bounds
from ..vendor_spec import VendorSpec
from .documents import (
    SANDBOX_SAT_CERTIFICATE,
    IssuedDocument,
    cancellation_receipt,
    issue_document,
    mexico_local,
)
from .framework import (
    Emulator,
    EmulatorRequest,
    EmulatorResponse,
    HttpError,
    basic_auth,
    json_response,
    route,
)

__all__ = ["DEMO_ISSUER", "EnlaceFiscalEmulator"]

DEMO_ISSUER = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")
"""The SAT test taxpayer the demo account issues for."""

_DEBUG_TOKEN = "ef-debug-token-0001"
_DEBUG_KEY = "ef-debug-apikey-0001"
_PRODUCTION_TOKEN = "ef-prod-token-0001"
_PRODUCTION_KEY = "ef-prod-apikey-0001"
_AUTH_FAILED = "El usuario o contraseña no son válidos o estan vacíos"
_DEBUG = SPEC.fact("value.mode_sandbox").value
_PRODUCTION = SPEC.fact("value.mode_production").value
_ACCEPTED = SPEC.fact("value.accepted").value
_REJECTED = "rechazado"
_FECHA = "%Y-%m-%d %H:%M:%S"
_GENERIC_RFCS = frozenset({"XAXX010101000", "XEXX010101000"})
_FUTURE_TOLERANCE = timedelta(minutes=5)
_MAX_AGE = timedelta(hours=72)
_CONSENT_FREE_TOTAL = Decimal("1000")
_CONSENT_FREE_WINDOW = 24 * 3600.0
_ACTIVE = "vigente"
_CANCELLED = "cancelado"
_CANCEL_PENDING = "en proceso de cancelacion"


class _Rejected(Exception):
    """A business failure: answered as HTTP 200 with ``mensajeError``."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@attrs.define
class _Account:
    rfc: str
    issuer: Issuer
    credentials: dict[str, tuple[str, str]]  # modo -> (token, x-api-key)
    balance: dict[str, int]
    series: dict[str, bool]  # serie -> enabled for API use


@attrs.define
class _Document:
    mode: str
    serie: str
    folio: str
    reference: int
    request: dict[str, Any]
    invoice: Invoice
    issued: IssuedDocument
    stamped_epoch: float
    token: str
    status: str = _ACTIVE
    cancel_motive: str | None = None
    cancel_receipt: bytes | None = None
    replacement_uuid: str | None = None


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _decimal(value: Any, field: str) -> Decimal:
    try:
        result = Decimal(_text(value))
    except (InvalidOperation, ValueError):
        raise _Rejected("806", f"El campo {field} debe ser numérico: {value!r}") from None
    if not result.is_finite():
        raise _Rejected("806", f"El campo {field} debe ser numérico: {value!r}")
    return result


def _required(node: Mapping[str, Any], key: str, where: str) -> Any:
    value = node.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _Rejected("806", f"Falta el campo obligatorio {where}.{key}")
    return value


def _node(node: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = node.get(key)
    if not isinstance(value, Mapping):
        raise _Rejected("806", f"Falta el nodo obligatorio {where}.{key}")
    return value


def _objects(value: Any, where: str, missing: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The objects of a required, non-empty list, each with its path (``where[i]``).

    Raises (as the loop reaches them, so an earlier item's own errors come first):
        _Rejected: ``missing`` when the list is absent or empty; an item that is no object.
    """
    if not isinstance(value, list) or not value:
        raise _Rejected("806", missing)
    for number, item in enumerate(value):
        at = f"{where}[{number}]"
        if not isinstance(item, Mapping):
            raise _Rejected("806", f"{at} debe ser un objeto")
        yield at, item


def _parse_fecha(value: Any, field: str) -> datetime:
    try:
        return datetime.strptime(_text(value), _FECHA)
    except ValueError:
        raise _Rejected(
            "806", f"El campo {field} debe tener el formato AAAA-MM-DD HH:MM:SS: {value!r}"
        ) from None


def _tax(row: Mapping[str, Any], where: str) -> Tax:
    factors = {"tasa": TaxFactor.RATE, "cuota": TaxFactor.QUOTA, "exento": TaxFactor.EXEMPT}
    factor = factors.get(_text(row.get("tipoFactor", "tasa")).lower())
    if factor is None:
        raise _Rejected("806", f"{where}.tipoFactor debe ser tasa, cuota o exento")
    kind = _text(_required(row, "claveImpuesto", where)).upper()
    if kind not in {"IVA", "ISR", "IEPS"}:
        raise _Rejected("806", f"{where}.claveImpuesto debe ser IVA, ISR o IEPS")
    tipo = _text(row.get("tipo", "traslado")).lower()
    if tipo not in {"traslado", "retencion"}:
        raise _Rejected("806", f"{where}.tipo debe ser traslado o retencion")
    rate = None
    if factor is not TaxFactor.EXEMPT:
        rate = _decimal(_required(row, "tasaOCuota", where), f"{where}.tasaOCuota")
    amount = None
    if factor is TaxFactor.RATE and rate is not None and row.get("importe") is not None and (
        row.get("baseImpuesto") is not None
    ):
        # The SAT's tolerance (Anexo 20, CFDI40180/40186): an Importe inside the bounds for its
        # base is stamped as sent; one outside is refused by the amount check.
        sent = _decimal(row["importe"], f"{where}.importe")
        lower, upper = sat_tax_bounds(
            _decimal(row["baseImpuesto"], f"{where}.baseImpuesto"), rate
        )
        if lower <= sent <= upper:
            amount = sent
    return Tax(kind, rate, tipo == "retencion", factor, amount=amount)


def _invoice_of(
    cfdi: Mapping[str, Any], issuer: Issuer, spec: Mapping[str, Any] = SPEC
) -> Invoice:
    """Read a ``CFDi`` body back into the invoice it describes (what the vendor would build)."""
    receptor = _node(cfdi, "Receptor", "CFDi")
    domicilio = _node(receptor, "DomicilioFiscal", "CFDi.Receptor")
    customer = Customer(
        rfc=_text(_required(receptor, "rfc", "CFDi.Receptor")),
        legal_name=_text(_required(receptor, "nombre", "CFDi.Receptor")),
        tax_regime=_text(_required(receptor, "regimenFiscal", "CFDi.Receptor")),
        zip_code=_text(_required(domicilio, "cp", "CFDi.Receptor.DomicilioFiscal")),
        cfdi_use=_text(_required(receptor, "usoCfdi", "CFDi.Receptor")),
        tax_residence=_text(receptor.get("residenciaFiscal")) or None,
        foreign_tax_id=_text(receptor.get("numRegIdTrib")) or None,
    )
    items = []
    for where, partida in _objects(
        cfdi.get("Partidas"), "CFDi.Partidas",
        "El comprobante debe tener al menos una partida (CFDi.Partidas)",
    ):
        taxes = partida.get("Impuestos") or []
        if not isinstance(taxes, list):
            raise _Rejected("806", f"{where}.Impuestos debe ser una lista")
        items.append(
            LineItem(
                product_code=_text(_required(partida, "claveProdServ", where)),
                unit_code=_text(_required(partida, "claveUnidad", where)),
                description=_text(_required(partida, "descripcion", where)),
                quantity=_decimal(_required(partida, "cantidad", where), f"{where}.cantidad"),
                unit_price=_decimal(
                    _required(partida, "valorUnitario", where), f"{where}.valorUnitario"
                ),
                unit_name=_text(partida.get("unidad")) or None,
                discount=_decimal(partida.get("descuento") or "0", f"{where}.descuento"),
                taxes=[_tax(t, f"{where}.Impuestos[{i}]") for i, t in enumerate(taxes)],
                tax_object=_text(partida.get("objetoDeImpuesto")) or None,
                sku=_text(partida.get("noIdentificacion")) or None,
            )
        )
    pago = _node(cfdi, "DatosDePago", "CFDi")
    related = []
    for group in cfdi.get(spec["field.related"]) or []:
        if isinstance(group, Mapping):
            related.append(
                RelatedDocuments(_text(group.get("tipoRelacion")), group.get("UUIDs") or ())
            )
    global_info = None
    info = cfdi.get(spec["field.global_info"])
    if isinstance(info, Mapping):
        global_info = GlobalInformation(
            _text(info.get("periodicidad")), _text(info.get("meses")), int(_text(info.get("anio")) or 0)
        )
    kind = _text(cfdi.get(spec["field.kind"])) or InvoiceKind.INCOME.value
    try:
        return Invoice(
            customer=customer,
            items=items,
            issuer=issuer,
            currency=_text(cfdi.get("tipoMoneda")) or "MXN",
            exchange_rate=_decimal(cfdi["tipoCambio"], "CFDi.tipoCambio")
            if cfdi.get("tipoCambio") is not None
            else None,
            payment_form=_text(_required(pago, "formaDePago", "CFDi.DatosDePago")),
            payment_method=_text(_required(pago, "metodoDePago", "CFDi.DatosDePago")),
            cfdi_use=customer.cfdi_use,
            series=_text(cfdi.get("serie")),
            folio=_text(cfdi.get("folioInterno")),
            issued_at=_parse_fecha(cfdi.get("fechaEmision"), "CFDi.fechaEmision"),
            kind=kind,
            export_code=_text(cfdi.get("exportacion")) or "01",
            related=related,
            global_info=global_info,
            payment_terms=_text(pago.get("condicionesDePago")) or None,
        )
    except ValueError as exc:  # an unknown enum value (kind, payment method)
        raise _Rejected("806", f"Valor no válido en el comprobante: {exc}") from None


def _payment_tax(row: Mapping[str, Any], where: str) -> TaxSummary:
    """A tax row of a paid document (ImpuestosDR), amounts as sent."""
    tax = _tax(row, where)
    base = _decimal(_required(row, "baseImpuesto", where), f"{where}.baseImpuesto")
    amount = None
    if tax.factor is not TaxFactor.EXEMPT:
        amount = _decimal(_required(row, "importe", where), f"{where}.importe")
    return TaxSummary(tax.kind, tax.factor, tax.rate, tax.withholding, base, amount)


def _receipt_of(cfdi: Mapping[str, Any], issuer: Issuer) -> PaymentReceipt:
    """Read a ``generarReciboElectronicoPago`` body back into the receipt it describes."""
    receptor = _node(cfdi, "Receptor", "CFDi")
    domicilio = _node(receptor, "DomicilioFiscal", "CFDi.Receptor")
    if _text(receptor.get("usoCfdi")) != "CP01":
        raise _Rejected("805", "CFDI40161 - El UsoCFDI de un comprobante de pago debe ser CP01.")
    customer = Customer(
        rfc=_text(_required(receptor, "rfc", "CFDi.Receptor")),
        legal_name=_text(_required(receptor, "nombre", "CFDi.Receptor")),
        tax_regime=_text(_required(receptor, "regimenFiscal", "CFDi.Receptor")),
        zip_code=_text(_required(domicilio, "cp", "CFDi.Receptor.DomicilioFiscal")),
        cfdi_use="CP01",
    )
    complements = cfdi.get("ComplementoPago")
    if not isinstance(complements, list) or len(complements) != 1 or not isinstance(
        complements[0], Mapping
    ):
        raise _Rejected("806", "CFDi.ComplementoPago debe ser una lista con un elemento")
    payments = []
    for where, pago in _objects(
        complements[0].get("Pago"), "CFDi.ComplementoPago[0].Pago",
        "Falta el nodo obligatorio CFDi.ComplementoPago[0].Pago",
    ):
        currency = _text(_required(pago, "tipoMoneda", where))
        documents = []
        for index, row in enumerate(pago.get("DocumentosRelacionados") or []):
            at = f"{where}.DocumentosRelacionados[{index}]"
            previous = _decimal(_required(row, "saldoAnterior", at), f"{at}.saldoAnterior")
            paid = _decimal(_required(row, "importePagado", at), f"{at}.importePagado")
            remaining = _decimal(_required(row, "impoSaldoInsoluto", at),
                                 f"{at}.impoSaldoInsoluto")
            if previous - paid != remaining:
                raise _Rejected("805", "CRP20238 - El campo ImpSaldoInsoluto debe ser igual a "
                                "ImpSaldoAnt menos ImpPagado.")
            documents.append(PaidDocument(
                uuid=_text(_required(row, "idDocumento", at)), previous_balance=previous,
                amount_paid=paid,
                installment=int(_decimal(_required(row, "numParcialidad", at),
                                         f"{at}.numParcialidad")),
                currency=_text(_required(row, "tipoMoneda", at)),
                equivalence=_decimal(row.get("equivalencia") or "1", f"{at}.equivalencia"),
                series=_text(row.get("serie")) or None,
                folio=_text(row.get("folioInterno")) or None,
                tax_object=_text(_required(row, "objetoDeImpuesto", at)),
                taxes=[_payment_tax(t, f"{at}.Impuestos[{i}]")
                       for i, t in enumerate(row.get("Impuestos") or [])],
            ))
        if not documents:
            raise _Rejected("806", f"Falta el nodo obligatorio {where}.DocumentosRelacionados")
        payments.append(Payment(
            paid_at=_parse_fecha(_required(pago, "fechaPago", where), f"{where}.fechaPago"),
            form=_text(_required(pago, "formaDePago", where)),
            amount=_decimal(_required(pago, "monto", where), f"{where}.monto"),
            documents=documents, currency=currency,
            exchange_rate=_decimal(pago["tipoCambio"], f"{where}.tipoCambio")
            if pago.get("tipoCambio") is not None else None,
            operation_number=_text(pago.get("numeroOperacion")) or None,
        ))
    return PaymentReceipt(
        customer=customer, payments=payments, issuer=issuer,
        series=_text(cfdi.get("serie")) or None, folio=_text(cfdi.get("folioInterno")) or None,
        issued_at=_parse_fecha(cfdi.get("fechaEmision"), "CFDi.fechaEmision"),
    )


def _check_amounts(cfdi: Mapping[str, Any], invoice: Invoice) -> None:
    """Compare the client-computed amounts with the SAT arithmetic, as the PAC would."""
    totals = invoice.totals
    for number, (partida, line) in enumerate(zip(cfdi["Partidas"], totals.lines, strict=True)):
        sent = _decimal(_required(partida, "importe", f"CFDi.Partidas[{number}]"), "importe")
        if sent != line.amount:
            raise _Rejected(
                "805",
                f"El importe de la partida {number + 1} ({sent}) no es igual a cantidad por "
                f"valorUnitario redondeado ({line.amount}).",
            )
        rows = partida.get("Impuestos") or []
        for index, (row, tax) in enumerate(zip(rows, line.taxes, strict=True)):
            if tax.amount is not None and row.get("importe") is not None:
                amount = _decimal(row["importe"], "importe")
                if amount != tax.amount:
                    raise _Rejected(
                        "805",
                        f"El importe del impuesto {index + 1} de la partida {number + 1} "
                        f"({amount}) no es igual a base por tasa o cuota ({tax.amount}).",
                    )
    checks = (
        ("subTotal", totals.subtotal, "CFDI40108", "El campo SubTotal no es igual a la suma de "
         "los importes de los conceptos registrados."),
        ("descuentos", totals.discount, "CFDI40111", "El campo Descuento no es igual a la suma "
         "de los descuentos de los conceptos registrados."),
        ("total", totals.total, "CFDI40119", "El campo Total no corresponde con la suma del "
         "subtotal, menos los descuentos aplicables, más las contribuciones recibidas (impuestos "
         "trasladados), menos los impuestos retenidos."),
    )
    for field, expected, sat_code, text in checks:
        sent = _decimal(cfdi.get(field) or "0", f"CFDi.{field}")
        if sent != expected:
            raise _Rejected("805", f"{sat_code} - {text}")


def _normalized(name: str) -> str:
    return " ".join(name.upper().split())


def _sat_checks(invoice: Invoice, issuer: Issuer) -> None:
    """Reject what the SAT rejects, quoting the broken rule's code and sentence.

    The receiver is compared with the SAT test taxpayers the Facturama emulator keeps (the SAT's
    sandbox knows their names); every other rule comes from :func:`apunto_connect.sat.preflight`.
    """
    from ..sat import preflight
    from .facturama import SAT_NAME_MISMATCH, SAT_TEST_TAXPAYERS, SAT_ZIP_MISMATCH

    customer = invoice.customer
    known = SAT_TEST_TAXPAYERS.get(customer.rfc)
    if known is not None and _normalized(known.name) != _normalized(customer.legal_name):
        raise _Rejected("805", f"CFDI40145 - {SAT_NAME_MISMATCH}")
    if known is not None and known.zip_code not in (None, customer.zip_code):
        raise _Rejected("805", f"CFDI40147 - {SAT_ZIP_MISMATCH}")
    for issue in preflight(invoice, issuer=issuer, date_window=None):  # own clock rule above
        if issue.severity.value == "error":
            raise _Rejected("805", f"{issue.code} - {issue.message_es or issue.message}")


def _inline_xml(xml: bytes, *, base64_encoded: bool) -> str:
    """The ack's ``xmlCFDi``: base64 as the one public integration reads it, else the text."""
    return base64.b64encode(xml).decode("ascii") if base64_encoded else xml.decode("utf-8")


class EnlaceFiscalEmulator(Emulator):
    """Stateful Enlace Fiscal API v6: accounts, series, balances, documents, files, e-mails.

    The demo account issues for :data:`DEMO_ISSUER` in serie ``APUNTO`` (enabled for API use;
    ``MOSTRADOR`` exists but is not, to show that failure). Its ``debug`` pair is in
    :attr:`demo_credentials`; the ``produccion`` pair is :attr:`production_credentials`.
    """

    name: ClassVar[str] = "enlace_fiscal"
    kind: ClassVar[str] = "invoicing"
    base_urls: ClassVar[tuple[str, ...]] = (BASE_URL,)
    demo_credentials: ClassVar[Mapping[str, str]] = {
        "username": DEMO_ISSUER.rfc,
        "token": _DEBUG_TOKEN,
        "api_key": _DEBUG_KEY,
        "series": "APUNTO",
        "environment": "sandbox",
    }
    production_credentials: ClassVar[Mapping[str, str]] = {
        "username": DEMO_ISSUER.rfc,
        "token": _PRODUCTION_TOKEN,
        "api_key": _PRODUCTION_KEY,
        "series": "APUNTO",
        "environment": "production",
    }
    pdf_delay: float = 20.0
    """Seconds of sandbox time before a PDF link serves the file."""

    vendor_spec: ClassVar[VendorSpec] = SPEC  # the provider's spec= overrides, mirrored here

    def setup(self) -> None:
        """The demo issuer's account, with debug and production credentials and series."""
        self.rng = random.Random(self.seed) if self.seed is not None else None
        self.accounts: dict[str, _Account] = {}
        self.documents: dict[tuple[str, str, str], _Document] = {}
        # Look-up indexes: download token -> document key, and per mode the documents sorted
        # by issue date, so a date-range listing bisects instead of scanning every document.
        self._by_token: dict[str, tuple[str, str, str]] = {}
        self._by_issue_date: dict[str, list[tuple[datetime, int, tuple[str, str, str]]]] = {}
        self.outbox: list[dict[str, Any]] = []
        self._reference = 10_000
        self.add_account(
            DEMO_ISSUER,
            credentials={
                _DEBUG: (_DEBUG_TOKEN, _DEBUG_KEY),
                _PRODUCTION: (_PRODUCTION_TOKEN, _PRODUCTION_KEY),
            },
            balance={_DEBUG: 100, _PRODUCTION: 10},
            series={"APUNTO": True, "MOSTRADOR": False},
        )

    # -- set-up and inspection (tests, demos) -----------------------------------------------

    def add_account(
        self,
        issuer: Issuer,
        *,
        credentials: Mapping[str, tuple[str, str]],
        balance: Mapping[str, int],
        series: Mapping[str, bool],
    ) -> None:
        """Register an account (Usuario = the issuer's RFC) with its pairs, balances and series."""
        with self.lock:
            self.accounts[issuer.rfc] = _Account(
                rfc=issuer.rfc,
                issuer=issuer,
                credentials=dict(credentials),
                balance={_DEBUG: 0, _PRODUCTION: 0, **balance},
                series=dict(series),
            )

    def set_balance(self, stamps: int, mode: str = _DEBUG, rfc: str = DEMO_ISSUER.rfc) -> None:
        """Set how many stamps the account has left in ``mode``."""
        with self.lock:
            self.accounts[rfc].balance[mode] = stamps

    def balance(self, mode: str = _DEBUG, rfc: str = DEMO_ISSUER.rfc) -> int:
        """Stamps left in ``mode``."""
        return self.accounts[rfc].balance[mode]

    def issued_uuids(self) -> list[str]:
        """The UUID of every CFDI stamped here, in any mode (cancelled ones included)."""
        with self.lock:
            return [d.issued.uuid for d in self.documents.values()]

    def stamped(self, mode: str = _DEBUG) -> list[_Document]:
        """Every document stamped in ``mode``, oldest first."""
        with self.lock:
            return [d for d in self.documents.values() if d.mode == mode]

    def resolve_cancellation(
        self, serie: str, folio: str, *, accept: bool = True, mode: str = _DEBUG
    ) -> None:
        """The receiver answers a pending cancellation: accepted cancels, rejected keeps it valid."""
        with self.lock:
            document = self.documents[(mode, serie, str(folio))]
            if document.status != _CANCEL_PENDING:
                raise ValueError(f"{serie}-{folio} has no pending cancellation")
            document.status = _CANCELLED if accept else _ACTIVE

    def provider_options(self) -> dict[str, Any]:
        """Polls and retries advance the sandbox clock; ``fechaEmision`` is read from it.

        The demo account's fiscal profile goes along so the provider's pre-flight can check
        the issuer rules, as a real user would configure ``issuer=``.
        """
        return {
            "sleep": self.clock.sleep,
            "now": lambda: datetime.fromtimestamp(self.clock.now(), timezone.utc),
            "issuer": DEMO_ISSUER,
        }

    # -- protocol ---------------------------------------------------------------------------

    def _index(self, document: _Document) -> None:
        key = (document.mode, document.serie, document.folio)
        self._by_token[document.token] = key
        issued_at = document.invoice.issued_at
        if issued_at is not None:
            dated = self._by_issue_date.setdefault(document.mode, [])
            bisect.insort(dated, (issued_at, document.reference, key))

    def _next_reference(self) -> int:
        with self.lock:
            self._reference += 1
            return self._reference

    def _failure(self, code: str, text: str) -> EmulatorResponse:
        return json_response(
            200,
            {
                "AckEnlaceFiscal": {
                    "numeroReferencia": self._next_reference(),
                    "estatusDocumento": _REJECTED,
                    "mensajeError": {"codigoError": code, "descripcionError": text},
                }
            },
        )

    def _accepted(self, **fields: Any) -> EmulatorResponse:
        ack = {"numeroReferencia": self._next_reference(), "estatusDocumento": _ACCEPTED, **fields}
        return json_response(200, {"AckEnlaceFiscal": ack})

    @staticmethod
    def _envelope(request: EmulatorRequest) -> Mapping[str, Any]:
        body = request.json()
        if not isinstance(body, Mapping):
            raise _Rejected("806", "El cuerpo de la solicitud debe ser un objeto JSON")
        inner = body.get("CFDi") if "CFDi" in body else body.get("Solicitud")
        if not isinstance(inner, Mapping):
            raise _Rejected("806", "Falta el nodo Solicitud (o CFDi en generarCfdi)")
        return inner

    def _caller(self, request: EmulatorRequest) -> tuple[_Account, str]:
        """The account and ``modo`` of an authenticated request (see :meth:`authenticate`)."""
        inner = self._envelope(request)
        mode = _text(inner.get("modo"))
        if mode not in (_DEBUG, _PRODUCTION):
            raise _Rejected("806", f"El campo modo debe ser '{_DEBUG}' o '{_PRODUCTION}'")
        creds = basic_auth(request)
        account = self.accounts.get(creds[0]) if creds else None
        if (
            creds is None
            or account is None
            or account.credentials.get(mode) != (creds[1], request.header("x-api-key"))
        ):
            raise _Rejected("800", _AUTH_FAILED)
        if _text(inner.get("rfc")).upper() != account.rfc:
            raise _Rejected(
                "801", f"El RFC {_text(inner.get('rfc'))!r} no corresponde a la cuenta del usuario"
            )
        return account, mode

    def authenticate(self, request: EmulatorRequest) -> EmulatorResponse | None:
        """403 without a known ``x-api-key``; code 800 for a wrong Usuario/Token or ``modo``."""
        if request.path.lower().startswith("/descargas/"):
            return None  # download links are public
        key = request.header("x-api-key")
        known = {pair[1] for account in self.accounts.values() for pair in account.credentials.values()}
        if key not in known:
            return json_response(403, {"message": "Forbidden"})
        if request.method != "POST":
            return None  # the router answers 405
        try:
            self._caller(request)
        except _Rejected as rejected:
            return self._failure(rejected.code, rejected.text)
        return None

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        """Answer business failures the Enlace Fiscal way: HTTP 200 with ``mensajeError``."""
        try:
            return super().handle(request)
        except _Rejected as rejected:
            return self._failure(rejected.code, rejected.text)

    def _public_base(self, request: EmulatorRequest) -> str:
        # Over loopback the links must point back at the loopback server, in process at the
        # real base URL the adapter is mounted on.
        host = request.header("host")
        return f"http://{host}/{self.name}" if host else BASE_URL

    def _document(self, mode: str, inner: Mapping[str, Any]) -> _Document:
        cfdi = _node(inner, "CFDi", "Solicitud")
        serie = _text(_required(cfdi, "serie", "Solicitud.CFDi"))
        folio = _text(_required(cfdi, "folio", "Solicitud.CFDi"))
        document = self.documents.get((mode, serie, folio))
        if document is None:
            raise _Rejected("803", f"No existe el comprobante con serie {serie} y folio {folio}")
        return document

    def _ack_fields(self, document: _Document, base: str) -> dict[str, Any]:
        links = f"{base}/descargas/{document.token}/{document.serie}-{document.folio}"
        return {
            "rfc": document.invoice.issuer.rfc if document.invoice.issuer else "",
            "serie": document.serie,
            "folioInterno": document.folio,
            "folioFiscalUUID": document.issued.uuid,
            "fechaTFD": document.issued.stamped_at.strftime("%Y-%m-%dT%H:%M:%S"),
            "fechaGeneracionCFDi": document.request.get("fechaEmision", ""),
            "noSerieCertificado": PLACEHOLDER_CERTIFICATE_NUMBER,
            "noSerieCertificadoSAT": SANDBOX_SAT_CERTIFICATE,
            "estadoCFDi": document.status,
            self.spec["field.xml_inline"]: _inline_xml(
                document.issued.xml, base64_encoded=self.spec["value.xml_inline_base64"]
            ),
            "descargaXmlCFDi": f"{links}.xml",
            "descargaArchivoPDF": f"{links}.pdf",
        }

    # -- actions ----------------------------------------------------------------------------

    @route("POST", "/probarConexion")
    def probar_conexion(self, request: EmulatorRequest) -> EmulatorResponse:
        """Credentials are valid (authentication already ran)."""
        account, mode = self._caller(request)
        return self._accepted(rfc=account.rfc, modo=mode, mensaje="Conexión exitosa")

    @route("POST", "/obtenerSaldo")
    def obtener_saldo(self, request: EmulatorRequest) -> EmulatorResponse:
        """Stamps left in the request's ``modo``."""
        account, mode = self._caller(request)
        return self._accepted(saldo=account.balance[mode])

    @route("POST", "/generarCfdi")
    def generar_cfdi(self, request: EmulatorRequest) -> EmulatorResponse:
        """Validate and stamp a ``CFDi`` body; one stamp of the balance per accepted document."""
        account, mode, cfdi, serie, folio = self._admit(request)
        invoice = _invoice_of(cfdi, account.issuer, self.spec)
        _check_amounts(cfdi, invoice)
        _sat_checks(invoice, account.issuer)
        return self._stamp(request, account, mode, cfdi, serie, folio, invoice, None)

    @route("POST", "/generarReciboElectronicoPago")
    def generar_recibo_electronico_pago(self, request: EmulatorRequest) -> EmulatorResponse:
        """Validate and stamp a payment receipt (``ComplementoPago``, Pagos 2.0).

        The host CFDI is type P: FormaPago and MetodoPago must be absent (CFDI40103 /
        CFDI40124), UsoCFDI is CP01 and the Pagos 2.0 rules (CRP…) apply.
        """
        account, mode, cfdi, serie, folio = self._admit(request)
        if cfdi.get("DatosDePago"):
            raise _Rejected("805", "CFDI40103 - Si existe el complemento para recepción de "
                            "pagos el campo FormaPago no debe existir.")
        from ..sat.rules_payments import preflight_payment_receipt

        receipt = _receipt_of(cfdi, account.issuer)
        for issue in preflight_payment_receipt(receipt):
            if issue.severity.value == "error":
                raise _Rejected("805", f"{issue.code} - {issue.message_es or issue.message}")
        _sat_checks(receipt.to_invoice(), account.issuer)
        return self._stamp(request, account, mode, cfdi, serie, folio, receipt.to_invoice(),
                           receipt)

    def _admit(
        self, request: EmulatorRequest
    ) -> tuple[_Account, str, Mapping[str, Any], str, str]:
        """Account, mode, body, serie and folio of a stamping request (checks shared by all)."""
        account, mode = self._caller(request)
        cfdi = self._envelope(request)
        if _text(cfdi.get("versionCFDi")) != self.spec["value.version_cfdi"]:
            raise _Rejected("806", f"versionCFDi debe ser {self.spec['value.version_cfdi']}")
        serie = _text(_required(cfdi, "serie", "CFDi"))
        if not account.series.get(serie, False):
            raise _Rejected(
                "801",
                f"La serie {serie} no existe o no está habilitada para uso mediante API en la "
                "cuenta",
            )
        folio = _text(_required(cfdi, "folioInterno", "CFDi"))
        if (mode, serie, folio) in self.documents:
            raise _Rejected("802", f"El folio {folio} de la serie {serie} ya fue utilizado")
        issued_at = _parse_fecha(_required(cfdi, "fechaEmision", "CFDi"), "CFDi.fechaEmision")
        now_local = mexico_local(self.clock.now())
        if issued_at > now_local + _FUTURE_TOLERANCE:
            raise _Rejected(
                "805",
                f"La fecha de emisión {issued_at:%Y-%m-%d %H:%M:%S} es posterior a la hora "
                f"actual del centro de México ({now_local:%Y-%m-%d %H:%M:%S}); envíe "
                "fechaEmision en hora local.",
            )
        if issued_at < now_local - _MAX_AGE:
            raise _Rejected(
                "805", "La fecha de emisión no está dentro de las 72 horas previas al timbrado."
            )
        return account, mode, cfdi, serie, folio

    def _stamp(
        self,
        request: EmulatorRequest,
        account: _Account,
        mode: str,
        cfdi: Mapping[str, Any],
        serie: str,
        folio: str,
        invoice: Invoice,
        receipt: PaymentReceipt | None,
    ) -> EmulatorResponse:
        """Spend a stamp, write the XML (with the receipt's complement) and store it."""
        if account.balance[mode] <= 0:
            raise _Rejected("804", "Saldo insuficiente: la cuenta no tiene timbres disponibles")
        try:
            issued = issue_document(invoice, account.issuer, clock=self.clock, rng=self.rng,
                                    document=receipt)
        except ValidationError as exc:
            raise _Rejected("806", str(exc)) from None
        account.balance[mode] -= 1
        document = _Document(
            mode=mode,
            serie=serie,
            folio=folio,
            reference=self._next_reference(),
            request=dict(cfdi),
            invoice=invoice,
            issued=issued,
            stamped_epoch=self.clock.now(),
            token=self._token(),
        )
        self.documents[(mode, serie, folio)] = document
        self._index(document)
        envio = cfdi.get("EnviarCFDI")
        if isinstance(envio, Mapping) and envio.get("Correos"):
            self.outbox.append({"ref": f"{serie}-{folio}", **dict(envio)})
        return self._accepted(**self._ack_fields(document, self._public_base(request)))

    def _token(self) -> str:
        if self.rng is not None:
            return f"{self.rng.getrandbits(128):032x}"
        return secrets.token_hex(16)

    @route("POST", "/informacionCfdi")
    def informacion_cfdi(self, request: EmulatorRequest) -> EmulatorResponse:
        """One document by serie+folio, with its current state (and the request if asked)."""
        _, mode = self._caller(request)
        inner = self._envelope(request)
        document = self._document(mode, inner)
        fields = self._ack_fields(document, self._public_base(request))
        if _text(inner.get("incluirPeticion")) == "1":
            fields[self.spec["field.request_echo"]] = {"CFDi": document.request}
        return self._accepted(**fields)

    @route("POST", "/listarComprobantes")
    def listar_comprobantes(self, request: EmulatorRequest) -> EmulatorResponse:
        """Documents issued in a date range, optionally of one serie (no pagination)."""
        _, mode = self._caller(request)
        query = _node(self._envelope(request), "Comprobantes", "Solicitud")
        since = _parse_fecha(_required(query, "fechaInicial", "Comprobantes"), "fechaInicial")
        until = _parse_fecha(_required(query, "fechaFinal", "Comprobantes"), "fechaFinal")
        serie = _text(query.get("serie"))
        dated = self._by_issue_date.get(mode, [])
        found: list[_Document] = []
        for position in range(bisect.bisect_left(dated, (since, -1, ("", "", ""))), len(dated)):
            issued_at, _, key = dated[position]
            if issued_at > until:
                break
            document = self.documents[key]
            if not serie or document.serie == serie:
                found.append(document)
        found.sort(key=lambda d: d.reference)  # stamping order, as the listing always was
        rows = []
        for document in found:
            when = document.invoice.issued_at or since  # only dated documents are indexed
            rows.append(
                {
                    "serie": document.serie,
                    "folioInterno": document.folio,
                    "folioFiscalUUID": document.issued.uuid,
                    self.spec["field.row_issued_at"]: f"{when:%Y-%m-%d %H:%M:%S}",
                    "fechaTFD": document.issued.stamped_at.strftime("%Y-%m-%dT%H:%M:%S"),
                    self.spec["field.row_total"]: f"{document.issued.total:.2f}",
                    self.spec["field.row_currency"]: document.invoice.currency,
                    self.spec["field.row_customer_rfc"]: document.invoice.customer.rfc,
                    "nombreReceptor": document.invoice.customer.legal_name,
                    "estadoCFDi": document.status,
                }
            )
        return self._accepted(**{self.spec["field.list_rows"]: rows})

    @route("POST", "/cancelarCfdi")
    def cancelar_cfdi(self, request: EmulatorRequest) -> EmulatorResponse:
        """Cancel by serie+folio with a SAT motive; 01 needs ``ComprobanteSustitucion``."""
        account, mode = self._caller(request)
        inner = self._envelope(request)
        document = self._document(mode, inner)
        cfdi = _node(inner, "CFDi", "Solicitud")
        motive = _text(_required(cfdi, "motivo", "Solicitud.CFDi"))
        if motive not in {"01", "02", "03", "04"}:
            raise _Rejected("806", f"El motivo de cancelación {motive!r} no es válido (01 a 04)")
        if document.status == _CANCELLED:
            raise _Rejected("807", "El comprobante ya se encuentra cancelado")
        if document.status == _CANCEL_PENDING:
            raise _Rejected("807", "El comprobante ya tiene una solicitud de cancelación en proceso")
        replacement: str | None = None
        if motive == "01":
            substitute = cfdi.get("ComprobanteSustitucion")
            if not isinstance(substitute, Mapping):
                raise _Rejected("806", "El motivo 01 requiere el nodo ComprobanteSustitucion")
            other = self.documents.get(
                (mode, _text(substitute.get("serie")), _text(substitute.get("folio")))
            )
            if other is None or other is document or other.status != _ACTIVE:
                raise _Rejected(
                    "803", "El comprobante de sustitución no existe o no está vigente"
                )
            replacement = other.issued.uuid
        now = self.clock.now()
        consent_free = (
            document.issued.total <= _CONSENT_FREE_TOTAL
            or document.invoice.customer.rfc in _GENERIC_RFCS
            or now - document.stamped_epoch <= _CONSENT_FREE_WINDOW
        )
        document.status = _CANCELLED if consent_free else _CANCEL_PENDING
        document.cancel_motive = motive
        document.replacement_uuid = replacement
        document.cancel_receipt = cancellation_receipt(
            document.issued.uuid, account.rfc, motive, replacement, mexico_local(now)
        )
        return self._accepted(
            serie=document.serie,
            folioInterno=document.folio,
            folioFiscalUUID=document.issued.uuid,
            **{
                self.spec["field.cancel_status"]: "cancelado" if consent_free else "en proceso",
                self.spec["field.cancel_receipt"]: document.cancel_receipt.decode("utf-8"),
            },
        )

    @route("POST", "/enviarCorreo")
    def enviar_correo(self, request: EmulatorRequest) -> EmulatorResponse:
        """Queue an e-mail of the document to ``EnviarCFDI.Correos`` (kept in :attr:`outbox`)."""
        _, mode = self._caller(request)
        inner = self._envelope(request)
        document = self._document(mode, inner)
        envio = _node(_node(inner, "CFDi", "Solicitud"), "EnviarCFDI", "Solicitud.CFDi")
        correos = envio.get("Correos")
        if not isinstance(correos, list) or not correos:
            raise _Rejected("806", "EnviarCFDI.Correos debe tener al menos un correo")
        invalid = [c for c in correos if "@" not in _text(c)]
        if invalid:
            raise _Rejected("806", f"Correo electrónico no válido: {invalid[0]}")
        self.outbox.append(
            {"ref": f"{document.serie}-{document.folio}", "Correos": list(correos),
             "mensajeCorreo": envio.get("mensajeCorreo")}
        )
        return self._accepted(serie=document.serie, folioInterno=document.folio)

    # -- download links ---------------------------------------------------------------------

    @route("GET", "/descargas/{token}/{filename}")
    def descarga(self, request: EmulatorRequest, token: str, filename: str) -> EmulatorResponse:
        """Serve the XML at once and the PDF once :attr:`pdf_delay` has passed."""
        document = self.documents.get(self._by_token.get(token, ("", "", "")))
        stem, _, extension = filename.rpartition(".")
        if document is None or stem != f"{document.serie}-{document.folio}":
            raise HttpError(404, {"message": "Not Found"})
        if extension == "xml":
            return EmulatorResponse(
                200, document.issued.xml, {"Content-Type": "application/xml; charset=utf-8"}
            )
        if extension == "pdf":
            if self.clock.now() < document.stamped_epoch + self.pdf_delay:
                raise HttpError(404, {"message": "Not Found"})
            return EmulatorResponse(200, document.issued.pdf, {"Content-Type": "application/pdf"})
        raise HttpError(404, {"message": "Not Found"})
