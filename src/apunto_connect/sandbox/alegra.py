"""Offline emulator of Alegra's API v1 for Mexico (contacts, items, taxes, invoices, files).

It answers on Alegra's real base URLs with HTTP Basic (account e-mail + API token), the
``{"code", "message"}`` error envelope, ``start``/``limit`` (max 30) paging with
``metadata=true``, ``POST /invoices`` with ``stamp.generateStamp``, ``POST /invoices/stamp``
(10 ids at most, per-id results) and ``GET /invoices/{id}?fields=pdf,xml`` returning URLs. It
counts 150 requests per user and minute on the sandbox clock, sends ``X-Rate-Limit-Limit``,
``X-Rate-Limit-Remaining`` and ``X-Rate-Limit-Reset`` on every authenticated answer and a 429
past the budget. Stamped invoices get a real CFDI 4.0 XML and PDF from
:mod:`apunto_connect.sandbox.documents`; their URLs appear ``file_delay`` simulated seconds after
stamping, as at Alegra.

Where Alegra's Mexican API is not public (field names, the void call and how it takes the SAT
motive), the emulator reads and writes exactly the names of
``apunto_connect.invoicing.alegra.SPEC``, so it follows the provider's documented
assumptions. Alegra's numeric error codes are not public either: the emulator puts the HTTP
status in ``code``. The fiscal checks are a small stand-in for the SAT: receivers found in its
registry of SAT test taxpayers must match name, postal code and régimen.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import attrs

from .._wire import encode_json
from ..errors import ValidationError
from ..invoicing.alegra.mapping import _get, _put
from ..invoicing.alegra.spec import LEGACY_URL, PRODUCTION_URL, SPEC
from ..models.invoices import (
    CancelMotive,
    Invoice,
    LineItem,
    PaymentMethod,
    Tax,
    TaxFactor,
    TaxKind,
)
from ..models.parties import Customer, Issuer
from ..money import round_money
from .documents import IssuedDocument, cancellation_receipt, issue_document, mexico_local
from .framework import (
    Emulator,
    EmulatorRequest,
    EmulatorResponse,
    HttpError,
    basic_auth,
    route,
)
from .indexes import Grouped

__all__ = ["SAT_TAXPAYERS", "AlegraEmulator"]

DEMO_EMAIL = "sandbox@alegra-demo.example"
DEMO_TOKEN = "alegra-sandbox-demo-token"

SANDBOX_COMPANY = Issuer(
    rfc="EKU9003173C9", legal_name="ESCUELA KEMPER URGATE", tax_regime="601", zip_code="26015"
)

SAT_TAXPAYERS: Mapping[str, tuple[str, str | None, str | None]] = {
    # RFC: (name registered at the SAT, postal code, régimen) — SAT test taxpayers.
    "EKU9003173C9": ("ESCUELA KEMPER URGATE", "26015", "601"),
    "EWE1709045U0": ("ESCUELA WILSON ESQUIVEL", None, None),
    "URE180429TM6": ("UNIVERSIDAD ROBOTICA ESPAÑOLA", None, None),
    "XIA190128J61": ("XENON INDUSTRIAL ARTICLES", None, None),
    "IIA040805DZ4": ("INDISTRIA ILUMINADORA DE ALMACENES", None, None),
    "XIQB891116QE4": ("BERENICE XIMO QUEZADA", None, None),
    "CACX7605101P8": ("XOCHILT CASAS CHAVEZ", None, None),
    "FUNK671228PH6": ("KARLA FUENTE NOLASCO", None, None),
}
"""The emulator's stand-in for the SAT's taxpayer list (names as on the test certificates)."""

_PHYSICAL_ONLY_REGIMES = frozenset(
    {"605", "606", "607", "608", "611", "612", "614", "615", "616", "621", "625"}
)
_MORAL_ONLY_REGIMES = frozenset({"601", "603", "620", "622", "623", "624"})

_REGIME_CODES = {
    name: code
    for table in ("value.contact.regime_names_one_source", "value.contact.regime_names")
    for code, name in SPEC.peek(table).items()
}
"""Alegra's régimen names and the SAT code each stands for (a contact carries the name)."""

_SEED_TAXES = (
    ("IVA 16%", "IVA", "Tasa", Decimal(16)),
    ("IVA 8%", "IVA", "Tasa", Decimal(8)),
    ("IVA 0%", "IVA", "Tasa", Decimal(0)),
    ("IVA Exento", "IVA", "Exento", Decimal(0)),
)
_SEED_RETENTIONS = (
    ("Ret. IVA 4%", "IVA", "Tasa", Decimal(4)),
    ("Ret. IVA 10.6667%", "IVA", "Tasa", Decimal("10.6667")),
    ("Ret. ISR 10%", "ISR", "Tasa", Decimal(10)),
    ("Ret. ISR 1.25%", "ISR", "Tasa", Decimal("1.25")),
)


