"""Facturama API Web as this SDK understands it: every path, name, limit and value, with evidence.

The provider and the emulator (:mod:`apunto_connect.sandbox.facturama`) read these facts from
:data:`SPEC`; ``FacturamaProvider(spec={...})`` overrides any of them per provider. The evidence
for each fact is gathered in ``docs/vendors/evidence/facturama.md``.
"""

from __future__ import annotations

from types import MappingProxyType

from ...vendor_spec import VendorSpec, assumed, official

__all__ = ["SPEC", "VENDOR"]

VENDOR = "facturama"

_POSTMAN = (
    "Facturama/facturama-postman-sdk Collections/FacturamaAPI.postman_collection_v2.0.json"
)
_DOTNET = "Facturama/facturama-dotnet-sdk Facturama/Services/CfdiService.cs"
_DOCS = "https://apisandbox.facturama.mx/docs/api"
_GUIDE_LIST = (
    "Facturama's guide 'Consultar CFDIs para API Web' "
    "(https://apisandbox.facturama.mx/guias/api-web/cfdi/consultar)"
)
_LIST_SEARCHED = (
    "searched: the Postman collection (cfdi?type=issued&...&page=0, no size), the .NET SDK's "
    "CfdiService.List (page only), the research notes and the docs pages: not stated"
)

