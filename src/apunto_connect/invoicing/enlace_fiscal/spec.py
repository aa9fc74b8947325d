"""Enlace Fiscal's API v6 as this SDK understands it: one frozen :class:`VendorSpec`.

No official reference of the v6 JSON API was found. Facts marked ``public-integration`` are
agreed by two or more independent public integrations; ``assumed`` ones rest on one source or
none (the evidence says what was searched). The provider and the emulator
(:mod:`apunto_connect.sandbox.enlace_fiscal`) both read :data:`SPEC`; override entries per
provider with ``EnlaceFiscalProvider(spec={"field.list_rows": "Lista"})``.

The public integrations cited, by short names: EF-express, EF-axios, EF-dotnet, EF-java;
``research §3`` is our invoicing-vendor research notes. The full table is
``docs/vendors/evidence/enlace_fiscal.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ...errors import ConfigurationError
from ...models.invoices import CancellationStatus, InvoiceStatus
from ...vendor_spec import VendorSpec, assumed, public

__all__ = ["API", "BASE_URL", "LEGACY_API_KEYS", "NAME", "SPEC", "resolve_spec"]

NAME = "enlace_fiscal"
BASE_URL = "https://api.enlacefiscal.com/v6"

_ALL_FOUR = "EF-express, EF-axios, EF-dotnet, EF-java"
_NO_LIST_READER = (
    "searched public code search for listarComprobantes: only unrelated projects; no integration "
    "reads its answer (research §3 gives the request only)"
)
_MODO = "EF-express, EF-axios: the body field modo (Solicitud and CFDi); research §3"
_NOT_FOUND = "searched public code search and research §3: no integration sends or reads it"
# Integrations named in docs/vendors/evidence/enlace_fiscal.md ("Sources"): the first has a
# public repository name; public code search does not name the others' repositories.
_KMIMOS = "vlzangel/NewKmimos wp-content/themes/kmimos/lib/enlaceFiscal/CFDI.php"
_EF_CI = "EF-codeigniter (a CodeIgniter controller)"
_EF_SYMFONY = "EF-symfony (a Symfony EFClient service)"
_EF_RUBY = "EF-ruby (a Ruby CfdiApi class)"
# A C# client of Enlace Fiscal's older XML interface (SOAP, EF schema 5.0): its ack carries the
# same element names as the v6 JSON ack, and it keeps a copy of Enlace Fiscal's WSDL.
_BSCHEIMAN = "bscheiman/EnlaceFiscal (C#, the XML/SOAP interface, EF schema 5.0)"

SPEC = VendorSpec(
    NAME,
    {
        # -- where: base URL, auth header, one POST path per action ---------------------------
        "path.base_url": public(BASE_URL, f"{_ALL_FOUR}: POST {BASE_URL}/<accion>"),
        "header.api_key": public("x-api-key", f"{_ALL_FOUR}: Basic Usuario:Token plus this header"),
        "path.check_connection": public(
            "probarConexion",
            f"{_KMIMOS}; {_EF_CI}; {_EF_SYMFONY}; {_EF_RUBY}: Solicitud{{rfc, accion}}",
        ),
        "path.balance": public(
            "obtenerSaldo", f"{_KMIMOS}; {_EF_CI}: Solicitud{{rfc, accion: obtenerSaldo}}"
        ),
        "path.stamp": public("generarCfdi", _ALL_FOUR),
        "path.get": public("informacionCfdi", "EF-java; research §3"),
        "path.payment": public(
            "generarReciboElectronicoPago",
            "EF-express, EF-axios, EF-dotnet, EF-java; EF-rails names the action",
        ),
        "field.payment_totals": assumed(
            MappingProxyType({
                "total_amount": "montoTotalPagos",
                "base_iva16": "trasladosBaseIVA16",
                "iva16": "trasladosImpuestoIVA16",
                "base_iva8": "trasladosBaseIVA8",
                "iva8": "trasladosImpuestoIVA8",
                "base_iva0": "trasladosBaseIVA0",
                "iva0": "trasladosImpuestoIVA0",
                "base_iva_exempt": "trasladosBaseIVAExento",
                "withheld_iva": "retencionesIVA",
                "withheld_isr": "retencionesISR",
                "withheld_ieps": "retencionesIEPS",
            }),
            "EF-express sends montoTotalPagos, trasladosBaseIVA16 and trasladosImpuestoIVA16 "
            "(public-integration); the other Totales names follow the same pattern, not seen",
        ),
        "path.list": assumed(
            "listarComprobantes",
            f"one source: {_EF_SYMFONY} sends Comprobantes{{fechaInicial, fechaFinal, serie}} "
            "(research §3); public code search for listarComprobantes finds no other caller",
        ),
        "path.cancel": public("cancelarCfdi", _ALL_FOUR),
        "path.send_email": assumed(
            "enviarCorreo",
            f"sources disagree: {_EF_SYMFONY} calls enviarCorreo by serie and folio with "
            "EnviarCFDI{Correos, mensajeCorreo} (our shape); EF-express calls enviarCfdi by UUID; "
            f"Enlace Fiscal's WSDL of the XML interface, kept in {_BSCHEIMAN} "
            "(Service References/EFService/serviceCFDi.wsdl), names the operation enviarCorreo "
            "(no body shape)",
        ),
        # -- values sent and read ------------------------------------------------------------
        "value.version_cfdi": public("4.0", "EF-express, research §3"),
        "value.version_ef": public("6.5", "EF-express; research §3 (EF-axios used 6.0 for CFDI 3.3)"),
        "value.mode_production": public("produccion", _MODO),
        "value.mode_sandbox": public("debug", _MODO),
        "value.accepted": public("aceptado", "EF-dotnet, EF-express: estatusDocumento"),
        "value.cancel_statuses": assumed(
            MappingProxyType(
                {
                    "cancelado": CancellationStatus.CANCELLED,
                    "en proceso": CancellationStatus.REQUESTED,
                    "solicitado": CancellationStatus.REQUESTED,
                    "pendiente": CancellationStatus.PENDING,
                    "rechazado": CancellationStatus.REJECTED,
                }
            ),
            "EF-express and EF-dotnet read only estatusDocumento on the cancel answer: no "
            "cancellation status value seen (lower-case keys)",
        ),
        "value.document_statuses": assumed(
            MappingProxyType(
                {
                    "vigente": InvoiceStatus.ACTIVE,
                    "activo": InvoiceStatus.ACTIVE,
                    "cancelado": InvoiceStatus.CANCELLED,
                    "en proceso de cancelacion": InvoiceStatus.CANCEL_PENDING,
                    "en proceso de cancelación": InvoiceStatus.CANCEL_PENDING,
                }
            ),
            "research §3 names the key estadoCFDi; one source for two values: "
            f"{_BSCHEIMAN} Objects/InvoiceStatus.cs reads vigente and cancelado; activo and the "
            "pending-cancellation words: not seen (lower-case keys; anything unknown reads as "
            "active)",
        ),
        # codigoError values. Only 800 has a public source; 801-807 are this SDK's own
        # numbering, which the emulator answers with (the text rules catch the real wording).
        "value.error.authentication": assumed(
            "800", "fernandez14/go-enlacefiscal test (REST v1, 2016): user or password not valid"
        ),
        "value.error.serie_not_enabled": assumed(
            "801", "own numbering: EF-express and EF-dotnet never branch on codigoError"
        ),
        "value.error.duplicate": assumed("802", "own numbering (serie+folio already used)"),
        "value.error.not_found": assumed("803", "own numbering (serie+folio does not exist)"),
        "value.error.no_stamps": assumed("804", "own numbering (no stamps left)"),
        "value.error.rejected": assumed("805", "own numbering (the PAC or SAT rejected it)"),
        "value.error.malformed": assumed("806", "own numbering (malformed request)"),
        "value.error.not_cancellable": assumed(
            "807", "own numbering (already cancelled or not cancellable in its state)"
        ),
        # -- field names ---------------------------------------------------------------------
        # The ack's inline XML. One integration decodes it from base64 (nothing says raw XML),
        # so the emulator sends base64; the provider reads either form.
        "field.xml_inline": public(
            "xmlCFDi",
            f"EF-dotnet (v6 JSON) reads xmlCFDi and archivoQR from the ack; {_BSCHEIMAN} "
            "Objects/InvoiceResult.cs reads the same two elements of its ack; the others "
            "(EF-express, EF-axios, EF-java) use the download links",
        ),
        "value.xml_inline_base64": public(
            True,
            f"EF-dotnet (v6 JSON) and {_BSCHEIMAN} Objects/InvoiceResult.cs both decode "
            "xmlCFDi (and archivoQR) from base64; no source shows raw XML (the emulator, which "
            "sent raw XML, was corrected in the second pass)",
        ),
        "field.balance": public(
            "saldo", f"{_KMIMOS}; {_EF_CI}: both read AckEnlaceFiscal.saldo"
        ),
        "field.list_rows": assumed("Comprobantes", _NO_LIST_READER),
        "field.row_total": assumed("total", _NO_LIST_READER),
        "field.row_currency": assumed("tipoMoneda", _NO_LIST_READER),
        "field.row_customer_rfc": assumed("rfcReceptor", _NO_LIST_READER),
        "field.row_issued_at": assumed("fechaEmision", _NO_LIST_READER),
        "field.cancel_status": assumed(
            "estatusCancelacion", "EF-express, EF-dotnet read no cancellation-status key"
        ),
        "field.cancel_receipt": assumed(
            "acuseCancelacion", "EF-dotnet stores the whole cancel answer: no receipt key seen"
        ),
        "field.request_echo": assumed(
            "Peticion", "EF-java calls informacionCfdi but does not parse the answer"
        ),
        "field.kind": assumed(
            "tipoComprobante",
            "EF-java sends credit notes through generarCfdi but builds the body elsewhere; sent "
            "only for kinds other than Ingreso",
        ),
        "field.related": assumed("CfdiRelacionados", _NOT_FOUND),
        "field.global_info": assumed("InformacionGlobal", _NOT_FOUND),
        # -- limits --------------------------------------------------------------------------
        # listarComprobantes has no known pagination: this is the earliest date asked for when
        # looking for the next folio or a UUID.
        "limit.list_since": assumed(
            "2017-01-01 00:00:00",
            f"one source: {_EF_SYMFONY} lists from 2017-01-01 unless told otherwise (the "
            "research §3 default)",
        ),
    },
    record=False,  # shared by all: providers and emulators record into their own copies
)
"""Every path, field name, header, limit and vendor value the Enlace Fiscal module relies on."""

LEGACY_API_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "check_connection": "path.check_connection",
        "balance": "path.balance",
        "stamp": "path.stamp",
        "get": "path.get",
        "list": "path.list",
        "cancel": "path.cancel",
        "send_email": "path.send_email",
        "version_cfdi": "value.version_cfdi",
        "version_ef": "value.version_ef",
        "mode_production": "value.mode_production",
        "mode_sandbox": "value.mode_sandbox",
        "accepted": "value.accepted",
        "balance_field": "field.balance",
        "list_since": "limit.list_since",
        "list_rows": "field.list_rows",
        "row_total": "field.row_total",
        "row_currency": "field.row_currency",
        "row_customer_rfc": "field.row_customer_rfc",
        "row_issued_at": "field.row_issued_at",
        "cancel_status": "field.cancel_status",
        "cancel_receipt": "field.cancel_receipt",
        "request_echo": "field.request_echo",
        "kind_field": "field.kind",
        "related_field": "field.related",
        "global_field": "field.global_info",
    }
)
"""The keys of the former ``API`` table (``api=``) and the spec keys they became."""

API: Mapping[str, str] = MappingProxyType(
    {old: SPEC.fact(new).value for old, new in LEGACY_API_KEYS.items()}
)
"""Read-only view of :data:`SPEC` under the former ``API`` table's keys (kept for one release)."""


