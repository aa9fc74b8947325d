"""ContaDigital's wire shapes <-> the SDK's models: pure functions, no I/O.

Everything here reads field names and vendor values from a :class:`VendorSpec` (``spec=``,
:data:`~.spec.SPEC` by default), never from module globals. Vendor rules are reported as
pre-flight issues (:func:`contadigital_issues`, the provider's ``_vendor_issues``);
:func:`invoice_to_contadigital` refuses only an invoice it cannot put into a body at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

import attrs

from ..._answers import answer_mapper, cancellation_answer
from ...errors import Issue, Severity, ValidationError
from ...models.invoices import (
    Cancellation,
    CancellationStatus,
    CancelMotive,
    Invoice,
    InvoiceStatus,
    LineItem,
    LineTotals,
    StampedInvoice,
    TaxFactor,
    TaxKind,
)
from ...models.parties import Customer
from ...money import to_decimal
from ...vendor_spec import VendorSpec
from .spec import SPEC, ContaDigitalApi, legacy_spec

__all__ = [
    "BranchInfo",
    "Catalog",
    "ProductInfo",
    "ResolvedIds",
    "SeriesInfo",
    "catalog_from_contadigital",
    "contadigital_issues",
    "contadigital_to_cancellation",
    "contadigital_to_stamped",
    "customer_to_contadigital",
    "invoice_to_contadigital",
    "path",
    "pick",
    "product_to_contadigital",
    "rename",
]


# ---------------------------------------------------------------------------------------------
# Reading the spec
# ---------------------------------------------------------------------------------------------


def path(spec: VendorSpec, purpose: str, **params: object) -> str:
    """The path ``spec["path.<purpose>"]`` with its placeholders filled (values URL-quoted)."""
    template: str = spec[f"path.{purpose}"]
    return template.format(**{k: quote(str(v), safe="") for k, v in params.items()})


def pick(spec: VendorSpec, obj: Any, meaning: str, default: Any = None) -> Any:
    """The value of the first field ``spec["field.<meaning>"]`` names present in ``obj``.

    Names are tried as written, then in any casing (ASP.NET serializers are not consistent
    about casing); ``default`` when none is present or ``obj`` is not a mapping.
    """
    if not isinstance(obj, Mapping):
        return default
    names: tuple[str, ...] = spec[f"field.{meaning}"]
    for name in names:
        value = obj.get(name)
        if value is not None:
            return value
    lowered = {str(k).lower(): v for k, v in obj.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value is not None:
            return value
    return default


def rename(spec: VendorSpec, body: Any) -> Any:
    """Apply ``spec["field.request_renames"]`` to an outgoing body, at every depth."""
    renames: Mapping[str, str] = spec["field.request_renames"]
    if not renames:
        return body
    return _renamed(body, renames)


def _renamed(body: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(body, Mapping):
        return {renames.get(k, k): _renamed(v, renames) for k, v in body.items()}
    if isinstance(body, list):
        return [_renamed(v, renames) for v in body]
    return body


# ---------------------------------------------------------------------------------------------
# The account catalog (utiles)
# ---------------------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class SeriesInfo:
    """A serie of the ContaDigital account."""

    id: int
    name: str
    active: bool
    default: bool = False


@attrs.frozen(slots=True)
class BranchInfo:
    """A sucursal and its place of issue (LugarDeExpedicion)."""

    id: int
    name: str
    place_id: int
    zip_code: str


@attrs.frozen(slots=True)
class ProductInfo:
    """A product of the account's catalog."""

    id: int
    name: str
    product_code: str