SPEC = VendorSpec(
    VENDOR,
    {
        # -- hosts ------------------------------------------------------------------------------
        "value.base_url.production": official(
            "https://api.facturama.mx", f"{_DOTNET}; Facturama/facturama-python-sdk README"
        ),
        "value.base_url.sandbox": official(
            "https://apisandbox.facturama.mx", f"{_POSTMAN} Environments/*.json (SERVER)"
        ),
        # -- paths (relative to the base URL) ---------------------------------------------------
        "path.tax_entity": official("TaxEntity", f"{_POSTMAN}; research notes §1 (GET TaxEntity)"),
        "path.stamp": official("3/cfdis", f"{_DOTNET} (Create3); Facturama PHP and JS SDKs"),
        "path.cfdi": official("cfdi/{id}", f"{_DOTNET} (Retrieve: cfdi/{{id}}?type=issued)"),
        "path.list": official("Cfdi", f"{_POSTMAN} 'Cfdis filtrado completo'"),
        "path.cancel": official(
            "cfdi/{id}",
            f"{_POSTMAN} 'Cancelar Cfdi'; {_DOCS}/DELETE-cfdi-id_type_motive_uuidReplacement",
        ),
        "path.file": official(
            "cfdi/{format}/{type}/{id}", f"{_DOCS}/GET-api-Cfdi-format-type-id"
        ),
        "path.acuse": official("acuse/{format}/{type}/{id}", f"{_POSTMAN}; research notes §1"),
        "path.client": official(
            "Client", f"{_POSTMAN}; https://apisandbox.facturama.mx/guias/clientes"
        ),
        "path.client_by_id": official(
            "Client/{id}", f"{_POSTMAN}; Facturama/facturama-php-sdk #31"
        ),
        "path.clients_page": official("Clients", f"{_POSTMAN} 'Lista Paginada' GET api/Clients"),
        "path.product": official("Product", f"{_POSTMAN}; research notes §1"),
        "path.products_page": official(
            "Products", f"{_POSTMAN} 'Lista de productos paginado' GET Products"
        ),
        "path.email": official(
            "Cfdi",
            f"{_POSTMAN} 'Enviar Cfdi por email' (POST Cfdi?cfdiType=issued&cfdiId=&email=&subject=, "
            "no body); Facturama/facturama-dotnet-sdk CfdiService.SendByMail",
        ),
        "path.validate_customer": official(
            "api/customers/validate",
            "Facturama/facturama-dotnet-sdk Facturama/Services/CustomersService.cs; the Postman "
            "collection's 'Validar RFC' spells it customers/validate on the same host",
        ),
        # -- headers ----------------------------------------------------------------------------
        "header.content_type": official(
            "application/json; charset=utf-8", f"{_DOTNET} (JSON request bodies)"
        ),
        # -- query parameters -------------------------------------------------------------------
        # Our list() filter names -> Facturama's query parameters (its own names pass too).
        "field.list_filters": official(
            MappingProxyType({
                "keyword": "keyword",
                "status": "status",
                "folio_start": "folioStart",
                "folio_end": "folioEnd",
                "rfc": "rfc",
                "customer_rfc": "rfc",
                "customer_name": "taxEntityName",
                "tax_entity_name": "taxEntityName",
                "date_start": "dateStart",
                "date_end": "dateEnd",
                "branch_id": "idBranch",
                "series": "serie",
                "order_number": "OrderNumber",
                "kind": "invoiceType",
                "invoice_type": "invoiceType",
                "payment_method": "paymentMethod",
                "issuer_rfc": "rfcIssuer",
            }),
            f"{_POSTMAN} 'Cfdis filtrado completo' (GET cfdi?type=issued&folioStart=&folioEnd="
            "&rfc=&dateStart=&dateEnd=&status=&OrderNumber=&taxEntityName=&idBranch=&serie="
            "&invoiceType=&paymentMethod=&rfcIssuer=&page=)",
        ),
        # E-mail call: our name -> Facturama's query parameter; the answer is {success, msj}.
        "field.email_params": official(
            MappingProxyType({
                "type": "cfdiType", "id": "cfdiId", "email": "email", "subject": "subject"
            }),
            f"{_POSTMAN} 'Enviar Cfdi por email'; {_DOTNET} (SendByMail); "
            "Facturama/facturama-dotnet-sdk Models/ResponseMailViewModel.cs (success, msj)",
        ),
        # -- limits -----------------------------------------------------------------------------
        "limit.list_page_size": official(
            100,
            f"{_GUIDE_LIST}: the CFDI list (like the catalogs) answers 100 elements a page, "
            "page=0 being the first hundred; the provider pages until an empty page whatever "
            "the size (one integration's probe of production saw 10 a page with date filters)",
        ),
        "limit.catalog_page_length": official(
            100,
            f"{_POSTMAN} 'Lista Paginada' GET api/Clients?start=0&length=100&search=; the .NET "
            "sample notes the unpaged Clients.List() returns the first 100",
        ),
        # -- vendor values ----------------------------------------------------------------------
        "value.issued_type": official("issued", f"{_DOTNET} (type: issued, received, payroll)"),
        "value.list_oldest_first": assumed(
            True,
            f"{_LIST_SEARCHED} (no order documented, nor in {_GUIDE_LIST}); possibly "
            "contradicted: one integration's read-only probe of production saw folios and "
            "dates descending (newest first); emulator only, overridable",
        ),
        "value.list_date_format": official(
            "%d/%m/%Y",
            f"{_GUIDE_LIST}: dateStart and dateEnd are day/month/year (its example: "
            "dateStart=01/01/2019&dateEnd=15/02/2019); a TypeScript integration sends the same",
        ),
        "value.exempt_tax_name": official(
            "{tax} Exento",
            f"{_POSTMAN} 'CFDI 4.0 IVA Exento', 'CFDI IVA exento' (Name: \"IVA Exento\", Rate 0, "
            "Total 0)",
        ),
        "value.name_id": official(
            "1", f"{_POSTMAN}: every income CFDI sends NameId \"1\"; catalog GET catalogs/NameIds"
        ),
        "value.payment_name_id": official(
            "14", f"{_POSTMAN} 'Complemento de pago' (CfdiType P sends NameId \"14\")"
        ),
        "value.waybill_name_id": official(
            "36", f"{_POSTMAN} 'CPorteIngreso 3.1', 'CPorteTraslado 3.1' (NameId \"36\")"
        ),
        "field.payments": official(
            "Payments",
            f"{_POSTMAN} 'Complemento de pago' (Complemento.Payments[]); .NET SDK "
            "Models/Complements/Payments.cs",
        ),
        "field.waybill": official(
            "CartaPorte31",
            f"{_POSTMAN} 'CPorteIngreso 3.1' (Complemento.CartaPorte31); .NET SDK "
            "Models/Complements/Waybill/ComplementoCartaPorte31.cs",
        ),
        # Cancellation answers: Status -> our CancellationStatus value. "active" means the CFDI
        # stayed valid (related documents, or the SAT refused): for the caller a rejection.
        "value.cancel_statuses": official(
            MappingProxyType({
                "canceled": "cancelled",
                "cancelled": "cancelled",
                "requested": "requested",
                "pending": "pending",
                "rejected": "rejected",
                "active": "rejected",
            }),
            "Facturama/facturama-dotnet-sdk Models/Response/CancelationStatus.cs (canceled, "
            f"requested, rejected); {_POSTMAN} 'Cancelar Cfdi'",
        ),
        # CFDI Status -> our InvoiceStatus value.
        "value.invoice_statuses": official(
            MappingProxyType({
                "active": "active",
                "canceled": "cancelled",
                "cancelled": "cancelled",
                "requested": "cancel_pending",
                "pending": "cancel_pending",
            }),
            f"{_POSTMAN} 'Cfdis filtrado completo' (status=all|active|canceled); "
            "research notes §1",
        ),
        # Our InvoiceStatus value -> the list's status filter.
        "value.status_filter": official(
            MappingProxyType({"active": "active", "cancelled": "canceled"}),
            f"{_POSTMAN} 'Cfdis filtrado completo' (status=all|active|canceled)",
        ),
        # SAT matrix sentences Facturama passes through without their code.
        "value.sat_message_codes": official(
            MappingProxyType({
                "El campo Nombre del receptor, debe pertenecer al nombre asociado al RFC "
                "registrado en el campo Rfc del Receptor.": "CFDI40145",
                "El campo Nombre del receptor, debe encontrarse en la lista de RFC inscritos no "
                "cancelados en el SAT.": "CFDI40144",
                "El campo DomicilioFiscalReceptor del receptor, debe encontrarse en la lista de "
                "RFC inscritos no cancelados en el SAT.": "CFDI40147",
                "El campo DomicilioFiscalReceptor del receptor, debe pertenecer al nombre "
                "asociado al RFC registrado en el campo Rfc del Receptor.": "CFDI40148",
                "Este RFC del receptor no existe en la lista de RFC inscritos no cancelados del "
                "SAT.": "CFDI40143",
                "La clave del campo RegimenFiscalR debe corresponder con el tipo de persona "
                "(física o moral).": "CFDI40158",
            }),
            "SAT Matriz de errores CFDI 4.0 (2024-12-13), CFDI40143-40148 and CFDI40158; "
            "Facturama/facturama-php-sdk issues #26, #33 show the sentences without code",
        ),
    },
    record=False,  # shared by all: providers and emulators record into their own copies
)
"""Facturama API Web: one frozen :class:`~apunto_connect.vendor_spec.VendorSpec`."""
