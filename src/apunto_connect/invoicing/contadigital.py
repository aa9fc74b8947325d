"""ContaDigital (app.contadigital.mx, "API Facturación"): CFDI 4.0 through an API key.

**What is public and what is assumed.** ContaDigital publishes no API reference, SDK or issue
tracker. The only public facts are in the vendor-integration help page of a freight platform:
the API key and the list of endpoints live under *Perfil de usuario → API Facturación*, the
account must be enabled for API invoicing, the serie configured in ContaDigital must be valid
and active, product names are 2–50 characters, and the issuer's razón social is registered
without the régimen capital. **Everything else** — the token exchange, the ``{Resultado,
Codigo}`` envelope, every path, every field name and the integer-id catalog — comes from one
third-party integration and is **unverified**. All of it lives in one place,
:data:`DEFAULT_API` (a :class:`ContaDigitalApi`), which any caller can override per provider::

    api = DEFAULT_API.override(paths={"products": "/api/productos.json"},
                               request_fields={"Fecha": "FechaEmision"})
    provider = ContaDigitalProvider(api_key="...", api=api)

The offline emulator (:mod:`apunto_connect.sandbox.contadigital`) follows exactly the same
assumptions, so the two agree with each other; only a real account can tell whether they agree
with ContaDigital. ``docs/vendors/contadigital.md`` lists every assumption.

**Hosts.** Production ``https://app.contadigital.mx``; the test environment is a path prefix on
the same host, ``/dev/pruebas`` (``environment="sandbox"``).

**Auth.** ``POST /api/conectar.json`` with ``{"ApiKey": ...}`` returns a bearer token, sent as
``Authorization: Bearer <token>``. The real lifetime is unknown; the token is cached for
:attr:`ContaDigitalApi.token_ttl` seconds (50 minutes, as the integration does) and fetched again
once when the vendor answers 401.

**Envelope.** Every reply is ``{"Resultado": ..., "Codigo": n}``; ``Codigo`` 1 is success and
3 means "saved but not stamped: no stamping credits" (raised as
:class:`~apunto_connect.errors.InsufficientCredits` carrying ``saved_id``). Failures usually come
as HTTP 200 with another ``Codigo``; the vendor text is passed through verbatim.

**Internal ids.** Invoices refer to the account's own integer ids (empresa, serie, sucursal,
moneda, forma de pago, unidad, producto, cliente), read once from
``GET /api/cfdi/utiles.json/{idEmpresa}`` and cached. Customers are looked up by RFC and created
or updated on the fly; products missing from the catalog are created (that endpoint is an
assumption: the integration never created products).

**Never stamping twice.** A stamp is one POST that the retry engine never repeats after the
request may have reached the server. With an ``idempotency_key`` the provider saves the invoice
first as a draft (``SoloGuardar``) and then stamps that draft by its id, so an interrupted
stamp is resolved by reading the draft back (``GET factura.json``) instead of issuing again.

Sources: the freight platform's "ContaDigital" help article (public facts above) and one
third-party NestJS integration found through a code index (everything marked assumed).
"""

from __future__ import annotations

import base64
import binascii
import collections
import functools
import json
import re
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import attrs
import requests