@attrs.frozen(slots=True)
class Catalog:
    """The integer ids of one ContaDigital account (``utiles``), as plain lookups.

    Attributes:
        company_id: IdEmpresa.
        rfc_id: IdRFC of the issuing RFC.
        rfc: the issuer's RFC.
        legal_name: the issuer's razón social.
        tax_regime: the issuer's régimen fiscal.
        series: every serie, active or not.
        branches: every sucursal.
        currencies: c_Moneda code → IdMoneda.
        payment_forms: c_FormaPago code → (IdFormaDePago, description).
        units: c_ClaveUnidad code → IdUM.
        products: the products already registered.
    """

    company_id: int
    rfc_id: int
    rfc: str
    legal_name: str
    tax_regime: str
    series: tuple[SeriesInfo, ...]
    branches: tuple[BranchInfo, ...]
    currencies: Mapping[str, int]
    payment_forms: Mapping[str, tuple[int, str]]
    units: Mapping[str, int]
    products: tuple[ProductInfo, ...]

    def find_series(self, name: str | None) -> SeriesInfo | None:
        """The serie called ``name`` (case-insensitive), or ContaDigital's default active one."""
        if name:
            wanted = name.strip().upper()
            return next((s for s in self.series if s.name.upper() == wanted), None)
        active = [s for s in self.series if s.active]
        return next((s for s in active if s.default), active[0] if active else None)

    def find_branch(self, zip_code: str | None, name: str | None = None) -> BranchInfo | None:
        """The sucursal by name, else the one issuing from ``zip_code``, else the first one."""
        if name:
            wanted = name.strip().upper()
            return next((b for b in self.branches if b.name.upper() == wanted), None)
        if zip_code:
            found = next((b for b in self.branches if b.zip_code == zip_code), None)
            if found is not None:
                return found
        return self.branches[0] if self.branches else None


def _as_int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "si", "sí", "activa", "activo", "a"}
    return bool(value)


def _entries(result: Any, spec: VendorSpec, meaning: str) -> list[Mapping[str, Any]]:
    found = pick(spec, result, meaning, [])
    return [e for e in found if isinstance(e, Mapping)] if isinstance(found, list) else []


def catalog_from_contadigital(
    result: Mapping[str, Any], spec: Mapping[str, Any] = SPEC, *, api: ContaDigitalApi | None = None
) -> Catalog:
    """Read the ``utiles`` reply (its ``Resultado``) into a :class:`Catalog`.

    ``api=`` is deprecated (use ``spec=``).
    """
    spec = legacy_spec(spec, api, where="catalog_from_contadigital")
    company = pick(spec, result, "catalog_company", {})
    series = tuple(
        SeriesInfo(
            id=_as_int(pick(spec, e, "series_id")),
            name=str(pick(spec, e, "series_name", "")),
            active=_as_bool(pick(spec, e, "series_active", False)),
            default=_as_bool(pick(spec, e, "series_default", False)),
        )
        for e in _entries(result, spec, "catalog_series")
    )
    branches = tuple(
        BranchInfo(
            id=_as_int(pick(spec, e, "branch_id")),
            name=str(pick(spec, e, "branch_name", "")),
            place_id=_as_int(pick(spec, e, "branch_place_id")),
            zip_code=str(pick(spec, e, "branch_zip", "")),
        )
        for e in _entries(result, spec, "catalog_branches")
    )
    currencies = {
        str(pick(spec, e, "sat_code", "")).upper(): _as_int(pick(spec, e, "currency_id"))
        for e in _entries(result, spec, "catalog_currencies")
    }
    payment_forms = {
        str(pick(spec, e, "sat_code", "")): (
            _as_int(pick(spec, e, "payment_form_id")),
            str(pick(spec, e, "description", "")),
        )
        for e in _entries(result, spec, "catalog_payment_forms")
    }
    units = {
        str(pick(spec, e, "sat_code", "")): _as_int(pick(spec, e, "unit_id"))
        for e in _entries(result, spec, "catalog_units")
    }
    products = tuple(
        ProductInfo(
            id=_as_int(pick(spec, e, "product_id")),
            name=str(pick(spec, e, "product_name", "")),
            product_code=str(pick(spec, e, "product_code", "")),
        )
        for e in _entries(result, spec, "catalog_products")
    )
    return Catalog(
        company_id=_as_int(pick(spec, company, "company_id")),
        rfc_id=_as_int(pick(spec, company, "company_rfc_id")),
        rfc=str(pick(spec, company, "company_rfc", "")),
        legal_name=str(pick(spec, company, "company_name", "")),
        tax_regime=str(pick(spec, company, "company_regime", "")),
        series=series,
        branches=branches,
        currencies=currencies,
        payment_forms=payment_forms,
        units=units,
        products=products,
    )


# ---------------------------------------------------------------------------------------------
# Pure mappers: our models -> ContaDigital bodies
# ---------------------------------------------------------------------------------------------

def _issue(field: str, code: str, message: str, message_es: str, warning: bool = False) -> Issue:
    severity = Severity.WARNING if warning else Severity.ERROR
    return Issue(field=field, code=code, message=message, message_es=message_es, severity=severity)


