"""Everything the client and the emulator assume about the Actiun API, in one overridable place.

The public reference (developers.actiun.com, Spanish) documents paths, envelopes, pagination
headers, the create arguments and the code lists below. Tables marked **ASSUMED** fill gaps the
reference leaves open; they are plain module-level dicts and tuples, read at call time by the
client, so a user facing a server that differs can change them::

    from apunto_connect.actiun import spec
    spec.PATHS["invoices"] = "/v2/invoices"
    spec.ERROR_MESSAGE_KEYS = ("detail", *spec.ERROR_MESSAGE_KEYS)

The emulator (:mod:`apunto_connect.sandbox.actiun`) is built from the same tables, so it makes
exactly the assumptions documented here (its routes are fixed when it is imported).

What the reference states (verified):

* base URL ``https://api.actiun.com``; ``Authorization: {LLAVE_PRIVADA}`` on every request (the
  examples send the bare key, although the prose calls it "Basic Access");
* ``/contacts``, ``/items`` and ``/invoices`` with ``{id}`` below them; envelopes
  ``contact``/``contacts``, ``item``/``items``, ``invoice``/``invoices``; the answer to
  creating an item is wrapped in ``items`` (plural) instead of ``item``;
* pagination by ``?page=N`` (1 when omitted), 25 records per page, and the ``Link``
  (first/prev/next/last), ``Per-Page`` and ``Total`` response headers;
* filters ``query`` (contacts: name; items: name or description) and, for invoices,
  ``order_field`` (id, date, due_at, status, created_at) and ``order_direction`` (ASC, DESC);
* invoice statuses, ``type_code`` (FACT, ARR, DON, HON), the 15 ``payment_method_code`` values,
  ``payment_type_code`` (PUE, PPD; PPD only with ``other``);
* deleting an item answers ``204 No Content``; deleting a contact that has related documents
  only marks it as deleted (soft delete) and hides it from the main searches;
* status codes 400, 401, 404, 405, 429, 500 and 503 with the meanings in
  :data:`STATUS_MEANINGS`.

What the reference does not show (ASSUMED here): the shape of error bodies, how a soft delete
is reported, how retentions and per-line descriptions or discounts are sent, and the tax ids
other than 1 (IVA 16 %) and 2 (IVA 0 %).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "AUTH_HEADER",
    "AUTH_PREFIX",
    "DEFAULT_BASE_URL",
    "DEFAULT_TAXES",
    "ENVELOPES",
    "ERROR_DETAIL_KEYS",
    "ERROR_MESSAGE_KEYS",
    "INVOICE_STATUSES",
    "LINE_ITEM_OPTIONAL_FIELDS",
    "ORDER_DIRECTIONS",
    "ORDER_FIELDS",
    "PAGE_PARAM",
    "PATHS",
    "PAYMENT_METHODS",
    "PAYMENT_TYPES",
    "PAYMENT_TYPE_PPD_METHODS",
    "PER_PAGE",
    "PER_PAGE_HEADER",
    "SAT_PAYMENT_FORMS",
    "SOFT_DELETE_FIELDS",
    "STATUS_MEANINGS",
    "TOTAL_HEADER",
    "TYPE_CODES",
]

DEFAULT_BASE_URL: Final = "https://api.actiun.com"
"""Base URL of every resource (reference: "El URL base para todos los recursos")."""

AUTH_HEADER = "Authorization"
"""Header that carries the private key."""

AUTH_PREFIX = ""
"""Text before the key in :data:`AUTH_HEADER`. The reference's examples send the bare key
(``Authorization: {LLAVE_PRIVADA}``); set e.g. ``"Basic "`` for a server that wants a scheme."""

PATHS: dict[str, str] = {
    "contacts": "/contacts",
    "items": "/items",
    "invoices": "/invoices",
}
"""Collection paths; a single resource is ``<path>/{id}``."""

ENVELOPES: dict[str, tuple[str, str]] = {
    "contacts": ("contact", "contacts"),
    "items": ("item", "items"),
    "invoices": ("invoice", "invoices"),
}
"""``(singular, plural)`` JSON keys wrapping one record and a list of records."""

PAGE_PARAM = "page"
PER_PAGE: Final = 25
"""Records per page ("Cada página constará de 25 registros por página")."""
PER_PAGE_HEADER = "Per-Page"
TOTAL_HEADER = "Total"

ORDER_FIELDS: tuple[str, ...] = ("id", "date", "due_at", "status", "created_at")
"""Values of the invoice list's ``order_field``."""

