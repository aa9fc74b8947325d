"""Facturama "API Web": CFDI 4.0 issued by the account owner, stamped by Facturama's PAC.

What the vendor is
    Facturama is a Mexican invoicing service and PAC. Its **API Web** mode issues CFDIs for one
    issuer, the account owner, whose fiscal profile and CSD are configured in Facturama's web
    app (the **Multiemisor** mode, ``api-lite/...``, is not what this provider speaks). The
    account needs the API module contracted, the API Web mode and stamps (timbres) available.

Base URLs
    production ``https://api.facturama.mx`` (the default) and Facturama's own test host
    ``https://apisandbox.facturama.mx`` (``environment="sandbox"``). **Production and sandbox are
    separate sign-ups**: sandbox credentials fail against production and the other way round.
    In the sandbox the fiscal profile uses the SAT test RFC ``EKU9003173C9``.

Auth
    HTTP Basic with the API username and password of the Facturama account.

Public facts used (Facturama's .NET/PHP/JS/Python SDKs and docs pages, see docs/vendors)
    paths ``TaxEntity``, ``3/cfdis``, ``cfdi/{id}?type=issued``, ``Cfdi?type=issued&...``,
    ``DELETE cfdi/{id}?type=issued&motive=&uuidReplacement=``, ``cfdi/{format}/{type}/{id}``
    (base64 ``Content``), ``Client``/``Clients``, ``Product``/``Products`` (paged
    ``{recordsTotal, recordsFiltered, data}``), ``api/customers/validate``; the request body
    fields; errors ``{Message, ModelState}``; cancel statuses canceled/requested/rejected/pending.

Assumed (not public) — kept in the one table :data:`ASSUMPTIONS`, which the emulator follows
    the list page size and order, the date format of list filters, how an exempt tax is sent,
    the NameId. :data:`PATHS` holds every path (all public). Both are plain module-level dicts
    a user may override. What only the emulator assumes (its Spanish messages, cancellation
    timing) is in ``apunto_connect.sandbox.facturama.EMULATOR_ASSUMPTIONS``.

Idempotency
    Facturama has no idempotency header. The dedupe reference is the CFDI's **serie + folio**:
    ``stamp(invoice, idempotency_key=...)`` requires ``invoice.folio``, first looks up an
    active CFDI with that serie and folio (one list call) and returns it instead of stamping
    again; after an ambiguous failure (the request may have reached Facturama) the same lookup
    runs before the error is raised. The stamp POST itself is never retried by the transport.

Sources: Facturama's SDK repositories and API docs pages, the PyPI ``facturama`` wheel, the
Apunto + Facturama help page; the list is in ``docs/vendors/facturama.md``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any, ClassVar

import requests

from .._answers import answer_mapper, object_field
from ..credentials import CredentialField, Secret, resolve_credentials
from ..errors import (
    ApuntoError,
    AuthenticationError,
    ConfigurationError,
    Conflict,
    Issue,
    NotFound,
    PermissionDenied,
    ProviderError,
    ServerError,
    Severity,
    StampRejected,
    TransportError,
    UnexpectedResponse,
    ValidationError,
)
from ..http import RetryPolicy, Transport, error_for_status
from ..models.common import Capability, ConnectionStatus
from ..models.invoices import (
    Cancellation,
    CancellationStatus,
    CancelMotive,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    LineItem,
    StampedInvoice,
    TaxFactor,
    TaxSummary,
)
from ..models.parties import Customer, Issuer
from ..money import round_money, to_decimal
from ..redaction import redact
from .base import DownloadFormat, InvoiceProvider

__all__ = [
    "ASSUMPTIONS",
    "BASE_URLS",
    "CREDENTIALS",
    "PATHS",
    "SAT_MESSAGE_CODES",
    "FacturamaProvider",
    "customer_to_facturama_client",
    "facturama_error",
    "facturama_stamp_answer",
    "facturama_to_cancellation",
    "facturama_to_stamped",
    "invoice_to_facturama",
    "line_to_facturama_product",
]

VENDOR = "facturama"

CREDENTIALS: tuple[CredentialField, ...] = (
    CredentialField("username", secret=False),
    CredentialField("password"),
)
"""API username and password (``APUNTO_FACTURAMA_USERNAME`` / ``APUNTO_FACTURAMA_PASSWORD``)."""

BASE_URLS: dict[str, str] = {
    "production": "https://api.facturama.mx",
    "sandbox": "https://apisandbox.facturama.mx",
}
"""Facturama's hosts; production and sandbox accounts are separate."""

PATHS: dict[str, str] = {
    "tax_entity": "TaxEntity",
    "stamp": "3/cfdis",
    "cfdi": "cfdi/{id}",
    "list": "Cfdi",
    "cancel": "cfdi/{id}",
    "file": "cfdi/{format}/{type}/{id}",
    "acuse": "acuse/{format}/{type}/{id}",
    "client": "Client",
    "client_by_id": "Client/{id}",
    "clients_page": "Clients",
    "product": "Product",
    "products_page": "Products",
    "validate_customer": "api/customers/validate",
}
"""Every path the provider calls, relative to the base URL (all public; override to follow an
API change without waiting for a release)."""

ASSUMPTIONS: dict[str, Any] = {
    # Not public: the list endpoint's page size. The provider never relies on it (it pages
    # until an empty page); the emulator pages by it.
    "list_page_size": 50,
    # Not public: list order. The emulator returns the oldest first.
    "list_oldest_first": True,
    # Not public: the date format of the list's dateStart/dateEnd filters.
    "list_date_format": "%Y-%m-%d",
    # Not public: how an exempt tax (TipoFactor Exento) is sent in Items[].Taxes[].Name.
    "exempt_tax_name": "{tax} Exento",
    # NameId (PDF title from catalogs/NameIds); "1" is Factura.
    "name_id": "1",
    # Page length used to search clients and products (the API allows 1-100).
    "catalog_page_length": 100,
}
"""Everything assumed about Facturama because it is not public; the emulator follows it."""