def _line_issues(index: int, item: LineItem) -> list[Issue]:
    from ...sat.products import validate_product_name

    where = f"items[{index}]"
    # ContaDigital's catalog takes product names of 2-50 characters (its help page says so).
    issues = validate_product_name(item.product_name, field=f"{where}.name")
    slots: set[tuple[TaxKind, bool]] = set()
    for tax in item.taxes:
        if tax.factor is not TaxFactor.RATE:
            issues.append(_issue(
                f"{where}.taxes", "APUNTO-CD-011",
                f"ContaDigital's fields for {tax.kind.value} {tax.factor.value} are not known; "
                "only Tasa taxes can be sent",
                f"No se conocen los campos de ContaDigital para {tax.kind.value} "
                f"{tax.factor.value}; solo se envían impuestos a tasa",
            ))
        slot = (tax.kind, tax.withholding)
        if slot in slots or (tax.kind is TaxKind.IEPS and tax.withholding):
            issues.append(_issue(
                f"{where}.taxes", "APUNTO-CD-012",
                f"ContaDigital lines carry one {tax.kind.value} "
                f"{'withholding' if tax.withholding else 'transfer'} at most",
                f"Cada concepto en ContaDigital admite un solo {tax.kind.value} "
                f"{'retenido' if tax.withholding else 'trasladado'}",
            ))
        slots.add(slot)
    derived = "02" if item.taxes else "01"
    if item.tax_object and item.tax_object != derived:
        issues.append(_issue(
            f"{where}.tax_object", "APUNTO-CD-013",
            f"ContaDigital derives ObjetoImp from the taxes ({derived}); {item.tax_object} "
            "cannot be sent",
            f"ContaDigital deduce ObjetoImp de los impuestos ({derived}); no se puede enviar "
            f"{item.tax_object}",
        ))
    return issues


def contadigital_issues(
    invoice: Invoice, spec: Mapping[str, Any] = SPEC, *, api: ContaDigitalApi | None = None
) -> list[Issue]:
    """What ContaDigital cannot take in ``invoice`` (errors) or will not receive (warnings).

    These are limits of the vendor (product name length) or of what is known about its API
    (fields never seen in use); the SAT's own rules are checked by :mod:`apunto_connect.sat`.
    """
    spec = legacy_spec(spec, api, where="contadigital_issues")
    issues: list[Issue] = []
    document_types = spec["value.document_types"]
    if invoice.kind.value not in document_types:
        issues.append(_issue(
            "kind", "APUNTO-CD-001",
            f"ContaDigital's TipoComprobante for CFDI type {invoice.kind.value} is not known "
            f"(known: {', '.join(sorted(document_types))}); add it with "
            "spec={'value.document_types': {...}}",
            f"No se conoce el TipoComprobante de ContaDigital para el tipo {invoice.kind.value}",
        ))
    if invoice.global_info is not None:
        issues.append(_issue(
            "global_info", "APUNTO-CD-002",
            "ContaDigital's fields for InformacionGlobal are not known",
            "No se conocen los campos de ContaDigital para InformacionGlobal",
        ))
    if len(invoice.related) > 1:
        issues.append(_issue(
            "related", "APUNTO-CD-003",
            "ContaDigital takes one TipoRelacion per invoice",
            "ContaDigital admite un solo TipoRelacion por factura",
        ))
    if invoice.export_code != "01":
        issues.append(_issue(
            "export_code", "APUNTO-CD-004",
            "ContaDigital's field for Exportacion is not known; only 01 (no aplica) can be sent",
            "No se conoce el campo de Exportacion de ContaDigital; solo se admite 01",
        ))
    for name in ("notes", "payment_terms"):
        if getattr(invoice, name):
            issues.append(_issue(
                name, "APUNTO-CD-020",
                f"ContaDigital has no known field for {name}; it is not sent",
                f"ContaDigital no tiene un campo conocido para {name}; no se envía",
                warning=True,
            ))
    for index, item in enumerate(invoice.items):
        issues.extend(_line_issues(index, item))
    return issues


@attrs.frozen(slots=True)
class ResolvedIds:
    """The ContaDigital ids one invoice refers to, resolved from the catalog and customers.

    ``product_ids`` and ``unit_ids`` follow the invoice's lines.
    """

    company_id: int
    rfc_id: int
    series_id: int
    branch_id: int
    place_id: int
    place_zip: str
    customer_id: int
    currency_id: int
    payment_form_id: int
    payment_form_text: str
    product_ids: tuple[int, ...]
    unit_ids: tuple[int, ...]