ORDER_DIRECTIONS: tuple[str, ...] = ("ASC", "DESC")
"""Values of the invoice list's ``order_direction`` (ASC by default)."""

INVOICE_STATUSES: tuple[str, ...] = (
    "drafted", "stamping", "opened", "sent", "viewed", "paid", "partial", "voided",
)

TYPE_CODES: dict[str, str] = {
    "FACT": "Factura",
    "ARR": "Recibo de arrendamiento",
    "DON": "Recibo de donativos",
    "HON": "Recibo de honorarios",
}
"""``type_code`` values (FACT by default)."""

PAYMENT_METHODS: dict[str, str] = {
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
}
"""The 15 ``payment_method_code`` values with the reference's Spanish names."""

SAT_PAYMENT_FORMS: dict[str, str] = {
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
}
"""SAT c_FormaPago code -> ``payment_method_code``, matched by name (the reference names the
methods; the codes are the SAT catalog's). c_FormaPago 12, 13, 14, 15, 17, 30 and 31 have no
Actiun method."""

PAYMENT_TYPES: dict[str, str] = {
    "PUE": "Pago en una sola exhibición",
    "PPD": "Pago en parcialidades o diferido",
}
"""``payment_type_code`` values (PUE by default)."""

PAYMENT_TYPE_PPD_METHODS: tuple[str, ...] = ("other",)
"""With ``payment_type_code`` PPD the reference admits only these payment methods."""

STATUS_MEANINGS: dict[int, str] = {
    400: "El request está mal formado. La información para crear el recurso no existe o es "
    "inválida.",
    401: "Credenciales no válidas.",
    404: "El objeto que buscas no existe.",
    405: "Operación no permitida. Ocurre cuando el método del request es inválido para el "
    "endpoint requerido.",
    429: "Has hecho muchas peticiones por lo que debes bajar el intervalo de solicitudes.",
    500: "Ocurrió un error en la aplicación.",
    503: "La applicación se encuentra en mantenimiento.",
}
"""The reference's error table (used as the message when a server sends no text)."""

# -- ASSUMED ---------------------------------------------------------------------------------

ERROR_MESSAGE_KEYS: tuple[str, ...] = ("error", "message", "errors")
"""ASSUMED: keys of an error body that may hold the server's message, tried in order (a string,
a list of strings, or an object of field -> messages). The emulator answers
``{"error": "<message>"}`` and, for a 400 on fields, adds ``"errors": {field: [messages]}``."""

ERROR_DETAIL_KEYS: tuple[str, ...] = ("errors",)
"""ASSUMED: keys whose value is kept as structured detail on the raised error."""

SOFT_DELETE_FIELDS: tuple[str, ...] = ("deleted_at", "deleted", "discarded_at")
"""ASSUMED: fields of a contact that say it was soft-deleted (a timestamp or ``true``). The
emulator answers a soft delete with ``200`` and the contact carrying ``deleted_at``; a complete
delete answers ``204 No Content``."""

LINE_ITEM_OPTIONAL_FIELDS: tuple[str, ...] = ("retentions", "description", "discount")
"""ASSUMED: line-item fields sent only when given. The reference's request shows only
``item_id``, ``price``, ``quantity`` and ``taxes: [{"tax_id": n}]``; its answers show
``retentions`` (sent here as ``[{"tax_id": n}]`` like taxes), ``description`` and ``discount``
(a percentage of the line)."""

DEFAULT_TAXES: dict[int, dict[str, object]] = {
    1: {"name": "IVA", "percentage": "16", "category": "federal", "retention": False},
    2: {"name": "IVA", "percentage": "0", "category": "federal", "retention": False},
    3: {"name": "IVA", "percentage": "8", "category": "federal", "retention": False},
    4: {"name": "IVA", "percentage": "4", "category": "federal", "retention": True},
    5: {"name": "IVA", "percentage": "10.6667", "category": "federal", "retention": True},
    6: {"name": "ISR", "percentage": "10", "category": "federal", "retention": True},
    7: {"name": "ISR", "percentage": "1.25", "category": "federal", "retention": True},
}
"""Tax catalog by id. Ids 1 (IVA 16 %) and 2 (IVA 0 %) appear in the reference's examples;
ids 3–7 are ASSUMED (the reference has no tax endpoint, and ids are per account). The
invoicing provider maps taxes to ids with this table unless given ``tax_ids=``; the emulator
serves exactly this catalog."""