SAT_MESSAGE_CODES: dict[str, str] = {
    "El campo Nombre del receptor, debe pertenecer al nombre asociado al RFC registrado en el "
    "campo Rfc del Receptor.": "CFDI40145",
    "El campo Nombre del receptor, debe encontrarse en la lista de RFC inscritos no cancelados "
    "en el SAT.": "CFDI40144",
    "El campo DomicilioFiscalReceptor del receptor, debe encontrarse en la lista de RFC "
    "inscritos no cancelados en el SAT.": "CFDI40147",
    "El campo DomicilioFiscalReceptor del receptor, debe pertenecer al nombre asociado al RFC "
    "registrado en el campo Rfc del Receptor.": "CFDI40148",
    "Este RFC del receptor no existe en la lista de RFC inscritos no cancelados del SAT.":
        "CFDI40143",
    "La clave del campo RegimenFiscalR debe corresponder con el tipo de persona (física o "
    "moral).": "CFDI40158",
}
"""SAT matrix sentences Facturama passes through without their code, mapped to the code."""

_SAT_CODE = re.compile(r"\bCFDI\d{5,6}\b")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HTML_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_NO_PAYMENT_FORM = frozenset({InvoiceKind.TRANSFER, InvoiceKind.PAYROLL, InvoiceKind.PAYMENT})
_NO_PAYMENT_METHOD = frozenset({InvoiceKind.TRANSFER, InvoiceKind.PAYMENT})
_ZERO = Decimal(0)
_MAX_PAGES = 10_000  # a server that ignores "page" must not make list() loop forever

# Facturama's cancellation statuses; "active" means the CFDI stayed valid (related documents,
# or the SAT refused), which for the caller is a rejection.
_CANCEL_STATUSES = {
    "canceled": CancellationStatus.CANCELLED,
    "cancelled": CancellationStatus.CANCELLED,
    "requested": CancellationStatus.REQUESTED,
    "pending": CancellationStatus.PENDING,
    "rejected": CancellationStatus.REJECTED,
    "active": CancellationStatus.REJECTED,
}
_INVOICE_STATUSES = {
    "active": InvoiceStatus.ACTIVE,
    "canceled": InvoiceStatus.CANCELLED,
    "cancelled": InvoiceStatus.CANCELLED,
    "requested": InvoiceStatus.CANCEL_PENDING,
    "pending": InvoiceStatus.CANCEL_PENDING,
}
# Our list() filter names -> Facturama query parameters (Facturama's own names pass too).
_LIST_FILTERS = {
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
}
_STATUS_FILTER = {
    InvoiceStatus.ACTIVE: "active",
    InvoiceStatus.CANCELLED: "canceled",
}


# -- pure mappers (no I/O) ------------------------------------------------------------------


def _mexico_tz() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("America/Mexico_City")
    except Exception:  # no tz database: central Mexico has been UTC-6 all year since 2022
        return timezone(timedelta(hours=-6), "CST")