def _rate(value: Decimal | None, spec: VendorSpec) -> Decimal:
    if value is None:
        return Decimal(0)
    return (value * 100).normalize() if spec["value.rates_as_percent"] else value.normalize()


def _line_body(
    item: LineItem, line: LineTotals, product_id: int, unit_id: int, spec: VendorSpec
) -> dict[str, Any]:
    zero = Decimal(0)
    body: dict[str, Any] = {
        "IdProducto": product_id,
        "IdUM": unit_id,
        "Cantidad": item.quantity,
        "Precio": item.unit_price,
        "Descuento": line.discount,
        "PorcentajeIVA": zero,
        "IVA": zero,
        "TasaCero": False,
        "TasaIEPS": zero,
        "ImporteIEPS": zero,
        "BaseRetIVA": zero,
        "TipoRetIVA": zero,
        "RetIVA": zero,
        "TasaISR": zero,
        "RetISR": zero,
        "Importe": line.amount,
        "Total": line.amount - line.discount + line.transferred - line.withheld,
        "Comentarios": item.description,
        "ClaveIdentificacion": item.sku,
    }
    for tax in line.taxes:
        amount = tax.amount or zero
        if tax.kind is TaxKind.IVA and not tax.withholding:
            body.update(PorcentajeIVA=_rate(tax.rate, spec), IVA=amount, TasaCero=tax.rate == 0)
        elif tax.kind is TaxKind.IVA:
            body.update(BaseRetIVA=tax.base, TipoRetIVA=_rate(tax.rate, spec), RetIVA=amount)
        elif tax.kind is TaxKind.ISR:
            body.update(TasaISR=_rate(tax.rate, spec), RetISR=amount)
        else:
            body.update(TasaIEPS=_rate(tax.rate, spec), ImporteIEPS=amount)
    return body


def _sum_of(lines: Iterable[Mapping[str, Any]], key: str) -> Decimal:
    return sum((Decimal(line[key]) for line in lines), Decimal(0))


def _single_rate(lines: list[dict[str, Any]], key: str, amount_key: str) -> Decimal:
    rates = {line[key] for line in lines if line[amount_key] or line.get("TasaCero")}
    return rates.pop() if len(rates) == 1 else Decimal(0)


def invoice_to_contadigital(
    invoice: Invoice,
    ids: ResolvedIds,
    *,
    issued_at: datetime,
    spec: Mapping[str, Any] = SPEC,
    save_only: bool = False,
    invoice_id: int = 0,
    api: ContaDigitalApi | None = None,
) -> dict[str, Any]:
    """The ``POST /api/cfdi.json`` body for ``invoice`` (no I/O).

    Args:
        invoice: the invoice; totals are computed the SAT's way and sent.
        ids: the account ids the invoice refers to.
        issued_at: Fecha when the invoice carries none (Mexico local time).
        spec: the assumptions in use.
        save_only: ``SoloGuardar``: save a draft without stamping.
        invoice_id: 0 for a new invoice, else the id of a saved draft to stamp.
        api: deprecated (use ``spec``).

    Raises:
        ValidationError: ContaDigital cannot take the invoice (see :func:`contadigital_issues`).
    """
    spec = legacy_spec(spec, api, where="invoice_to_contadigital")
    problems = [i for i in contadigital_issues(invoice, spec) if i.severity is Severity.ERROR]
    if problems:
        raise ValidationError(problems)
    totals = invoice.totals
    lines = [
        _line_body(item, line, product_id, unit_id, spec)
        for item, line, product_id, unit_id in zip(
            invoice.items, totals.lines, ids.product_ids, ids.unit_ids, strict=True
        )
    ]
    related = invoice.related[0] if invoice.related else None
    fecha = invoice.issued_at or issued_at
    body: dict[str, Any] = {
        "Id": invoice_id,
        "IdEmpresa": ids.company_id,
        "IdRFC": ids.rfc_id,
        "FolioOriginal": invoice.folio,
        "Fecha": fecha.strftime(spec["value.date_format"]),
        "TipoComprobante": spec["value.document_types"][invoice.kind.value],
        "IdSerie": ids.series_id,
        "IdSucursal": ids.branch_id,
        "IdLugarDeExpedicion": ids.place_id,
        "LugarDeExpedicion": ids.place_zip,
        "IdCliente": ids.customer_id,
        "IdSucursalCliente": 0,
        "UsoCFDI": invoice.effective_cfdi_use,
        "TipoRelacion": related.relation_type if related else None,
        # An empty list made the vendor fail with a server error; null is what it expects.
        "CFDIRelacionados": [{"UUID": u} for u in related.uuids] if related and related.uuids else None,
        "TipoDeCambio": invoice.exchange_rate if invoice.exchange_rate is not None else Decimal(1),
        "IdMoneda": ids.currency_id,
        "IdBanco": None,
        "MetodoDePago": invoice.effective_payment_method.value,
        "IdFormaDePago": ids.payment_form_id,
        "FormaDePago": ids.payment_form_text,
        "Descuento": totals.discount,
        "PorcentajeIVA": _single_rate(lines, "PorcentajeIVA", "IVA"),
        "IVA": _sum_of(lines, "IVA"),
        "RetencionISR": _sum_of(lines, "RetISR"),
        "TipoRetencionIVA": _single_rate(lines, "TipoRetIVA", "RetIVA"),
        "RetencionIVA": _sum_of(lines, "RetIVA"),
        "IEPS": _sum_of(lines, "ImporteIEPS"),
        "TotalImpuestosLocalesRetenidos": Decimal(0),
        "TotalImpuestosLocalesTrasladados": Decimal(0),
        "Subtotal": totals.subtotal,
        "Total": totals.total,
        "AgregarLeyendasFiscales": False,
        "TipoComplementoAddenda": None,
        "SoloGuardar": save_only,
        "Productos": lines,
    }
    return dict(rename(spec, body))


