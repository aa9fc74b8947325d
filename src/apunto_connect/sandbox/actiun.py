"""Offline emulator of the Actiun API: contacts, items, invoices, pages and attachments.

It serves what the reference (developers.actiun.com) documents, quirks included:

* ``Authorization: <key>`` on every request (the bare key, as the reference's examples send
  it; ``Basic base64(key:)`` is accepted too since the prose says "Basic Access"); a wrong or
  missing key gets ``401`` with ``{"error": "Credenciales no válidas."}``;
* ``/contacts``, ``/items``, ``/invoices`` (and ``/clients``, which the reference's pagination
  and authentication examples list), single records below them, ``405`` for methods a path does
  not have;
* 25 records a page, ``?page=N`` (1 when absent or not a number), the ``Link``
  (first/prev/next/last), ``Per-Page`` and ``Total`` headers;
* ``query`` on contacts (name) and items (name or description); ``order_field`` and
  ``order_direction`` on invoices;
* the item create answer wrapped in ``items``; ``number`` as text in ``GET /invoices/{id}`` and
  as a number elsewhere; ``due_offset_days`` as text;
* ``204 No Content`` on deleting an item; deleting a contact with invoices only marks it
  deleted (soft delete: hidden from listings, still readable by id, not invoiceable);
* invoices are created ``stamping`` and become ``opened`` with a SAT UUID after
  :attr:`ActiunEmulator.stamping_seconds` of sandbox time, with a real CFDI 4.0 XML and PDF
  from :mod:`apunto_connect.sandbox.documents` behind ``download_url`` (on this emulator's base
  URL; the key is required there too).

It follows the assumptions of :mod:`apunto_connect.actiun.spec` where the reference is silent:
error bodies ``{"error": "...", "errors": {field: [...]}}``, a soft delete answered ``200``
with the contact carrying ``deleted_at`` (a full delete answers ``204``), ``retentions``,
``description`` and ``discount`` (a percentage) accepted on invoice lines, the tax catalog of
``SPEC["value.taxes"]`` (:data:`~apunto_connect.actiun.spec.SPEC`), ``201 Created`` for creates.

Invoices created in bulk with :meth:`ActiunEmulator.seed_invoices` (benchmarks) are stamped at
once; their documents are issued the first time they are downloaded, with the UUID and stamp
time they were given, so holding thousands costs little.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import uuid as uuidlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlencode

import attrs

from .._wire import decode_json, mexico_tz
from ..actiun.inputs import json_number
from ..actiun.spec import SPEC
from ..errors import ValidationError
from ..models.invoices import Invoice, LineItem, PaymentMethod, Tax, TaxKind
from ..models.parties import Customer, Issuer
from ..money import round_money, to_decimal
from ..vendor_spec import VendorSpec
from .documents import SANDBOX_SAT_CERTIFICATE, IssuedDocument, issue_document, mexico_local
from .framework import (
    Emulator,
    EmulatorRequest,
    EmulatorResponse,
    HttpError,
    SandboxClock,
    json_response,
    route,
)
from .indexes import Descending

__all__ = ["DEMO_API_KEY", "ActiunEmulator"]

DEMO_API_KEY = "actiun-sandbox-demo-key"
"""The private key the emulator accepts (it works nowhere else)."""

_SAT_FORM_OF = {method: form for form, method in SPEC["value.sat_payment_forms"].items()}
_PAYMENT_METHOD_LABELS = {
    **SPEC["value.payment_methods"], "wire-transfer": "Transferencia electrónica"
}
_RFC = re.compile(r"^[A-ZÑ&]{3,4}\d{6}[A-Z0-9]{3}$")
_CFDI_USES = {
    "G01": "Adquisición de mercancías",
    "G02": "Devoluciones, descuentos o bonificaciones",
    "G03": "Gastos en general",
    "I01": "Construcciones",
    "I04": "Equipo de computo y accesorios",
    "I08": "Otra maquinaria y equipo",
    "P01": "Por definir",
    "S01": "Sin efectos fiscales",
    "CP01": "Pagos",
}
# SAT keys the reference's examples show, with the ids Actiun gave them.
_PRODUCT_KEYS = {
    "44121701": (26865, "Bolígrafos"),
    "44121706": (26870, "Lápices de madera"),
    "78101800": (51203, "Transporte de carga por carretera"),
    "78101802": (51205, "Servicios transporte de carga por carretera (en camión) a nivel "
                        "regional y nacional"),
    "78141500": (51290, "Servicios de organización de transportes"),
    "80141600": (52611, "Actividades de ventas y promoción de negocios"),
}
_UNIT_KEYS = {
    "H87": (1730, "Pieza"),
    "E48": (1123, "Unidad de servicio"),
    "ACT": (1010, "Actividad"),
    "HUR": (1402, "Hora"),
    "KGM": (1465, "Kilogramo"),
    "XBX": (2120, "Caja"),
}
_CURRENCY_SYMBOLS = {"MXN": "$", "USD": "$", "EUR": "€", "CAD": "$"}
_BLANK = "no puede estar en blanco"


def _num(value: Decimal | None) -> int | float | None:
    return None if value is None else json_number(value)


def _error(message: str, errors: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": message}
    if errors:
        body["errors"] = dict(errors)
    return body


def _bad_request(errors: Mapping[str, list[str]]) -> HttpError:
    summary = "; ".join(f"{field} {' '.join(msgs)}" for field, msgs in errors.items())
    return HttpError(400, _error(summary, errors))


def _key_entry(table: Mapping[str, tuple[int, str]], code: str, offset: int) -> dict[str, Any]:
    found = table.get(code)
    if found is None:
        digest = int(hashlib.sha256(code.encode()).hexdigest()[:6], 16)
        found = (offset + digest % 90000, code)
    return {"id": found[0], "name": found[1], "value": code}


@attrs.define(slots=True)
class _Line:
    """An invoice line with the item as it was when the invoice was made."""

    id: int
    item_id: int
    name: str
    description: str | None
    price: Decimal
    quantity: Decimal
    discount: Decimal
    units: str | None
    product_key: str
    unit_key: str
    sku: str | None
    tax_ids: tuple[int, ...]
    retention_ids: tuple[int, ...]


@attrs.define(slots=True)
class _InvoiceRecord:
    id: int
    number: int
    client_id: int
    day: date
    due_offset_days: int
    currency: str
    exchange_rate: Decimal
    payment_method_code: str
    payment_type_code: str
    type_code: str
    cfdi_use: str
    description: str | None
    account_number: str | None
    lines: list[_Line]
    created_at: float
    ready_at: float
    status: str = "stamping"
    updated_at: float = 0.0
    sat_uuid: str | None = None
    stamped_at: datetime | None = None
    document: IssuedDocument | None = None
    token: str = ""
    seals: tuple[str | None, str | None] = (None, None)
    subtotal: Decimal = Decimal(0)
    total: Decimal = Decimal(0)


class _FixedBits(random.Random):
    """A random source whose 128 bits are a chosen UUID (reissues a document with its UUID)."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self._value = value

    def getrandbits(self, k: int, /) -> int:
        return self._value if k == 128 else super().getrandbits(k)