def _local_text(moment: datetime) -> str:
    """``yyyy-MM-ddTHH:mm:ss`` in Mexico City time (CFDI dates carry no zone)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(_mexico_tz()).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _number(value: Decimal) -> Decimal:
    """A Decimal without exponent or trailing zeros beyond what it needs (``0.160000`` -> 0.16)."""
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        normalized = normalized.quantize(Decimal(1))
    return normalized


def _tax_name(tax: TaxSummary) -> str:
    if tax.factor is TaxFactor.EXEMPT:
        return str(ASSUMPTIONS["exempt_tax_name"]).format(tax=tax.kind.value)
    return tax.kind.value


def _tax_to_facturama(tax: TaxSummary) -> dict[str, Any]:
    exempt = tax.factor is TaxFactor.EXEMPT
    return {
        "Name": _tax_name(tax),
        "Rate": _ZERO if exempt or tax.rate is None else _number(tax.rate),
        "Total": _ZERO if exempt or tax.amount is None else tax.amount,
        "Base": tax.base,
        "IsRetention": tax.withholding,
        "IsQuota": tax.factor is TaxFactor.QUOTA,
    }


def _relations(invoice: Invoice) -> dict[str, Any] | None:
    if not invoice.related:
        return None
    kinds = {group.relation_type for group in invoice.related}
    if len(kinds) > 1:
        raise ValidationError(
            [
                Issue(
                    field="related",
                    code="APUNTO-FACTURAMA-002",
                    message="Facturama accepts one relation type per CFDI; got "
                    + ", ".join(sorted(kinds)),
                    message_es="Facturama acepta un solo tipo de relación por CFDI.",
                )
            ]
        )
    uuids = [uuid for group in invoice.related for uuid in group.uuids]
    return {"Type": invoice.related[0].relation_type, "Cfdis": [{"Uuid": u} for u in uuids]}


def invoice_to_facturama(
    invoice: Invoice, *, expedition_place: str, name_id: str | None = None
) -> dict[str, Any]:
    """The ``POST 3/cfdis`` body (API Web, CFDI 4.0) for ``invoice``.

    Amounts are Decimals (send them as JSON numbers, never through floats). Line and document
    totals come from ``invoice.totals`` (the SAT's arithmetic): Facturama wants the client to
    send them. Optional fields are left out rather than sent empty.

    Args:
        invoice: the invoice. ``invoice.issuer`` is not sent: API Web always issues as the
            account owner (the caller takes the place of issue from it).
        expedition_place: LugarExpedicion, the postal code of the place of issue.
        name_id: PDF title from catalogs/NameIds (``ASSUMPTIONS["name_id"]`` by default).

    Raises:
        ValidationError: the invoice relates CFDIs with more than one relation type.
    """
    kind = invoice.kind
    totals = invoice.totals
    customer = invoice.customer
    receiver: dict[str, Any] = {
        "Rfc": customer.rfc,
        "Name": customer.legal_name,
        "CfdiUse": invoice.effective_cfdi_use,
        "FiscalRegime": customer.tax_regime,
        "TaxZipCode": customer.zip_code,
    }
    if customer.tax_residence:
        receiver["TaxResidence"] = customer.tax_residence
    if customer.foreign_tax_id:
        receiver["TaxRegistrationNumber"] = customer.foreign_tax_id

    body: dict[str, Any] = {
        "NameId": name_id or str(ASSUMPTIONS["name_id"]),
        "CfdiType": kind.value,
        "ExpeditionPlace": expedition_place,
    }
    if invoice.issued_at is not None:
        body["Date"] = _local_text(invoice.issued_at)
    if invoice.series:
        body["Serie"] = invoice.series
    if invoice.folio:
        body["Folio"] = invoice.folio
    body["Currency"] = invoice.currency
    if invoice.exchange_rate is not None:
        body["CurrencyExchangeRate"] = _number(invoice.exchange_rate)
    if kind not in _NO_PAYMENT_FORM:
        body["PaymentForm"] = invoice.effective_payment_form
    if kind not in _NO_PAYMENT_METHOD:
        body["PaymentMethod"] = invoice.effective_payment_method.value
    if invoice.payment_terms:
        body["PaymentConditions"] = invoice.payment_terms
    body["Exportation"] = invoice.export_code
    if invoice.notes:
        body["Observations"] = invoice.notes
    if invoice.global_info is not None:
        body["GlobalInformation"] = {
            "Periodicity": invoice.global_info.periodicity,
            "Months": invoice.global_info.months,
            "Year": invoice.global_info.year,
        }
    relations = _relations(invoice)
    if relations is not None:
        body["Relations"] = relations
    body["Receiver"] = receiver

    items = []
    for item, line in zip(invoice.items, totals.lines, strict=True):
        entry: dict[str, Any] = {"ProductCode": item.product_code}
        if item.sku:
            entry["IdentificationNumber"] = item.sku
        entry["Description"] = item.description
        if item.unit_name:
            entry["Unit"] = item.unit_name
        entry["UnitCode"] = item.unit_code
        entry["UnitPrice"] = _number(item.unit_price)
        entry["Quantity"] = _number(item.quantity)
        entry["Subtotal"] = line.amount
        if line.discount:
            entry["Discount"] = line.discount
        entry["TaxObject"] = item.effective_tax_object
        if line.taxes:
            entry["Taxes"] = [_tax_to_facturama(tax) for tax in line.taxes]
        entry["Total"] = line.amount - line.discount + line.transferred - line.withheld
        items.append(entry)
    body["Items"] = items
    return body


def customer_to_facturama_client(customer: Customer, cfdi_use: str | None = None) -> dict[str, Any]:
    """The ``Client`` record Facturama keeps for a receiver (created on the fly when stamping)."""
    client: dict[str, Any] = {
        "Rfc": customer.rfc,
        "Name": customer.legal_name,
        "CfdiUse": cfdi_use or customer.cfdi_use,
        "FiscalRegime": customer.tax_regime,
        "TaxZipCode": customer.zip_code,
    }
    if customer.email:
        client["Email"] = customer.email
    if customer.tax_residence:
        client["TaxResidence"] = customer.tax_residence
    if customer.foreign_tax_id:
        client["NumRegIdTrib"] = customer.foreign_tax_id
    return client


def line_to_facturama_product(item: LineItem, currency: str = "MXN") -> dict[str, Any]:
    """The ``Product`` record for a line: registered with its taxes, as the help page says."""
    from ..models.invoices import line_total

    line = line_total(item, currency)
    product: dict[str, Any] = {
        "Name": item.product_name,
        "Description": item.description,
        "CodeProdServ": item.product_code,
        "UnitCode": item.unit_code,
        "Price": _number(item.unit_price),
        "ObjetoImp": item.effective_tax_object,
    }
    if item.unit_name:
        product["Unit"] = item.unit_name
    if item.sku:
        product["IdentificationNumber"] = item.sku
    if line.taxes:
        product["Taxes"] = [
            {
                "Name": _tax_name(tax),
                "Rate": _ZERO if tax.rate is None else _number(tax.rate),
                "IsRetention": tax.withholding,
                "IsQuota": tax.factor is TaxFactor.QUOTA,
            }
            for tax in line.taxes
        ]
    return product


def _parse_date(value: Any) -> datetime | None:
    """Facturama dates: ``2024-05-01T10:00:00`` (maybe with fraction or offset) -> naive local."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    match = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(.*)$", text)
    if match:
        text = match.group(1) + match.group(3)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(_mexico_tz()).replace(tzinfo=None)
    return moment


def _money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return to_decimal(value)
    except ValidationError:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