def customer_to_contadigital(
    customer: Customer,
    company_id: int,
    *,
    payment_form_id: int | None = None,
    customer_id: int | None = None,
    spec: Mapping[str, Any] = SPEC,
    api: ContaDigitalApi | None = None,
) -> dict[str, Any]:
    """The ``/api/clientes.json`` body for ``customer`` (``customer_id`` set for an update).

    ``api=`` is deprecated (use ``spec=``).
    """
    spec = legacy_spec(spec, api, where="customer_to_contadigital")
    body: dict[str, Any] = {
        "IdEmpresaCliente": company_id,
        "RFC": customer.rfc,
        "RazonSocial": customer.legal_name,
        "RegimenFiscal": customer.tax_regime,
        "Email": customer.email,
        "UsoCFDIDefault": customer.cfdi_use,
        "CP": customer.zip_code,
        "IdFormaPagoDefault": payment_form_id,
        "Contacto": None,
        "Calle": None,
        "Ciudad": None,
        "Pais": customer.tax_residence or "MEX",
        "Estatus": True,
    }
    if customer_id is not None:
        body = {"Id": customer_id, **body}
    return dict(rename(spec, body))


def product_to_contadigital(
    item: LineItem,
    company_id: int,
    unit_id: int,
    spec: Mapping[str, Any] = SPEC,
    *,
    api: ContaDigitalApi | None = None,
) -> dict[str, Any]:
    """The body that registers ``item``'s product (assumed endpoint and fields).

    ``api=`` is deprecated (use ``spec=``).
    """
    spec = legacy_spec(spec, api, where="product_to_contadigital")
    body = {
        "IdEmpresa": company_id,
        "Nombre": item.product_name,
        "ClaveProdServ": item.product_code,
        "IdUM": unit_id,
        "Precio": item.unit_price,
        "ClaveIdentificacion": item.sku,
    }
    return dict(rename(spec, body))


# ---------------------------------------------------------------------------------------------
# Pure mappers: ContaDigital replies -> our models and errors
# ---------------------------------------------------------------------------------------------



