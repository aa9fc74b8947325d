"""ContaDigital's API as this SDK understands it: one frozen :data:`SPEC`.

ContaDigital publishes no API reference. The only vendor-side facts are in a freight platform's
help article (API key and endpoint list under *Perfil de usuario → API Facturación*); every path
and field name below comes from **one** public integration (a NestJS service: its
``CfdiService``, ``ContadigitalApiService``, a migration and a settings page), so nothing reaches
``public-integration`` and every entry is ``assumed``. The evidence of each entry says what that
one source shows; ``docs/vendors/evidence/contadigital.md`` has the whole account.

Override per provider (unknown keys are refused)::

    ContaDigitalProvider(api_key="...", spec={"path.products": "/api/v2/productos.json"})

:class:`ContaDigitalApi` and :data:`DEFAULT_API` are the older way to say the same thing; they
are kept for one release and turned into spec overrides.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from ...models.invoices import InvoiceStatus
from ...vendor_spec import Fact, VendorSpec, assumed

__all__ = [
    "DEFAULT_API",
    "PATHS",
    "PRODUCTION_URL",
    "RESPONSE_FIELDS",
    "SPEC",
    "TEST_PREFIX",
    "ContaDigitalApi",
    "legacy_spec",
]

_ONE = "one source: the public NestJS integration"
_OURS = "not shown by the one public integration; searched public code search and public documentation pages"
_SEEN = f"{_ONE} reads this name"
_NEVER_READ = "the one public integration never reads it; our own reading of the reply"

_CATALOG_GROUPING = (
    f"{_ONE} calls utiles.json but never reads its answer (its users type the ids into its "
    "settings page): the grouping and these names are ours"
)


def _fields(names: Mapping[str, tuple[tuple[str, ...], str]]) -> dict[str, Fact]:
    return {f"field.{meaning}": assumed(value, why) for meaning, (value, why) in names.items()}


_FACTS: dict[str, Fact] = {
    # -- where the API is ------------------------------------------------------------------------
    "value.production_url": assumed(
        "https://app.contadigital.mx",
        f"{_ONE}: its settings page offers exactly this production base URL",
    ),
    "path.test_prefix": assumed(
        "/dev/pruebas",
        f"{_ONE}: its settings page offers this test base URL on the same host",
    ),
    # -- paths -----------------------------------------------------------------------------------
    "path.connect": assumed(
        "/api/conectar.json", f"{_ONE}: POST {{ApiKey}} returns Resultado.Token"
    ),
    "path.catalog": assumed(
        "/api/cfdi/utiles.json/{company_id}", f"{_ONE}: GET utiles.json/{{IdEmpresa}}"
    ),
    "path.customer_by_rfc": assumed(
        "/api/clientes.json/{company_id}/{rfc}", f"{_ONE}: GET clientes.json/{{IdEmpresa}}/{{rfc}}"
    ),
    "path.customers": assumed(
        "/api/clientes.json", f"{_ONE}: POST creates a client, PUT updates (re-activates) it"
    ),
    "path.invoices": assumed(
        "/api/cfdi.json", f"{_ONE}: POST saves/stamps; DELETE with a JSON body cancels"
    ),
    "path.invoice": assumed(
        "/api/cfdi/factura.json/{company_id}/{invoice_id}",
        f"{_ONE}: GET factura.json/{{IdEmpresa}}/{{IdFactura}}",
    ),
    "path.email": assumed(
        "/api/cfdi/enviar.json/{company_id}/{invoice_id}/{email}",
        f"{_ONE}: emailInvoice calls exactly this GET and ignores the answer",
    ),
    "path.products": assumed(
        "/api/productos.json",
        "nowhere: the one public integration never creates products (its users map each "
        "product to an IdProducto); modelled on clientes.json",
    ),
    # -- request bodies ----------------------------------------------------------------------------
    "field.request_renames": assumed(
        MappingProxyType({}),
        "renames of outgoing body fields, e.g. {'Fecha': 'FechaEmision'}; none by default: the "
        f"bodies use the names {_ONE} sends",
    ),
    # -- reply fields: each a tuple of names, the first present wins (any casing) ---------------
    **_fields({
        "result": (("Resultado",), f"{_SEEN}: the envelope of every reply"),
        "code": (("Codigo",), f"{_SEEN}: the envelope of every reply"),
        "message": (
            ("Mensaje", "Message", "Error", "Descripcion", "Detalle"),
            f"{_ONE} prints the whole answer on failure; these names are ours",
        ),
        "token": (("Token",), f"{_SEEN} (Resultado.Token; a bare Token as a fallback)"),
        "token_company_id": (
            ("IdEmpresa",), f"{_NEVER_READ}: it keeps IdEmpresa in its own settings"
        ),
        "invoice_id": (("Id", "IdFactura"), f"{_SEEN} (Resultado.Id)"),
        "uuid": (("UUID", "Uuid"), f"{_SEEN}; a missing UUID is a failure there"),
        "series": (("Serie",), f"{_SEEN}"),
        "folio": (("Folio",), f"{_SEEN}"),
        "xml_base64": (("XmlBase64",), f"{_SEEN}"),
        "pdf_base64": (("PdfBase64",), f"{_SEEN}"),
        "xml_url": (("XmlLink", "UrlXml"), f"{_SEEN}, with the same alternative"),
        "pdf_url": (("PdfLink", "UrlPdf"), f"{_SEEN}, with the same alternative"),
        "total": (("Total",), _NEVER_READ),
        "currency": (("Moneda",), _NEVER_READ),
        "issued_at": (("Fecha",), _NEVER_READ),
        "stamped_at": (("FechaTimbrado",), _NEVER_READ),
        "status": (("Estatus",), _NEVER_READ),
        "customer_rfc": (("RFCReceptor",), _NEVER_READ),
        "issuer_rfc": (("RFCEmisor",), _NEVER_READ),
        "acuse_base64": (("AcuseBase64",), f"{_SEEN} (Resultado.AcuseBase64 of the cancel)"),
        "customer_id": (("Id", "IdCliente"), f"{_SEEN} (the client reply)"),
        "customer_active": (("Estatus",), f"{_SEEN}: Estatus false is re-activated by a PUT"),
        "customer_rfc_field": (("RFC",), f"{_ONE} sends this name in the client body"),
        "customer_name": (("RazonSocial",), f"{_ONE} sends this name in the client body"),
        "customer_regime": (("RegimenFiscal",), f"{_ONE} sends this name in the client body"),
        "customer_zip": (("CP",), f"{_ONE} sends this name in the client body"),
        "customer_use": (("UsoCFDIDefault",), f"{_ONE} sends this name in the client body"),
        "customer_email": (("Email",), f"{_ONE} sends this name in the client body"),
        "catalog_company": (("Empresa",), _CATALOG_GROUPING),
        "catalog_series": (("Series",), _CATALOG_GROUPING),
        "catalog_branches": (("Sucursales",), _CATALOG_GROUPING),
        "catalog_currencies": (("Monedas",), _CATALOG_GROUPING),
        "catalog_payment_forms": (("FormasDePago",), _CATALOG_GROUPING),
        "catalog_units": (("UnidadesDeMedida", "Unidades"), _CATALOG_GROUPING),
        "catalog_products": (("Productos",), _CATALOG_GROUPING),
        "company_id": (("IdEmpresa", "Id"), f"{_ONE} sends IdEmpresa; the grouping is ours"),
        "company_rfc_id": (("IdRFC",), f"{_ONE} sends IdRFC; the grouping is ours"),
        "company_rfc": (("RFC",), _CATALOG_GROUPING),
        "company_name": (("RazonSocial",), _CATALOG_GROUPING),
        "company_regime": (("RegimenFiscal",), _CATALOG_GROUPING),
        "series_id": (("IdSerie", "Id"), f"{_ONE} sends IdSerie; the grouping is ours"),
        "series_name": (("Serie", "Nombre"), _CATALOG_GROUPING),
        "series_active": (("Activa", "Activo", "Estatus"), _CATALOG_GROUPING),
        "series_default": (("Predeterminada",), _CATALOG_GROUPING),
        "branch_id": (("IdSucursal", "Id"), f"{_ONE} sends IdSucursal; the grouping is ours"),
        "branch_name": (("Nombre",), _CATALOG_GROUPING),
        "branch_place_id": (
            ("IdLugarDeExpedicion",), f"{_ONE} sends IdLugarDeExpedicion; the grouping is ours"
        ),
        "branch_zip": (("LugarDeExpedicion", "CodigoPostal", "CP"), _CATALOG_GROUPING),
        "currency_id": (("IdMoneda", "Id"), f"{_ONE} sends IdMoneda; the grouping is ours"),
        "payment_form_id": (
            ("IdFormaDePago", "Id"), f"{_ONE} sends IdFormaDePago; the grouping is ours"
        ),
        "unit_id": (("IdUM", "Id"), f"{_ONE} sends IdUM; the grouping is ours"),
        "product_id": (("IdProducto", "Id"), f"{_ONE} sends IdProducto; the grouping is ours"),
        "product_name": (("Nombre", "Descripcion"), _CATALOG_GROUPING),
        "product_code": (("ClaveProdServ",), _CATALOG_GROUPING),
        "sat_code": (("Clave", "ClaveSAT"), _CATALOG_GROUPING),
        "description": (("Descripcion", "Nombre"), _CATALOG_GROUPING),
    }),
    # -- limits ----------------------------------------------------------------------------------
    "limit.token_ttl": assumed(
        50 * 60.0,
        f"{_ONE} caches the token for 50 minutes; the real lifetime is not public",
    ),
    # -- vendor values ---------------------------------------------------------------------------
    "value.ok_code": assumed(1, f"{_ONE}: Codigo 1 is success"),
    "value.no_credits_code": assumed(
        3, f"{_ONE}: Codigo 3 is 'saved, with Resultado.Id, but no credits to stamp'"
    ),
    "value.document_types": assumed(
        MappingProxyType({"I": "Factura"}),
        f"{_ONE} only ever sends TipoComprobante 'Factura' (income)",
    ),
    "value.date_format": assumed(
        "%d-%m-%Y %H:%M:%S", f"{_ONE}: its date helper writes dd-MM-yyyy HH:mm:ss"
    ),
    "value.rates_as_percent": assumed(
        True, f"{_ONE} sends PorcentajeIVA: 16 on the document and on every line"
    ),
    "value.status_words": assumed(
        MappingProxyType({
            "timbrada": InvoiceStatus.ACTIVE,
            "vigente": InvoiceStatus.ACTIVE,
            "activa": InvoiceStatus.ACTIVE,
            "guardada": InvoiceStatus.DRAFT,
            "borrador": InvoiceStatus.DRAFT,
            "pendiente": InvoiceStatus.PENDING,
            "cancelada": InvoiceStatus.CANCELLED,
            "en proceso de cancelacion": InvoiceStatus.CANCEL_PENDING,
            "en proceso de cancelación": InvoiceStatus.CANCEL_PENDING,
        }),
        f"Estatus texts and what they mean: {_OURS}",
    ),
}

# Shared by all, so it does not record: providers and emulators record into their own copies.
SPEC = VendorSpec("contadigital", MappingProxyType(_FACTS), record=False)
"""Every path, field, limit and vendor value the SDK and its emulator assume about ContaDigital."""

# -- the older names, read-only views of SPEC (kept for one release) ---------------------------

PRODUCTION_URL: str = SPEC.fact("value.production_url").value
"""The production host (``SPEC["value.production_url"]``)."""

TEST_PREFIX: str = SPEC.fact("path.test_prefix").value
"""Path prefix of the test environment on the same host (``SPEC["path.test_prefix"]``)."""

PATHS: Mapping[str, str] = MappingProxyType({
    key.removeprefix("path."): fact.value
    for key, fact in SPEC.facts.items()
    if key.startswith("path.") and key != "path.test_prefix"
})
"""Endpoint paths by purpose: a read-only view of ``SPEC["path.*"]`` (use the spec)."""

RESPONSE_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    key.removeprefix("field."): fact.value
    for key, fact in SPEC.facts.items()
    if key.startswith("field.") and key != "field.request_renames"
})
"""Reply field names by meaning: a read-only view of ``SPEC["field.*"]`` (use the spec)."""


def _read_only(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return {**base, **(extra or {})}


# The scalar settings of ContaDigitalApi and the spec key each one became.
_SCALARS = {
    "test_prefix": "path.test_prefix",
    "token_ttl": "limit.token_ttl",
    "ok_code": "value.ok_code",
    "no_credits_code": "value.no_credits_code",
    "date_format": "value.date_format",
    "rates_as_percent": "value.rates_as_percent",
    "request_fields": "field.request_renames",
    "document_types": "value.document_types",
    "status_words": "value.status_words",
}


@attrs.frozen(slots=True)
class ContaDigitalApi:
    """Deprecated: the older form of ContaDigital's assumptions; use :data:`SPEC` and ``spec=``.

    Still accepted by ``ContaDigitalProvider(api=...)`` for one release: :meth:`spec_overrides`
    turns it into the spec keys that differ from :data:`SPEC`.
    """

    test_prefix: str = TEST_PREFIX
    paths: Mapping[str, str] = attrs.field(default=PATHS, converter=_read_only)
    response_fields: Mapping[str, tuple[str, ...]] = attrs.field(
        default=RESPONSE_FIELDS, converter=_read_only
    )
    request_fields: Mapping[str, str] = attrs.field(factory=dict, converter=_read_only)
    token_ttl: float = SPEC.fact("limit.token_ttl").value
    ok_code: int = SPEC.fact("value.ok_code").value
    no_credits_code: int = SPEC.fact("value.no_credits_code").value
    document_types: Mapping[str, str] = attrs.field(
        default=SPEC.fact("value.document_types").value, converter=_read_only
    )
    date_format: str = SPEC.fact("value.date_format").value
    rates_as_percent: bool = SPEC.fact("value.rates_as_percent").value
    status_words: Mapping[str, InvoiceStatus] = attrs.field(
        default=SPEC.fact("value.status_words").value, converter=_read_only
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

    def spec_overrides(self) -> dict[str, Any]:
        """The ``spec=`` overrides saying the same as this object (only what differs).

        Raises:
            ConfigurationError: (when applied) a path or field the spec does not know.
        """
        wanted: dict[str, Any] = {f"path.{k}": v for k, v in self.paths.items()}
        wanted.update({f"field.{k}": tuple(v) for k, v in self.response_fields.items()})
        for name, key in _SCALARS.items():
            value = getattr(self, name)
            wanted[key] = _read_only(value) if isinstance(value, Mapping) else value
        return {
            key: value
            for key, value in wanted.items()
            if key not in SPEC.facts or not _same(SPEC.facts[key].value, value)
        }


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return dict(left) == dict(right)
    return bool(left == right)


DEFAULT_API = ContaDigitalApi()
"""Deprecated: :data:`SPEC` in the older form (``api=``); kept for one release."""


def legacy_spec(
    spec: Mapping[str, Any] | VendorSpec | ContaDigitalApi | None,
    api: ContaDigitalApi | None,
    *,
    where: str,
) -> VendorSpec:
    """The spec to use from ``spec=`` and the deprecated ``api=`` (warned about; spec wins).

    A :class:`VendorSpec` given as ``spec`` is used as it is (so a provider's spec records the
    assumptions its mappers read); a mapping is merged over :data:`SPEC`.
    """
    if isinstance(spec, ContaDigitalApi):  # given positionally where the api used to go
        spec, api = None, spec
    overrides: dict[str, Any] = {}
    if api is not None:
        warnings.warn(
            f"{where}: api= (ContaDigitalApi) is deprecated; pass spec= with SPEC keys instead",
            DeprecationWarning,
            stacklevel=3,
        )
        overrides.update(api.spec_overrides())
    if isinstance(spec, VendorSpec):
        return spec.with_overrides(overrides) if overrides else spec
    overrides.update(spec or {})
    return SPEC.with_overrides(overrides)
