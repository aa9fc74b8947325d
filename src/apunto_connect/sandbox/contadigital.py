"""Offline emulator of ContaDigital's "API Facturación".

ContaDigital's API is not public (see :mod:`apunto_connect.invoicing.contadigital`): this
emulator speaks exactly the contract the SDK assumes, read from the same spec
(:data:`~apunto_connect.invoicing.contadigital.SPEC`), so a change of assumption moves both. What it does:

* token exchange at ``POST /api/conectar.json``; tokens expire after :attr:`TOKEN_TTL` seconds of
  sandbox time; a missing, unknown or expired token gets HTTP 401 with the envelope;
* every reply is ``{"Resultado": ..., "Codigo": n}`` (1 ok, 0 failure, 3 saved without credits);
* ``utiles`` with the account's integer ids: one company (the SAT test issuer
  ``EKU9003173C9``), an active default serie ``F`` and an inactive serie ``ANT``, one sucursal,
  currencies, payment forms, units and one product;
* customers found by RFC, created and updated; products created (2–50 character names);
* invoices saved (``SoloGuardar``) or stamped, with folios per serie and stamping credits;
  without credits the invoice is saved and ``Codigo`` 3 returned with its id. Stamped invoices
  get a real CFDI 4.0 XML and PDF from :mod:`apunto_connect.sandbox.documents`;
* receivers that are SAT test taxpayers must carry their registered name (CFDI40145), and the
  totals sent must match the lines (the vendor recomputes them);
* cancellation with a JSON body on ``DELETE /api/cfdi.json`` returns an acuse; cancelling again
  returns the same acuse;
* ``CFDIRelacionados: []`` fails with HTTP 500, as the vendor was seen to do.

The test environment (``/dev/pruebas`` on the same host) shares the production state.
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import unquote

import attrs

from .._wire import decode_json, encode_json
from ..errors import ApuntoError, ConfigurationError
from ..invoicing.contadigital.spec import SPEC
from ..models.invoices import (
    CancelMotive,
    Invoice,
    LineItem,
    PaymentMethod,
    RelatedDocuments,
    Tax,
)
from ..models.parties import Customer, Issuer
from ..vendor_spec import VendorSpec
from .documents import IssuedDocument, cancellation_receipt, issue_document, mexico_local
from .framework import Emulator, EmulatorRequest, EmulatorResponse, HttpError, bearer_token, route
from .indexes import Grouped

__all__ = ["DEMO_API_KEY", "DISABLED_API_KEY", "ContaDigitalEmulator"]

DEMO_API_KEY = "cd-sandbox-4f1c9a7e2b6d4e58"
"""The API key of the sandbox account (works only against the emulator)."""

DISABLED_API_KEY = "cd-sandbox-disabled-0000"
"""A key whose account is not enabled for API invoicing (to test that failure)."""

# Routes are fixed when the class is defined, so paths come from SPEC itself (read through
# fact() so that defining routes does not count as relying on an assumption).
_PATHS = {key[len("path."):]: SPEC.fact(key).value for key in SPEC if key.startswith("path.")}
_PRODUCTION_URL: str = SPEC.fact("value.production_url").value
_RFC = re.compile(r"^[A-ZÑ&]{3,4}\d{6}[A-Z0-9]{3}$")
_GENERIC_RFCS = frozenset({"XAXX010101000", "XEXX010101000"})

# A few SAT test taxpayers with their registered names: a receiver with one of these RFCs must
# carry this name, as the SAT checks against its registry (research: sat-domain 1.4).
_SAT_NAMES = {
    "EKU9003173C9": "ESCUELA KEMPER URGATE",
    "EWE1709045U0": "ESCUELA WILSON ESQUIVEL",
    "IIA040805DZ4": "INDISTRIA ILUMINADORA DE ALMACENES",
    "URE180429TM6": "UNIVERSIDAD ROBOTICA ESPAÑOLA",
    "XIA190128J61": "XENON INDUSTRIAL ARTICLES",
    "KIJ0906199R1": "KERNEL INDUSTIA JUGUETERA",
}
_RECEIVER_NAME_REJECTION = (
    "CFDI40145 - El campo Nombre del receptor, debe pertenecer al nombre asociado al RFC "
    "registrado en el campo Rfc del Receptor."
)

_SAVED = "Guardada"
_STAMPED = "Timbrada"
_CANCELLED = "Cancelada"


@attrs.define
class _Series:
    id: int
    name: str
    active: bool
    default: bool = False
    next_folio: int = 1


@attrs.define
class _Client:
    id: int
    rfc: str
    name: str
    regime: str
    zip_code: str
    cfdi_use: str = "G03"
    email: str | None = None
    payment_form_id: int | None = None
    active: bool = True

    def as_json(self, company_id: int) -> dict[str, Any]:
        return {
            "Id": self.id, "IdEmpresaCliente": company_id, "RFC": self.rfc,
            "RazonSocial": self.name, "RegimenFiscal": self.regime, "CP": self.zip_code,
            "UsoCFDIDefault": self.cfdi_use, "Email": self.email,
            "IdFormaPagoDefault": self.payment_form_id, "Estatus": self.active,
        }


@attrs.define
class _Product:
    id: int
    name: str
    product_code: str
    unit_id: int
    price: Decimal = Decimal(0)
    sku: str | None = None


@attrs.define
class _StoredInvoice:
    id: int
    invoice: Invoice
    client: _Client
    series: _Series
    status: str = _SAVED
    folio: int | None = None
    document: IssuedDocument | None = None
    acuse: bytes | None = None
    motive: str | None = None
    emails: list[str] = attrs.field(factory=list)


def _envelope(result: Any, code: int = 1, status: int = 200) -> EmulatorResponse:
    payload = encode_json({"Resultado": result, "Codigo": code})
    return EmulatorResponse(status, payload, {"Content-Type": "application/json; charset=utf-8"})


def _fail(message: str, status: int = 200, code: int = 0) -> HttpError:
    return HttpError(status, encode_json({"Resultado": message, "Codigo": code}),
                     {"Content-Type": "application/json; charset=utf-8"})


def _segment(value: str) -> str:
    """A path parameter as text: the in-process adapter leaves it quoted, WSGI as Latin-1."""
    text = unquote(value)
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _number(value: Any, field: str) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        raise _fail(f"El campo {field} no es un número válido") from None


class ContaDigitalEmulator(Emulator):
    """A stateful stand-in for one ContaDigital account (see the module docstring)."""

    name: ClassVar[str] = "contadigital"
    kind: ClassVar[str] = "invoicing"
    base_urls: ClassVar[tuple[str, ...]] = (_PRODUCTION_URL, _PRODUCTION_URL + _PATHS["test_prefix"])
    demo_credentials: ClassVar[Mapping[str, str]] = {
        "api_key": DEMO_API_KEY,
        "environment": "sandbox",
    }

    TOKEN_TTL: ClassVar[float] = 3600.0
    """Seconds of sandbox time a token lives (the real lifetime is unknown)."""

    # spec= overrides the vendor's values (codes, date format, rates, types); not its routes.
    vendor_spec: ClassVar[VendorSpec] = SPEC

    def check_spec(self, overrides: Mapping[str, Any] | VendorSpec) -> None:
        """Refuse a path or host: the routes are fixed.

        Raises:
            ConfigurationError: an override of a path or host.
        """
        fixed = sorted(k for k in overrides if k.startswith("path.") or k.endswith("_url"))
        if fixed:
            raise ConfigurationError(f"the ContaDigital emulator's routes are fixed: {fixed}")

    def setup(self) -> None:
        """The demo company: its series, branch, catalogs, credits and one product."""
        self._rng = random.Random(self.seed)
        self.company_id = 1207
        self.rfc_id = 88
        self.issuer = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")
        self.credits = 100
        self.tokens: dict[str, float] = {}
        self.connect_count = 0
        self.series: dict[int, _Series] = {
            31: _Series(31, "F", active=True, default=True),
            32: _Series(32, "ANT", active=False),
        }
        self.branches = [{"IdSucursal": 4, "Nombre": "MATRIZ", "IdLugarDeExpedicion": 15,
                          "LugarDeExpedicion": "26015"}]
        self.currencies = {1: "MXN", 2: "USD", 3: "EUR"}
        self.payment_forms = {
            1: ("01", "Efectivo"), 2: ("02", "Cheque nominativo"),
            3: ("03", "Transferencia electrónica de fondos"), 4: ("04", "Tarjeta de crédito"),
            18: ("28", "Tarjeta de débito"), 22: ("99", "Por definir"),
        }
        self.units = {
            1: ("H87", "Pieza"), 3: ("KGM", "Kilogramo"), 7: ("E48", "Unidad de servicio"),
            12: ("ACT", "Actividad"), 20: ("XBX", "Caja"), 25: ("TNE", "Tonelada"),
        }
        self.products: dict[int, _Product] = {
            501: _Product(501, "FLETE TERRESTRE", "78101802", 7),
        }
        self.clients: dict[int, _Client] = {}
        self._clients_by_rfc: Grouped[str, int] = Grouped()  # RFC -> client ids, oldest first
        self.invoices: dict[int, _StoredInvoice] = {}
        self._next_ids = {"client": 3001, "product": 601, "invoice": 9001}

    # -- helpers for tests and demos ---------------------------------------------------------

    def provider_options(self) -> dict[str, Any]:
        """Polling and token expiry follow the sandbox clock."""
        return {"sleep": self.clock.sleep, "clock": self.clock.now}

    def revoke_tokens(self) -> None:
        """Forget every token, as if the vendor invalidated them (next call gets 401)."""
        with self.lock:
            self.tokens.clear()

    def set_series_active(self, name: str, active: bool) -> None:
        """Activate or deactivate a serie by name."""
        with self.lock:
            for serie in self.series.values():
                if serie.name == name:
                    serie.active = active

    def issued_uuids(self) -> list[str]:
        """The UUID of every CFDI stamped here (cancelled ones included)."""
        return [i.document.uuid for i in self.stamped() if i.document is not None]

    def stamped(self) -> list[_StoredInvoice]:
        """Every invoice that was stamped (cancelled ones included)."""
        with self.lock:
            return [i for i in self.invoices.values() if i.document is not None]

    def _new_id(self, kind: str) -> int:
        value = self._next_ids[kind]
        self._next_ids[kind] = value + 1
        return value

    def _token(self) -> str:
        return "".join(self._rng.choice("abcdef0123456789") for _ in range(40))

    # -- plumbing ----------------------------------------------------------------------------

    def authenticate(self, request: EmulatorRequest) -> EmulatorResponse | None:
        """Every path but the token exchange needs a live bearer token."""
        if request.path.rstrip("/").lower() == _PATHS["connect"].lower():
            return None
        token = bearer_token(request)
        with self.lock:
            expires = self.tokens.get(token)
        if expires is None or self.clock.now() >= expires:
            return _envelope("Token inválido o expirado", code=0, status=401)
        return None

    def not_found(self, request: EmulatorRequest) -> EmulatorResponse:
        """Unknown paths answer with the envelope too."""
        return _envelope(f"No se encontró el recurso {request.path}", code=0, status=404)

    def _body(self, request: EmulatorRequest) -> dict[str, Any]:
        try:
            body = decode_json(request.body)
        except ValueError:
            raise _fail("El cuerpo de la solicitud no es JSON válido", status=400) from None
        if not isinstance(body, dict):
            raise _fail("El cuerpo de la solicitud debe ser un objeto JSON", status=400)
        return body

    def _own_company(self, value: Any) -> None:
        try:
            company = int(_segment(str(value)))
        except ValueError:
            company = -1
        if company != self.company_id:
            raise _fail("La empresa no pertenece al usuario", status=403)

    # -- auth and catalog --------------------------------------------------------------------

    @route("POST", _PATHS["connect"])
    def connect(self, request: EmulatorRequest) -> EmulatorResponse:
        """Exchange an API key for a bearer token."""
        self.connect_count += 1
        key = str(self._body(request).get("ApiKey") or "")
        if key == DISABLED_API_KEY:
            raise _fail("La cuenta no está habilitada para facturación por API")
        if key != DEMO_API_KEY:
            raise _fail("La API Key no es válida")
        token = self._token()
        self.tokens[token] = self.clock.now() + self.TOKEN_TTL
        return _envelope({"Token": token, "IdEmpresa": self.company_id})

    @route("GET", _PATHS["catalog"])
    def catalog(self, request: EmulatorRequest, company_id: str) -> EmulatorResponse:
        """The account's integer ids (utiles)."""
        self._own_company(company_id)
        return _envelope({
            "Empresa": {
                "IdEmpresa": self.company_id, "IdRFC": self.rfc_id, "RFC": self.issuer.rfc,
                "RazonSocial": self.issuer.legal_name, "RegimenFiscal": self.issuer.tax_regime,
            },
            "Series": [
                {"IdSerie": s.id, "Serie": s.name, "Activa": s.active, "Predeterminada": s.default}
                for s in self.series.values()
            ],
            "Sucursales": list(self.branches),
            "Monedas": [{"IdMoneda": i, "Clave": c} for i, c in self.currencies.items()],
            "FormasDePago": [
                {"IdFormaDePago": i, "Clave": c, "Descripcion": d}
                for i, (c, d) in self.payment_forms.items()
            ],
            "UnidadesDeMedida": [
                {"IdUM": i, "Clave": c, "Nombre": n} for i, (c, n) in self.units.items()
            ],
            "Productos": [
                {"IdProducto": p.id, "Nombre": p.name, "ClaveProdServ": p.product_code,
                 "IdUM": p.unit_id}
                for p in self.products.values()
            ],
        })

    # -- customers and products --------------------------------------------------------------

    @route("GET", _PATHS["customer_by_rfc"])
    def find_customer(self, request: EmulatorRequest, company_id: str, rfc: str) -> EmulatorResponse:
        """The customer with this RFC, or a null ``Resultado``."""
        self._own_company(company_id)
        wanted = _segment(rfc).upper()
        ids = self._clients_by_rfc.get(wanted)
        found = self.clients[next(iter(ids))] if ids else None
        return _envelope(found.as_json(self.company_id) if found else None)

    def _client_fields(self, body: Mapping[str, Any]) -> dict[str, Any]:
        rfc = str(body.get("RFC") or "").strip().upper()
        if not _RFC.match(rfc):
            raise _fail(f"El RFC {rfc} no tiene un formato válido")
        name = " ".join(str(body.get("RazonSocial") or "").split()).upper()
        if not name:
            raise _fail("La razón social del cliente es obligatoria")
        regime = str(body.get("RegimenFiscal") or "")
        if not re.fullmatch(r"\d{3}", regime):
            raise _fail("El régimen fiscal del cliente no es válido")
        zip_code = str(body.get("CP") or "")
        if not re.fullmatch(r"\d{5}", zip_code):
            raise _fail("El código postal del cliente debe tener 5 dígitos")
        return {
            "rfc": rfc, "name": name, "regime": regime, "zip_code": zip_code,
            "cfdi_use": str(body.get("UsoCFDIDefault") or "G03"),
            "email": body.get("Email"),
            "payment_form_id": body.get("IdFormaPagoDefault"),
            "active": bool(body.get("Estatus", True)),
        }

    @route("POST", _PATHS["customers"])
    def create_customer(self, request: EmulatorRequest) -> EmulatorResponse:
        """Register a customer; an active one with the same RFC already exists is an error."""
        fields = self._client_fields(self._body(request))
        if fields["rfc"] not in _GENERIC_RFCS and self._clients_by_rfc.count(fields["rfc"]):
            raise _fail(f"Ya existe un cliente registrado con el RFC {fields['rfc']}")
        client = _Client(id=self._new_id("client"), **fields)
        self.clients[client.id] = client
        self._clients_by_rfc.add(client.rfc, client.id)
        return _envelope({"Id": client.id})

    @route("PUT", _PATHS["customers"])
    def update_customer(self, request: EmulatorRequest) -> EmulatorResponse:
        """Update (or reactivate) a customer by ``Id``."""
        body = self._body(request)
        client = self.clients.get(int(_number(body.get("Id"), "Id")))
        if client is None:
            raise _fail("No se encontró el cliente", status=404)
        fields = self._client_fields(body)
        self._clients_by_rfc.move(client.rfc, fields["rfc"], client.id)
        for key, value in fields.items():
            setattr(client, key, value)
        return _envelope({"Id": client.id})

    @route("POST", _PATHS["products"])
    def create_product(self, request: EmulatorRequest) -> EmulatorResponse:
        """Register a product (2–50 character name, 8-digit ClaveProdServ, a known unit)."""
        body = self._body(request)
        name = " ".join(str(body.get("Nombre") or "").split())
        if not 2 <= len(name) <= 50:
            raise _fail("El nombre del producto debe tener entre 2 y 50 caracteres")
        code = str(body.get("ClaveProdServ") or "")
        if not re.fullmatch(r"\d{8}", code):
            raise _fail(f"La clave de producto o servicio {code} no es válida")
        unit_id = int(_number(body.get("IdUM"), "IdUM"))
        if unit_id not in self.units:
            raise _fail("La unidad de medida no existe")
        product = _Product(
            self._new_id("product"), name, code, unit_id, _number(body.get("Precio"), "Precio"),
            body.get("ClaveIdentificacion"),
        )
        self.products[product.id] = product
        return _envelope({"Id": product.id})

    # -- invoices ----------------------------------------------------------------------------

    def _lookup(self, table: Mapping[int, Any], value: Any, what: str) -> Any:
        try:
            return table[int(value)]
        except (KeyError, TypeError, ValueError):
            raise _fail(f"{what} no existe ({value})") from None

    def _taxes(self, line: Mapping[str, Any]) -> list[Tax]:
        scale = Decimal(100) if self.spec["value.rates_as_percent"] else Decimal(1)
        taxes = []
        if line.get("TasaCero"):
            taxes.append(Tax.iva("0"))
        elif _number(line.get("PorcentajeIVA"), "PorcentajeIVA") > 0:
            taxes.append(Tax.iva(_number(line.get("PorcentajeIVA"), "PorcentajeIVA") / scale))
        if _number(line.get("RetIVA"), "RetIVA") > 0:
            taxes.append(Tax.iva_withholding(_number(line.get("TipoRetIVA"), "TipoRetIVA") / scale))
        if _number(line.get("RetISR"), "RetISR") > 0:
            taxes.append(Tax.isr_withholding(_number(line.get("TasaISR"), "TasaISR") / scale))
        if _number(line.get("TasaIEPS"), "TasaIEPS") > 0:
            taxes.append(Tax.ieps(_number(line.get("TasaIEPS"), "TasaIEPS") / scale))
        return taxes

    def _line(self, line: Mapping[str, Any]) -> LineItem:
        product: _Product = self._lookup(self.products, line.get("IdProducto"), "El producto")
        unit_code, unit_name = self._lookup(self.units, line.get("IdUM"), "La unidad de medida")
        quantity = _number(line.get("Cantidad"), "Cantidad")
        if quantity <= 0:
            raise _fail("La cantidad de cada concepto debe ser mayor a cero")
        return LineItem(
            product_code=product.product_code,
            unit_code=unit_code,
            unit_name=unit_name,
            description=str(line.get("Comentarios") or product.name),
            quantity=quantity,
            unit_price=_number(line.get("Precio"), "Precio"),
            discount=_number(line.get("Descuento"), "Descuento"),
            taxes=self._taxes(line),
            sku=line.get("ClaveIdentificacion") or None,
            name=product.name,
        )

    def _invoice_from(self, body: Mapping[str, Any]) -> tuple[Invoice, _Client, _Series]:
        if int(_number(body.get("IdEmpresa"), "IdEmpresa")) != self.company_id:
            raise _fail("La empresa no pertenece al usuario", status=403)
        if body.get("TipoComprobante") not in self.spec["value.document_types"].values():
            raise _fail(f"El tipo de comprobante {body.get('TipoComprobante')} no es válido")
        try:
            issued_at = datetime.strptime(str(body.get("Fecha")), self.spec["value.date_format"])
        except ValueError:
            raise _fail("El formato de la fecha debe ser dd-MM-yyyy HH:mm:ss") from None
        serie: _Series = self._lookup(self.series, body.get("IdSerie"), "La serie")
        if not serie.active:
            raise _fail(f"La serie {serie.name} no está activa")
        branch = next(
            (b for b in self.branches if b["IdSucursal"] == body.get("IdSucursal")), None
        )
        if branch is None:
            raise _fail("La sucursal no existe")
        client: _Client = self._lookup(self.clients, body.get("IdCliente"), "El cliente")
        if not client.active:
            raise _fail(f"El cliente {client.rfc} está inactivo")
        currency = self._lookup(self.currencies, body.get("IdMoneda"), "La moneda")
        form_code, _ = self._lookup(self.payment_forms, body.get("IdFormaDePago"), "La forma de pago")
        method = str(body.get("MetodoDePago") or "")
        if method not in ("PUE", "PPD"):
            raise _fail(f"El método de pago {method} no es válido")
        lines = body.get("Productos")
        if not isinstance(lines, list) or not lines:
            raise _fail("La factura debe tener al menos un concepto")
        related = body.get("CFDIRelacionados")
        groups: tuple[RelatedDocuments, ...] = ()
        if related:
            uuids = tuple(str(r.get("UUID")) for r in related if isinstance(r, Mapping))
            groups = (RelatedDocuments(str(body.get("TipoRelacion") or "04"), uuids),)
        issuer = attrs.evolve(self.issuer, zip_code=str(branch["LugarDeExpedicion"]))
        invoice = Invoice(
            customer=Customer(
                client.rfc, client.name, client.regime, client.zip_code,
                cfdi_use=str(body.get("UsoCFDI") or client.cfdi_use), email=client.email,
            ),
            items=[self._line(line) for line in lines],
            issuer=issuer,
            currency=currency,
            exchange_rate=None if currency == "MXN" else _number(body.get("TipoDeCambio"), "TipoDeCambio"),
            payment_form=form_code,
            payment_method=PaymentMethod(method),
            cfdi_use=str(body.get("UsoCFDI") or client.cfdi_use),
            series=serie.name,
            issued_at=issued_at,
            related=groups,
        )
        self._check_totals(body, invoice)
        return invoice, client, serie

    @staticmethod
    def _check_totals(body: Mapping[str, Any], invoice: Invoice) -> None:
        """The vendor recomputes the amounts; what was sent must agree to the cent."""
        totals = invoice.totals
        tolerance = Decimal("0.01")
        for index, (line, computed) in enumerate(zip(body["Productos"], totals.lines, strict=True)):
            expected = computed.amount - computed.discount + computed.transferred - computed.withheld
            if abs(_number(line.get("Total"), "Total") - expected) > tolerance:
                raise _fail(
                    f"El total del concepto {index + 1} ({line.get('Total')}) no corresponde al "
                    f"calculado ({expected})"
                )
        if abs(_number(body.get("Total"), "Total") - totals.total) > tolerance:
            raise _fail(
                f"El total de la factura ({body.get('Total')}) no corresponde a la suma de los "
                f"conceptos ({totals.total})"
            )

    def _stamp(self, stored: _StoredInvoice, request: EmulatorRequest) -> EmulatorResponse:
        registered = _SAT_NAMES.get(stored.client.rfc)
        if registered is not None and registered != stored.client.name:
            raise _fail(_RECEIVER_NAME_REJECTION)
        if self.credits <= 0:
            self.invoices[stored.id] = stored
            return _envelope(
                {"Id": stored.id, "Mensaje": "La factura se guardó, pero no cuenta con timbres "
                 "disponibles para timbrarla."},
                code=self.spec["value.no_credits_code"],
            )
        folio = stored.series.next_folio
        invoice = attrs.evolve(stored.invoice, folio=str(folio))
        try:
            document = issue_document(invoice, self.issuer, clock=self.clock, rng=self._rng)
        except ApuntoError as exc:
            raise _fail(f"No se pudo generar el CFDI: {exc}") from None
        stored.series.next_folio = folio + 1
        self.credits -= 1
        stored.invoice, stored.folio, stored.document = invoice, folio, document
        stored.status = _STAMPED
        self.invoices[stored.id] = stored
        return _envelope(self._describe(stored, request))

    @route("POST", _PATHS["invoices"])
    def save_or_stamp(self, request: EmulatorRequest) -> EmulatorResponse:
        """Save (``SoloGuardar``) or stamp a new invoice, or stamp a saved one by ``Id``."""
        body = self._body(request)
        if body.get("CFDIRelacionados") == []:
            # The vendor was seen failing this way on an empty list instead of null.
            raise HttpError(500, {"Message": "An error has occurred."})
        invoice, client, serie = self._invoice_from(body)
        invoice_id = int(_number(body.get("Id"), "Id"))
        if invoice_id:
            stored = self.invoices.get(invoice_id)
            if stored is None:
                raise _fail(f"No existe la factura {invoice_id}", status=404)
            if stored.status != _SAVED:
                raise _fail(f"La factura {invoice_id} ya fue timbrada")
            stored.invoice, stored.client, stored.series = invoice, client, serie
        else:
            stored = _StoredInvoice(self._new_id("invoice"), invoice, client, serie)
        if body.get("SoloGuardar"):
            self.invoices[stored.id] = stored
            return _envelope({"Id": stored.id, "Estatus": _SAVED})
        return self._stamp(stored, request)

    def _describe(
        self, stored: _StoredInvoice, request: EmulatorRequest, files: bool = True
    ) -> dict[str, Any]:
        document = stored.document
        described: dict[str, Any] = {
            "Id": stored.id,
            "IdEmpresa": self.company_id,
            "UUID": document.uuid if document else None,
            "Serie": stored.series.name,
            "Folio": stored.folio,
            "Fecha": stored.invoice.issued_at.strftime(self.spec["value.date_format"])
            if stored.invoice.issued_at else None,
            "FechaTimbrado": document.stamped_at.strftime(self.spec["value.date_format"]) if document else None,
            "Total": stored.invoice.total,
            "Moneda": stored.invoice.currency,
            "RFCEmisor": self.issuer.rfc,
            "RFCReceptor": stored.client.rfc,
            "RazonSocialReceptor": stored.client.name,
            "Estatus": stored.status,
        }
        if files and document is not None:
            described["XmlBase64"] = base64.b64encode(document.xml).decode("ascii")
            # A link rather than PdfBase64 (the reply carries either): the sandbox draws a PDF
            # only when it is downloaded.
            described["PdfLink"] = f"{self._public_base(request)}/descargas/{stored.id}.pdf"
        if stored.acuse is not None:
            described["AcuseBase64"] = base64.b64encode(stored.acuse).decode("ascii")
        return described

    def _stored(self, invoice_id: Any) -> _StoredInvoice:
        try:
            stored = self.invoices.get(int(_segment(str(invoice_id))))
        except ValueError:
            stored = None
        if stored is None:
            raise _fail(f"No se encontró la factura {invoice_id}", status=404)
        return stored

    @route("GET", _PATHS["invoice"])
    def get_invoice(self, request: EmulatorRequest, company_id: str, invoice_id: str) -> EmulatorResponse:
        """One invoice with its XML and PDF in base64 (drafts have neither)."""
        self._own_company(company_id)
        return _envelope(self._describe(self._stored(invoice_id), request))

    @route("GET", "/descargas/{invoice_id}.pdf")
    def pdf_file(self, request: EmulatorRequest, invoice_id: str) -> EmulatorResponse:
        """A stamped invoice's PDF behind the ``PdfLink`` of its reply (drawn on first download)."""
        stored = self._stored(invoice_id)
        if stored.document is None:
            raise _fail(f"La factura {invoice_id} no está timbrada", status=404)
        return EmulatorResponse(200, stored.document.pdf, {"Content-Type": "application/pdf"})

    def _public_base(self, request: EmulatorRequest) -> str:
        """The base URL the client used: loopback (under the server) or the real host."""
        host = request.header("host")
        if host.startswith(("127.0.0.1", "localhost", "[::1]")):
            return f"http://{host}/{self.name}"
        return self.base_urls[0]

    @route("DELETE", _PATHS["invoices"])
    def cancel(self, request: EmulatorRequest) -> EmulatorResponse:
        """Cancel a stamped invoice; the body carries the ids, the motive and the replacement."""
        body = self._body(request)
        self._own_company(body.get("IdEmpresa"))
        stored = self._stored(body.get("IdFactura"))
        motive = str(body.get("Motivo") or "")
        if motive not in {m.value for m in CancelMotive}:
            raise _fail(f"El motivo de cancelación {motive} no es válido")
        replacement = body.get("UUIDSustitucion")
        if motive == CancelMotive.WITH_RELATION.value and not replacement:
            raise _fail("Para el motivo 01 es obligatorio el UUID del CFDI que sustituye")
        if stored.document is None:
            raise _fail(f"La factura {stored.id} no está timbrada")
        if stored.status != _CANCELLED:
            stored.acuse = cancellation_receipt(
                stored.document.uuid, self.issuer.rfc, motive,
                str(replacement) if replacement else None, mexico_local(self.clock.now()),
            )
            stored.status, stored.motive = _CANCELLED, motive
        assert stored.acuse is not None
        return _envelope({
            "UUID": stored.document.uuid,
            "Estatus": stored.status,
            "AcuseBase64": base64.b64encode(stored.acuse).decode("ascii"),
        })

    @route("GET", _PATHS["email"])
    def email(
        self, request: EmulatorRequest, company_id: str, invoice_id: str, email: str
    ) -> EmulatorResponse:
        """Pretend to e-mail a stamped invoice (the address is recorded)."""
        self._own_company(company_id)
        stored = self._stored(invoice_id)
        address = _segment(email)
        if stored.document is None:
            raise _fail(f"La factura {stored.id} no está timbrada")
        if "@" not in address:
            raise _fail(f"El correo {address} no es válido")
        stored.emails.append(address)
        return _envelope(f"El comprobante se envió a {address}")