class ActiunEmulator(Emulator):
    """A stateful Actiun account: contacts, items, invoices being stamped, attachments."""

    name = "actiun"
    kind = "invoicing"
    base_urls: ClassVar[tuple[str, ...]] = (SPEC["path.base_url"],)
    demo_credentials: ClassVar[Mapping[str, str]] = {"api_key": DEMO_API_KEY}

    issuer: ClassVar[Issuer] = Issuer(
        rfc="EKU9003173C9", legal_name="ESCUELA KEMPER URGATE", tax_regime="601",
        zip_code="26015",
    )
    """The account owner: the SAT's test taxpayer."""
    stamping_seconds: ClassVar[float] = 3.0
    """Sandbox seconds an invoice spends ``stamping`` before it is ``opened``."""
    prefix: ClassVar[str] = "A"
    """Series of the invoices."""

    # Overrides reach paging, code lists and messages; the routes (fixed when the module is
    # imported) and the tax catalog stay SPEC's.
    vendor_spec: ClassVar[VendorSpec] = SPEC

    def setup(self) -> None:
        """An account with no contacts, items or invoices."""
        self.api_key = DEMO_API_KEY
        self.contacts: dict[int, dict[str, Any]] = {}
        self.items: dict[int, dict[str, Any]] = {}
        self.invoices: dict[int, _InvoiceRecord] = {}
        self._documents: dict[str, int] = {}
        self._next = {"contact": 1, "item": 1, "invoice": 1, "line": 1, "number": 1}
        self._rng = random.Random(self.seed) if self.seed is not None else None
        self._sorted: dict[tuple[str, str], list[int]] = {}
        # Invoice ids in creation order, which is id order: listing by id reads it directly
        # (either way) instead of sorting every stored invoice after each new one.
        self._id_order: list[int] = []
        self._stamping: set[int] = set()

    def provider_options(self) -> dict[str, Any]:
        """Polling advances the sandbox clock instead of waiting for real."""
        return {"sleep": self.clock.sleep, "clock": self.clock.now}

    def issued_uuids(self) -> list[str]:
        """The UUID of every CFDI stamped here."""
        with self.lock:
            return [r.sat_uuid for r in self.invoices.values() if r.sat_uuid]

    # -- plumbing --------------------------------------------------------------------------

    def authenticate(self, request: EmulatorRequest) -> EmulatorResponse | None:
        """Accept the bare key (the reference's examples) or ``Basic base64(key:)``."""
        given = request.header("authorization").strip()
        accepted = {
            self.api_key,
            "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode(),
            "Basic " + base64.b64encode(self.api_key.encode()).decode(),
        }
        if given in accepted:
            return None
        return json_response(401, _error(self.spec["value.status_meanings"][401]))

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        """Answer like Actiun, errors included (``{"error": ...}`` bodies)."""
        response = super().handle(request)
        if response.status == 405:
            return json_response(405, _error(self.spec["value.status_meanings"][405]))
        return response

    def not_found(self, request: EmulatorRequest) -> EmulatorResponse:
        """Unknown paths: the reference's 404."""
        return json_response(404, _error(self.spec["value.status_meanings"][404]))

    def _now(self) -> float:
        return self.clock.now()

    def _timestamp(self, epoch: float) -> str:
        moment = datetime.fromtimestamp(epoch, tz=timezone.utc).astimezone(mexico_tz())
        return moment.isoformat(timespec="milliseconds")

    def _take(self, counter: str) -> int:
        value = self._next[counter]
        self._next[counter] = value + 1
        return value

    @staticmethod
    def _body(request: EmulatorRequest, envelope: str) -> dict[str, Any]:
        try:
            data = decode_json(request.body)
        except ValueError as exc:
            meaning = SPEC["value.status_meanings"][400]
            raise HttpError(400, _error(f"{meaning} ({exc})")) from None
        inner = data.get(envelope) if isinstance(data, dict) else None
        if not isinstance(inner, dict):
            meaning = SPEC["value.status_meanings"][400]
            raise HttpError(400, _error(f"{meaning} (falta '{envelope}')"))
        return inner

    @staticmethod
    def _record_id(value: str) -> int:
        if not value.isdigit():
            raise HttpError(404, _error(SPEC["value.status_meanings"][404]))
        return int(value)

    def _base(self, request: EmulatorRequest) -> str:
        """The emulator's base URL as the caller reached it (loopback or the real host)."""
        host = request.header("host")
        if host and host.lower() != "api.actiun.com":
            return f"http://{host}/{self.name}"
        base: str = self.spec["path.base_url"]
        return base

    def _page(
        self,
        request: EmulatorRequest,
        envelope: str,
        records: Sequence[dict[str, Any]] | Sequence[int],
        render: Any,
    ) -> EmulatorResponse:
        raw_page = request.query.get(self.spec["field.page"], "1")
        number = int(raw_page) if raw_page.isdigit() and int(raw_page) > 0 else 1
        total = len(records)
        per_page: int = self.spec["limit.per_page"]
        last = max(1, -(-total // per_page))
        chunk = records[(number - 1) * per_page: number * per_page]
        payload = {envelope: [render(record) for record in chunk]}
        filters = [(k, v) for k, v in request.query_all if k != self.spec["field.page"]]
        path = f"{self._base(request)}{request.path.rstrip('/')}"

        def link(page: int, rel: str) -> str:
            query = urlencode([*filters, (self.spec["field.page"], str(page))])
            return f'<{path}?{query}>; rel="{rel}"'

        links = [link(1, "first")]
        if number > 1:
            links.append(link(min(number - 1, last), "prev"))
        links.append(link(last, "last"))
        if number < last:
            links.append(link(number + 1, "next"))
        headers = {
            "Link": ", ".join(links),
            self.spec["header.per_page"]: str(per_page),
            self.spec["header.total"]: str(total),
        }
        return self._ok(200, payload, headers)

    @staticmethod
    def _ok(
        status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> EmulatorResponse:
        body = json.dumps(payload, ensure_ascii=False).encode()
        etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
        return EmulatorResponse(status, body, {
            "Content-Type": "application/json; charset=utf-8",
            "Cache-Control": "max-age=0, private, must-revalidate",
            "Etag": f'W/"{etag}"',
            **(headers or {}),
        })

    # -- contacts --------------------------------------------------------------------------

    def _contact_full(self, contact: Mapping[str, Any]) -> dict[str, Any]:
        keys = ("id", "name", "identification", "billing_address_email", "alias",
                "bill_with_parent", "bill_with_shipping", "depth", "credit_days",
                "payment_method_id", "payment_type_id", "account_number", "parent",
                "billing_address", "shipping_address")
        shown = {key: contact.get(key) for key in keys}
        parent_id = contact.get("parent_id")
        if parent_id in self.contacts:
            shown["parent"] = self._contact_short(self.contacts[parent_id])
        if contact.get("deleted_at"):
            shown["deleted_at"] = contact["deleted_at"]
        return shown

    @staticmethod
    def _contact_listed(contact: Mapping[str, Any]) -> dict[str, Any]:
        return {key: contact.get(key) for key in ("id", "name", "identification", "alias")}

    @staticmethod
    def _contact_short(contact: Mapping[str, Any]) -> dict[str, Any]:
        keys = ("id", "name", "identification", "billing_address_email", "alias",
                "bill_with_parent", "bill_with_shipping", "depth")
        return {key: contact.get(key) for key in keys}

    def _contact(self, contact_id: str) -> dict[str, Any]:
        found = self.contacts.get(self._record_id(contact_id))
        if found is None:
            raise HttpError(404, _error(self.spec["value.status_meanings"][404]))
        return found

    @route("GET", "/contacts")
    def list_contacts(self, request: EmulatorRequest) -> EmulatorResponse:
        """Live contacts whose name contains ``query``."""
        needle = request.query.get("query", "").strip().lower()
        found = [
            c for c in self.contacts.values()
            if not c.get("deleted_at") and needle in (c.get("name") or "").lower()
        ]
        return self._page(request, "contacts", found, self._contact_listed)

    @route("GET", "/clients")
    def list_clients(self, request: EmulatorRequest) -> EmulatorResponse:
        """``/clients``, as the reference's pagination and authentication examples call it."""
        return self.list_contacts(request)

    @route("GET", "/contacts/{contact_id}")
    def get_contact(self, request: EmulatorRequest, contact_id: str) -> EmulatorResponse:
        """One contact (soft-deleted ones too, with ``deleted_at``)."""
        return self._ok(200, {"contact": self._contact_full(self._contact(contact_id))})

    @route("POST", "/contacts")
    def create_contact(self, request: EmulatorRequest) -> EmulatorResponse:
        """Create a contact from ``name`` and ``identification`` (+ e-mail, alias)."""
        data = self._body(request, "contact")
        errors = {field: [_BLANK] for field in ("name", "identification")
                  if not str(data.get(field) or "").strip()}
        if errors:
            raise _bad_request(errors)
        contact_id = self._take("contact")
        contact: dict[str, Any] = {
            "id": contact_id,
            "name": str(data["name"]).strip(),
            "identification": str(data["identification"]).strip().upper(),
            "billing_address_email": data.get("billing_address_email"),
            "alias": data.get("alias"),
            "bill_with_parent": bool(data.get("bill_with_parent", False)),
            "bill_with_shipping": bool(data.get("bill_with_shipping", True)),
            "depth": 0,
            "credit_days": int(data.get("credit_days") or 0),
            "payment_method_id": None,
            "payment_type_id": None,
            "account_number": data.get("account_number"),
            "parent": None,
            "billing_address": data.get("billing_address"),
            "shipping_address": data.get("shipping_address"),
        }
        self.contacts[contact_id] = contact
        return self._ok(201, {"contact": self._contact_full(contact)})

    @route("PUT", "/contacts/{contact_id}")
    def update_contact(self, request: EmulatorRequest, contact_id: str) -> EmulatorResponse:
        """Change the fields given."""
        contact = self._contact(contact_id)
        data = self._body(request, "contact")
        for field in ("name", "identification"):
            if field in data and not str(data[field] or "").strip():
                raise _bad_request({field: [_BLANK]})
        editable = ("name", "identification", "billing_address_email", "alias",
                    "bill_with_parent", "bill_with_shipping", "credit_days", "account_number",
                    "billing_address", "shipping_address")
        contact.update({key: data[key] for key in editable if key in data})
        return self._ok(200, {"contact": self._contact_full(contact)})

    @route("DELETE", "/contacts/{contact_id}")
    def delete_contact(self, request: EmulatorRequest, contact_id: str) -> EmulatorResponse:
        """Delete, or only mark deleted when invoices refer to the contact (soft delete)."""
        contact = self._contact(contact_id)
        if any(inv.client_id == contact["id"] for inv in self.invoices.values()):
            contact.setdefault("deleted_at", self._timestamp(self._now()))
            return self._ok(200, {"contact": self._contact_full(contact)})
        del self.contacts[contact["id"]]
        return EmulatorResponse(204)

    # -- items -----------------------------------------------------------------------------

    @staticmethod
    def _item_json(item: Mapping[str, Any], *, with_images: bool = False) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": item["id"],
            "name": item["name"],
            "description": item.get("description"),
            "price": _num(item["price"]),
            "units": item.get("units"),
            "sku": item.get("sku"),
            "discount": None,
            "inventory": {},
            "taxes": [],
        }
        if with_images:  # only the create answer in the reference lists images
            shown["images"] = []
        shown["product_key"] = _key_entry(_PRODUCT_KEYS, item["product_key"], 20000)
        shown["unit_key"] = _key_entry(_UNIT_KEYS, item["unit_key"], 1000)
        return shown

    def _item(self, item_id: str | int) -> dict[str, Any]:
        found = self.items.get(self._record_id(str(item_id)))
        if found is None:
            raise HttpError(404, _error(self.spec["value.status_meanings"][404]))
        return found

    @staticmethod
    def _item_fields(data: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        fields: dict[str, Any] = {}
        for key in ("name", "product_key_code", "unit_key_code", "price"):
            if key not in data:
                if not partial:
                    errors[key] = [_BLANK]
                continue
            value = data[key]
            if value is None or str(value).strip() == "":
                errors[key] = [_BLANK]
                continue
            fields[key] = value
        if "price" in fields:
            try:
                fields["price"] = to_decimal(fields["price"])
            except ValidationError:
                errors["price"] = ["no es un número"]
        if "product_key_code" in fields and not str(fields["product_key_code"]).isdigit():
            errors["product_key_code"] = ["no es una clave del catálogo del SAT"]
        for key in ("description", "units", "sku"):
            if key in data:
                fields[key] = data[key]
        # The reference's own edit example names a misspelt argument ("descripton").
        if "descripton" in data and "description" not in data:
            fields["description"] = data["descripton"]
        if errors:
            raise _bad_request(errors)
        renamed = {"product_key_code": "product_key", "unit_key_code": "unit_key"}
        return {renamed.get(k, k): (str(v) if k in renamed else v) for k, v in fields.items()}

    @route("GET", "/items")
    def list_items(self, request: EmulatorRequest) -> EmulatorResponse:
        """Items whose name or description contains ``query``."""
        needle = request.query.get("query", "").strip().lower()
        found = [
            i for i in self.items.values()
            if needle in (i.get("name") or "").lower()
            or needle in (i.get("description") or "").lower()
        ]
        return self._page(request, "items", found, self._item_json)

    @route("GET", "/items/{item_id}")
    def get_item(self, request: EmulatorRequest, item_id: str) -> EmulatorResponse:
        """One item."""
        return self._ok(200, {"item": self._item_json(self._item(item_id))})

    @route("POST", "/items")
    def create_item(self, request: EmulatorRequest) -> EmulatorResponse:
        """Create an item; the answer is wrapped in ``items``, as the reference shows."""
        fields = self._item_fields(self._body(request, "item"), partial=False)
        unit_key = fields["unit_key"]
        item = {
            "id": self._take("item"),
            "description": None,
            "sku": None,
            **fields,
        }
        if not item.get("units"):
            item["units"] = _UNIT_KEYS.get(unit_key, (0, unit_key))[1]
        self.items[item["id"]] = item
        return self._ok(201, {"items": self._item_json(item, with_images=True)})

    @route("PUT", "/items/{item_id}")
    def update_item(self, request: EmulatorRequest, item_id: str) -> EmulatorResponse:
        """Change the fields given."""
        item = self._item(item_id)
        item.update(self._item_fields(self._body(request, "item"), partial=True))
        return self._ok(200, {"item": self._item_json(item)})

    @route("DELETE", "/items/{item_id}")
    def delete_item(self, request: EmulatorRequest, item_id: str) -> EmulatorResponse:
        """Delete an item: ``204 No Content``."""
        item = self._item(item_id)
        del self.items[item["id"]]
        return EmulatorResponse(204)

    # -- invoices --------------------------------------------------------------------------

    @route("GET", "/invoices")
    def list_invoices(self, request: EmulatorRequest) -> EmulatorResponse:
        """Invoices ordered by ``order_field`` (id) ``order_direction`` (ASC)."""
        field = request.query.get("order_field") or "id"
        direction = (request.query.get("order_direction") or "ASC").upper()
        fields, directions = self.spec["value.order_fields"], self.spec["value.order_directions"]
        if field not in fields or direction not in directions:
            raise _bad_request({
                "order_field" if field not in fields else "order_direction":
                ["no es válido"],
            })
        self._settle_all()
        ids = self._ordered(field, direction)
        return self._page(request, "invoices", ids, lambda i: self._invoice_json(
            self.invoices[i], request, number_as_text=False))

    @route("GET", "/invoices/{invoice_id}")
    def get_invoice(self, request: EmulatorRequest, invoice_id: str) -> EmulatorResponse:
        """One invoice (``number`` as text, as the reference's example shows)."""
        record = self._invoice(invoice_id)
        return self._ok(200, {"invoice": self._invoice_json(record, request, number_as_text=True)})

    @route("POST", "/invoices")
    def create_invoice(self, request: EmulatorRequest) -> EmulatorResponse:
        """Create an invoice; it is ``stamping`` until the sandbox clock moves on."""
        data = self._body(request, "invoice")
        record = self._new_invoice(data)
        self.invoices[record.id] = record
        self._id_order.append(record.id)
        self._stamping.add(record.id)
        self._sorted.clear()
        return self._ok(201, {"invoice": self._invoice_json(record, request, number_as_text=False)})

    @route("GET", "/documents/{fmt}/{token}")
    def download(self, request: EmulatorRequest, fmt: str, token: str) -> EmulatorResponse:
        """The PDF or XML behind an attachment's ``download_url``."""
        invoice_id = self._documents.get(token)
        kind = fmt.lower()
        if invoice_id is None or kind not in ("pdf", "xml"):
            raise HttpError(404, _error(self.spec["value.status_meanings"][404]))
        record = self.invoices[invoice_id]
        document = self._document(record)
        body = document.pdf if kind == "pdf" else document.xml
        name = f"{self.prefix}{record.number}.{kind}"
        return EmulatorResponse(200, body, {
            "Content-Type": "application/pdf" if kind == "pdf" else "application/xml",
            "Content-Disposition": f'attachment; filename="{name}"',
        })

    def _invoice(self, invoice_id: str) -> _InvoiceRecord:
        record = self.invoices.get(self._record_id(invoice_id))
        if record is None:
            raise HttpError(404, _error(self.spec["value.status_meanings"][404]))
        self._settle(record)
        return record

    def _ordered(self, field: str, direction: str) -> Sequence[int]:
        if field == "id":
            return self._id_order if direction == "ASC" else Descending(self._id_order)
        key = (field, direction)
        cached = self._sorted.get(key)
        if cached is None:
            records = list(self.invoices.values())
            sort_key: Any = {
                "id": lambda r: r.id,
                "date": lambda r: (r.day, r.id),
                "due_at": lambda r: (r.day + timedelta(days=r.due_offset_days), r.id),
                "status": lambda r: (r.status, r.id),
                "created_at": lambda r: (r.created_at, r.id),
            }[field]
            records.sort(key=sort_key, reverse=direction == "DESC")
            cached = self._sorted[key] = [r.id for r in records]
        return cached

    def _new_invoice(self, data: Mapping[str, Any]) -> _InvoiceRecord:
        errors: dict[str, list[str]] = {}
        client_id = data.get("client_id")
        contact = self.contacts.get(client_id) if isinstance(client_id, int) else None
        if contact is None:
            errors["client_id"] = ["no existe"]
        elif contact.get("deleted_at"):
            raise HttpError(400, _error("El contacto fue eliminado y no puede facturarse.",
                                        {"client_id": ["fue eliminado"]}))
        method = data.get("payment_method_code")
        if method not in self.spec["value.payment_methods"]:
            errors["payment_method_code"] = ["no es válido"]
        payment_type = data.get("payment_type_code") or "PUE"
        if payment_type not in self.spec["value.payment_types"]:
            errors["payment_type_code"] = ["no es válido"]
        elif payment_type == "PPD" and method not in self.spec["value.ppd_payment_methods"]:
            errors["payment_method_code"] = ["solo admite other (Por definir) con PPD"]
        type_code = data.get("type_code") or "FACT"
        if type_code not in self.spec["value.type_codes"]:
            errors["type_code"] = ["no es válido"]
        currency = str(data.get("currency_code") or "MXN").upper()
        rate = Decimal(1)
        if data.get("exchange_rate") is not None:
            try:
                rate = to_decimal(data["exchange_rate"])
            except ValidationError:
                errors["exchange_rate"] = ["no es un número"]
        elif currency != "MXN":
            errors["exchange_rate"] = [_BLANK]
        try:
            day = date.fromisoformat(str(data["date"])) if data.get("date") else \
                mexico_local(self._now()).date()
        except ValueError:
            errors["date"] = ["no es una fecha válida"]
            day = mexico_local(self._now()).date()
        try:
            offset = int(str(data.get("due_offset_days") or "0"))
        except ValueError:
            errors["due_offset_days"] = ["no es un número"]
            offset = 0
        lines = self._new_lines(data.get("line_items"), errors)
        if errors:
            raise _bad_request(errors)
        now = self._now()
        assert contact is not None and isinstance(client_id, int) and isinstance(method, str)
        record = _InvoiceRecord(
            id=self._take("invoice"), number=self._take("number"), client_id=client_id, day=day,
            due_offset_days=offset, currency=currency, exchange_rate=rate,
            payment_method_code=method, payment_type_code=payment_type, type_code=type_code,
            cfdi_use=str(data.get("cfdi_use_code") or "G03"),
            description=data.get("description"), account_number=data.get("account_number"),
            lines=lines, created_at=now, updated_at=now, ready_at=now + self.stamping_seconds,
            token=self._token(),
        )
        self._price(record)
        return record

    def _new_lines(self, raw: Any, errors: dict[str, list[str]]) -> list[_Line]:
        if not isinstance(raw, list) or not raw:
            errors["line_items"] = ["debe tener al menos un producto o servicio"]
            return []
        lines = []
        for index, entry in enumerate(raw):
            where = f"line_items[{index}]"
            if not isinstance(entry, dict):
                errors[where] = ["no es válido"]
                continue
            item_id = entry.get("item_id")
            item = self.items.get(item_id) if isinstance(item_id, int) else None
            if item is None:
                errors[f"{where}.item_id"] = ["no existe"]
                continue
            try:
                price = to_decimal(entry.get("price", item["price"]))
                quantity = to_decimal(entry.get("quantity", 1))
                discount = to_decimal(entry.get("discount") or 0)
            except ValidationError:
                errors[where] = ["precio, cantidad o descuento no es un número"]
                continue
            if quantity <= 0 or price < 0 or not 0 <= discount <= 100:
                errors[where] = ["precio, cantidad o descuento fuera de rango"]
                continue
            taxes = self._tax_ids(entry.get("taxes"), False, f"{where}.taxes", errors)
            retentions = self._tax_ids(entry.get("retentions"), True, f"{where}.retentions", errors)
            lines.append(_Line(
                id=self._take("line"), item_id=item["id"], name=item["name"],
                description=entry.get("description") or item.get("description"),
                price=price, quantity=quantity, discount=discount, units=item.get("units"),
                product_key=item["product_key"], unit_key=item["unit_key"], sku=item.get("sku"),
                tax_ids=taxes, retention_ids=retentions,
            ))
        return lines

    @staticmethod
    def _tax_ids(
        raw: Any, retention: bool, where: str, errors: dict[str, list[str]]
    ) -> tuple[int, ...]:
        ids = []
        for entry in raw or []:
            tax_id = entry.get("tax_id") if isinstance(entry, dict) else None
            tax = SPEC["value.taxes"].get(tax_id) if isinstance(tax_id, int) else None
            if tax is None or bool(tax["retention"]) is not retention:
                errors[where] = [f"tax_id {tax_id!r} no existe"]
                continue
            assert isinstance(tax_id, int)
            ids.append(tax_id)
        return tuple(ids)

    def _token(self) -> str:
        if self._rng is not None:
            return str(uuidlib.UUID(int=self._rng.getrandbits(128), version=4))
        return str(uuidlib.uuid4())

    # -- stamping --------------------------------------------------------------------------

    def _cfdi_invoice(self, record: _InvoiceRecord) -> Invoice:
        """The invoice as our model sees it, to write its CFDI."""
        contact = self.contacts.get(record.client_id, {})
        rfc = str(contact.get("identification") or "XAXX010101000").upper()
        generic = rfc in ("XAXX010101000", "XEXX010101000")
        address = contact.get("billing_address") or {}
        zip_code = str(address.get("zipcode") or "") if isinstance(address, dict) else ""
        customer = Customer(
            rfc=rfc,
            legal_name=str(contact.get("name") or "PUBLICO EN GENERAL"),
            tax_regime="616" if generic else ("601" if len(rfc) == 12 else "612"),
            zip_code=zip_code if zip_code.isdigit() and len(zip_code) == 5 else
            self.issuer.zip_code,
            cfdi_use=record.cfdi_use,
        )
        items = []
        for line in record.lines:
            amount = round_money(line.price * line.quantity, record.currency)
            taxes = [self._model_tax(t, False) for t in line.tax_ids]
            taxes += [self._model_tax(t, True) for t in line.retention_ids]
            items.append(LineItem(
                product_code=line.product_key, unit_code=line.unit_key,
                description=(line.description or line.name),
                quantity=line.quantity, unit_price=line.price, unit_name=line.units,
                discount=round_money(amount * line.discount / 100, record.currency),
                taxes=taxes, sku=line.sku or None, name=line.name,
            ))
        moment = mexico_local(record.created_at)
        return Invoice(
            customer=customer, items=items, currency=record.currency,
            exchange_rate=None if record.currency in ("MXN", "XXX") else record.exchange_rate,
            payment_form=_SAT_FORM_OF.get(record.payment_method_code, "99"),
            payment_method=PaymentMethod(record.payment_type_code),
            cfdi_use=record.cfdi_use, series=self.prefix, folio=str(record.number),
            issued_at=datetime.combine(record.day, moment.time()),
        )

    @staticmethod
    def _model_tax(tax_id: int, retention: bool) -> Tax:
        entry = SPEC["value.taxes"][tax_id]
        rate = to_decimal(entry["percentage"]) / 100
        kind = TaxKind(str(entry["name"]).upper())
        return Tax(kind, rate.quantize(Decimal("0.000001")), withholding=retention)

    def _price(self, record: _InvoiceRecord) -> None:
        totals = self._cfdi_invoice(record).totals
        record.subtotal = totals.subtotal - totals.discount
        record.total = totals.total

    def _settle_all(self) -> None:
        for invoice_id in sorted(self._stamping):
            self._settle(self.invoices[invoice_id])

    def _settle(self, record: _InvoiceRecord) -> None:
        """Finish stamping once its time has come: ``opened`` with a UUID, or ``drafted``."""
        if record.status != "stamping" or self._now() < record.ready_at:
            return
        self._sorted.clear()
        record.updated_at = self._now()
        self._stamping.discard(record.id)
        contact = self.contacts.get(record.client_id, {})
        if not _RFC.match(str(contact.get("identification") or "")):
            record.status = "drafted"  # the PAC refuses a receiver without a valid RFC
            return
        try:
            document = issue_document(self._cfdi_invoice(record), self.issuer, clock=self.clock,
                                      rng=self._rng)
        except ValidationError:
            record.status = "drafted"
            return
        self._keep(record, document)
        record.sat_uuid = document.uuid
        record.stamped_at = document.stamped_at
        record.total = document.total
        record.status = "opened"
        self._documents[record.token] = record.id

    def _document(self, record: _InvoiceRecord) -> IssuedDocument:
        """The record's documents, issued now for bulk-seeded invoices (same UUID and time)."""
        if record.document is None:
            assert record.sat_uuid is not None and record.stamped_at is not None
            stamped = record.stamped_at.replace(tzinfo=mexico_tz()).timestamp()
            document = issue_document(
                self._cfdi_invoice(record), self.issuer, clock=SandboxClock(start=stamped),
                rng=_FixedBits(uuidlib.UUID(record.sat_uuid).int),
            )
            if document.uuid != record.sat_uuid:  # pragma: no cover - guards documents.py
                raise RuntimeError("sandbox documents no longer honour the UUID they are given")
            self._keep(record, document)
        assert record.document is not None
        return record.document

    @staticmethod
    def _keep(record: _InvoiceRecord, document: IssuedDocument) -> None:
        from ..cfdi import parse

        stamp = parse(document.xml).stamp
        record.document = document
        record.seals = (stamp.sat_seal, stamp.cfd_seal) if stamp else (None, None)

    def _invoice_json(
        self, record: _InvoiceRecord, request: EmulatorRequest, *, number_as_text: bool
    ) -> dict[str, Any]:
        base = self._base(request)
        contact = self.contacts.get(record.client_id, {"id": record.client_id})
        stamped = record.status not in ("stamping", "drafted")
        stamp = None
        attachments: list[dict[str, str]] = []
        if stamped and record.sat_uuid:
            stamp = {
                "sat_uuid": record.sat_uuid,
                "sat_certificate_number": SANDBOX_SAT_CERTIFICATE,
                "sat_stamp": record.seals[0],
                "cfd_stamp": record.seals[1],
                "stamped_date": (record.stamped_at or mexico_local(record.updated_at))
                .replace(tzinfo=mexico_tz()).isoformat(timespec="milliseconds"),
            }
            attachments = [
                {"type": "Pdf", "download_url": f"{base}/documents/pdf/{record.token}"},
                {"type": "Xml", "download_url": f"{base}/documents/xml/{record.token}"},
            ]
        due = record.day + timedelta(days=record.due_offset_days)
        return {
            "id": record.id,
            "status": record.status,
            "prefix": self.prefix,
            "number": str(record.number) if number_as_text else record.number,
            "date": record.day.isoformat(),
            "due_at": due.isoformat(),
            "due_offset_days": str(record.due_offset_days),
            "kind": "income",
            "subtotal": _num(record.subtotal),
            "total": _num(record.total),
            "total_paid": 0,
            "payment_method": _PAYMENT_METHOD_LABELS.get(record.payment_method_code),
            "account_number": record.account_number,
            "currency": {
                "code": record.currency,
                "symbol": _CURRENCY_SYMBOLS.get(record.currency, "$"),
                "exchange_rate": _num(record.exchange_rate),
            },
            "created_at": self._timestamp(record.created_at),
            "updated_at": self._timestamp(record.updated_at),
            "attachments": attachments,
            "description": record.description,
            "line_items": [self._line_json(line, record.currency) for line in record.lines],
            "stamp": stamp,
            "client": self._contact_short(contact),
            "cfdi_use": {"name": _CFDI_USES.get(record.cfdi_use, record.cfdi_use),
                         "value": record.cfdi_use},
        }

    @staticmethod
    def _line_json(line: _Line, currency: str) -> dict[str, Any]:
        amount = round_money(line.price * line.quantity, currency)
        discount = round_money(amount * line.discount / 100, currency)

        def tax_json(tax_id: int) -> dict[str, Any]:
            entry = SPEC["value.taxes"][tax_id]
            return {"id": tax_id, "percentage": _num(to_decimal(entry["percentage"])),
                    "name": entry["name"], "description": None, "category": entry["category"]}

        return {
            "id": line.id,
            "name": line.name,
            "description": line.description,
            "price": _num(line.price),
            "quantity": _num(line.quantity),
            "discount": _num(line.discount),
            "subtotal": _num(amount - discount),
            "units": line.units,
            "item_id": line.item_id,
            "taxes": [tax_json(t) for t in line.tax_ids],
            "retentions": [tax_json(t) for t in line.retention_ids],
        }

    # -- bulk ------------------------------------------------------------------------------

    def seed_invoices(
        self,
        count: int,
        *,
        client_id: int | None = None,
        item_id: int | None = None,
    ) -> list[int]:
        """Add ``count`` stamped (``opened``) invoices at once; returns their ids.

        Meant for benchmarks and listing tests: no document is written until one is
        downloaded. A contact and an item are created when not given.
        """
        with self.lock:
            if client_id is None:
                client_id = self._take("contact")
                self.contacts[client_id] = {
                    "id": client_id, "name": "ACME SA DE CV", "identification": "ACM131115G35",
                    "billing_address_email": None, "alias": None, "bill_with_parent": False,
                    "bill_with_shipping": True, "depth": 0, "credit_days": 0,
                }
            if item_id is None:
                item_id = self._take("item")
                self.items[item_id] = {
                    "id": item_id, "name": "Flete terrestre", "description": "Flete terrestre",
                    "price": Decimal("1500"), "units": "Unidad de servicio", "sku": None,
                    "product_key": "78101802", "unit_key": "E48",
                }
            item = self.items[item_id]
            now = self._now()
            ids = []
            for index in range(count):
                line = _Line(
                    id=self._take("line"), item_id=item_id, name=item["name"],
                    description=item.get("description"), price=item["price"] + index % 100,
                    quantity=Decimal(1 + index % 3), discount=Decimal(0), units=item["units"],
                    product_key=item["product_key"], unit_key=item["unit_key"], sku=None,
                    tax_ids=(1,), retention_ids=(4,),
                )
                moment = now - (count - index)
                record = _InvoiceRecord(
                    id=self._take("invoice"), number=self._take("number"), client_id=client_id,
                    day=mexico_local(moment).date(), due_offset_days=30, currency="MXN",
                    exchange_rate=Decimal(1), payment_method_code="wire-transfer",
                    payment_type_code="PUE", type_code="FACT", cfdi_use="G03",
                    description=None, account_number=None, lines=[line], created_at=moment,
                    ready_at=moment, status="opened", updated_at=moment,
                    sat_uuid=self._token().upper(), stamped_at=mexico_local(moment),
                    token=self._token(),
                )
                self._price(record)
                self.invoices[record.id] = record
                self._id_order.append(record.id)
                self._documents[record.token] = record.id
                ids.append(record.id)
            self._sorted.clear()
            return ids

    def invoice_ids(self) -> Iterable[int]:
        """Ids of every invoice held (for tests)."""
        return list(self.invoices)