from .._answers import answer_mapper
from ..credentials import CredentialField, Secret, resolve_credentials
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    InsufficientCredits,
    Issue,
    NotFound,
    PermissionDenied,
    ProviderError,
    ServerError,
    Severity,
    StampRejected,
    TransportError,
    ValidationError,
)
from ..http import DEFAULT_TIMEOUT, RetryPolicy, TimeoutValue, Transport, error_for_status
from ..models.common import Capability, ConnectionStatus
from ..models.invoices import (
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
from ..models.parties import Customer
from ..money import to_decimal
from ..redaction import redact
from .base import DownloadFormat, InvoiceProvider

__all__ = [
    "CREDENTIALS",
    "DEFAULT_API",
    "PATHS",
    "PRODUCTION_URL",
    "RESPONSE_FIELDS",
    "TEST_PREFIX",
    "BranchInfo",
    "Catalog",
    "ContaDigitalApi",
    "ContaDigitalProvider",
    "ProductInfo",
    "ResolvedIds",
    "SeriesInfo",
    "catalog_from_contadigital",
    "contadigital_error",
    "contadigital_issues",
    "contadigital_to_cancellation",
    "contadigital_to_stamped",
    "customer_to_contadigital",
    "encode_json",
    "invoice_to_contadigital",
    "product_to_contadigital",
]

PRODUCTION_URL = "https://app.contadigital.mx"
"""The production host (third-party integration; the help page names only the web app)."""

TEST_PREFIX = "/dev/pruebas"
"""Path prefix of ContaDigital's test environment on the same host (third-party, unverified)."""

CREDENTIALS: tuple[CredentialField, ...] = (
    CredentialField("api_key"),
    # IdEmpresa: taken from the token reply when not given (assumed field, see RESPONSE_FIELDS).
    CredentialField("company_id", secret=False, required=False),
    # The serie to stamp with; ContaDigital's default active serie when not given.
    CredentialField("series", secret=False, required=False),
)
"""What the provider needs: the API key (public fact), optionally the company id and serie."""

# ---------------------------------------------------------------------------------------------
# The one overridable table of assumptions
# ---------------------------------------------------------------------------------------------

PATHS: Mapping[str, str] = {
    # third-party integration (unverified)
    "connect": "/api/conectar.json",
    "catalog": "/api/cfdi/utiles.json/{company_id}",
    "customer_by_rfc": "/api/clientes.json/{company_id}/{rfc}",
    "customers": "/api/clientes.json",  # POST creates, PUT updates
    "invoices": "/api/cfdi.json",  # POST saves/stamps, DELETE (JSON body) cancels
    "invoice": "/api/cfdi/factura.json/{company_id}/{invoice_id}",
    "email": "/api/cfdi/enviar.json/{company_id}/{invoice_id}/{email}",
    # not found anywhere: modelled on the clientes endpoint
    "products": "/api/productos.json",
}
"""Endpoint paths below the base URL, by purpose (all unverified; ``products`` is a guess)."""

RESPONSE_FIELDS: Mapping[str, tuple[str, ...]] = {
    # envelope (third-party)
    "result": ("Resultado",),
    "code": ("Codigo",),
    "message": ("Mensaje", "Message", "Error", "Descripcion", "Detalle"),
    # token exchange (Token: third-party; IdEmpresa: assumed)
    "token": ("Token",),
    "token_company_id": ("IdEmpresa",),
    # stamp / get (Id, UUID, Serie, Folio, files: third-party; the rest assumed)
    "invoice_id": ("Id", "IdFactura"),
    "uuid": ("UUID", "Uuid"),
    "series": ("Serie",),
    "folio": ("Folio",),
    "xml_base64": ("XmlBase64",),
    "pdf_base64": ("PdfBase64",),
    "xml_url": ("XmlLink", "UrlXml"),
    "pdf_url": ("PdfLink", "UrlPdf"),
    "total": ("Total",),
    "currency": ("Moneda",),
    "issued_at": ("Fecha",),
    "stamped_at": ("FechaTimbrado",),
    "status": ("Estatus",),
    "customer_rfc": ("RFCReceptor",),
    "issuer_rfc": ("RFCEmisor",),
    # cancel (AcuseBase64: third-party)
    "acuse_base64": ("AcuseBase64",),
    # client reply (Id, Estatus: third-party)
    "customer_id": ("Id", "IdCliente"),
    "customer_active": ("Estatus",),
    "customer_rfc_field": ("RFC",),
    "customer_name": ("RazonSocial",),
    "customer_regime": ("RegimenFiscal",),
    "customer_zip": ("CP",),
    "customer_use": ("UsoCFDIDefault",),
    "customer_email": ("Email",),
    # utiles catalog (the id names are third-party; the grouping and other names are assumed)
    "catalog_company": ("Empresa",),
    "catalog_series": ("Series",),
    "catalog_branches": ("Sucursales",),
    "catalog_currencies": ("Monedas",),
    "catalog_payment_forms": ("FormasDePago",),
    "catalog_units": ("UnidadesDeMedida", "Unidades"),
    "catalog_products": ("Productos",),
    "company_id": ("IdEmpresa", "Id"),
    "company_rfc_id": ("IdRFC",),
    "company_rfc": ("RFC",),
    "company_name": ("RazonSocial",),
    "company_regime": ("RegimenFiscal",),
    "series_id": ("IdSerie", "Id"),
    "series_name": ("Serie", "Nombre"),
    "series_active": ("Activa", "Activo", "Estatus"),
    "series_default": ("Predeterminada",),
    "branch_id": ("IdSucursal", "Id"),
    "branch_name": ("Nombre",),
    "branch_place_id": ("IdLugarDeExpedicion",),
    "branch_zip": ("LugarDeExpedicion", "CodigoPostal", "CP"),
    "currency_id": ("IdMoneda", "Id"),
    "payment_form_id": ("IdFormaDePago", "Id"),
    "unit_id": ("IdUM", "Id"),
    "product_id": ("IdProducto", "Id"),
    "product_name": ("Nombre", "Descripcion"),
    "product_code": ("ClaveProdServ",),
    "sat_code": ("Clave", "ClaveSAT"),
    "description": ("Descripcion", "Nombre"),
}
"""Field names read from replies, by meaning; the first name present wins (case-insensitive)."""

_STATUS_WORDS: Mapping[str, InvoiceStatus] = {
    "timbrada": InvoiceStatus.ACTIVE,
    "vigente": InvoiceStatus.ACTIVE,
    "activa": InvoiceStatus.ACTIVE,
    "guardada": InvoiceStatus.DRAFT,
    "borrador": InvoiceStatus.DRAFT,
    "pendiente": InvoiceStatus.PENDING,
    "cancelada": InvoiceStatus.CANCELLED,
    "en proceso de cancelacion": InvoiceStatus.CANCEL_PENDING,
    "en proceso de cancelación": InvoiceStatus.CANCEL_PENDING,
}


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return {**base, **(extra or {})}


def _read_only(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    # The table is shared by every provider and the emulator: changes go through override().
    return MappingProxyType(dict(mapping))


@attrs.frozen(slots=True)
class ContaDigitalApi:
    """Every unverified detail of the ContaDigital API, in one overridable object.

    Attributes:
        test_prefix: path prefix of the test environment on the production host.
        paths: endpoint paths by purpose (see :data:`PATHS`).
        response_fields: reply field names by meaning (see :data:`RESPONSE_FIELDS`).
        request_fields: renames applied to outgoing bodies, ``{"Fecha": "FechaEmision"}``;
            empty by default (the bodies use the integration's names).
        token_ttl: seconds a token is reused before asking for a new one.
        ok_code: the ``Codigo`` of success.
        no_credits_code: the ``Codigo`` of "saved, but no stamping credits".
        document_types: ``TipoComprobante`` text by CFDI type; only ``Factura`` (income) is known.
        date_format: how ``Fecha`` is written (``dd-MM-yyyy HH:mm:ss``).
        rates_as_percent: send tax rates as percentages (16) rather than fractions (0.16);
            assumed from the ``PorcentajeIVA`` field name.
        status_words: ``Estatus`` texts and what they mean.
    """

    test_prefix: str = TEST_PREFIX
    paths: Mapping[str, str] = attrs.field(default=PATHS, converter=_read_only)
    response_fields: Mapping[str, tuple[str, ...]] = attrs.field(
        default=RESPONSE_FIELDS, converter=_read_only
    )
    request_fields: Mapping[str, str] = attrs.field(factory=dict, converter=_read_only)
    token_ttl: float = 50 * 60.0
    ok_code: int = 1
    no_credits_code: int = 3
    document_types: Mapping[str, str] = attrs.field(
        factory=lambda: {"I": "Factura"}, converter=_read_only
    )
    date_format: str = "%d-%m-%Y %H:%M:%S"
    rates_as_percent: bool = True
    status_words: Mapping[str, InvoiceStatus] = attrs.field(
        default=_STATUS_WORDS, converter=_read_only
    )

    def override(
        self,
        *,
        paths: Mapping[str, str] | None = None,
        response_fields: Mapping[str, tuple[str, ...]] | None = None,
        request_fields: Mapping[str, str] | None = None,
        document_types: Mapping[str, str] | None = None,
        status_words: Mapping[str, InvoiceStatus] | None = None,
        **changes: Any,
    ) -> ContaDigitalApi:
        """A copy with some entries replaced; mappings are merged over the current ones."""
        return attrs.evolve(
            self,
            paths=_merged(self.paths, paths),
            response_fields=_merged(self.response_fields, response_fields),
            request_fields=_merged(self.request_fields, request_fields),
            document_types=_merged(self.document_types, document_types),
            status_words=_merged(self.status_words, status_words),
            **changes,
        )

    def path(self, purpose: str, **params: object) -> str:
        """The path of ``purpose`` with its placeholders filled (values URL-quoted)."""
        from urllib.parse import quote

        template = self.paths[purpose]
        return template.format(**{k: quote(str(v), safe="") for k, v in params.items()})

    def pick(self, obj: Any, meaning: str, default: Any = None) -> Any:
        """The value of the first field of ``meaning`` present in ``obj`` (else ``default``)."""
        if not isinstance(obj, Mapping):
            return default
        names = self.response_fields.get(meaning, ())
        for name in names:
            value = obj.get(name)
            if value is not None:
                return value
        # ASP.NET serializers are not consistent about casing; accept any.
        lowered = {str(k).lower(): v for k, v in obj.items()}
        for name in names:
            value = lowered.get(name.lower())
            if value is not None:
                return value
        return default

    def rename(self, body: Any) -> Any:
        """Apply :attr:`request_fields` to an outgoing body, at every depth."""
        if not self.request_fields:
            return body
        if isinstance(body, Mapping):
            return {self.request_fields.get(k, k): self.rename(v) for k, v in body.items()}
        if isinstance(body, list):
            return [self.rename(v) for v in body]
        return body


DEFAULT_API = ContaDigitalApi()
"""The assumptions this SDK and its emulator use; override per provider with ``api=``."""


# ---------------------------------------------------------------------------------------------
# JSON with exact decimals
# ---------------------------------------------------------------------------------------------


def encode_json(value: Any) -> bytes:
    """Serialize ``value`` as UTF-8 JSON writing :class:`~decimal.Decimal` as exact numbers.

    ``json`` cannot write a Decimal without going through a binary float; amounts are written
    as placeholders first and swapped for their exact digits afterwards.
    """
    marker = f"@@{uuidlib.uuid4().hex}@@"

    def swap(item: Any) -> Any:
        if isinstance(item, Decimal):
            return f"{marker}{item:f}{marker}"
        if isinstance(item, Mapping):
            return {str(k): swap(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [swap(v) for v in item]
        return item

    text = json.dumps(swap(value), ensure_ascii=False)
    return re.sub(f'"{marker}(-?[0-9.]+){marker}"', r"\1", text).encode("utf-8")


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


def _entries(result: Any, api: ContaDigitalApi, meaning: str) -> list[Mapping[str, Any]]:
    found = api.pick(result, meaning, [])
    return [e for e in found if isinstance(e, Mapping)] if isinstance(found, list) else []


def catalog_from_contadigital(result: Mapping[str, Any], api: ContaDigitalApi = DEFAULT_API) -> Catalog:
    """Read the ``utiles`` reply (its ``Resultado``) into a :class:`Catalog`."""
    company = api.pick(result, "catalog_company", {})
    series = tuple(
        SeriesInfo(
            id=_as_int(api.pick(e, "series_id")),
            name=str(api.pick(e, "series_name", "")),
            active=_as_bool(api.pick(e, "series_active", False)),
            default=_as_bool(api.pick(e, "series_default", False)),
        )
        for e in _entries(result, api, "catalog_series")
    )
    branches = tuple(
        BranchInfo(
            id=_as_int(api.pick(e, "branch_id")),
            name=str(api.pick(e, "branch_name", "")),
            place_id=_as_int(api.pick(e, "branch_place_id")),
            zip_code=str(api.pick(e, "branch_zip", "")),
        )
        for e in _entries(result, api, "catalog_branches")
    )
    currencies = {
        str(api.pick(e, "sat_code", "")).upper(): _as_int(api.pick(e, "currency_id"))
        for e in _entries(result, api, "catalog_currencies")
    }
    payment_forms = {
        str(api.pick(e, "sat_code", "")): (
            _as_int(api.pick(e, "payment_form_id")),
            str(api.pick(e, "description", "")),
        )
        for e in _entries(result, api, "catalog_payment_forms")
    }
    units = {
        str(api.pick(e, "sat_code", "")): _as_int(api.pick(e, "unit_id"))
        for e in _entries(result, api, "catalog_units")
    }
    products = tuple(
        ProductInfo(
            id=_as_int(api.pick(e, "product_id")),
            name=str(api.pick(e, "product_name", "")),
            product_code=str(api.pick(e, "product_code", "")),
        )
        for e in _entries(result, api, "catalog_products")
    )
    return Catalog(
        company_id=_as_int(api.pick(company, "company_id")),
        rfc_id=_as_int(api.pick(company, "company_rfc_id")),
        rfc=str(api.pick(company, "company_rfc", "")),
        legal_name=str(api.pick(company, "company_name", "")),
        tax_regime=str(api.pick(company, "company_regime", "")),
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
    from ..sat.products import validate_product_name

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


def contadigital_issues(invoice: Invoice, api: ContaDigitalApi = DEFAULT_API) -> list[Issue]:
    """What ContaDigital cannot take in ``invoice`` (errors) or will not receive (warnings).

    These are limits of the vendor (product name length) or of what is known about its API
    (fields never seen in use); the SAT's own rules are checked by :mod:`apunto_connect.sat`.
    """
    issues: list[Issue] = []
    if invoice.kind.value not in api.document_types:
        issues.append(_issue(
            "kind", "APUNTO-CD-001",
            f"ContaDigital's TipoComprobante for CFDI type {invoice.kind.value} is not known "
            f"(known: {', '.join(sorted(api.document_types))}); add it with "
            "ContaDigitalApi.override(document_types=...)",
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


def _rate(value: Decimal | None, api: ContaDigitalApi) -> Decimal:
    if value is None:
        return Decimal(0)
    return (value * 100).normalize() if api.rates_as_percent else value.normalize()


def _line_body(
    item: LineItem, line: LineTotals, product_id: int, unit_id: int, api: ContaDigitalApi
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
            body.update(PorcentajeIVA=_rate(tax.rate, api), IVA=amount, TasaCero=tax.rate == 0)
        elif tax.kind is TaxKind.IVA:
            body.update(BaseRetIVA=tax.base, TipoRetIVA=_rate(tax.rate, api), RetIVA=amount)
        elif tax.kind is TaxKind.ISR:
            body.update(TasaISR=_rate(tax.rate, api), RetISR=amount)
        else:
            body.update(TasaIEPS=_rate(tax.rate, api), ImporteIEPS=amount)
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
    api: ContaDigitalApi = DEFAULT_API,
    save_only: bool = False,
    invoice_id: int = 0,
) -> dict[str, Any]:
    """The ``POST /api/cfdi.json`` body for ``invoice`` (no I/O).

    Args:
        invoice: the invoice; totals are computed the SAT's way and sent.
        ids: the account ids the invoice refers to.
        issued_at: Fecha when the invoice carries none (Mexico local time).
        api: the assumptions in use.
        save_only: ``SoloGuardar``: save a draft without stamping.
        invoice_id: 0 for a new invoice, else the id of a saved draft to stamp.

    Raises:
        ValidationError: ContaDigital cannot take the invoice (see :func:`contadigital_issues`).
    """
    problems = [i for i in contadigital_issues(invoice, api) if i.severity is Severity.ERROR]
    if problems:
        raise ValidationError(problems)
    totals = invoice.totals
    lines = [
        _line_body(item, line, product_id, unit_id, api)
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
        "Fecha": fecha.strftime(api.date_format),
        "TipoComprobante": api.document_types[invoice.kind.value],
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
    return dict(api.rename(body))


def customer_to_contadigital(
    customer: Customer,
    company_id: int,
    *,
    payment_form_id: int | None = None,
    customer_id: int | None = None,
    api: ContaDigitalApi = DEFAULT_API,
) -> dict[str, Any]:
    """The ``/api/clientes.json`` body for ``customer`` (``customer_id`` set for an update)."""
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
    return dict(api.rename(body))


def product_to_contadigital(
    item: LineItem, company_id: int, unit_id: int, api: ContaDigitalApi = DEFAULT_API
) -> dict[str, Any]:
    """The body that registers ``item``'s product (assumed endpoint and fields)."""
    body = {
        "IdEmpresa": company_id,
        "Nombre": item.product_name,
        "ClaveProdServ": item.product_code,
        "IdUM": unit_id,
        "Precio": item.unit_price,
        "ClaveIdentificacion": item.sku,
    }
    return dict(api.rename(body))


# ---------------------------------------------------------------------------------------------
# Pure mappers: ContaDigital replies -> our models and errors
# ---------------------------------------------------------------------------------------------

_SAT_CODE = re.compile(r"\bCFDI\d{5}\b")


def _parse_date(value: Any, api: ContaDigitalApi) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    for fmt in (api.date_format, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M:%S"):
        try:
            return datetime.strptime(text[:19], fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _status(result: Mapping[str, Any], api: ContaDigitalApi, uuid: str | None) -> InvoiceStatus:
    word = api.pick(result, "status")
    if isinstance(word, str):
        known = api.status_words.get(word.strip().lower())
        if known is not None:
            return known
    return InvoiceStatus.ACTIVE if uuid else InvoiceStatus.DRAFT


def _optional_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


@answer_mapper("contadigital", "invoice")
def contadigital_to_stamped(
    result: Mapping[str, Any],
    *,
    api: ContaDigitalApi = DEFAULT_API,
    provider: str = "contadigital",
    invoice: Invoice | None = None,
    issuer_rfc: str | None = None,
) -> StampedInvoice:
    """A :class:`StampedInvoice` from a stamp or ``factura.json`` ``Resultado``.

    ``invoice`` and ``issuer_rfc`` fill in what the reply does not carry (the stamp reply has
    no total or receiver RFC as far as is known).
    """
    uuid = _optional_str(api.pick(result, "uuid"))
    total = api.pick(result, "total")
    return StampedInvoice(
        provider=provider,
        id=str(api.pick(result, "invoice_id", "")),
        uuid=uuid.upper() if uuid else None,
        status=_status(result, api, uuid),
        total=to_decimal(total) if total is not None else (invoice.total if invoice else None),
        currency=_optional_str(api.pick(result, "currency")) or (invoice.currency if invoice else None),
        series=_optional_str(api.pick(result, "series")),
        folio=_optional_str(api.pick(result, "folio")),
        issuer_rfc=_optional_str(api.pick(result, "issuer_rfc")) or issuer_rfc,
        customer_rfc=_optional_str(api.pick(result, "customer_rfc"))
        or (invoice.customer.rfc if invoice else None),
        issued_at=_parse_date(api.pick(result, "issued_at"), api),
        stamped_at=_parse_date(api.pick(result, "stamped_at"), api),
        raw=dict(result),
    )


@answer_mapper("contadigital", "cancellation")
def contadigital_to_cancellation(
    result: Any,
    ref: str,
    motive: CancelMotive,
    replacement_uuid: str | None = None,
    *,
    api: ContaDigitalApi = DEFAULT_API,
    provider: str = "contadigital",
) -> Cancellation:
    """A :class:`Cancellation` from the cancel ``Resultado`` (an acuse means it went through)."""
    data = result if isinstance(result, Mapping) else {"Mensaje": result}
    word = api.pick(data, "status")
    status = CancellationStatus.CANCELLED
    if isinstance(word, str):
        meaning = api.status_words.get(word.strip().lower())
        if meaning is InvoiceStatus.CANCEL_PENDING:
            status = CancellationStatus.REQUESTED
        elif meaning is InvoiceStatus.ACTIVE:
            status = CancellationStatus.REJECTED
    uuid = _optional_str(api.pick(data, "uuid"))
    return Cancellation(
        provider=provider,
        ref=ref,
        motive=motive,
        status=status,
        uuid=uuid.upper() if uuid else None,
        replacement_uuid=replacement_uuid,
        message=str(api.pick(data, "message", "")),
        raw=dict(data),
    )


def _json_body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _vendor_text(body: Any, result: Any, api: ContaDigitalApi) -> str | None:
    if isinstance(result, str) and result.strip():
        return result
    if isinstance(result, list):
        texts = [str(x) for x in result if isinstance(x, (str, int, float))]
        if texts:
            return "; ".join(texts)
    for source in (result, body):
        text = api.pick(source, "message")
        if isinstance(text, str) and text.strip():
            return text
        if isinstance(text, list) and text:
            return "; ".join(str(x) for x in text)
    return None


def contadigital_error(
    provider: str,
    response: requests.Response,
    *,
    api: ContaDigitalApi = DEFAULT_API,
    operation: str = "",
) -> ProviderError:
    """The typed error for a failed ContaDigital reply (HTTP error or ``Codigo`` other than 1).

    The vendor's text is kept verbatim in ``.message`` and its ``Codigo`` in ``vendor_code``.
    ``Codigo`` 3 becomes :class:`InsufficientCredits` with the saved invoice's id; a failed
    token exchange is an :class:`AuthenticationError`; a failed stamp is a
    :class:`StampRejected` (with ``sat_code`` when the text names a CFDI40xxx rule).
    """
    body = _json_body(response)
    raw_code = api.pick(body, "code")
    code = _as_int(raw_code, default=-1) if raw_code is not None else None
    result = api.pick(body, "result")
    message = _vendor_text(body, result, api)
    if message is None:
        text = response.text.strip()
        if code is not None:
            message = f"ContaDigital answered Codigo {code}"
        elif text and not text.startswith("<") and body is None:
            message = text[:500]
        else:
            message = f"HTTP {response.status_code} {response.reason or ''}".strip()
    vendor_code = str(code) if code is not None else None
    http_failed = response.status_code >= 400
    common: dict[str, Any] = {
        "provider": provider,
        "status_code": response.status_code if http_failed else None,
        "vendor_code": vendor_code,
        "details": body if isinstance(body, (Mapping, list)) else None,
        "raw_body": redact(response.text[:4000]) if response.content else None,
    }
    sat_code = _SAT_CODE.search(message)
    if code == api.no_credits_code:
        saved = api.pick(result, "invoice_id")
        return InsufficientCredits(message, saved_id=_optional_str(saved), **common)
    if http_failed:
        error = error_for_status(
            provider, response, message, vendor_code=vendor_code, details=common["details"]
        )
        if sat_code and type(error) is ProviderError:
            return StampRejected(message, sat_code=sat_code.group(0), **common)
        return error
    if operation == "connect":
        return AuthenticationError(message, **common)
    if sat_code or operation == "stamp":
        return StampRejected(message, sat_code=sat_code.group(0) if sat_code else None, **common)
    return ProviderError(message, **common)


# ---------------------------------------------------------------------------------------------
# The provider
# ---------------------------------------------------------------------------------------------


def _mexico_tz() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("America/Mexico_City")
    except Exception:  # no tz database: central Mexico has been UTC-6 all year since 2022
        return timezone(timedelta(hours=-6), "CST")


def _mexico_now() -> datetime:
    return datetime.now(_mexico_tz()).replace(tzinfo=None, microsecond=0)


_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
_MAX_REMEMBERED_KEYS = 10_000


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
        session, timeout, max_retries, retry, sleep, clock: transport options; ``clock`` also
            times the token cache.
        api: the assumptions to use (:data:`DEFAULT_API` by default).
    """

    name: ClassVar[str] = "contadigital"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.STAMP,
            Capability.GET,
            Capability.DOWNLOAD_XML,
            Capability.DOWNLOAD_PDF,
            Capability.CANCEL,
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
        clock: Callable[[], float] = time.monotonic,
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
        self.api = api or DEFAULT_API
        host = (base_url or PRODUCTION_URL).rstrip("/")
        self.base_url = host + (self.api.test_prefix if environment == "sandbox" else "")
        policy = retry or RetryPolicy()
        if max_retries is not None:
            policy = attrs.evolve(policy, max_retries=max_retries)
        self._clock = clock
        self.transport = Transport(
            self.name,
            self.base_url,
            auth=_BearerAuth(self),
            headers={"Content-Type": "application/json; charset=utf-8"},
            timeout=timeout or DEFAULT_TIMEOUT,
            retry=policy,
            session=session,
            error_mapper=functools.partial(contadigital_error, api=self.api),
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
        self._keys_lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._drafts: collections.OrderedDict[str, int] = collections.OrderedDict()

    def __repr__(self) -> str:
        return f"ContaDigitalProvider(base_url={self.base_url!r}, environment={self.environment!r})"

    # -- token -------------------------------------------------------------------------------

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
                "POST", "connect", self.api.rename({"ApiKey": self._api_key.reveal()}),
                operation="connect",
                idempotent=True,  # a token exchange creates nothing worth protecting
            )
        finally:
            self._local.connecting = False
        token = self.api.pick(result, "token")
        if not isinstance(token, str) or not token:
            raise AuthenticationError(
                "ContaDigital's token reply carried no token", provider=self.name
            )
        if self._company_id is None:
            company = _as_int(self.api.pick(result, "token_company_id"), default=0)
            self._company_id = company or None
        self._token = token
        self._token_expires_at = self._clock() + self.api.token_ttl

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

    # -- calls -------------------------------------------------------------------------------

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
            method, self.api.path(purpose, **params), data=data, idempotent=idempotent,
            expected=expected,
        )
        if response.status_code == 404 and 404 in expected:
            return None
        decoded = self._decode(response)
        code = self.api.pick(decoded, "code")
        if code is None:
            raise TransportError(
                f"{self.name}: the reply to {method} {self.api.paths[purpose]} has no "
                f"{'/'.join(self.api.response_fields['code'])} envelope",
                provider=self.name,
                request_sent=True,
            )
        if _as_int(code, default=-1) != self.api.ok_code:
            raise contadigital_error(self.name, response, api=self.api, operation=operation)
        return self.api.pick(decoded, "result")

    def _decode(self, response: requests.Response) -> Any:
        """JSON with exact amounts (Decimal); an unreadable body is a transport error."""
        if not response.content or not response.content.strip():
            return None
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            return self.transport.decode_json(response)  # raises TransportError(request_sent)

    # -- catalog -----------------------------------------------------------------------------

    def catalog(self, *, refresh: bool = False) -> Catalog:
        """The account's ids (``utiles``), fetched once and cached; ``refresh`` re-reads it."""
        with self._catalog_lock:
            if self._catalog is None or refresh:
                result = self._call("GET", "catalog", company_id=self.company_id)
                catalog = catalog_from_contadigital(result or {}, self.api)
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

    def check_connection(self) -> ConnectionStatus:
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

    # -- ids ---------------------------------------------------------------------------------

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
            body = product_to_contadigital(item, company_id, unit_id, self.api)
            # Registering a product twice is harmless; it creates no fiscal document.
            result = self._call("POST", "products", body, idempotent=True)
            product_id = _as_int(self.api.pick(result, "product_id"))
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
                 if str(self.api.pick(c, "customer_name", "")).upper() == customer.legal_name),
                found[0] if found else None,
            )
        return found if _as_int(self.api.pick(found, "customer_id"), default=0) else None

    def _register_customer(self, customer: Customer, catalog: Catalog, payment_form_id: int) -> int:
        found = self._find_customer(customer, catalog.company_id)
        if found is None:
            body = customer_to_contadigital(
                customer, catalog.company_id, payment_form_id=payment_form_id, api=self.api
            )
            try:
                result = self._call("POST", "customers", body, idempotent=True)
            except ProviderError:
                # Created meanwhile (another process, or a retried POST that had landed)?
                found = self._find_customer(customer, catalog.company_id)
                if found is None:
                    raise
            else:
                return _as_int(self.api.pick(result, "customer_id"))
        existing_id = _as_int(self.api.pick(found, "customer_id"))
        if not _customer_matches(found, customer, self.api):
            # An inactive customer, or one saved with other fiscal data, is updated: the SAT
            # compares the receiver with its records, so stale data would be rejected.
            body = customer_to_contadigital(
                customer, catalog.company_id, payment_form_id=payment_form_id,
                customer_id=existing_id, api=self.api,
            )
            self._call("PUT", "customers", body)
        return existing_id

    # -- stamping ----------------------------------------------------------------------------

    def preflight(self, invoice: Invoice) -> list[Issue]:
        """Every problem the SAT rules and ContaDigital's limits find in ``invoice`` (no I/O)."""
        from ..sat import preflight

        found = [*preflight(invoice, invoice.issuer), *contadigital_issues(invoice, self.api)]
        return list(dict.fromkeys(found))  # a rule both layers check is reported once

    def stamp(self, invoice: Invoice, *, idempotency_key: str | None = None) -> StampedInvoice:
        """Stamp ``invoice``, registering the customer and products first when needed.

        Without ``idempotency_key`` this is a single create-and-stamp POST, never repeated
        after it may have reached the server (a :class:`TransportError` with
        ``request_sent=True`` then means "unknown: check ContaDigital before trying again").

        With ``idempotency_key`` the invoice is saved as a draft, then the draft is stamped by
        id. If that stamp is interrupted, the draft is read back: stamped means done, otherwise
        the same call with the same key stamps the same draft later. A key that already
        stamped returns that invoice. Keys live in this provider object (thread-safe).

        Raises:
            ValidationError: the SAT or ContaDigital would reject the invoice (no I/O done).
            InsufficientCredits: saved without stamping; ``saved_id`` is the draft.
            StampRejected: ContaDigital or the SAT refused it; the vendor text is verbatim.
        """
        self.require(Capability.STAMP)
        issues = self.preflight(invoice)
        if any(i.severity is Severity.ERROR for i in issues):
            raise ValidationError(issues)
        if idempotency_key is None:
            ids = self._resolve(invoice)
            body = invoice_to_contadigital(invoice, ids, issued_at=_mexico_now(), api=self.api)
            result = self._call("POST", "invoices", body, operation="stamp", idempotent=False)
            return self._stamped(result, invoice)
        with self._lock_for(idempotency_key):
            return self._stamp_once(invoice, idempotency_key)

    def _lock_for(self, key: str) -> threading.Lock:
        with self._keys_lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _stamp_once(self, invoice: Invoice, key: str) -> StampedInvoice:
        with self._keys_lock:
            draft_id = self._drafts.get(key)
        if draft_id is not None:
            try:
                existing = self.get(str(draft_id))
            except NotFound:
                draft_id = None  # the draft was deleted in ContaDigital: start over
            else:
                if existing.uuid:
                    return existing
        ids = self._resolve(invoice)
        issued_at = _mexico_now()
        if draft_id is None:
            draft = invoice_to_contadigital(
                invoice, ids, issued_at=issued_at, api=self.api, save_only=True
            )
            # A draft is not a fiscal document and spends no credit, so retrying is safe.
            saved = self._call("POST", "invoices", draft, operation="stamp", idempotent=True)
            draft_id = _as_int(self.api.pick(saved, "invoice_id"))
            if not draft_id:
                raise TransportError(
                    f"{self.name}: the draft reply carried no invoice id", provider=self.name,
                    request_sent=True,
                )
            self._remember(key, draft_id)
        body = invoice_to_contadigital(
            invoice, ids, issued_at=issued_at, api=self.api, invoice_id=draft_id
        )
        try:
            result = self._call("POST", "invoices", body, operation="stamp", idempotent=False)
        except InsufficientCredits as exc:
            exc.saved_id = exc.saved_id or str(draft_id)
            raise
        except (TransportError, ServerError) as exc:
            # A dropped answer or a 5xx after the POST may hide a stamp that happened.
            if isinstance(exc, TransportError) and not exc.request_sent:
                raise
            recovered = self._lookup_after_failure(draft_id)
            if recovered is None:
                raise
            return recovered
        return self._stamped(result, invoice)

    def _lookup_after_failure(self, draft_id: int) -> StampedInvoice | None:
        try:
            existing = self.get(str(draft_id))
        except (TransportError, ProviderError):
            return None  # still unknown; the caller retries with the same key later
        return existing if existing.uuid else None

    def _remember(self, key: str, draft_id: int) -> None:
        with self._keys_lock:
            self._drafts[key] = draft_id
            self._drafts.move_to_end(key)
            while len(self._drafts) > _MAX_REMEMBERED_KEYS:
                old, _ = self._drafts.popitem(last=False)
                self._key_locks.pop(old, None)

    def _stamped(self, result: Any, invoice: Invoice | None = None) -> StampedInvoice:
        if not isinstance(result, Mapping):
            raise TransportError(
                f"{self.name}: unexpected Resultado {type(result).__name__}", provider=self.name,
                request_sent=True,
            )
        issuer_rfc = self._catalog.rfc if self._catalog else None
        return contadigital_to_stamped(
            result, api=self.api, provider=self.name, invoice=invoice, issuer_rfc=issuer_rfc
        )

    # -- reading -----------------------------------------------------------------------------

    @staticmethod
    def _invoice_id(ref: str) -> int:
        text = str(ref).strip()
        if not re.fullmatch(r"[0-9]+", text):
            hint = " (a UUID cannot be looked up)" if _UUID.match(text) else ""
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
        encoded = self.api.pick(result, f"{fmt}_base64")
        if isinstance(encoded, str) and encoded:
            try:
                content = base64.b64decode(encoded, validate=False)
            except (binascii.Error, ValueError) as exc:
                raise TransportError(
                    f"{self.name}: the {fmt} of invoice {ref} is not valid base64: {exc}",
                    provider=self.name, request_sent=True,
                ) from None
        else:
            link = self.api.pick(result, f"{fmt}_url")
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

    def cancel(
        self, ref: str, motive: CancelMotive, replacement_uuid: str | None = None
    ) -> Cancellation:
        """Cancel with a SAT motive: ``DELETE /api/cfdi.json`` with a JSON body."""
        from ..sat import validate_cancellation

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
        result = self._call("DELETE", "invoices", self.api.rename(body), operation="cancel")
        return contadigital_to_cancellation(
            result, str(invoice_id), motive, replacement, api=self.api,
            provider=self.name,
        )

    # -- extras ------------------------------------------------------------------------------

    def send_by_email(self, ref: str, email: str) -> str:
        """Ask ContaDigital to e-mail the XML and PDF of invoice ``ref``; returns its answer."""
        invoice_id = self._invoice_id(ref)
        if "@" not in email or "/" in email:
            raise ValidationError(f"{email!r} is not an e-mail address", field="email")
        result = self._call(
            "GET", "email", company_id=self.company_id, invoice_id=invoice_id, email=email.strip()
        )
        return str(_vendor_text(None, result, self.api) or "")

    def release(self) -> None:
        """Close the connection pools this provider opened."""
        self.transport.close()


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _customer_matches(found: Any, customer: Customer, api: ContaDigitalApi) -> bool:
    def same(meaning: str, value: str | None) -> bool:
        return str(api.pick(found, meaning, "") or "").strip().upper() == (value or "").upper()

    active = api.pick(found, "customer_active", True)
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