@answer_mapper(VENDOR, "CFDI")
def facturama_to_stamped(data: Mapping[str, Any], provider: str = VENDOR) -> StampedInvoice:
    """A :class:`StampedInvoice` from a Facturama CFDI object or a ``Cfdi`` list row.

    Both shapes are read tolerantly: unknown fields are ignored and kept in ``raw``. A field
    of the wrong type (``Issuer`` that is not an object...) raises ``UnexpectedResponse``
    naming it.
    """
    data = object_field(data, "(answer)", provider=provider)
    complement = object_field(data.get("Complement"), "Complement", provider=provider)
    stamp = object_field(
        complement.get("TaxStamp"), "Complement.TaxStamp", provider=provider
    ) or object_field(data.get("TaxStamp"), "TaxStamp", provider=provider)
    issuer = object_field(data.get("Issuer"), "Issuer", provider=provider)
    receiver = object_field(data.get("Receiver"), "Receiver", provider=provider)
    status_text = str(data.get("Status") or "").strip().lower()
    status = _INVOICE_STATUSES.get(status_text)
    if status is None:
        status = InvoiceStatus.CANCELLED if data.get("IsActive") is False else InvoiceStatus.ACTIVE
    uuid = _text(stamp.get("Uuid")) or _text(data.get("Uuid"))
    currency = _text(data.get("Currency"))
    total = _money(data.get("Total"))
    if total is not None:
        # JSON numbers lose trailing zeros (2800.0); show the currency's decimals again.
        total = round_money(total, currency or "MXN")
    return StampedInvoice(
        provider=provider,
        id=str(data.get("Id") or ""),
        uuid=uuid.upper() if uuid else None,
        status=status,
        total=total,
        currency=currency,
        series=_text(data.get("Serie")),
        folio=_text(str(data["Folio"])) if data.get("Folio") not in (None, "") else None,
        issuer_rfc=_text(issuer.get("Rfc")) or _text(data.get("RfcIssuer")),
        customer_rfc=_text(receiver.get("Rfc")) or _text(data.get("Rfc")),
        issued_at=_parse_date(data.get("Date")),
        stamped_at=_parse_date(stamp.get("Date")),
        raw=dict(data),
    )


def facturama_stamp_answer(data: Any, provider: str = VENDOR) -> StampedInvoice:
    """The answer to a stamp request, which must carry the CFDI's ``Id`` and its UUID.

    Raises:
        UnexpectedResponse: no ``Id`` or no ``Complement.TaxStamp.Uuid`` (the message carries the
            ``Id`` when there is one: the CFDI may exist at Facturama), or a field of the wrong
            type.
    """
    if not isinstance(data, Mapping) or not data.get("Id"):
        raise UnexpectedResponse(
            f"{provider}: the stamp answer has no Id: {redact(str(data))[:200]}",
            provider=provider, field="Id",
        )
    try:
        stamped = facturama_to_stamped(data, provider)
    except UnexpectedResponse as exc:
        # The CFDI was committed at Facturama: the caller must learn which one.
        raise UnexpectedResponse(
            f"{exc}; the stamp answer is for Id {data['Id']}: the CFDI may exist at Facturama, "
            "look it up before stamping again",
            provider=provider, field=exc.field,
        ) from exc
    if not stamped.uuid:
        raise UnexpectedResponse(
            f"{provider}: the stamp answer for Id {stamped.id} has no Complement.TaxStamp.Uuid; "
            "the CFDI may exist at Facturama: look it up before stamping again",
            provider=provider, field="Complement.TaxStamp.Uuid",
        )
    return stamped


def facturama_to_cancellation(
    data: Mapping[str, Any],
    *,
    ref: str,
    motive: CancelMotive,
    replacement_uuid: str | None = None,
    provider: str = VENDOR,
) -> Cancellation:
    """A :class:`Cancellation` from Facturama's cancel answer ``{Status, Uuid, ...}``."""
    status_text = str(data.get("Status") or "").strip().lower()
    status = _CANCEL_STATUSES.get(status_text, CancellationStatus.PENDING)
    message = _text(data.get("Message")) or status_text
    uuid = _text(data.get("Uuid"))
    return Cancellation(
        provider=provider,
        ref=ref,
        motive=motive,
        status=status,
        uuid=uuid.upper() if uuid else None,
        replacement_uuid=replacement_uuid,
        message=message,
        raw=dict(data),
    )


def _model_state_texts(model_state: Any) -> list[str]:
    texts: list[str] = []
    if isinstance(model_state, Mapping):
        for value in model_state.values():
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, Sequence):
                texts.extend(str(v) for v in value)
    return texts


def _sat_code(texts: Sequence[str]) -> str | None:
    for text in texts:
        found = _SAT_CODE.search(text)
        if found:
            return found.group(0)
    for text in texts:
        stripped = text.strip()
        for sentence, code in SAT_MESSAGE_CODES.items():
            if sentence in stripped:
                return code
    return None


def _is_stamp_request(response: requests.Response) -> bool:
    request = response.request
    if request is None or (request.method or "").upper() != "POST":
        return False
    path = (request.path_url or "").split("?", 1)[0].rstrip("/").lower()
    return path.endswith("/cfdis")