def _parse_date(value: Any, spec: VendorSpec) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    for fmt in (spec["value.date_format"], "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M:%S"):
        try:
            return datetime.strptime(text[:19], fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _status(result: Mapping[str, Any], spec: VendorSpec, uuid: str | None) -> InvoiceStatus:
    word = pick(spec, result, "status")
    if isinstance(word, str):
        words: Mapping[str, InvoiceStatus] = spec["value.status_words"]
        known = words.get(word.strip().lower())
        if known is not None:
            return known
    return InvoiceStatus.ACTIVE if uuid else InvoiceStatus.DRAFT


def _optional_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


@answer_mapper("contadigital", "invoice")
def contadigital_to_stamped(
    result: Mapping[str, Any],
    *,
    spec: Mapping[str, Any] = SPEC,
    provider: str = "contadigital",
    invoice: Invoice | None = None,
    issuer_rfc: str | None = None,
    api: ContaDigitalApi | None = None,
) -> StampedInvoice:
    """A :class:`StampedInvoice` from a stamp or ``factura.json`` ``Resultado``.

    ``invoice`` and ``issuer_rfc`` fill in what the reply does not carry (the stamp reply has
    no total or receiver RFC as far as is known). ``api=`` is deprecated (use ``spec=``).
    """
    spec = legacy_spec(spec, api, where="contadigital_to_stamped")
    uuid = _optional_str(pick(spec, result, "uuid"))
    total = pick(spec, result, "total")
    return StampedInvoice(
        provider=provider,
        id=str(pick(spec, result, "invoice_id", "")),
        uuid=uuid.upper() if uuid else None,
        status=_status(result, spec, uuid),
        total=to_decimal(total) if total is not None else (invoice.total if invoice else None),
        currency=_optional_str(pick(spec, result, "currency")) or (invoice.currency if invoice else None),
        series=_optional_str(pick(spec, result, "series")),
        folio=_optional_str(pick(spec, result, "folio")),
        issuer_rfc=_optional_str(pick(spec, result, "issuer_rfc")) or issuer_rfc,
        customer_rfc=_optional_str(pick(spec, result, "customer_rfc"))
        or (invoice.customer.rfc if invoice else None),
        issued_at=_parse_date(pick(spec, result, "issued_at"), spec),
        stamped_at=_parse_date(pick(spec, result, "stamped_at"), spec),
        raw=dict(result),
    )


@answer_mapper("contadigital", "cancellation")
def contadigital_to_cancellation(
    result: Any,
    ref: str,
    motive: CancelMotive,
    replacement_uuid: str | None = None,
    *,
    spec: Mapping[str, Any] = SPEC,
    provider: str = "contadigital",
    api: ContaDigitalApi | None = None,
) -> Cancellation:
    """A :class:`Cancellation` from the cancel ``Resultado`` (an acuse means it went through).

    ``api=`` is deprecated (use ``spec=``).
    """
    spec = legacy_spec(spec, api, where="contadigital_to_cancellation")
    data = result if isinstance(result, Mapping) else {"Mensaje": result}
    word = pick(spec, data, "status")
    status = CancellationStatus.CANCELLED
    if isinstance(word, str):
        meaning = spec["value.status_words"].get(word.strip().lower())
        if meaning is InvoiceStatus.CANCEL_PENDING:
            status = CancellationStatus.REQUESTED
        elif meaning is InvoiceStatus.ACTIVE:
            status = CancellationStatus.REJECTED
    uuid = _optional_str(pick(spec, data, "uuid"))
    return cancellation_answer(
        data, status, uuid, str(pick(spec, data, "message", "")),
        provider=provider, ref=ref, motive=motive, replacement_uuid=replacement_uuid,
    )


def _vendor_text(body: Any, result: Any, spec: VendorSpec) -> str | None:
    if isinstance(result, str) and result.strip():
        return result
    if isinstance(result, list):
        texts = [str(x) for x in result if isinstance(x, (str, int, float))]
        if texts:
            return "; ".join(texts)
    for source in (result, body):
        text = pick(spec, source, "message")
        if isinstance(text, str) and text.strip():
            return text
        if isinstance(text, list) and text:
            return "; ".join(str(x) for x in text)
    return None


def _customer_matches(found: Any, customer: Customer, spec: VendorSpec) -> bool:
    def same(meaning: str, value: str | None) -> bool:
        return str(pick(spec, found, meaning, "") or "").strip().upper() == (value or "").upper()

    active = pick(spec, found, "customer_active", True)
    return (
        _as_bool(active)
        and same("customer_name", customer.legal_name)
        and same("customer_regime", customer.tax_regime)
        and same("customer_zip", customer.zip_code)
    )


def _looks_like(fmt: Literal["xml", "pdf"] | str, content: bytes) -> bool:
    head = content.lstrip()[:8]
    if fmt == "pdf":
        return head.startswith(b"%PDF")
    return head.startswith((b"<?xml", b"<", b"\xef\xbb\xbf<"))
