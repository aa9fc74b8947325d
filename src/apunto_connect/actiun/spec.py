"""Everything the client and the emulator know about the Actiun API: one frozen ``SPEC``.

The public reference (developers.actiun.com, Spanish; published from the official repository
``Actiun/actiun-api-documentation``) documents paths, envelopes, pagination headers, the create
arguments and the code lists below: those facts are ``official``. The facts marked ``assumed``
fill gaps the reference leaves open (``docs/vendors/evidence/actiun.md`` says what was searched).
A user facing a server that differs passes overrides, checked against the known keys::

    from apunto_connect.actiun import ActiunClient
    client = ActiunClient(api_key="...", spec={"path.invoices": "/v2/invoices"})

The invoicing provider (``ActiunInvoiceProvider(spec=...)``) and the emulator
(:mod:`apunto_connect.sandbox.actiun`) read the same ``SPEC``.

Keys: ``path.*`` (base URL and collections), ``header.*`` (auth and paging headers),
``field.*`` (envelopes, the page parameter, error and soft-delete fields, optional line
fields), ``limit.per_page``, ``value.*`` (code lists, the status table and the tax catalog).

The module-level tables of earlier releases (``PATHS``, ``ENVELOPES``, ``DEFAULT_TAXES`` ...)
are still readable here, with a :class:`DeprecationWarning`; changing them has no effect.
"""

from __future__ import annotations

import warnings
from types import MappingProxyType
from typing import Any

from ..vendor_spec import VendorSpec, assumed, official

__all__ = ["SPEC"]

_REFERENCE = "https://github.com/Actiun/actiun-api-documentation"
_INDEX = f"{_REFERENCE}/blob/master/source/index.html.md.erb"
_CONTACTS = f"{_REFERENCE}/blob/master/source/includes/_contacts.md.erb"
_ITEMS = f"{_REFERENCE}/blob/master/source/includes/_items.md.erb"
_INVOICES = f"{_REFERENCE}/blob/master/source/includes/_invoices.md.erb"
_ERRORS = f"{_REFERENCE}/blob/master/source/includes/_errors.md"
_SEARCHED = (
    "searched public code search for 'api.actiun.com' (0 hits) and 'actiun', the vendor's public "
    "repositories (only the documentation is an API reference) and public documentation for "
    "'Actiun API': no public integration"
)