def facturama_error(provider: str, response: requests.Response) -> ProviderError:
    """Turn a failed Facturama response into the error tree, keeping the vendor's words.

    ``Message`` goes verbatim to ``.message`` and ``ModelState`` verbatim to ``.details``. A
    rejected stamp (4xx on ``POST 3/cfdis``) becomes :class:`StampRejected` with ``sat_code``
    taken from a ``CFDI40xxx`` code in the text or from a known SAT sentence. Bodies that are not
    JSON (HTML error pages, plain text) are handled: the page title or text becomes the message.
    """
    try:
        body: Any = json.loads(response.content or b"null")
    except ValueError:
        body = None
    message = ""
    model_state: Any = None
    if isinstance(body, Mapping):
        message = str(body.get("Message") or body.get("message") or "")
        model_state = body.get("ModelState")
    elif isinstance(body, str):
        message = body
    if not message:
        text = response.text or ""
        title = _HTML_TITLE.search(text)
        if title:
            message = " ".join(title.group(1).split())
        elif text.strip() and not text.lstrip().startswith("<"):
            message = text.strip()[:500]
        else:
            message = f"HTTP {response.status_code} {response.reason or ''}".strip()
    details = model_state if isinstance(model_state, Mapping) else None
    texts = [message, *_model_state_texts(model_state)]
    status = response.status_code
    sat_code = _sat_code(texts)
    if status in (400, 409, 422) and (sat_code or _is_stamp_request(response)):
        return StampRejected(
            message,
            sat_code=sat_code,
            provider=provider,
            status_code=status,
            vendor_code=sat_code,
            details=details,
            request_id=response.headers.get("X-Request-Id"),
            raw_body=redact(response.text[:4000]) if response.content else None,
        )
    return error_for_status(provider, response, message, vendor_code=sat_code, details=details)


# -- wire helpers ---------------------------------------------------------------------------


def _encode_json(value: Any) -> str:
    """JSON text with Decimals written as exact numbers (never through binary floats)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ",".join(
            f"{json.dumps(str(k), ensure_ascii=False)}:{_encode_json(v)}" for k, v in value.items()
        ) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode_json(v) for v in value) + "]"
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def _json_body(value: Any) -> bytes:
    return _encode_json(value).encode("utf-8")


_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def _filter_value(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime(str(ASSUMPTIONS["list_date_format"]))
    if isinstance(value, date):
        return value.strftime(str(ASSUMPTIONS["list_date_format"]))
    if isinstance(value, InvoiceStatus):
        return _STATUS_FILTER.get(value, value.value)
    if isinstance(value, InvoiceKind):
        return value.value
    if hasattr(value, "value") and isinstance(value.value, str):
        return str(value.value)
    return str(value)


def list_params(filters: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters of ``GET Cfdi`` for our filter names (Facturama's own names pass too).

    Raises:
        ValidationError: an unknown filter name (listing the known ones).
    """
    params: dict[str, str] = {"type": "issued", "status": "all"}
    known_vendor = set(_LIST_FILTERS.values()) | {"type"}
    unknown = []
    for name, value in filters.items():
        if value is None:
            continue
        target = _LIST_FILTERS.get(name) or (name if name in known_vendor else None)
        if target is None:
            unknown.append(name)
            continue
        params[target] = _filter_value(value)
    if unknown:
        raise ValidationError(
            f"unknown Facturama list filter(s) {', '.join(sorted(unknown))}; known: "
            + ", ".join(sorted(_LIST_FILTERS)),
            field="filters",
            code="APUNTO-FACTURAMA-003",
        )
    return params


# -- provider -------------------------------------------------------------------------------