def resolve_spec(
    spec: Mapping[str, Any] | None = None,
    api: Mapping[str, Any] | None = None,
    *,
    copy: bool = True,
    stacklevel: int = 3,
) -> VendorSpec:
    """The spec to work with: :data:`SPEC` with ``spec`` overrides (and deprecated ``api=``).

    A :class:`VendorSpec` of this vendor is used as it is when ``copy`` is false (mappers
    called by a provider record assumptions on the provider's own spec).

    Raises:
        ConfigurationError: an override names a key the spec (or the former table) lacks.
    """
    if api is None and spec and not isinstance(spec, VendorSpec) and all("." not in k for k in spec):
        spec, api = None, spec  # the former table passed where the spec goes (is_accepted)
    if api is not None:
        warnings.warn(
            "api= is deprecated; pass spec= with spec keys (e.g. {'field.list_rows': ...}); "
            "see apunto_connect.invoicing.enlace_fiscal.LEGACY_API_KEYS",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        unknown = sorted(set(api) - set(LEGACY_API_KEYS))
        if unknown:
            raise ConfigurationError(
                f"unknown Enlace Fiscal API table keys {unknown}; known: {sorted(LEGACY_API_KEYS)}"
            )
        translated = {LEGACY_API_KEYS[key]: value for key, value in api.items()}
        if isinstance(spec, VendorSpec):
            spec = {key: fact.value for key, fact in spec.facts.items() if fact.source == "override"}
        spec = {**translated, **(spec or {})}
    if not copy and isinstance(spec, VendorSpec) and spec.vendor == NAME:
        return spec
    return SPEC.with_overrides(spec)