def _answer(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> EmulatorResponse:
    """A JSON answer with money as exact JSON numbers, as Alegra writes them."""
    body = b"" if payload is None else encode_json(payload)
    return EmulatorResponse(
        status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    )


def _fail(status: int, message: str) -> HttpError:
    """Alegra's error envelope (``code`` carries the HTTP status: real codes are not public)."""
    return HttpError(status, {"code": status, "message": message})


def _decimal(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise _fail(400, f"El campo {field} debe ser numérico") from None
    if not number.is_finite():
        raise _fail(400, f"El campo {field} debe ser numérico")
    return number


def _field(data: Any, key: str) -> Any:
    return _get(data, SPEC[f"field.{key}"])


def _regime_code(contact: Mapping[str, Any]) -> str:
    """The SAT code of a stored contact's régimen (its Alegra name translated back)."""
    name = _field(contact, "contact.regime")
    if name is None:
        listed = _field(contact, "contact.regime_list") or []
        name = listed[0] if listed else ""
    code: str = _REGIME_CODES.get(str(name), "")
    return code


@attrs.define
class _StoredInvoice:
    """One invoice as the emulator keeps it."""

    id: str
    body: dict[str, Any]
    model: Invoice
    status: str = "draft"
    document: IssuedDocument | None = None
    files_ready_at: float | None = None
    file_token: str = ""
    cancellation: dict[str, Any] | None = None
    acuse: bytes | None = None
    emails: list[str] = attrs.Factory(list)


class AlegraEmulator(Emulator):
    """Stateful stand-in for Alegra (Mexico): contacts, items, taxes, invoices and their files.

    Attributes to adjust in tests: ``plan`` (anything but ``"PLUS"`` is refused with 403, as
    Alegra's API needs that plan), ``stamps_left`` (``None`` for unlimited; 0 gives 402),
    ``file_delay`` (simulated seconds until the XML/PDF URLs appear), ``rate_limit`` and
    ``rate_window``.
    """

    name: ClassVar[str] = "alegra"
    kind: ClassVar[str] = "invoicing"
    base_urls: ClassVar[tuple[str, ...]] = (PRODUCTION_URL, LEGACY_URL)
    demo_credentials: ClassVar[Mapping[str, str]] = {"email": DEMO_EMAIL, "token": DEMO_TOKEN}

    def setup(self) -> None:
        """The demo company: its user, plan, taxes and numbering, nothing stamped."""
        self.rng = random.Random(self.seed)
        self.users: dict[str, str] = {DEMO_EMAIL: DEMO_TOKEN}
        self.company = SANDBOX_COMPANY
        self.plan = "PLUS"
        self.stamps_left: int | None = None
        self.file_delay = 2.5
        self.rate_limit: int = SPEC["limit.requests_per_minute"]
        self.rate_window = 60.0
        self.rate_limited = 0
        """How many requests were refused with 429 (for tests and reports)."""
        self._windows: dict[str, tuple[float, int]] = {}
        self.contacts: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.taxes: dict[str, dict[str, Any]] = {}
        self.retentions: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, _StoredInvoice] = {}
        # Look-up indexes over self.invoices (filed in id order, which is creation order):
        # invoices per client, numbers taken, and the files' link tokens.
        self._by_client: Grouped[str, str] = Grouped()
        self._numbers_taken: set[tuple[str, str]] = set()
        self._by_file_token: dict[str, str] = {}
        self._next_numbers: dict[str, int] = {}
        self._counters: dict[str, int] = {}
        for name, kind, factor, percentage in _SEED_TAXES:
            self._store_tax(self.taxes, name, kind, factor, percentage)
        for name, kind, factor, percentage in _SEED_RETENTIONS:
            self._store_tax(self.retentions, name, kind, factor, percentage)

    def provider_options(self) -> dict[str, Any]:
        """Pacing, polling and retries advance the sandbox clock instead of sleeping."""
        return {"sleep": self.clock.sleep, "clock": self.clock.now}

    # -- introspection for tests ---------------------------------------------------------------

    def issued_uuids(self) -> list[str]:
        """The UUID of every CFDI stamped here (cancelled ones included)."""
        with self.lock:
            return [s.document.uuid for s in self.stamped_invoices() if s.document is not None]

    def stamped_invoices(self) -> list[_StoredInvoice]:
        """Every invoice that carries a stamp (cancelled ones included)."""
        return [stored for stored in self.invoices.values() if stored.document is not None]

    # -- plumbing --------------------------------------------------------------------------------

    def _new_id(self, kind: str) -> str:
        self._counters[kind] = self._counters.get(kind, 0) + 1
        return str(self._counters[kind])

    def _store_tax(
        self,
        table: dict[str, dict[str, Any]],
        name: str,
        kind: str,
        factor: str,
        percentage: Decimal,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": self._new_id("tax"), "status": "active"}
        _put(entry, SPEC["field.tax.name"], name)
        _put(entry, SPEC["field.tax.type"], kind)
        _put(entry, SPEC["field.tax.factor"], factor)
        _put(entry, SPEC["field.tax.percentage"], percentage)
        table[entry["id"]] = entry
        return entry

    def _rate_headers(self, email: str) -> tuple[bool, dict[str, str]]:
        now = self.clock.now()
        start, used = self._windows.get(email, (now, 0))
        if now >= start + self.rate_window:
            start, used = now, 0
        allowed = used < self.rate_limit
        if allowed:
            used += 1
        self._windows[email] = (start, used)
        reset = max(0, math.ceil(start + self.rate_window - now))
        return allowed, {
            "X-Rate-Limit-Limit": str(self.rate_limit),
            "X-Rate-Limit-Remaining": str(max(self.rate_limit - used, 0)),
            "X-Rate-Limit-Reset": str(reset),
        }

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        """Authenticate, count the request against the user's minute, then answer."""
        if request.path.lower().startswith("/files/"):
            return super().handle(request)  # pre-signed file links need no credentials
        credentials = basic_auth(request)
        if credentials is None or self.users.get(credentials[0]) != credentials[1]:
            return _fail(401, "Usuario o token de acceso inválido").response()
        with self.lock:
            allowed, headers = self._rate_headers(credentials[0])
            if not allowed:
                self.rate_limited += 1
                return _answer(
                    429,
                    {
                        "code": 429,
                        "message": "Has superado el límite de peticiones por minuto. "
                        "Espera a que termine la ventana de un minuto.",
                    },
                    headers,
                )
        if self.plan != "PLUS":
            return _answer(
                403,
                {"code": 403, "message": "Tu plan actual no incluye acceso al API de Alegra"},
                headers,
            )
        response = super().handle(request)
        return attrs.evolve(response, headers={**response.headers, **headers})

    def _public_base(self, request: EmulatorRequest) -> str:
        """The base URL the client used: loopback (``/alegra`` under the server) or the real one."""
        host = request.header("host")
        if host.startswith(("127.0.0.1", "localhost", "[::1]")):
            return f"http://{host}/{self.name}"
        return self.base_urls[0]

    @staticmethod
    def _window(request: EmulatorRequest) -> tuple[int, int]:
        """The ``start`` and ``limit`` of a list request, checked as Alegra does."""
        try:
            start = int(request.query.get(SPEC["field.query.start"], "0"))
            largest = int(SPEC["limit.page_size"])
            limit = int(request.query.get(SPEC["field.query.limit"], str(largest)))
        except ValueError:
            raise _fail(400, "Los parámetros start y limit deben ser enteros") from None
        if limit > largest or limit < 1 or start < 0:
            raise _fail(400, f"El parámetro limit debe estar entre 1 y {largest}")
        return start, limit

    @classmethod
    def _page(cls, request: EmulatorRequest, rows: list[dict[str, Any]]) -> EmulatorResponse:
        start, limit = cls._window(request)
        window = rows[start : start + limit]
        if request.query.get(SPEC["field.query.metadata"], "").lower() == "true":
            return _answer(200, {"metadata": {"total": len(rows)}, "data": window})
        return _answer(200, window)

    # -- account ---------------------------------------------------------------------------------

    @route("GET", "/company")
    def get_company(self, request: EmulatorRequest) -> EmulatorResponse:
        """The company behind the account (the sandbox issuer)."""
        return _answer(
            200,
            {
                "id": "1",
                "name": self.company.legal_name,
                "identification": self.company.rfc,
                "regime": self.company.tax_regime,
                "address": {"zipCode": self.company.zip_code},
                "applicationVersion": "mexico",
                "plan": self.plan,
            },
        )

    @route("GET", "/users/self")
    def get_user(self, request: EmulatorRequest) -> EmulatorResponse:
        """The user behind the credentials."""
        credentials = basic_auth(request)
        return _answer(200, {"id": "1", "email": credentials[0] if credentials else None})

    # -- contacts ----------------------------------------------------------------------------------

    def _validate_contact(self, body: Any) -> None:
        if not isinstance(body, Mapping):
            raise _fail(400, "El cuerpo de la petición debe ser un objeto JSON")
        if not _field(body, "contact.name"):
            raise _fail(400, "El nombre del contacto es obligatorio")
        rfc = str(_field(body, "contact.rfc") or "")
        from ..sat.rfc import is_valid_rfc

        if not is_valid_rfc(rfc):
            raise _fail(400, f"El RFC '{rfc}' del contacto no tiene un formato válido")
        # Mexican contacts carry the régimen by Alegra's name, in regime and in the list
        # regimeObject; a SAT code such as "601" is not one of the names.
        regime = _field(body, "contact.regime")
        listed = _field(body, "contact.regime_list")
        names = [regime] if regime is not None else []
        if listed is not None:
            if not isinstance(listed, list):
                raise _fail(400, "El régimen del contacto (regimeObject) debe ser una lista")
            names.extend(listed)
        for name in names:
            if str(name) not in _REGIME_CODES:
                raise _fail(
                    400,
                    f"El régimen {name!r} del contacto no es válido: usa el nombre del catálogo "
                    "de regímenes de Alegra (por ejemplo GENERAL_REGIME_OF_MORAL_PEOPLE_LAW)",
                )
        if regime is not None and listed is not None and regime not in listed:
            raise _fail(400, "El régimen del contacto (regime) no está en regimeObject")

    @route("GET", "/contacts")
    def list_contacts(self, request: EmulatorRequest) -> EmulatorResponse:
        """Contacts, filtered by ``identification`` (RFC) or free text."""
        rows = list(self.contacts.values())
        rfc = request.query.get(SPEC["field.query.contact_rfc"])
        if rfc:
            rows = [r for r in rows if str(_field(r, "contact.rfc")).upper() == rfc.upper()]
        text = request.query.get(SPEC["field.query.text"], "").lower()
        if text:
            rows = [r for r in rows if text in str(_field(r, "contact.name")).lower()]
        return self._page(request, rows)

    @route("POST", "/contacts")
    def create_contact(self, request: EmulatorRequest) -> EmulatorResponse:
        """Create a contact (client)."""
        body = request.json()
        self._validate_contact(body)
        contact = {**body, "id": self._new_id("contact")}
        self.contacts[contact["id"]] = contact
        return _answer(201, contact)

    def _contact(self, contact_id: str) -> dict[str, Any]:
        contact = self.contacts.get(contact_id)
        if contact is None:
            raise _fail(404, f"No se encontró el contacto con id {contact_id}")
        return contact

    @route("GET", "/contacts/{contact_id}")
    def get_contact(self, request: EmulatorRequest, contact_id: str) -> EmulatorResponse:
        """One contact."""
        return _answer(200, self._contact(contact_id))

    @route("PUT", "/contacts/{contact_id}")
    def update_contact(self, request: EmulatorRequest, contact_id: str) -> EmulatorResponse:
        """Replace a contact's fields (the id stays)."""
        self._contact(contact_id)
        body = request.json()
        self._validate_contact(body)
        self.contacts[contact_id] = {**body, "id": contact_id}
        return _answer(200, self.contacts[contact_id])

    @route("DELETE", "/contacts/{contact_id}")
    def delete_contact(self, request: EmulatorRequest, contact_id: str) -> EmulatorResponse:
        """Delete a contact that no invoice uses."""
        self._contact(contact_id)
        if self._by_client.count(str(contact_id)):
            raise _fail(400, "El contacto tiene facturas asociadas y no se puede eliminar")
        del self.contacts[contact_id]
        return _answer(200, {"code": 200, "message": "El contacto fue eliminado correctamente"})

    # -- items -------------------------------------------------------------------------------------

    @route("GET", "/items")
    def list_items(self, request: EmulatorRequest) -> EmulatorResponse:
        """Items, filtered by free text on the name or reference."""
        rows = list(self.items.values())
        text = request.query.get(SPEC["field.query.item_search"], "").lower()
        if text:
            rows = [
                r
                for r in rows
                if text in str(_field(r, "item.name")).lower()
                or text in str(_field(r, "item.reference") or "").lower()
            ]
        return self._page(request, rows)

    @route("POST", "/items")
    def create_item(self, request: EmulatorRequest) -> EmulatorResponse:
        """Create an item; Mexican items need the SAT product key and a 2–50 character name."""
        body = request.json()
        if not isinstance(body, Mapping):
            raise _fail(400, "El cuerpo de la petición debe ser un objeto JSON")
        name = str(_field(body, "item.name") or "").strip()
        if not 2 <= len(name) <= 50:
            raise _fail(400, "El nombre del producto o servicio debe tener entre 2 y 50 caracteres")
        key = str(_field(body, "item.product_key") or "")
        if not (len(key) == 8 and key.isdigit()):
            raise _fail(
                400, "El ítem debe tener una clave de producto o servicio del SAT (productKey)"
            )
        if not _field(body, "item.unit_key"):
            raise _fail(400, "El ítem debe tener una clave de unidad del SAT")
        unit = _field(body, "item.unit_name")
        if unit is not None and unit not in SPEC["value.item.unit_words"]:
            # Alegra's unit is one of its own words (inventory.unit), not a free text.
            raise _fail(400, f"La unidad {unit!r} no es válida para el inventario del ítem")
        _decimal(_field(body, "item.price") or 0, "price")
        item = {**body, "id": self._new_id("item")}
        self.items[item["id"]] = item
        return _answer(201, item)

    @route("GET", "/items/{item_id}")
    def get_item(self, request: EmulatorRequest, item_id: str) -> EmulatorResponse:
        """One item."""
        item = self.items.get(item_id)
        if item is None:
            raise _fail(404, f"No se encontró el ítem con id {item_id}")
        return _answer(200, item)

    # -- taxes and retentions --------------------------------------------------------------------------

    def _create_tax(self, table: dict[str, dict[str, Any]], request: EmulatorRequest) -> EmulatorResponse:
        body = request.json()
        if not isinstance(body, Mapping):
            raise _fail(400, "El cuerpo de la petición debe ser un objeto JSON")
        kind = str(_field(body, "tax.type") or "").upper()
        if kind not in ("IVA", "ISR", "IEPS"):
            raise _fail(400, "El tipo de impuesto debe ser IVA, ISR o IEPS")
        factor = str(_field(body, "tax.factor") or "Tasa")
        if factor not in ("Tasa", "Cuota", "Exento"):
            raise _fail(400, "El tipo de factor debe ser Tasa, Cuota o Exento")
        percentage = _decimal(_field(body, "tax.percentage") or 0, "percentage")
        name = str(_field(body, "tax.name") or f"{kind} {percentage}%")
        return _answer(201, self._store_tax(table, name, kind, factor, percentage))

    @route("GET", "/taxes")
    def list_taxes(self, request: EmulatorRequest) -> EmulatorResponse:
        """The account's transferred taxes."""
        return _answer(200, list(self.taxes.values()))

    @route("POST", "/taxes")
    def create_tax(self, request: EmulatorRequest) -> EmulatorResponse:
        """Add a transferred tax."""
        return self._create_tax(self.taxes, request)

    @route("GET", "/retentions")
    def list_retentions(self, request: EmulatorRequest) -> EmulatorResponse:
        """The account's withholdings."""
        return _answer(200, list(self.retentions.values()))

    @route("POST", "/retentions")
    def create_retention(self, request: EmulatorRequest) -> EmulatorResponse:
        """Add a withholding."""
        return self._create_tax(self.retentions, request)

    # -- invoices ----------------------------------------------------------------------------------------

    def _tax_from(self, table: dict[str, dict[str, Any]], ref: Any, withholding: bool) -> Tax:
        tax_id = str(ref.get("id")) if isinstance(ref, Mapping) else str(ref)
        entry = table.get(tax_id)
        if entry is None:
            what = "la retención" if withholding else "el impuesto"
            raise _fail(400, f"No se encontró {what} con id {tax_id}")
        factor = TaxFactor(str(_field(entry, "tax.factor") or "Tasa"))
        percentage = _decimal(_field(entry, "tax.percentage") or 0, "percentage")
        if factor is TaxFactor.EXEMPT:
            rate = None
        elif factor is TaxFactor.QUOTA:
            rate = percentage
        else:
            rate = percentage / 100
        return Tax(TaxKind(str(_field(entry, "tax.type")).upper()), rate, withholding, factor)

    def _line_from(self, line: Any, currency: str, index: int) -> LineItem:
        if not isinstance(line, Mapping):
            raise _fail(400, f"El ítem {index + 1} de la factura no es válido")
        item = self.items.get(str(_get(line, SPEC["field.line.id"])))
        if item is None:
            raise _fail(400, f"No se encontró el ítem {_get(line, SPEC['field.line.id'])}")
        quantity = _decimal(_get(line, SPEC["field.line.quantity"]) or 0, "quantity")
        price = _decimal(_get(line, SPEC["field.line.price"]) or 0, "price")
        if quantity <= 0:
            raise _fail(400, f"La cantidad del ítem {index + 1} debe ser mayor que cero")
        percent = _decimal(_get(line, SPEC["field.line.discount"]) or 0, "discount")
        amount = round_money(quantity * price, currency)
        discount = round_money(amount * percent / 100, currency) if percent else Decimal(0)
        taxes = [
            self._tax_from(self.taxes, ref, False)
            for ref in _get(line, SPEC["field.line.taxes"]) or ()
        ] + [
            self._tax_from(self.retentions, ref, True)
            for ref in _get(line, SPEC["field.line.retentions"]) or ()
        ]
        return LineItem(
            product_code=str(_field(item, "item.product_key")),
            unit_code=str(_field(item, "item.unit_key")),
            description=str(
                _get(line, SPEC["field.line.description"]) or _field(item, "item.description")
                or _field(item, "item.name")
            ),
            quantity=quantity,
            unit_price=price,
            unit_name=_field(item, "item.unit_name"),
            discount=discount,
            taxes=taxes,
            sku=_field(item, "item.reference"),
            name=str(_field(item, "item.name")),
        )

    def _model_from(self, body: Mapping[str, Any]) -> Invoice:
        contact = self.contacts.get(str(_field(body, "invoice.client")))
        if contact is None:
            raise _fail(400, "La factura debe tener un cliente (client) existente")
        lines = _field(body, "invoice.items")
        if not isinstance(lines, list) or not lines:
            raise _fail(400, "La factura debe tener al menos un ítem")
        currency = str(_field(body, "invoice.currency") or "MXN")
        method = str(_field(body, "invoice.payment_method") or "PUE")
        if method not in ("PUE", "PPD"):
            raise _fail(400, "El método de pago debe ser PUE o PPD")
        cfdi_use = str(_field(body, "invoice.cfdi_use") or "")
        if not cfdi_use:
            raise _fail(400, "El uso del CFDI (cfdiUse) es obligatorio")
        customer = Customer(
            rfc=str(_field(contact, "contact.rfc")),
            legal_name=str(_field(contact, "contact.name")),
            tax_regime=_regime_code(contact),
            zip_code=str(_field(contact, "contact.zip") or ""),
            cfdi_use=cfdi_use,
            email=_field(contact, "contact.email"),
        )
        rate = _field(body, "invoice.exchange_rate")
        return Invoice(
            customer=customer,
            items=[self._line_from(line, currency, i) for i, line in enumerate(lines)],
            currency=currency,
            exchange_rate=_decimal(rate, "exchangeRate") if rate is not None else None,
            payment_form=str(_field(body, "invoice.payment_form") or "99"),
            payment_method=PaymentMethod(method),
            cfdi_use=cfdi_use,
            series=_field(body, "invoice.series") or None,
            folio=str(_field(body, "invoice.folio")) if _field(body, "invoice.folio") else None,
            export_code=str(_field(body, "invoice.export_code") or "01"),
            notes=_field(body, "invoice.notes"),
            payment_terms=_field(body, "invoice.payment_terms"),
        )

    def _assign_number(self, body: dict[str, Any]) -> None:
        prefix = str(_field(body, "invoice.series") or "A")
        number = _field(body, "invoice.folio")
        taken = self._numbers_taken
        if number in (None, ""):
            number = self._next_numbers.get(prefix, 1)
            while (prefix, str(number)) in taken:
                number += 1
            self._next_numbers[prefix] = int(number) + 1
        elif (prefix, str(number)) in taken:
            raise _fail(400, f"Ya existe una factura con la numeración {prefix}{number}")
        _put(body, SPEC["field.invoice.series"], prefix)
        _put(body, SPEC["field.invoice.folio"], str(number))

    def _sat_check(self, model: Invoice) -> None:
        """The SAT's receiver checks, answered the way a PAC relays them."""
        receiver = model.customer
        registered = SAT_TAXPAYERS.get(receiver.rfc)
        if registered is not None:
            name, zip_code, regime = registered
            if receiver.legal_name != name:
                raise _fail(
                    400,
                    "Error al timbrar: CFDI40145 - El campo Nombre del receptor, debe pertenecer "
                    "al nombre asociado al RFC registrado en el campo Rfc del Receptor.",
                )
            if zip_code is not None and receiver.zip_code != zip_code:
                raise _fail(
                    400,
                    "Error al timbrar: CFDI40147 - El campo DomicilioFiscalReceptor del receptor, "
                    "debe encontrarse en la lista de RFC inscritos no cancelados en el SAT.",
                )
            if regime is not None and receiver.tax_regime != regime:
                raise _fail(
                    400,
                    "Error al timbrar: El campo RegimenFiscalReceptor no corresponde al régimen "
                    "registrado en el SAT para el RFC del receptor.",
                )
        moral = len(receiver.rfc) == 12
        regimes = _PHYSICAL_ONLY_REGIMES if moral else _MORAL_ONLY_REGIMES
        if receiver.tax_regime in regimes:
            raise _fail(
                400,
                "Error al timbrar: CFDI40158 - La clave del campo RegimenFiscalR debe corresponder "
                "con el tipo de persona (física o moral).",
            )

    def _stamp(self, stored: _StoredInvoice) -> None:
        if stored.document is not None:
            raise _fail(400, "La factura ya está timbrada")
        if stored.status == "void":
            raise _fail(400, "No se puede timbrar una factura anulada")
        self._sat_check(stored.model)
        if self.stamps_left is not None:
            if self.stamps_left <= 0:
                raise _fail(402, "No tienes timbres disponibles para emitir facturas electrónicas")
            self.stamps_left -= 1
        try:
            document = issue_document(stored.model, self.company, clock=self.clock, rng=self.rng)
        except ValidationError as exc:
            raise _fail(400, f"Error al timbrar: {exc}") from None
        stored.document = document
        stored.status = "open"
        stored.files_ready_at = self.clock.now() + self.file_delay
        stored.file_token = f"{self.rng.getrandbits(96):024x}"
        self._by_file_token[stored.file_token] = stored.id

    def _view(
        self, stored: _StoredInvoice, request: EmulatorRequest, files: bool = False
    ) -> dict[str, Any]:
        model = stored.model
        totals = model.totals
        view: dict[str, Any] = {
            key: value for key, value in stored.body.items() if key not in ("stamp",)
        }
        view["id"] = stored.id
        _put(view, SPEC["field.answer.status"], stored.status)
        contact = self.contacts.get(str(_field(stored.body, "invoice.client")), {})
        view["client"] = {
            "id": contact.get("id"),
            "name": _field(contact, "contact.name"),
            "identification": _field(contact, "contact.rfc"),
        }
        series = str(_field(stored.body, "invoice.series"))
        folio = str(_field(stored.body, "invoice.folio"))
        view["numberTemplate"] = {
            **(view.get("numberTemplate") or {}),
            "fullNumber": f"{series}{folio}",
        }
        view["subtotal"] = totals.subtotal
        view["discount"] = totals.discount
        view["tax"] = totals.total_transferred
        view["retention"] = totals.total_withheld
        _put(view, SPEC["field.answer.total"], totals.total)
        view["balance"] = totals.total
        if stored.document is not None:
            stamp: dict[str, Any] = {"legalStatus": "STAMPED"}
            _put(stamp, SPEC["field.answer.uuid"].removeprefix("stamp."), stored.document.uuid)
            _put(
                stamp,
                SPEC["field.answer.stamped_at"].removeprefix("stamp."),
                stored.document.stamped_at.isoformat(),
            )
            if stored.cancellation is not None:
                stamp.update(stored.cancellation)
            view["stamp"] = stamp
        if files and self._files_ready(stored):
            base = f"{self._public_base(request)}/files/{stored.file_token}"
            number = f"{series}{folio}"
            _put(view, SPEC["field.answer.pdf"], f"{base}/factura-{number}.pdf")
            _put(view, SPEC["field.answer.xml"], f"{base}/factura-{number}.xml")
        return view

    def _files_ready(self, stored: _StoredInvoice) -> bool:
        return (
            stored.document is not None
            and stored.files_ready_at is not None
            and self.clock.now() >= stored.files_ready_at
        )

    def _invoice(self, invoice_id: str) -> _StoredInvoice:
        stored = self.invoices.get(invoice_id)
        if stored is None:
            raise _fail(404, f"No se encontró la factura con id {invoice_id}")
        return stored

    @route("POST", "/invoices")
    def create_invoice(self, request: EmulatorRequest) -> EmulatorResponse:
        """Create an invoice; with ``stamp.generateStamp`` it is stamped in the same call."""
        body = request.json()
        if not isinstance(body, dict):
            raise _fail(400, "El cuerpo de la petición debe ser un objeto JSON")
        for key in ("invoice.date", "invoice.due_date"):
            try:
                date.fromisoformat(str(_field(body, key)))
            except ValueError:
                raise _fail(400, f"El campo {SPEC['field.' + key]} debe ser una fecha AAAA-MM-DD") from None
        model = self._model_from(body)
        self._assign_number(body)
        generate = bool(_field(body, "invoice.stamp"))
        stored = _StoredInvoice(
            id=self._new_id("invoice"),
            body=body,
            model=attrs.evolve(
                model,
                series=str(_field(body, "invoice.series")),
                folio=str(_field(body, "invoice.folio")),
            ),
            status=str(_field(body, "invoice.status") or ("open" if generate else "draft")),
        )
        if generate:
            try:
                self._stamp(stored)
            except HttpError as refused:
                # Alegra keeps the invoice as a draft when its stamp fails and answers the
                # refusal with that draft beside the error (two public integrations read it).
                stored.status = "draft"
                self._keep(stored, body)
                error = refused.payload if isinstance(refused.payload, Mapping) else {}
                raise HttpError(refused.status, {
                    SPEC["field.error.wrapper"]: dict(error),
                    SPEC["field.error.draft"]: self._view(stored, request),
                }) from None
        self._keep(stored, body)
        return _answer(201, self._view(stored, request))

    def _keep(self, stored: _StoredInvoice, body: Mapping[str, Any]) -> None:
        """Store a created invoice (stamped or draft): its id, client and number are taken."""
        self.invoices[stored.id] = stored
        self._by_client.add(str(_field(body, "invoice.client")), stored.id)
        self._numbers_taken.add(
            (str(_field(body, "invoice.series")), str(_field(body, "invoice.folio")))
        )

    @route("POST", "/invoices/stamp")
    def stamp_invoices(self, request: EmulatorRequest) -> EmulatorResponse:
        """Stamp up to 10 draft or open invoices; one result per id."""
        body = request.json()
        ids = body.get("ids") if isinstance(body, Mapping) else None
        if not isinstance(ids, list) or not ids:
            raise _fail(400, "Debes enviar la lista ids con las facturas a timbrar")
        batch = int(SPEC["limit.stamp_batch"])
        if len(ids) > batch:
            raise _fail(400, f"Solo se pueden timbrar hasta {batch} facturas a la vez")
        results = []
        for raw_id in ids:
            invoice_id = str(raw_id)
            stored = self.invoices.get(invoice_id)
            if stored is None:
                results.append(
                    {"id": invoice_id, "success": False, "message": "La factura no existe"}
                )
                continue
            try:
                self._stamp(stored)
            except HttpError as exc:
                message = exc.payload.get("message") if isinstance(exc.payload, Mapping) else None
                results.append(
                    {
                        "id": invoice_id,
                        "success": False,
                        "message": message or "Error al timbrar",
                        "emissionStatus": "REJECTED",
                    }
                )
                continue
            results.append(
                {
                    "id": invoice_id,
                    "success": True,
                    "message": "Factura timbrada correctamente",
                    "emissionStatus": "STAMPED",
                }
            )
        return _answer(200, {"data": results})

    @route("GET", "/invoices/{invoice_id}")
    def get_invoice(self, request: EmulatorRequest, invoice_id: str) -> EmulatorResponse:
        """One invoice; ``fields=pdf,xml`` adds the file URLs once they are ready."""
        stored = self._invoice(invoice_id)
        fields = request.query.get(SPEC["field.query.fields"], "").lower().split(",")
        return _answer(200, self._view(stored, request, files="pdf" in fields or "xml" in fields))

    @route("GET", "/invoices")
    def list_invoices(self, request: EmulatorRequest) -> EmulatorResponse:
        """Invoices with paging, status, date, client and free-text filters."""
        query = request.query
        status = query.get(SPEC["field.query.status"], "").lower()
        after = query.get(SPEC["field.query.date_after"])
        before = query.get(SPEC["field.query.date_before"])
        client = query.get("client_id")
        text = query.get(SPEC["field.query.text"], "").lower()

        def keep(stored: _StoredInvoice) -> bool:
            if status and stored.status != status:
                return False
            if after and str(_field(stored.body, "invoice.date")) < after:
                return False
            if before and str(_field(stored.body, "invoice.date")) > before:
                return False
            return not text or text in self._searchable(stored)

        # Ids are filed in creation order, which is id order: no sort, and a page is read
        # from the right end without touching the rest (unless a filter or the total needs it).
        ids = self._by_client.get(client) if client else self.invoices.keys()
        descending = query.get(SPEC["field.query.order_direction"], "ASC").upper() == "DESC"
        filtered = bool(status or after or before or text)
        start, limit = self._window(request)
        with_total = request.query.get(SPEC["field.query.metadata"], "").lower() == "true"
        window: list[_StoredInvoice] = []
        total = 0
        for invoice_id in reversed(ids) if descending else ids:
            if filtered and not keep(self.invoices[invoice_id]):
                continue
            if total >= start:
                window.append(self.invoices[invoice_id])
            total += 1
            if total >= start + limit:
                if not filtered:
                    total = len(ids)  # every id matches: the count is known without reading on
                    break
                if not with_total:
                    break
        views = [self._view(stored, request) for stored in window]
        if with_total:
            return _answer(200, {"metadata": {"total": total}, "data": views})
        return _answer(200, views)

    def _searchable(self, stored: _StoredInvoice) -> str:
        parts = [
            f"{_field(stored.body, 'invoice.series')}{_field(stored.body, 'invoice.folio')}",
            str(_field(stored.body, "invoice.observations") or ""),
            stored.model.customer.legal_name,
            stored.document.uuid if stored.document else "",
        ]
        return " ".join(parts).lower()

    @route("POST", "/invoices/{invoice_id}/void")
    def void_invoice(self, request: EmulatorRequest, invoice_id: str) -> EmulatorResponse:
        """Annul an invoice; a stamped one is cancelled at the "SAT" with the motive given."""
        stored = self._invoice(invoice_id)
        if stored.status == "void":
            raise _fail(400, "La factura ya se encuentra anulada")
        body = request.json() or {}
        if stored.document is not None:
            motive_text = str(_field(body, "cancel.motive") or "")
            try:
                motive = CancelMotive(motive_text)
            except ValueError:
                raise _fail(400, "El motivo de cancelación debe ser 01, 02, 03 o 04") from None
            replacement = _field(body, "cancel.replacement")
            if motive.requires_replacement and not replacement:
                raise _fail(400, "El motivo 01 requiere el folio fiscal que sustituye a la factura")
            when = mexico_local(self.clock.now())
            stored.acuse = cancellation_receipt(
                stored.document.uuid, self.company.rfc, motive.value, replacement, when
            )
            state: dict[str, Any] = {}
            _put(state, SPEC["field.answer.cancel_status"].removeprefix("stamp."), "cancelled")
            state["cancellationDate"] = when.isoformat()
            state["cancellationMotive"] = motive.value
            stored.cancellation = state
        stored.status = "void"
        return _answer(200, self._view(stored, request))

    @route("POST", "/invoices/{invoice_id}/open")
    def open_invoice(self, request: EmulatorRequest, invoice_id: str) -> EmulatorResponse:
        """Revert an annulment; without a new stamp the invoice reopens unstamped."""
        stored = self._invoice(invoice_id)
        if stored.status != "void":
            raise _fail(400, "Solo se pueden abrir facturas anuladas")
        stored.status = "open"
        stored.document = None
        stored.cancellation = None
        body = request.json() or {}
        if isinstance(body, Mapping) and _field(body, "invoice.stamp"):
            self._stamp(stored)
        return _answer(200, self._view(stored, request))

    @route("POST", "/invoices/{invoice_id}/email")
    def email_invoice(self, request: EmulatorRequest, invoice_id: str) -> EmulatorResponse:
        """Record that the invoice was sent to the given addresses."""
        stored = self._invoice(invoice_id)
        body = request.json() or {}
        emails = body.get(SPEC["field.email.emails"]) if isinstance(body, Mapping) else None
        if not isinstance(emails, list) or not emails:
            raise _fail(400, "Debes enviar al menos un correo en emails")
        stored.emails.extend(str(e) for e in emails)
        return _answer(200, {"code": 200, "message": "La factura fue enviada por correo"})

    # -- files -----------------------------------------------------------------------------------------

    @route("GET", "/files/{token}/{filename}")
    def get_file(self, request: EmulatorRequest, token: str, filename: str) -> EmulatorResponse:
        """A stamped invoice's XML or PDF behind its unguessable link."""
        stored = self.invoices.get(self._by_file_token.get(token, ""))
        if stored is not None and stored.file_token != token:
            stored = None  # a token from before the invoice was re-stamped
        if stored is None or stored.document is None or not self._files_ready(stored):
            return EmulatorResponse(404, b"Not Found", {"Content-Type": "text/plain"})
        if filename.lower().endswith(".pdf"):
            return EmulatorResponse(200, stored.document.pdf, {"Content-Type": "application/pdf"})
        if filename.lower().endswith(".xml"):
            return EmulatorResponse(
                200, stored.document.xml, {"Content-Type": "application/xml; charset=utf-8"}
            )
        return EmulatorResponse(404, b"Not Found", {"Content-Type": "text/plain"})