class FacturamaProvider(InvoiceProvider):
    """Facturama API Web: stamp, get, download, cancel and list CFDI 4.0 for the account owner.

    Args:
        username: API username (else ``APUNTO_FACTURAMA_USERNAME`` or the keyring).
        password: API password (else ``APUNTO_FACTURAMA_PASSWORD`` or the keyring).
        base_url: any compatible server (the loopback sandbox, a proxy); wins over
            ``environment``.
        environment: ``"production"`` (default) or ``"sandbox"`` — Facturama's own test host,
            which needs a separate sandbox account.
        session: a :class:`requests.Session` to use (proxies, mTLS, the in-process sandbox).
        timeout: ``(connect, read)`` seconds.
        max_retries: retries of safe requests (the stamp POST is never retried after it may
            have reached Facturama).
        sleep: injectable for tests.
        issuer: the account's issuer data, for full pre-flight checks without a ``TaxEntity``
            call; fetched from Facturama when a stamp needs it and it is not given.
        expedition_place: default LugarExpedicion (else ``invoice.issuer.zip_code``, else the
            account's tax address).
        register_catalog: create/update the Client and Products in Facturama while stamping,
            as Facturama's web app shows them (default ``True``).
    """

    name: ClassVar[str] = VENDOR
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.STAMP,
            Capability.GET,
            Capability.DOWNLOAD_XML,
            Capability.DOWNLOAD_PDF,
            Capability.CANCEL,
            Capability.LIST,
            Capability.VALIDATE_CUSTOMER,
        }
    )

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | Secret | None = None,
        base_url: str | None = None,
        environment: str = "production",
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] | None = None,
        max_retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        issuer: Issuer | None = None,
        expedition_place: str | None = None,
        register_catalog: bool = True,
    ) -> None:
        if environment not in BASE_URLS:
            raise ConfigurationError(
                f"unknown Facturama environment {environment!r}; use one of {sorted(BASE_URLS)}"
            )
        creds = resolve_credentials(
            VENDOR, CREDENTIALS, {"username": username, "password": password}
        )
        secret: Secret = creds["password"]
        self.environment = environment
        self._username: str = creds["username"]
        self._issuer = issuer
        self._expedition_place = expedition_place
        self.register_catalog = register_catalog
        retry = RetryPolicy() if max_retries is None else RetryPolicy(max_retries=max_retries)
        options: dict[str, Any] = {}
        if timeout is not None:
            options["timeout"] = timeout
        self.transport = Transport(
            VENDOR,
            base_url or BASE_URLS[environment],
            auth=requests.auth.HTTPBasicAuth(self._username, secret.reveal()),
            retry=retry,
            session=session,
            error_mapper=facturama_error,
            secrets=(secret.reveal(),),
            sleep=sleep,
            **options,
        )
        self._lock = threading.Lock()
        self._client_ids: dict[tuple[tuple[str, str], ...], str] = {}
        self._product_ids: dict[tuple[str, str], str] = {}
        self._keys: dict[str, tuple[str, str]] = {}

    def __repr__(self) -> str:
        return f"FacturamaProvider(base_url={self.transport.base_url!r}, username={self._username!r})"

    def release(self) -> None:
        """Close the connection pools this provider opened."""
        self.transport.close()

    # -- JSON -------------------------------------------------------------------------------

    def _decode(self, response: requests.Response) -> Any:
        """Decode JSON keeping amounts exact (Decimal); an unreadable body is a transport error."""
        if not response.content or not response.content.strip():
            return None
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            return self.transport.decode_json(response)  # raises TransportError(request_sent)

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._decode(self.transport.request("GET", path, params=params))

    # -- account ----------------------------------------------------------------------------

    def check_connection(self) -> ConnectionStatus:
        """Check the credentials with ``GET TaxEntity`` and describe the fiscal profile.

        Wrong credentials (or an inactive subscription, which Facturama also answers with 401)
        give ``ok=False`` with Facturama's message; other failures raise.
        """
        try:
            profile = self._get(PATHS["tax_entity"]) or {}
        except (AuthenticationError, PermissionDenied) as exc:
            return ConnectionStatus(
                provider=VENDOR, ok=False, environment=self.environment, detail=exc.message
            )
        rfc = profile.get("Rfc")
        name = profile.get("TaxName")
        address = profile.get("TaxAddress") or {}
        return ConnectionStatus(
            provider=VENDOR,
            ok=True,
            account=" ".join(str(p) for p in (rfc, name) if p) or None,
            environment=self.environment,
            detail="credentials accepted (API Web)",
            extra={
                "rfc": rfc,
                "tax_name": name,
                "fiscal_regime": profile.get("FiscalRegime"),
                "zip_code": address.get("ZipCode"),
            },
        )

    def account_issuer(self) -> Issuer:
        """The account owner as an :class:`Issuer` (from ``TaxEntity``; fetched once)."""
        if self._issuer is not None:
            return self._issuer
        profile = self._get(PATHS["tax_entity"]) or {}
        address = profile.get("IssuedIn") or profile.get("TaxAddress") or {}
        issuer = Issuer(
            rfc=str(profile.get("Rfc") or ""),
            legal_name=str(profile.get("TaxName") or ""),
            tax_regime=str(profile.get("FiscalRegime") or ""),
            zip_code=str(address.get("ZipCode") or ""),
        )
        self._issuer = issuer
        return issuer

    def validate_customer(self, customer: Customer) -> dict[str, bool]:
        """Ask Facturama whether the SAT knows the receiver as given (``api/customers/validate``).

        Returns ``{"exists", "name_matches", "zip_code_matches", "regime_matches"}`` as
        booleans, from Facturama's ``ExistRfc``, ``MatchName``, ``MatchZipCode`` and
        ``MatchFiscalRegime``. Useful before stamping for a new customer.
        """
        self.require(Capability.VALIDATE_CUSTOMER)
        body = {
            "Rfc": customer.rfc,
            "Name": customer.legal_name,
            "ZipCode": customer.zip_code,
            "FiscalRegime": customer.tax_regime,
        }
        response = self.transport.request(
            "POST", PATHS["validate_customer"], data=_json_body(body), headers=_JSON_HEADERS,
            idempotent=True,  # a read-only check: safe to repeat
        )
        answer = self._decode(response) or {}
        return {
            "exists": _truthy(answer.get("ExistRfc")),
            "name_matches": _truthy(answer.get("MatchName")),
            "zip_code_matches": _truthy(answer.get("MatchZipCode")),
            "regime_matches": _truthy(answer.get("MatchFiscalRegime")),
        }

    # -- stamping ---------------------------------------------------------------------------

    def stamp(self, invoice: Invoice, *, idempotency_key: str | None = None) -> StampedInvoice:
        """Stamp ``invoice`` as the account owner; never twice for one serie+folio.

        Order: local pre-flight validation (no network), the idempotency lookup when a key is
        given, Client and Product registration (``register_catalog``), then ``POST 3/cfdis``.

        Raises:
            ValidationError: the pre-flight found problems, or a key was given without a folio.
            StampRejected: Facturama or the SAT refused (``sat_code`` set when known).
            Conflict: the serie+folio already belongs to a different active CFDI.
            TransportError: no answer and the CFDI was not found afterwards; retry with the same
                ``idempotency_key``.
        """
        self.require(Capability.STAMP)
        self._preflight(invoice)
        if idempotency_key is not None:
            self._remember_key(idempotency_key, invoice)
        body = invoice_to_facturama(invoice, expedition_place=self._expedition_for(invoice))
        if idempotency_key is not None:
            existing = self._find_issued(invoice)
            if existing is not None:
                return existing
        if self.register_catalog:
            self._ensure_client(invoice)
            self._ensure_products(invoice)
        try:
            response = self.transport.request(
                "POST", PATHS["stamp"], data=_json_body(body), headers=_JSON_HEADERS,
                idempotent=False,
            )
            data = self._decode(response)
        except (TransportError, ServerError) as exc:
            ambiguous = isinstance(exc, ServerError) or exc.request_sent
            if ambiguous and invoice.folio:
                try:
                    found = self._find_issued(invoice)
                except ApuntoError:
                    # The look-up failing says nothing about the stamp: the caller must still
                    # hear that the CFDI may exist (request_sent=True), not the look-up's error.
                    raise exc from None
                if found is not None:
                    return found
            raise
        return facturama_stamp_answer(data)

    def _preflight(self, invoice: Invoice) -> None:
        from .. import sat

        sat.check(invoice, issuer=invoice.issuer or self._issuer)

    def _expedition_for(self, invoice: Invoice) -> str:
        if invoice.issuer is not None and invoice.issuer.zip_code:
            return invoice.issuer.zip_code
        if self._expedition_place:
            return self._expedition_place
        place = self.account_issuer().zip_code
        if not place:
            raise ValidationError(
                "no place of issue: set invoice.issuer, expedition_place= or the tax address in "
                "Facturama's fiscal profile",
                field="issuer.zip_code",
                code="APUNTO-FACTURAMA-004",
            )
        return place

    def _remember_key(self, key: str, invoice: Invoice) -> None:
        if not invoice.folio:
            raise ValidationError(
                [
                    Issue(
                        field="folio",
                        code="APUNTO-FACTURAMA-001",
                        message="an idempotency_key needs invoice.folio: Facturama dedupes by "
                        "serie + folio",
                        message_es="Para reintentar sin duplicar se requiere el folio (serie + "
                        "folio identifican el CFDI en Facturama).",
                    )
                ]
            )
        reference = (invoice.series or "", invoice.folio)
        with self._lock:
            previous = self._keys.setdefault(key, reference)
        if previous != reference:
            raise Conflict(
                f"idempotency key {key!r} was used for serie {previous[0]!r} folio "
                f"{previous[1]!r}, not {reference[0]!r} {reference[1]!r}",
                provider=VENDOR,
            )

    def _find_issued(self, invoice: Invoice) -> StampedInvoice | None:
        """The active CFDI with this invoice's serie+folio, if Facturama has one.

        Raises:
            Conflict: that serie+folio is taken by a CFDI for another receiver or total.
        """
        series = invoice.series or ""
        folio = invoice.folio or ""
        filters: dict[str, Any] = {"status": "active"}
        if series:
            filters["series"] = series
        if folio.isdigit():
            filters.update(folio_start=folio, folio_end=folio)
        else:
            filters["keyword"] = folio
        for row in self._rows(list_params(filters)):
            if str(row.get("Serie") or "") != series or str(row.get("Folio") or "") != folio:
                continue
            if str(row.get("Status") or "active").lower() not in ("active", ""):
                continue
            if row.get("IsActive") is False:
                continue
            same_receiver = str(row.get("Rfc") or "").upper() == invoice.customer.rfc
            total = _money(row.get("Total"))
            if not same_receiver or total is None or total != invoice.total:
                raise Conflict(
                    f"serie {series!r} folio {folio!r} is already stamped (Id {row.get('Id')}) "
                    f"for {row.get('Rfc')} with total {row.get('Total')}",
                    provider=VENDOR,
                    details=dict(row),
                )
            return self.get(str(row["Id"]))
        return None

    # -- catalog (Client, Product) ----------------------------------------------------------

    def _page(self, path: str, search: str) -> list[Mapping[str, Any]]:
        params = {"start": 0, "length": ASSUMPTIONS["catalog_page_length"], "search": search}
        data = self._get(path, params) or {}
        rows = data.get("data") if isinstance(data, Mapping) else data
        return [row for row in rows or () if isinstance(row, Mapping)]

    def _ensure_client(self, invoice: Invoice) -> str:
        """Find the receiver among Facturama's Clients by RFC; create or refresh it."""
        wanted = customer_to_facturama_client(invoice.customer, invoice.effective_cfdi_use)
        rfc = invoice.customer.rfc
        # Keyed by the whole record: changed customer data (a new postal code) is looked up and
        # refreshed again instead of trusting the cache.
        cache_key = tuple(sorted((k, str(v)) for k, v in wanted.items()))
        cached = self._client_ids.get(cache_key)
        if cached is not None:
            return cached
        existing = next(
            (row for row in self._page(PATHS["clients_page"], rfc)
             if str(row.get("Rfc") or "").upper() == rfc),
            None,
        )
        if existing is None:
            created = self._decode(
                self.transport.request(
                    "POST", PATHS["client"], data=_json_body(wanted), headers=_JSON_HEADERS,
                    idempotent=False,
                )
            ) or {}
            client_id = str(created.get("Id") or "")
        else:
            client_id = str(existing.get("Id") or "")
            stale = any(str(existing.get(k) or "") != str(v) for k, v in wanted.items())
            if stale and client_id:
                self.transport.request(
                    "PUT", PATHS["client_by_id"].format(id=client_id),
                    data=_json_body({"Id": client_id, **wanted}), headers=_JSON_HEADERS,
                )
        if client_id:
            with self._lock:
                self._client_ids[cache_key] = client_id
        return client_id

    def _ensure_products(self, invoice: Invoice) -> None:
        """Register each line's product (with its taxes) unless one with that code+name exists."""
        for item in invoice.items:
            key = (item.product_code, item.product_name.upper())
            if key in self._product_ids:
                continue
            match = next(
                (
                    row for row in self._page(PATHS["products_page"], item.product_name)
                    if str(row.get("CodeProdServ") or "") == item.product_code
                    and str(row.get("Name") or "").strip().upper() == key[1]
                ),
                None,
            )
            if match is None:
                match = self._decode(
                    self.transport.request(
                        "POST", PATHS["product"],
                        data=_json_body(line_to_facturama_product(item, invoice.currency)),
                        headers=_JSON_HEADERS, idempotent=False,
                    )
                ) or {}
            with self._lock:
                self._product_ids[key] = str(match.get("Id") or "")

    # -- reading ----------------------------------------------------------------------------

    def _resolve_id(self, ref: str) -> str:
        """Facturama's Id for ``ref``: an Id passes through; a UUID is searched with keyword."""
        ref = ref.strip()
        if not ref:
            raise ValidationError("empty reference", field="ref", code="APUNTO-FACTURAMA-005")
        if not _UUID.match(ref):
            return ref
        for row in self._rows(list_params({"keyword": ref})):
            if str(row.get("Uuid") or "").upper() == ref.upper():
                return str(row["Id"])
        raise NotFound(f"no CFDI with UUID {ref} at Facturama", provider=VENDOR, status_code=None)

    def get(self, ref: str) -> StampedInvoice:
        """Fetch a CFDI by Facturama Id or by UUID (``GET cfdi/{id}?type=issued``)."""
        self.require(Capability.GET)
        cfdi_id = self._resolve_id(ref)
        data = self._get(PATHS["cfdi"].format(id=cfdi_id), {"type": "issued"})
        if not isinstance(data, Mapping):
            raise NotFound(f"Facturama returned no CFDI for {ref}", provider=VENDOR)
        return facturama_to_stamped(data)

    def download(self, ref: str, fmt: DownloadFormat) -> bytes:
        """The CFDI XML or PDF, decoded from Facturama's base64 ``Content``."""
        if fmt not in ("xml", "pdf"):
            raise ValidationError(
                f"format must be 'xml' or 'pdf', not {fmt!r}", field="fmt",
                code="APUNTO-FACTURAMA-006",
            )
        self.require(Capability.DOWNLOAD_XML if fmt == "xml" else Capability.DOWNLOAD_PDF)
        cfdi_id = self._resolve_id(ref)
        path = PATHS["file"].format(format=fmt, type="issued", id=cfdi_id)
        return self._file(path)

    def download_acuse(self, ref: str, fmt: str = "xml") -> bytes:
        """The cancellation receipt (acuse) of a cancelled CFDI."""
        cfdi_id = self._resolve_id(ref)
        return self._file(PATHS["acuse"].format(format=fmt, type="issued", id=cfdi_id))

    def _file(self, path: str) -> bytes:
        response = self.transport.request("GET", path)
        kind = response.headers.get("Content-Type", "").lower()
        if "json" not in kind and response.content[:1] not in (b"{", b"["):
            return response.content  # some deployments answer with the raw file
        data = self._decode(response)
        content = data.get("Content") if isinstance(data, Mapping) else None
        if not isinstance(content, str):
            raise TransportError(
                f"{VENDOR}: file answer without Content from {path}", provider=VENDOR,
                request_sent=True,
            )
        # Standard base64 is documented; the URL-safe alphabet is accepted too, as the
        # vendor's own SDKs decode with it.
        normalized = "".join(content.split()).replace("-", "+").replace("_", "/")
        try:
            return base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise TransportError(
                f"{VENDOR}: Content of {path} is not base64: {exc}", provider=VENDOR,
                request_sent=True,
            ) from None

    def cancel(
        self, ref: str, motive: CancelMotive, replacement_uuid: str | None = None
    ) -> Cancellation:
        """Cancel with a SAT motive (``DELETE cfdi/{id}?type=issued&motive=&uuidReplacement=``).

        Motive ``01`` needs ``replacement_uuid``; both are checked locally, before any call,
        by :func:`apunto_connect.sat.rules.validate_cancellation`. The UUID is only sent with
        motive 01.
        """
        self.require(Capability.CANCEL)
        from ..sat.rules import validate_cancellation

        issues = validate_cancellation(motive, replacement_uuid)
        if any(issue.severity is Severity.ERROR for issue in issues):
            raise ValidationError(issues)
        motive = CancelMotive(motive)
        if not motive.requires_replacement:
            replacement_uuid = None  # only motive 01 carries one; the SAT ignores it otherwise
        cfdi_id = self._resolve_id(ref)
        params = {"type": "issued", "motive": motive.value}
        if replacement_uuid:
            params["uuidReplacement"] = replacement_uuid.strip().upper()
        data = self._decode(
            self.transport.request("DELETE", PATHS["cancel"].format(id=cfdi_id), params=params)
        )
        return facturama_to_cancellation(
            data if isinstance(data, Mapping) else {}, ref=ref, motive=motive,
            replacement_uuid=params.get("uuidReplacement"),
        )

    def list(self, **filters: Any) -> Iterator[StampedInvoice]:
        """Issued CFDIs, lazily, page by page; every filter is sent with every page.

        Filters: ``keyword``, ``status`` (``all``/``active``/``canceled`` or an
        :class:`InvoiceStatus`), ``folio_start``, ``folio_end``, ``rfc``, ``customer_name``,
        ``date_start``, ``date_end`` (dates), ``branch_id``, ``series``, ``order_number``,
        ``kind``, ``payment_method``, ``issuer_rfc`` — or Facturama's own parameter names.
        Rows are Facturama's search results (fewer fields than :meth:`get`).
        """
        self.require(Capability.LIST)
        params = list_params(filters)  # unknown filters fail here, before any call
        return (facturama_to_stamped(row) for row in self._rows(params))

    def _rows(self, params: Mapping[str, str]) -> Iterator[Mapping[str, Any]]:
        seen_page: list[str] | None = None
        for page in range(_MAX_PAGES):
            rows = self._get(PATHS["list"], {**params, "page": page})
            if isinstance(rows, Mapping):  # tolerate a wrapped answer
                rows = rows.get("data") or rows.get("Data") or []
            rows = [row for row in rows or () if isinstance(row, Mapping)]
            if not rows:
                return
            ids = [str(row.get("Id")) for row in rows]
            if ids == seen_page:
                return  # the server ignored "page": stop instead of looping
            seen_page = ids
            yield from rows


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "si", "sí"}
    return bool(value)