def _frozen(table: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(table)


def _tax(name: str, percentage: str, *, retention: bool = False) -> MappingProxyType[str, Any]:
    """One entry of the tax catalog, shaped like the reference's ``taxes[]`` (all federal)."""
    return _frozen({"name": name, "percentage": percentage, "category": "federal",
                    "retention": retention})


SPEC = VendorSpec("actiun", {
    # -- where and how -------------------------------------------------------------------------
    "path.base_url": official("https://api.actiun.com", f"{_INDEX} ('El URL base para todos "
                              "los recursos')"),
    "header.auth": official("Authorization", _INDEX),
    "header.auth_prefix": official(
        "", f"{_INDEX}: every example sends 'Authorization: {{LLAVE_PRIVADA}}' (the bare key), "
        "although the prose calls the method 'Basic Access' and never shows an encoding",
    ),
    "path.contacts": official("/contacts", _CONTACTS),
    "path.items": official("/items", _ITEMS),
    "path.invoices": official("/invoices", _INVOICES),
    # (singular, plural) JSON keys wrapping one record and a list of records; creating an item
    # answers under the plural key.
    "field.envelope.contacts": official(("contact", "contacts"), _CONTACTS),
    "field.envelope.items": official(("item", "items"), _ITEMS),
    "field.envelope.invoices": official(("invoice", "invoices"), _INVOICES),
    # -- pagination ----------------------------------------------------------------------------
    "field.page": official("page", f"{_INDEX} (pagination: ?page=N, 1 when omitted)"),
    "limit.per_page": official(25, f"{_INDEX} ('Cada página constará de 25 registros por "
                               "página')"),
    "header.per_page": official("Per-Page", _INDEX),
    "header.total": official("Total", _INDEX),
    # -- code lists ----------------------------------------------------------------------------
    "value.order_fields": official(("id", "date", "due_at", "status", "created_at"),
                                   f"{_INVOICES} (order_field)"),
    "value.order_directions": official(("ASC", "DESC"), f"{_INVOICES} (order_direction, ASC "
                                       "by default)"),
    "value.invoice_statuses": official(
        ("drafted", "stamping", "opened", "sent", "viewed", "paid", "partial", "voided"),
        _INVOICES,
    ),
    "value.type_codes": official(_frozen({
        "FACT": "Factura",
        "ARR": "Recibo de arrendamiento",
        "DON": "Recibo de donativos",
        "HON": "Recibo de honorarios",
    }), f"{_INVOICES} (type_code, FACT by default)"),
    "value.payment_methods": official(_frozen({
        "wire-transfer": "Transferencia electrónica de fondos",
        "cash": "Efectivo",
        "check": "Cheque",
        "credit-card": "Tarjeta de crédito",
        "debit-card": "Tarjeta de débito",
        "electronic-wallet": "Monedero electrónico",
        "electronic-money": "Dinero Electrónico",
        "grocery-voucher": "Vales de Despensa",
        "service-card": "Tarjeta de Servicio",
        "other": "Por definir",
        "novation": "Novación",
        "confusion": "Confusión",
        "debt-remission": "Remisión de deuda",
        "prescription-or-expiration": "Prescripción o caducidad",
        "creditor": "A satisfacción del acreedor",
    }), f"{_INVOICES} (the 15 payment_method_code values with their Spanish names)"),
    # SAT c_FormaPago code -> payment_method_code, matched by name (the reference names the
    # methods; the codes are the SAT catalog's). 12, 13, 14, 15, 17, 30 and 31 have no method.
    "value.sat_payment_forms": official(_frozen({
        "01": "cash",
        "02": "check",
        "03": "wire-transfer",
        "04": "credit-card",
        "05": "electronic-wallet",
        "06": "electronic-money",
        "08": "grocery-voucher",
        "23": "novation",
        "24": "confusion",
        "25": "debt-remission",
        "26": "prescription-or-expiration",
        "27": "creditor",
        "28": "debit-card",
        "29": "service-card",
        "99": "other",
    }), f"{_INVOICES} (method names) matched with the SAT's c_FormaPago catalog"),
    "value.payment_types": official(_frozen({
        "PUE": "Pago en una sola exhibición",
        "PPD": "Pago en parcialidades o diferido",
    }), f"{_INVOICES} (payment_type_code, PUE by default)"),
    "value.ppd_payment_methods": official(("other",), f"{_INVOICES} (PPD only with 'other')"),
    "value.status_meanings": official(_frozen({
        400: "El request está mal formado. La información para crear el recurso no existe o "
        "es inválida.",
        401: "Credenciales no válidas.",
        404: "El objeto que buscas no existe.",
        405: "Operación no permitida. Ocurre cuando el método del request es inválido para el "
        "endpoint requerido.",
        429: "Has hecho muchas peticiones por lo que debes bajar el intervalo de solicitudes.",
        500: "Ocurrió un error en la aplicación.",
        503: "La applicación se encuentra en mantenimiento.",
    }), f"{_ERRORS} (used as the message when a server sends no text)"),
    # -- assumed -------------------------------------------------------------------------------
    # Keys of an error body that may hold the server's message, tried in order (a string, a
    # list of strings, or an object of field -> messages). The emulator answers
    # {"error": "<message>"} and, for a 400 on fields, adds "errors": {field: [messages]}.
    "field.error_message": assumed(("error", "message", "errors"), (
        f"{_ERRORS} lists status codes and meanings only; no error body is shown. {_SEARCHED}"
    )),
    "field.error_detail": assumed(("errors",), (
        f"{_ERRORS} shows no error body; kept as structured detail on the raised error. "
        f"{_SEARCHED}"
    )),
    # Fields of a contact that say it was soft-deleted (a timestamp or true). The emulator
    # answers a soft delete with 200 and the contact carrying deleted_at; a complete delete
    # answers 204 No Content.
    "field.soft_delete": assumed(("deleted_at", "deleted", "discarded_at"), (
        f"{_CONTACTS} ('Eliminar Contacto'): a contact with related documents is only marked "
        f"deleted and hidden from searches; the answer of that call is not shown. {_SEARCHED}"
    )),
    # Line-item fields sent only when given: retentions as [{"tax_id": n}] like taxes,
    # description, and discount (a percentage of the line).
    "field.line_item_optional": assumed(("retentions", "description", "discount"), (
        f"{_INVOICES}: the create example sends only item_id, price, quantity and "
        "taxes [{tax_id}]; the answers' line_items carry retentions (shaped like taxes), "
        f"description and discount (a percentage). {_SEARCHED}"
    )),
    # Tax catalog by id; the invoicing provider maps taxes to ids with it unless given
    # tax_ids=, and the emulator serves exactly this catalog.
    "value.taxes": assumed(_frozen({
        1: _tax("IVA", "16"),
        2: _tax("IVA", "0"),
        3: _tax("IVA", "8"),
        4: _tax("IVA", "4", retention=True),
        5: _tax("IVA", "10.6667", retention=True),
        6: _tax("ISR", "10", retention=True),
        7: _tax("ISR", "1.25", retention=True),
    }), (
        f"ids 1 (IVA 16 %) and 2 (IVA 0 %) appear in {_INVOICES} with category 'federal'; "
        "ids 3-7 are assumed: the reference has no tax endpoint and ids are per account "
        f"(pass tax_ids= with the account's ids). {_SEARCHED}"
    )),
}, record=False)  # shared by all: providers and emulators record into their own copies
"""The Actiun API as this SDK understands it (paths, headers, fields, limits, code lists)."""

_OLD_NAMES = {
    "DEFAULT_BASE_URL": "path.base_url",
    "AUTH_HEADER": "header.auth",
    "AUTH_PREFIX": "header.auth_prefix",
    "PAGE_PARAM": "field.page",
    "PER_PAGE": "limit.per_page",
    "PER_PAGE_HEADER": "header.per_page",
    "TOTAL_HEADER": "header.total",
    "ORDER_FIELDS": "value.order_fields",
    "ORDER_DIRECTIONS": "value.order_directions",
    "INVOICE_STATUSES": "value.invoice_statuses",
    "TYPE_CODES": "value.type_codes",
    "PAYMENT_METHODS": "value.payment_methods",
    "SAT_PAYMENT_FORMS": "value.sat_payment_forms",
    "PAYMENT_TYPES": "value.payment_types",
    "PAYMENT_TYPE_PPD_METHODS": "value.ppd_payment_methods",
    "STATUS_MEANINGS": "value.status_meanings",
    "ERROR_MESSAGE_KEYS": "field.error_message",
    "ERROR_DETAIL_KEYS": "field.error_detail",
    "SOFT_DELETE_FIELDS": "field.soft_delete",
    "LINE_ITEM_OPTIONAL_FIELDS": "field.line_item_optional",
    "DEFAULT_TAXES": "value.taxes",
}
"""The module-level tables of earlier releases and the spec key each became."""


def __getattr__(name: str) -> Any:
    """Read an old table name for one more release (deprecated; a read-only value)."""
    if name == "PATHS":
        _deprecated(name, "path.contacts / path.items / path.invoices")
        return _frozen({kind: SPEC.fact(f"path.{kind}").value
                        for kind in ("contacts", "items", "invoices")})
    if name == "ENVELOPES":
        _deprecated(name, "field.envelope.<kind>")
        return _frozen({kind: SPEC.fact(f"field.envelope.{kind}").value
                        for kind in ("contacts", "items", "invoices")})
    key = _OLD_NAMES.get(name)
    if key is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _deprecated(name, key)
    return SPEC.fact(key).value


def _deprecated(name: str, key: str) -> None:
    warnings.warn(
        f"apunto_connect.actiun.spec.{name} is deprecated: read SPEC[{key!r}], and pass "
        "spec={...} to the client or provider to change it (changing the old table has no "
        "effect)",
        DeprecationWarning,
        stacklevel=3,
    )
