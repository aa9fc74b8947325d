"""Offline emulator of Facturama's API Web (production and sandbox hosts).

It speaks the paths, Basic auth, bodies and ``{Message, ModelState}`` errors of
:mod:`apunto_connect.invoicing.facturama` (same public facts, the same ``SPEC``), keeps
state (clients, products, branch offices, series and their folios, CFDIs, cancellations) and
stamps for real in the sandbox sense: every CFDI gets a CFDI 4.0 XML with a TimbreFiscalDigital
and a PDF from :mod:`apunto_connect.sandbox.documents`, both marked not fiscally valid.

Like the real ASP.NET service it routes case-insensitively and accepts every path with or
without the ``api/`` prefix (``3/cfdis`` and ``api/3/cfdis``; ``cfdi/...`` and ``api/Cfdi/...``),
so the vendor's own SDKs and third-party clients work against it unchanged.

A small "SAT registry" of the SAT test taxpayers makes receiver checks behave like the real
sandbox: a wrong name for ``EKU9003173C9`` is refused with the SAT's CFDI40145 sentence, a wrong
postal code with CFDI40147's, a wrong régimen with CFDI40158's. RFCs outside the registry are
accepted when well formed. Messages that are not public are in :data:`EMULATOR_ASSUMPTIONS`.
"""

from __future__ import annotations

import base64
import functools
import json
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import attrs

from .._wire import UUID_PATTERN, decode_json
from .._wire import text_or_none as _str_or_none
from ..errors import Severity, ValidationError
from ..invoicing.facturama.spec import SPEC
from ..models.carta_porte import (
    CartaPorte,
    CartaPorteInvoice,
    WaybillFigure,
    WaybillGoods,
    WaybillLocation,
    WaybillTrailer,
    WaybillTruck,
)
from ..models.invoices import (
    CancelMotive,
    GlobalInformation,
    Invoice,
    InvoiceKind,
    LineItem,
    RelatedDocuments,
    Tax,
    TaxFactor,
    TaxKind,
    TaxSummary,
)
from ..models.parties import Customer, Issuer
from ..models.payments import PaidDocument, Payment, PaymentReceipt
from ..money import round_money, sat_tax_bounds
from ..vendor_spec import VendorSpec
from .documents import (
    NOT_VALID_NOTICE,
    IssuedDocument,
    cancellation_receipt,
    issue_document,
    load_fpdf,
    mexico_local,
)
from .framework import (
    Emulator,
    EmulatorRequest,
    EmulatorResponse,
    HttpError,
    basic_auth,
    json_response,
    route,
)
from .indexes import Grouped, OrderedIds

__all__ = [
    "DEMO_PROFILE",
    "EMULATOR_ASSUMPTIONS",
    "SAT_TEST_TAXPAYERS",
    "FacturamaEmulator",
    "IssuedCfdi",
    "Taxpayer",
]

EMULATOR_ASSUMPTIONS: dict[str, Any] = {
    # The 401 body: ASP.NET Web API's standard text (Facturama's exact words are not public).
    "unauthorized_message": "Authorization has been denied for this request.",
    # ASP.NET Web API's text for a path with no route.
    "no_route_message": "No HTTP resource was found that matches the request URI '{uri}'.",
    # HTTP status of a created CFDI/Client/Product (both vendor SDKs accept 200 and 201).
    "created_status": 201,
    # Hours after stamping during which a cancellation needs no receiver acceptance (a
    # simplification of RMF 2.7.1.35's "next business day"), and hours the receiver has to
    # answer before the cancellation is accepted tacitly (three business days, simplified).
    "cancel_without_acceptance_hours": 24,
    "receiver_answer_hours": 72,
    # Totals at or under this amount (MXN) cancel without receiver acceptance (RMF 2.7.1.35).
    "cancel_without_acceptance_total": Decimal(1000),
    # Messages that are not public.
    "not_found_message": "No se encontró el recurso solicitado.",
    "no_stamps_message": "No cuenta con folios (timbres) disponibles para timbrar.",
    "invalid_motive_message": "El motivo de cancelación no es válido.",
    "replacement_required_message": "El motivo 01 requiere el UUID del CFDI que lo sustituye.",
    "not_cancelled_message": "El CFDI no tiene una solicitud de cancelación.",
    "amount_mismatch_message": "El valor de {field} no corresponde con los importes del concepto.",
    "product_name_message": "El nombre del producto debe tener entre 2 y 50 caracteres.",
    "required_message": "El campo {field} es requerido.",
    # The msj of a refused e-mail (the answer's shape is public, its texts are not).
    "email_not_found": "No se encontró el CFDI.",
    "email_invalid": "El correo electrónico no es válido.",
}
"""What the emulator says or does where Facturama's behaviour is not public."""

_INVALID_REQUEST = "La solicitud no es válida."  # Facturama's text for a 400 with ModelState
_RATE_MESSAGE = "Rate no valido exprese en decimales ej. 0.16."  # seen in Facturama issues
_RFC_PATTERN = re.compile(
    r"^[A-Z&Ñ]{3,4}[0-9]{2}(0[1-9]|1[012])(0[1-9]|[12][0-9]|3[01])[A-Z0-9]{2}[0-9A]$"
)
_GENERIC_RFCS = frozenset({"XAXX010101000", "XEXX010101000"})
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# The SAT's own sentences (Matriz de errores CFDI 4.0), which Facturama passes through.
SAT_NAME_MISMATCH = (
    "El campo Nombre del receptor, debe pertenecer al nombre asociado al RFC registrado en el "
    "campo Rfc del Receptor."
)
SAT_ZIP_MISMATCH = (
    "El campo DomicilioFiscalReceptor del receptor, debe encontrarse en la lista de RFC "
    "inscritos no cancelados en el SAT."
)
SAT_REGIME_MISMATCH = (
    "La clave del campo RegimenFiscalR debe corresponder con el tipo de persona (física o moral)."
)


@attrs.frozen(slots=True)
class Taxpayer:
    """What the SAT registry knows of a taxpayer (``None`` = not known, not checked)."""

    name: str
    zip_code: str | None = None
    regime: str | None = None


SAT_TEST_TAXPAYERS: dict[str, Taxpayer] = {
    "EKU9003173C9": Taxpayer("ESCUELA KEMPER URGATE", "26015", "601"),
    "EWE1709045U0": Taxpayer("ESCUELA WILSON ESQUIVEL"),
    "H&E951128469": Taxpayer("HERRERIA & ELECTRICOS"),
    "HAÑ930228SM9": Taxpayer("HERMANOS ANZURES ÑARVAEZ"),
    "IIA040805DZ4": Taxpayer("INDISTRIA ILUMINADORA DE ALMACENES"),
    "IVD920810GU2": Taxpayer("INNOVACION VALOR Y DESARROLLO"),
    "IXS7607092R5": Taxpayer("INTERNACIONAL XIMBO Y SABORES"),
    "JES900109Q90": Taxpayer("JIMENEZ ESTRADA SALAS A A"),
    "KIJ0906199R1": Taxpayer("KERNEL INDUSTIA JUGUETERA"),
    "L&O950913MSA": Taxpayer("LUCES & OBRAS"),
    "S&S051221SE2": Taxpayer("S & SOFTWARE"),
    "URE180429TM6": Taxpayer("UNIVERSIDAD ROBOTICA ESPAÑOLA"),
    "XIA190128J61": Taxpayer("XENON INDUSTRIAL ARTICLES"),
    "ZUÑ920208KL4": Taxpayer("ZAPATERIA URTADO ÑERI"),
    "CACX7605101P8": Taxpayer("XOCHILT CASAS CHAVEZ"),
    "FUNK671228PH6": Taxpayer("KARLA FUENTE NOLASCO"),
    "IAÑL750210963": Taxpayer("LUIS IAN ÑUZCO"),
    "JUFA7608212V6": Taxpayer("ADRIANA JUAREZ FERNANDEZ"),
    "KAHO641101B39": Taxpayer("OSCAR KALA HAAK"),
    "KICR630120NX3": Taxpayer("RODRIGO KITIA CASTRO"),
    "MISC491214B86": Taxpayer("CECILIA MIRANDA SANCHEZ"),
    "RAQÑ7701212M3": Taxpayer("ÑEVES RAMIREZ QUEZADA"),
    "WATM640917J45": Taxpayer("MARIA WATEMBER TORRES"),
    "WERX631016S30": Taxpayer("XAIME WEIR ROJO"),
    "XAMA620210DQ5": Taxpayer("ALBA XKARAJAM MENDEZ"),
    "XIQB891116QE4": Taxpayer("BERENICE XIMO QUEZADA"),
    "XOJI740919U48": Taxpayer("INGRID XODAR JIMENEZ"),
}
"""The SAT test RFCs with their registered names (the legal names of the SAT's test
certificates). Only ``EKU9003173C9`` has a public postal code (26015) and régimen (601); the
others are checked by name and by person type only."""

DEMO_PROFILE: dict[str, Any] = {
    "FiscalRegime": "601",
    "ComercialName": "ESCUELA KEMPER URGATE",
    "Rfc": "EKU9003173C9",
    "TaxName": "ESCUELA KEMPER URGATE",
    "Email": "facturacion@example.com",
    "Phone": "",
    "TaxAddress": {
        "Street": "", "ExteriorNumber": "", "InteriorNumber": "", "Neighborhood": "",
        "ZipCode": "26015", "Locality": "", "Municipality": "", "State": "Coahuila",
        "Country": "MEX",
    },
    "IssuedIn": {
        "Street": "", "ExteriorNumber": "", "InteriorNumber": "", "Neighborhood": "",
        "ZipCode": "26015", "Locality": "", "Municipality": "", "State": "Coahuila",
        "Country": "MEX",
    },
    "Csd": {"Certificate": "", "PrivateKey": "", "PrivateKeyPassword": ""},
    "PasswordSat": None,
    "UrlLogo": None,
}
"""The sandbox account's fiscal profile: the SAT test issuer Facturama's sandbox guide uses."""

# A few public catalogs (c_FormaPago, c_MetodoPago, c_RegimenFiscal with física/moral flags,
# c_UsoCFDI with física/moral flags), in Facturama's {Name, Value[, Natural, Moral]} shape.
_PAYMENT_FORMS = (
    ("01", "Efectivo"), ("02", "Cheque nominativo"), ("03", "Transferencia electrónica de fondos"),
    ("04", "Tarjeta de crédito"), ("05", "Monedero electrónico"), ("06", "Dinero electrónico"),
    ("08", "Vales de despensa"), ("12", "Dación en pago"), ("13", "Pago por subrogación"),
    ("14", "Pago por consignación"), ("15", "Condonación"), ("17", "Compensación"),
    ("23", "Novación"), ("24", "Confusión"), ("25", "Remisión de deuda"),
    ("26", "Prescripción o caducidad"), ("27", "A satisfacción del acreedor"),
    ("28", "Tarjeta de débito"), ("29", "Tarjeta de servicios"),
    ("30", "Aplicación de anticipos"), ("31", "Intermediario pagos"), ("99", "Por definir"),
)
_PAYMENT_METHODS = (
    ("PUE", "Pago en una sola exhibición"), ("PPD", "Pago en parcialidades o diferido"),
)
# (code, name, física, moral)
_REGIMES = (
    ("601", "General de Ley Personas Morales", False, True),
    ("603", "Personas Morales con Fines no Lucrativos", False, True),
    ("605", "Sueldos y Salarios e Ingresos Asimilados a Salarios", True, False),
    ("606", "Arrendamiento", True, False),
    ("607", "Régimen de Enajenación o Adquisición de Bienes", True, False),
    ("608", "Demás ingresos", True, False),
    ("610", "Residentes en el Extranjero sin Establecimiento Permanente en México", True, True),
    ("611", "Ingresos por Dividendos (socios y accionistas)", True, False),
    ("612", "Personas Físicas con Actividades Empresariales y Profesionales", True, False),
    ("614", "Ingresos por intereses", True, False),
    ("615", "Régimen de los ingresos por obtención de premios", True, False),
    ("616", "Sin obligaciones fiscales", True, False),
    ("620", "Sociedades Cooperativas de Producción que optan por diferir sus ingresos", False, True),
    ("621", "Incorporación Fiscal", True, False),
    ("622", "Actividades Agrícolas, Ganaderas, Silvícolas y Pesqueras", False, True),
    ("623", "Opcional para Grupos de Sociedades", False, True),
    ("624", "Coordinados", False, True),
    ("625", "Régimen de las Actividades Empresariales con ingresos a través de Plataformas "
            "Tecnológicas", True, False),
    ("626", "Régimen Simplificado de Confianza", True, True),
)
_USES = (
    ("G01", "Adquisición de mercancías", True, True), ("G02", "Devoluciones, descuentos o "
     "bonificaciones", True, True), ("G03", "Gastos en general", True, True),
    ("I01", "Construcciones", True, True), ("I02", "Mobiliario y equipo de oficina por "
     "inversiones", True, True), ("I03", "Equipo de transporte", True, True),
    ("I04", "Equipo de computo y accesorios", True, True), ("I05", "Dados, troqueles, moldes, "
     "matrices y herramental", True, True), ("I06", "Comunicaciones telefónicas", True, True),
    ("I07", "Comunicaciones satelitales", True, True), ("I08", "Otra maquinaria y equipo",
     True, True), ("D01", "Honorarios médicos, dentales y gastos hospitalarios", True, False),
    ("D02", "Gastos médicos por incapacidad o discapacidad", True, False),
    ("D03", "Gastos funerales", True, False), ("D04", "Donativos", True, False),
    ("D05", "Intereses reales efectivamente pagados por créditos hipotecarios (casa "
     "habitación)", True, False), ("D06", "Aportaciones voluntarias al SAR", True, False),
    ("D07", "Primas por seguros de gastos médicos", True, False),
    ("D08", "Gastos de transportación escolar obligatoria", True, False),
    ("D09", "Depósitos en cuentas para el ahorro, primas que tengan como base planes de "
     "pensiones", True, False), ("D10", "Pagos por servicios educativos (colegiaturas)", True,
     False), ("S01", "Sin efectos fiscales", True, True), ("CP01", "Pagos", True, True),
    ("CN01", "Nómina", True, False),
)
_REGIME_PERSONS = {code: (fisica, moral) for code, _, fisica, moral in _REGIMES}


def _simple_catalog(rows: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"Name": name, "Value": code} for code, name in rows]


def _person_catalog(rows: Iterable[tuple[str, str, bool, bool]]) -> list[dict[str, Any]]:
    return [
        {"Name": name, "Value": code, "Natural": fisica, "Moral": moral}
        for code, name, fisica, moral in rows
    ]


@attrs.define
class IssuedCfdi:
    """One CFDI the emulator stamped, with its documents and cancellation state."""

    id: str
    sequence: int
    invoice: Invoice
    issuer: Issuer
    document: IssuedDocument
    request: dict[str, Any]
    order_number: str | None = None
    status: str = "active"
    email: str | None = None
    email_sent: bool = False
    cancel_status: str | None = None
    cancel_motive: str | None = None
    cancel_replacement: str | None = None
    cancel_requested_at: datetime | None = None
    cancel_answered_at: datetime | None = None

    @property
    def uuid(self) -> str:
        """The folio fiscal."""
        return self.document.uuid


def _normalize_name(value: str) -> str:
    return " ".join(value.split()).upper()


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _parse_date(text: Any) -> datetime | None:
    """ISO dates (``T`` or space separated) and ``dd/MM/yyyy`` (what clients send)."""
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%d/%m/%Y",
                "%d/%m/%Y %H:%M:%S"):
        try:
            return datetime.strptime(value[:19] if "T" in value or ":" in value else value, fmt)
        except ValueError:
            continue
    return None


class _ModelState:
    """Collects ASP.NET-style validation errors: ``{"Items[0].Quantity": ["..."]}``."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)

    def require(self, data: Mapping[str, Any], key: str, prefix: str = "") -> Any:
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            path = f"{prefix}{key}"
            self.add(path, str(EMULATOR_ASSUMPTIONS["required_message"]).format(field=path))
        return value

    def raise_if_any(self) -> None:
        if self.errors:
            raise HttpError(400, {"Message": _INVALID_REQUEST, "ModelState": self.errors})


def _client_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """A client's stored fields from a request body (ModelState errors for missing ones)."""
    state = _ModelState()
    for key in ("Rfc", "Name", "CfdiUse", "FiscalRegime", "TaxZipCode"):
        state.require(body, key)
    rfc = str(body.get("Rfc") or "").strip().upper()
    if rfc and not _RFC_PATTERN.match(rfc):
        state.add("Rfc", "El RFC no tiene un formato válido.")
    state.raise_if_any()
    fields = {
        key: body.get(key)
        for key in ("Email", "EmailOp1", "EmailOp2", "Address", "Name", "CfdiUse",
                    "FiscalRegime", "TaxZipCode", "TaxResidence", "NumRegIdTrib")
    }
    fields["Rfc"] = rfc
    return fields


def _product_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """A product's stored fields from a request body (ModelState errors for missing ones)."""
    state = _ModelState()
    for key in ("Name", "CodeProdServ", "UnitCode"):
        state.require(body, key)
    name = str(body.get("Name") or "").strip()
    if name and not 2 <= len(name) <= 50:
        state.add("Name", str(EMULATOR_ASSUMPTIONS["product_name_message"]))
    state.raise_if_any()
    return {
        key: body.get(key)
        for key in ("Unit", "UnitCode", "IdentificationNumber", "Name", "Description",
                    "Price", "CodeProdServ", "CuentaPredial", "ObjetoImp", "Taxes")
    }


@attrs.frozen(slots=True)
class _Catalog:
    """One of the account's catalogs: records kept by opaque ``Id`` behind the same routes.

    ``POST /{item}`` adds a record, ``GET /{item}`` lists them all (unpaged, as the old
    endpoints do), ``GET``, ``PUT`` and ``DELETE /{item}/{id}`` read, replace (the body carries
    the ``Id`` too) and remove one, and ``GET /{page}`` pages and searches: ``start``,
    ``length`` (1-100) and ``search`` over ``search_fields``.
    """

    item: str
    page: str
    attribute: str  # the emulator's dict of these records (looked up per request: load_state)
    fields: Callable[[Mapping[str, Any]], dict[str, Any]]
    search_fields: tuple[str, ...]


_CATALOGS = (
    _Catalog("Client", "Clients", "clients", _client_fields, ("Rfc", "Name", "Email")),
    _Catalog(
        "Product", "Products", "products", _product_fields,
        ("Name", "Description", "CodeProdServ", "IdentificationNumber"),
    ),
)


class FacturamaEmulator(Emulator):
    """Facturama API Web, in memory: one issuer account with the SAT's test fiscal profile.

    Test hooks: :meth:`answer_cancellation` (the receiver accepts or rejects), ``stamps_left``
    (``None`` = unlimited; ``0`` makes stamping fail with HTTP 402), ``invoices`` (every CFDI).
    """

    name: ClassVar[str] = "facturama"
    kind: ClassVar[str] = "invoicing"
    base_urls: ClassVar[tuple[str, ...]] = (
        "https://api.facturama.mx",
        "https://apisandbox.facturama.mx",
    )
    demo_credentials: ClassVar[Mapping[str, str]] = {
        "username": "sandbox-demo",
        "password": "sandbox-demo-password",
    }

    vendor_spec: ClassVar[VendorSpec] = SPEC

    def setup(self) -> None:
        """The demo account: the SAT test profile, its Matriz branch office, nothing stamped."""
        self.rng = random.Random(self.seed)
        self.profile: dict[str, Any] = json.loads(json.dumps(DEMO_PROFILE))
        self.registry: dict[str, Taxpayer] = dict(SAT_TEST_TAXPAYERS)
        self.invoices: dict[str, IssuedCfdi] = {}
        self.outbox: list[dict[str, Any]] = []  # e-mails "sent" by POST Cfdi, in order
        self.clients: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.branch_offices: dict[str, dict[str, Any]] = {}
        self.series: dict[tuple[str, str], dict[str, Any]] = {}
        self.stamps_left: int | None = None
        self._sequence = 0
        # Look-up indexes over self.invoices (ids, oldest first): GET Cfdi and the SAT status
        # query answer from these instead of sorting and scanning every stored CFDI.
        self._by_uuid: dict[str, str] = {}
        self._by_serie: Grouped[str, str] = Grouped()
        self._by_serie_number: Grouped[tuple[str, int], str] = Grouped()
        self._by_rfc: Grouped[str, str] = Grouped()
        self._by_order_number: Grouped[str, str] = Grouped()
        self._awaiting_receiver: set[str] = set()  # cancellations the receiver has not answered
        main = self._new_id()
        self.branch_offices[main] = {
            "Id": main, "Name": "Matriz", "Description": "Sucursal principal",
            "Address": dict(self.profile["TaxAddress"]),
        }
        self._route_catalogs()

    # -- framework hooks --------------------------------------------------------------------

    def provider_options(self) -> dict[str, Any]:
        """Retry waits advance the sandbox clock instead of sleeping for real."""
        options: dict[str, Any] = {"sleep": self.clock.sleep}
        # The provider gets this emulator's spec= overrides, so both agree.
        overrides = {
            key: fact.value for key, fact in self.spec.facts.items() if fact.source == "override"
        }
        if overrides:
            options["spec"] = overrides
        return options

    def authenticate(self, request: EmulatorRequest) -> EmulatorResponse | None:
        """Basic auth with the demo credentials; anything else gets Facturama's 401."""
        expected = (self.demo_credentials["username"], self.demo_credentials["password"])
        if basic_auth(request) != expected:
            return json_response(401, {"Message": EMULATOR_ASSUMPTIONS["unauthorized_message"]})
        return None

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        """Strip the optional ``api/`` prefix (the real service accepts both forms)."""
        path = request.path
        lowered = path.lower()
        if lowered.startswith("/api/") and not lowered.startswith("/api-lite/"):
            request = attrs.evolve(request, path=path[4:])
        response = super().handle(request)
        if response.status == 405:  # the router's own text, in ASP.NET Web API's shape
            message = f"The requested resource does not support http method '{request.method}'."
            return json_response(405, {"Message": message})
        return response

    def not_found(self, request: EmulatorRequest) -> EmulatorResponse:
        """ASP.NET Web API's answer to a path with no route."""
        message = str(EMULATOR_ASSUMPTIONS["no_route_message"]).format(uri=request.path)
        return json_response(404, {"Message": message})

    def issued_uuids(self) -> list[str]:
        """The UUID of every CFDI stamped here (cancelled ones included)."""
        with self.lock:
            return [record.uuid for record in self.invoices.values()]

    # -- helpers ----------------------------------------------------------------------------

    def _new_id(self) -> str:
        # Facturama ids are opaque 22-character strings; the ones seen end in "2". The first
        # character is alphanumeric so an id never reads as an option on a command line.
        first = self.rng.choice([c for c in _ID_ALPHABET if c.isalnum()])
        return first + "".join(self.rng.choice(_ID_ALPHABET) for _ in range(20)) + "2"

    def _now(self) -> datetime:
        return mexico_local(self.clock.now())

    @staticmethod
    def _body(request: EmulatorRequest) -> Any:
        if not request.body.strip():
            return None
        try:
            return decode_json(request.body)
        except ValueError as exc:
            raise HttpError(
                400, {"Message": _INVALID_REQUEST, "ModelState": {"": [f"JSON no válido: {exc}"]}}
            ) from None

    def _object_body(self, request: EmulatorRequest) -> dict[str, Any]:
        body = self._body(request)
        if not isinstance(body, dict):
            raise HttpError(400, {"Message": _INVALID_REQUEST})
        return body

    @staticmethod
    def _not_found() -> HttpError:
        return HttpError(404, {"Message": EMULATOR_ASSUMPTIONS["not_found_message"]})

    def _created(self, payload: Any) -> EmulatorResponse:
        return json_response(int(EMULATOR_ASSUMPTIONS["created_status"]), _wire(payload))

    # Clients, products and branch offices are records keyed by their opaque ``Id``: the same
    # look-up and delete answers serve all three.

    def _stored_record(
        self, records: Mapping[str, dict[str, Any]], record_id: str
    ) -> dict[str, Any]:
        """The record stored under ``record_id``, or Facturama's 404."""
        record = records.get(record_id)
        if record is None:
            raise self._not_found()
        return record

    def _delete_record(
        self, records: dict[str, dict[str, Any]], record_id: str
    ) -> EmulatorResponse:
        """Remove a stored record; the answer names its ``Id``."""
        if records.pop(record_id, None) is None:
            raise self._not_found()
        return json_response(200, {"Id": record_id})

    def _issuer(self, expedition_place: str) -> Issuer:
        return Issuer(
            rfc=self.profile["Rfc"],
            legal_name=self.profile["TaxName"],
            tax_regime=self.profile["FiscalRegime"],
            zip_code=expedition_place or self.profile["IssuedIn"]["ZipCode"],
        )

    # -- account ----------------------------------------------------------------------------

    @route("GET", "/TaxEntity")
    def tax_entity(self, request: EmulatorRequest) -> EmulatorResponse:
        """The account's fiscal profile (also the credentials check)."""
        return json_response(200, self.profile)

    @route("GET", "/Profile")
    def user_profile(self, request: EmulatorRequest) -> EmulatorResponse:
        """The account's user profile (a subset: enough to confirm the login)."""
        return json_response(200, {"UserName": self.demo_credentials["username"],
                                   "Rfc": self.profile["Rfc"]})

    @route("POST", "/customers/validate")
    def validate_customer(self, request: EmulatorRequest) -> EmulatorResponse:
        """Tell whether the SAT knows this receiver with this name, postal code and régimen."""
        body = self._object_body(request)
        rfc = str(body.get("Rfc") or "").strip().upper()
        exists = bool(_RFC_PATTERN.match(rfc))
        known = self.registry.get(rfc)
        name = _normalize_name(str(body.get("Name") or ""))
        zip_code = str(body.get("ZipCode") or "").strip()
        regime = str(body.get("FiscalRegime") or "").strip()
        return json_response(
            200,
            {
                "ExistRfc": exists,
                "MatchName": exists and (known is None or _normalize_name(known.name) == name),
                "MatchZipCode": exists and (known is None or known.zip_code in (None, zip_code)),
                "MatchFiscalRegime": exists
                and (known is None or known.regime in (None, regime))
                and _regime_fits(rfc, regime),
            },
        )

    # -- catalogs ---------------------------------------------------------------------------

    @route("GET", "/catalogs/PaymentForms")
    def catalog_payment_forms(self, request: EmulatorRequest) -> EmulatorResponse:
        """c_FormaPago."""
        return json_response(200, _simple_catalog(_PAYMENT_FORMS))

    @route("GET", "/catalogs/PaymentMethods")
    def catalog_payment_methods(self, request: EmulatorRequest) -> EmulatorResponse:
        """c_MetodoPago."""
        return json_response(200, _simple_catalog(_PAYMENT_METHODS))

    @route("GET", "/catalogs/FiscalRegimens")
    def catalog_regimes(self, request: EmulatorRequest) -> EmulatorResponse:
        """c_RegimenFiscal with the física (Natural) and moral flags."""
        return json_response(200, _person_catalog(_REGIMES))

    @route("GET", "/catalogs/CfdiUses")
    def catalog_uses(self, request: EmulatorRequest) -> EmulatorResponse:
        """c_UsoCFDI; ``keyword`` = an RFC keeps the uses its person type may have."""
        keyword = request.query.get("keyword", "").strip().upper()
        rows: tuple[tuple[str, str, bool, bool], ...] = _USES
        if len(keyword) == 12:
            rows = tuple(row for row in _USES if row[3])
        elif len(keyword) == 13:
            rows = tuple(row for row in _USES if row[2])
        return json_response(200, _person_catalog(rows))

    # -- clients and products ---------------------------------------------------------------

    def _route_catalogs(self) -> None:
        """Serve every catalog of :data:`_CATALOGS` (clients, products) with its six routes."""
        for catalog in _CATALOGS:
            one = f"/{catalog.item}/{{record_id}}"
            routes: tuple[tuple[str, str, Callable[..., EmulatorResponse]], ...] = (
                ("POST", f"/{catalog.item}", self._catalog_create),
                ("GET", f"/{catalog.item}", self._catalog_all),
                ("GET", one, self._catalog_get),
                ("PUT", one, self._catalog_replace),
                ("DELETE", one, self._catalog_delete),
                ("GET", f"/{catalog.page}", self._catalog_page),
            )
            for method, pattern, handler in routes:
                self.router.add(method, pattern, functools.partial(handler, catalog))

    def _records(self, catalog: _Catalog) -> dict[str, dict[str, Any]]:
        """The catalog's records as they are now (``load_state`` replaces the dicts)."""
        records: dict[str, dict[str, Any]] = getattr(self, catalog.attribute)
        return records

    def _catalog_create(self, catalog: _Catalog, request: EmulatorRequest) -> EmulatorResponse:
        """Store a record built from the body under a fresh ``Id`` (HTTP 201)."""
        record = {"Id": self._new_id(), **catalog.fields(self._object_body(request))}
        self._records(catalog)[record["Id"]] = record
        return self._created(record)

    def _catalog_all(self, catalog: _Catalog, request: EmulatorRequest) -> EmulatorResponse:
        """Every record, unpaged."""
        return json_response(200, _wire(list(self._records(catalog).values())))

    def _catalog_get(
        self, catalog: _Catalog, request: EmulatorRequest, record_id: str
    ) -> EmulatorResponse:
        """One record."""
        return json_response(200, _wire(self._stored_record(self._records(catalog), record_id)))

    def _catalog_replace(
        self, catalog: _Catalog, request: EmulatorRequest, record_id: str
    ) -> EmulatorResponse:
        """Replace a record's fields with the body's (an unknown id is a 404 before the body)."""
        records = self._records(catalog)
        if record_id not in records:
            raise self._not_found()
        records[record_id] = {"Id": record_id, **catalog.fields(self._object_body(request))}
        return EmulatorResponse(204)

    def _catalog_delete(
        self, catalog: _Catalog, request: EmulatorRequest, record_id: str
    ) -> EmulatorResponse:
        """Remove a record."""
        return self._delete_record(self._records(catalog), record_id)

    def _catalog_page(self, catalog: _Catalog, request: EmulatorRequest) -> EmulatorResponse:
        """Paged search over the catalog's search fields."""
        return self._page(request, self._records(catalog).values(), catalog.search_fields)

    def _page(
        self, request: EmulatorRequest, rows: Iterable[dict[str, Any]], fields: tuple[str, ...]
    ) -> EmulatorResponse:
        try:
            start = int(request.query.get("start", "0") or 0)
            length = int(request.query.get("length", "10") or 10)
        except ValueError:
            raise HttpError(400, {"Message": _INVALID_REQUEST}) from None
        if start < 0 or not 1 <= length <= 100:
            raise HttpError(
                400,
                {"Message": _INVALID_REQUEST,
                 "ModelState": {"length": ["El valor debe estar entre 1 y 100."]}},
            )
        everything = list(rows)
        search = request.query.get("search", "").strip().lower()
        matched = [
            row for row in everything
            if not search or any(search in str(row.get(f) or "").lower() for f in fields)
        ]
        return json_response(
            200,
            _wire({
                "recordsTotal": len(everything),
                "recordsFiltered": len(matched),
                "data": matched[start:start + length],
            }),
        )

    # -- branch offices and series ----------------------------------------------------------

    @route("GET", "/BranchOffice")
    def all_branches(self, request: EmulatorRequest) -> EmulatorResponse:
        """Every branch office (the account starts with its Matriz)."""
        return json_response(200, list(self.branch_offices.values()))

    @route("POST", "/BranchOffice")
    def create_branch(self, request: EmulatorRequest) -> EmulatorResponse:
        """Add a branch office."""
        body = self._object_body(request)
        state = _ModelState()
        state.require(body, "Name")
        state.raise_if_any()
        branch = {"Id": self._new_id(), "Name": body["Name"],
                  "Description": body.get("Description"), "Address": body.get("Address")}
        self.branch_offices[branch["Id"]] = branch
        return self._created(branch)

    @route("GET", "/BranchOffice/{branch_id}")
    def get_branch(self, request: EmulatorRequest, branch_id: str) -> EmulatorResponse:
        """One branch office."""
        return json_response(200, self._stored_record(self.branch_offices, branch_id))

    @route("PUT", "/BranchOffice/{branch_id}")
    def update_branch(self, request: EmulatorRequest, branch_id: str) -> EmulatorResponse:
        """Update a branch office; like the real API, the body must carry its ``Id``."""
        body = self._object_body(request)
        branch = self._stored_record(self.branch_offices, branch_id)
        if body.get("Id") != branch_id:
            raise HttpError(400, {"Message": _INVALID_REQUEST,
                                  "ModelState": {"Id": ["El Id no corresponde."]}})
        branch.update(
            {k: body.get(k) for k in ("Name", "Description", "Address") if k in body}
        )
        return EmulatorResponse(204)

    @route("DELETE", "/BranchOffice/{branch_id}")
    def delete_branch(self, request: EmulatorRequest, branch_id: str) -> EmulatorResponse:
        """Remove a branch office and its series."""
        answer = self._delete_record(self.branch_offices, branch_id)
        for key in [k for k in self.series if k[0] == branch_id]:
            del self.series[key]
        return answer

    @route("GET", "/Serie/{branch_id}")
    def branch_series(self, request: EmulatorRequest, branch_id: str) -> EmulatorResponse:
        """The series of a branch office with their next folio."""
        if branch_id not in self.branch_offices:
            raise self._not_found()
        return json_response(200, [s for (b, _), s in self.series.items() if b == branch_id])

    @route("POST", "/Serie/{branch_id}")
    def create_serie(self, request: EmulatorRequest, branch_id: str) -> EmulatorResponse:
        """Add a serie (``Folio`` is the next folio it hands out)."""
        if branch_id not in self.branch_offices:
            raise self._not_found()
        body = self._object_body(request)
        state = _ModelState()
        name = str(state.require(body, "Name") or "").strip()
        state.raise_if_any()
        if any(s["Name"].upper() == name.upper() for s in self.series.values()):
            raise HttpError(400, {"Message": f"La serie {name} ya existe."})
        serie = {"IdBranchOffice": branch_id, "Name": name,
                 "Description": body.get("Description"), "Folio": int(body.get("Folio") or 1)}
        self.series[(branch_id, name.upper())] = serie
        return self._created(serie)

    @route("PUT", "/Serie/{branch_id}/{serie_name}")
    def update_serie(
        self, request: EmulatorRequest, branch_id: str, serie_name: str
    ) -> EmulatorResponse:
        """Change a serie's description or next folio."""
        serie = self.series.get((branch_id, serie_name.upper()))
        if serie is None:
            raise self._not_found()
        body = self._object_body(request)
        if body.get("Description") is not None:
            serie["Description"] = body["Description"]
        if body.get("Folio") is not None:
            serie["Folio"] = int(body["Folio"])
        return EmulatorResponse(204)

    @route("DELETE", "/Serie/{branch_id}/{serie_name}")
    def delete_serie(
        self, request: EmulatorRequest, branch_id: str, serie_name: str
    ) -> EmulatorResponse:
        """Remove a serie."""
        if self.series.pop((branch_id, serie_name.upper()), None) is None:
            raise self._not_found()
        return json_response(200, {"Name": serie_name})

    def _next_folio(self, serie_name: str) -> str | None:
        for (_, key), serie in self.series.items():
            if key == serie_name.upper():
                folio = int(serie["Folio"])
                serie["Folio"] = folio + 1
                return str(folio)
        return None

    # -- stamping ---------------------------------------------------------------------------

    @route("POST", "/3/cfdis")
    def create_cfdi(self, request: EmulatorRequest) -> EmulatorResponse:
        """Validate, stamp and store a CFDI 4.0 (``POST 3/cfdis``).

        CfdiType ``P`` is a payment receipt read from ``Complemento.Payments`` (Facturama's
        Postman "Complemento de pago" shape) and checked with the SAT's Pagos 2.0 rules.
        """
        body = self._object_body(request)
        receipt: PaymentReceipt | CartaPorteInvoice | None = None
        if str(body.get("CfdiType") or "").strip().upper() == "P":
            receipt, expedition_place = _read_payment(body)
            invoice = receipt.to_invoice()
        else:
            invoice, expedition_place = _read_cfdi(body)
            complement = body.get("Complemento")
            if isinstance(complement, Mapping) and str(SPEC["field.waybill"]) in complement:
                receipt = _read_waybill(complement[str(SPEC["field.waybill"])], invoice)
        self._check_receiver(invoice.customer)
        if self.stamps_left is not None:
            if self.stamps_left <= 0:
                raise HttpError(402, {"Message": EMULATOR_ASSUMPTIONS["no_stamps_message"]})
            self.stamps_left -= 1
        if invoice.series and not invoice.folio:
            folio = self._next_folio(invoice.series)
            if folio is not None:
                invoice = invoice.with_changes(folio=folio)
        issuer = self._issuer(expedition_place)
        if isinstance(receipt, PaymentReceipt) and invoice.folio != receipt.folio:
            receipt = attrs.evolve(receipt, folio=invoice.folio)
        elif isinstance(receipt, CartaPorteInvoice):
            receipt = CartaPorteInvoice(invoice, receipt.carta_porte)
        try:
            document = issue_document(invoice, issuer, clock=self.clock, rng=self.rng,
                                      document=receipt)
        except ValidationError as exc:
            raise HttpError(400, {"Message": _INVALID_REQUEST,
                                  "ModelState": {"": [str(i) for i in exc.issues]}}) from None
        self._sequence += 1
        record = IssuedCfdi(
            id=self._new_id(), sequence=self._sequence, invoice=invoice, issuer=issuer,
            document=document, request=body,
            order_number=_str_or_none(body.get("OrderNumber")),
            email=self._client_email(invoice.customer.rfc),
        )
        self.invoices[record.id] = record
        self._index(record)
        return self._created(self._cfdi_json(record))

    def _index(self, record: IssuedCfdi) -> None:
        invoice = record.invoice
        serie = (invoice.series or "").upper()
        self._by_uuid[record.uuid] = record.id
        self._by_serie.add(serie, record.id)
        folio = invoice.folio or ""
        if folio.isdigit():
            self._by_serie_number.add((serie, int(folio)), record.id)
            self._by_serie_number.add(("*", int(folio)), record.id)  # any serie
        self._by_rfc.add(invoice.customer.rfc.upper(), record.id)
        if record.order_number:
            self._by_order_number.add(record.order_number.upper(), record.id)

    def _client_email(self, rfc: str) -> str | None:
        for client in self.clients.values():
            if client.get("Rfc") == rfc and client.get("Email"):
                return str(client["Email"])
        return None

    def _check_receiver(self, customer: Customer) -> None:
        """The SAT's receiver checks, with the SAT's own sentences (HTTP 400)."""
        rfc = customer.rfc
        if rfc in _GENERIC_RFCS:
            return
        if not _regime_fits(rfc, customer.tax_regime):
            raise HttpError(400, {"Message": SAT_REGIME_MISMATCH})
        known = self.registry.get(rfc)
        if known is None:
            return
        if _normalize_name(known.name) != _normalize_name(customer.legal_name):
            raise HttpError(400, {"Message": SAT_NAME_MISMATCH})
        if known.zip_code is not None and known.zip_code != customer.zip_code:
            raise HttpError(400, {"Message": SAT_ZIP_MISMATCH})
        if known.regime is not None and known.regime != customer.tax_regime:
            raise HttpError(400, {"Message": SAT_REGIME_MISMATCH})

    def _record(self, cfdi_id: str, kind: str = "issued") -> IssuedCfdi:
        if kind.lower() != "issued":
            raise self._not_found()
        record = self.invoices.get(cfdi_id)
        if record is None:
            raise self._not_found()
        self._settle_cancellation(record)
        return record

    def _cfdi_json(self, record: IssuedCfdi) -> dict[str, Any]:
        invoice = record.invoice
        totals = invoice.totals
        document = record.document
        customer = invoice.customer
        taxes = [
            {"Total": t.amount or Decimal(0), "Name": t.kind.value, "Rate": t.rate or Decimal(0),
             "Type": "transferred"}
            for t in totals.transferred
        ] + [
            {"Total": t.amount or Decimal(0), "Name": t.kind.value, "Rate": t.rate or Decimal(0),
             "Type": "retained"}
            for t in totals.withheld
        ]
        issued_at = invoice.issued_at or document.stamped_at
        return _wire_object({
            **_identity(record),
            "Date": _fmt(issued_at),
            "CertNumber": "00000000000000000000",
            "PaymentTerms": invoice.effective_payment_form,
            "PaymentConditions": invoice.payment_terms,
            "PaymentMethod": invoice.effective_payment_method.value,
            "PaymentAccountNumber": None,
            "ExpeditionPlace": record.issuer.zip_code,
            "ExchangeRate": invoice.exchange_rate or Decimal(1),
            "Currency": invoice.currency,
            "Subtotal": totals.subtotal,
            "Discount": totals.discount,
            "Total": document.total,
            "Observations": invoice.notes,
            "OrderNumber": record.order_number,
            "Status": record.status,
            "OriginalString": _original_string(record),
            "Issuer": {
                "FiscalRegime": record.issuer.tax_regime,
                "ComercialName": self.profile.get("ComercialName"),
                "Rfc": record.issuer.rfc,
                "TaxName": record.issuer.legal_name,
                "Email": self.profile.get("Email"),
                "Phone": self.profile.get("Phone"),
                "TaxAddress": self.profile.get("TaxAddress"),
                "IssuedIn": self.profile.get("IssuedIn"),
                "UrlLogo": self.profile.get("UrlLogo"),
            },
            "Receiver": {"Rfc": customer.rfc, "Name": customer.legal_name,
                         "Email": record.email, "Address": None},
            "Items": [
                {"Quantity": item.quantity, "Unit": item.unit_name, "Description":
                 item.description, "UnitValue": item.unit_price, "Total": line.amount,
                 "IdentificationNumber": item.sku}
                for item, line in zip(invoice.items, totals.lines, strict=True)
            ],
            "Taxes": taxes,
            "Complement": {
                "TaxStamp": {
                    "Uuid": document.uuid,
                    "Date": _fmt(document.stamped_at),
                    "CfdiSign": "UNSIGNED-NOT-FISCALLY-VALID",
                    "SatCertNumber": "30001000000500003456",
                    "SatSign": "UNSIGNED-NOT-FISCALLY-VALID",
                    "RfcProvCertif": "SAT970701NN3",
                }
            },
        })

    @route("GET", "/cfdi/{cfdi_id}")
    def get_cfdi(self, request: EmulatorRequest, cfdi_id: str) -> EmulatorResponse:
        """One CFDI (``GET cfdi/{id}?type=issued``); ``cfdi/status`` is the SAT status query."""
        if cfdi_id.lower() == "status":
            return self._sat_status(request)
        record = self._record(cfdi_id, request.query.get("type", "issued"))
        return json_response(200, self._cfdi_json(record))

    def _sat_status(self, request: EmulatorRequest) -> EmulatorResponse:
        uuid = request.query.get("uuid", "").upper()
        record = self.invoices.get(self._by_uuid.get(uuid, ""))
        if record is None:
            return json_response(200, {"Status": "No Encontrado"})
        self._settle_cancellation(record)
        status = "Cancelado" if record.status == "canceled" else "Vigente"
        return json_response(200, {"Status": status, "IsCancelable": "Cancelable con "
                                   "aceptación" if status == "Vigente" else ""})

    @route("GET", "/Cfdi")
    def list_cfdis(self, request: EmulatorRequest) -> EmulatorResponse:
        """Search issued CFDIs (a bare JSON array; ``page`` is 0-based)."""
        query = {k.lower(): v for k, v in request.query.items()}
        if query.get("type", "issued").lower() != "issued":
            return json_response(200, [])
        for cfdi_id in list(self._awaiting_receiver):
            self._settle_cancellation(self.invoices[cfdi_id])
        try:
            page = max(0, int(query.get("page", "0") or 0))
        except ValueError:
            page = 0
        size = int(self.spec["limit.list_page_size"])
        # Candidates come from the narrowest index the filters allow, in stamping order (ids
        # are filed in the order they were stamped); the scan stops once the page is full.
        candidates = self._candidates(query)
        ordered = candidates if self.spec["value.list_oldest_first"] else reversed(candidates)
        matched: list[IssuedCfdi] = []
        for cfdi_id in ordered:
            record = self.invoices[cfdi_id]
            if _matches(record, query):
                matched.append(record)
                if len(matched) >= (page + 1) * size:
                    break
        return json_response(200, [_row(r) for r in matched[page * size:(page + 1) * size]])

    def _candidates(self, query: Mapping[str, str]) -> OrderedIds[str]:
        """Ids that may match ``query`` (a superset; ``_matches`` decides), oldest first."""
        serie = query.get("serie", "").strip().upper()
        start, end = query.get("foliostart", "").strip(), query.get("folioend", "").strip()
        if start and start == end and start.isdigit():
            return self._by_serie_number.get((serie or "*", int(start)))
        if serie:
            return self._by_serie.get(serie)
        rfc = query.get("rfc", "").strip().upper()
        if rfc:
            return self._by_rfc.get(rfc)
        order_number = query.get("ordernumber", "").strip().upper()
        if order_number:
            return self._by_order_number.get(order_number)
        keyword = query.get("keyword", "").strip().upper()
        if UUID_PATTERN.match(keyword):
            # A folio fiscal as keyword is looked up by UUID (no other field has that shape).
            found = self._by_uuid.get(keyword)
            return (found,) if found else ()
        return self.invoices.keys()

    @route("POST", "/Cfdi")
    def email_cfdi(self, request: EmulatorRequest) -> EmulatorResponse:
        """Send a CFDI by e-mail (``POST Cfdi?cfdiType=issued&cfdiId=&email=&subject=``, no body).

        Answers ``{success, msj}`` as Facturama's SDK models it; each e-mail "sent" is kept in
        :attr:`outbox` so tests can see it.
        """
        names = self.spec["field.email_params"]
        record = self.invoices.get(request.query.get(names["id"], ""))
        address = (request.query.get(names["email"]) or "").strip()
        if record is None:
            refusal = EMULATOR_ASSUMPTIONS["email_not_found"]
            return json_response(200, {"success": False, "msj": refusal})
        if "@" not in address:
            refusal = EMULATOR_ASSUMPTIONS["email_invalid"]
            return json_response(200, {"success": False, "msj": refusal})
        record.email_sent = True
        self.outbox.append(
            {"id": record.id, "email": address, "subject": request.query.get(names["subject"])}
        )
        return json_response(200, {"success": True, "msj": f"Correo enviado a {address}"})

    @route("GET", "/cfdi/{file_format}/{kind}/{cfdi_id}")
    def cfdi_file(
        self, request: EmulatorRequest, file_format: str, kind: str, cfdi_id: str
    ) -> EmulatorResponse:
        """XML, PDF or HTML of a CFDI as ``{ContentEncoding, ContentType, ContentLength, Content}``."""
        record = self._record(cfdi_id, kind)
        file_format = file_format.lower()
        if file_format == "xml":
            content = record.document.xml
        elif file_format == "pdf":
            content = record.document.pdf
        elif file_format == "html":
            content = _html(record)
        else:
            raise HttpError(400, {"Message": _INVALID_REQUEST})
        return json_response(200, _file_payload(file_format, content))

    # -- cancellation -----------------------------------------------------------------------

    @route("DELETE", "/cfdi/{cfdi_id}")
    def cancel_cfdi(self, request: EmulatorRequest, cfdi_id: str) -> EmulatorResponse:
        """Ask for cancellation with a SAT motive; repeating the call reports the same state."""
        record = self._record(cfdi_id, request.query.get("type", "issued"))
        motive = request.query.get("motive", "02") or "02"
        replacement = (request.query.get("uuidReplacement") or "").strip().upper() or None
        try:
            CancelMotive(motive)
        except ValueError:
            raise HttpError(
                400, {"Message": EMULATOR_ASSUMPTIONS["invalid_motive_message"]}
            ) from None
        if motive == "01" and (replacement is None or not UUID_PATTERN.match(replacement)):
            raise HttpError(400, {"Message": EMULATOR_ASSUMPTIONS["replacement_required_message"]})
        if record.cancel_status in (None, "rejected"):
            now = self._now()
            record.cancel_motive = motive
            record.cancel_replacement = replacement if motive == "01" else None
            record.cancel_requested_at = now
            record.cancel_answered_at = None
            if self._cancels_without_acceptance(record, now):
                record.cancel_status = "canceled"
                record.status = "canceled"
                record.cancel_answered_at = now
            else:
                record.cancel_status = "requested"
                self._awaiting_receiver.add(record.id)
        return json_response(200, self._cancel_json(record))

    def _cancels_without_acceptance(self, record: IssuedCfdi, now: datetime) -> bool:
        invoice = record.invoice
        total_mxn = record.document.total * (invoice.exchange_rate or Decimal(1))
        hours = float(EMULATOR_ASSUMPTIONS["cancel_without_acceptance_hours"])
        return (
            invoice.customer.rfc in _GENERIC_RFCS
            or invoice.kind in (InvoiceKind.EXPENSE, InvoiceKind.TRANSFER, InvoiceKind.PAYROLL,
                                InvoiceKind.PAYMENT)
            or total_mxn <= Decimal(EMULATOR_ASSUMPTIONS["cancel_without_acceptance_total"])
            or now - record.document.stamped_at <= timedelta(hours=hours)
        )

    def _settle_cancellation(self, record: IssuedCfdi) -> None:
        """A receiver that does not answer in time accepts tacitly."""
        if record.cancel_status != "requested" or record.cancel_requested_at is None:
            return
        limit = timedelta(hours=float(EMULATOR_ASSUMPTIONS["receiver_answer_hours"]))
        if self._now() - record.cancel_requested_at >= limit:
            record.cancel_status = "canceled"
            record.status = "canceled"
            record.cancel_answered_at = record.cancel_requested_at + limit
            self._awaiting_receiver.discard(record.id)

    def answer_cancellation(self, cfdi_id: str, accept: bool) -> None:
        """Test hook: the receiver accepts or rejects a pending cancellation."""
        record = self.invoices[cfdi_id]
        if record.cancel_status != "requested":
            raise ValueError(f"CFDI {cfdi_id} has no pending cancellation")
        record.cancel_answered_at = self._now()
        record.cancel_status = "canceled" if accept else "rejected"
        self._awaiting_receiver.discard(record.id)
        if accept:
            record.status = "canceled"

    def _acuse(self, record: IssuedCfdi) -> bytes:
        return cancellation_receipt(
            record.uuid, record.issuer.rfc, record.cancel_motive or "02",
            record.cancel_replacement, record.cancel_requested_at or self._now(),
        )

    def _cancel_json(self, record: IssuedCfdi) -> dict[str, Any]:
        requested = record.cancel_requested_at
        limit = timedelta(hours=float(EMULATOR_ASSUMPTIONS["receiver_answer_hours"]))
        return {
            "Status": record.cancel_status,
            "Message": None,
            "Uuid": record.uuid,
            "RequestDate": _fmt(requested) if requested else None,
            "ResponseDate": _fmt(record.cancel_answered_at) if record.cancel_answered_at else None,
            "ExpirationDate": _fmt(requested + limit) if requested else None,
            "AcuseXmlBase64": base64.b64encode(self._acuse(record)).decode("ascii"),
        }

    @route("GET", "/acuse/{file_format}/{kind}/{cfdi_id}")
    def acuse_file(
        self, request: EmulatorRequest, file_format: str, kind: str, cfdi_id: str
    ) -> EmulatorResponse:
        """The cancellation receipt (XML, PDF or HTML) of a CFDI with a cancellation request."""
        record = self._record(cfdi_id, kind)
        if record.cancel_status is None:
            raise HttpError(400, {"Message": EMULATOR_ASSUMPTIONS["not_cancelled_message"]})
        acuse = self._acuse(record)
        file_format = file_format.lower()
        if file_format == "xml":
            return json_response(200, _file_payload("xml", acuse))
        if file_format == "pdf":
            return json_response(200, _file_payload("pdf", _acuse_pdf(record)))
        if file_format == "html":
            page = (f"<html><body><h1>Acuse de cancelación</h1><p>{record.uuid}</p>"
                    f"<pre>{_escape(acuse.decode())}</pre></body></html>").encode()
            return json_response(200, _file_payload("html", page))
        raise HttpError(400, {"Message": _INVALID_REQUEST})


# -- request reading ------------------------------------------------------------------------


def _regime_fits(rfc: str, regime: str) -> bool:
    persons = _REGIME_PERSONS.get(regime)
    if persons is None:
        return False
    fisica, moral = persons
    return moral if len(rfc) == 12 else fisica


def _tax_entries(
    raw: Any, owner: str, state: _ModelState
) -> Iterator[tuple[str, Mapping[str, Any], TaxKind, bool]]:
    """The valid entries of ``owner``'s ``Taxes`` list: ``(key, entry, kind, exempt)``.

    ``Name`` is the tax (``IVA``) or, for an exempt one, the tax with the spec's exempt
    suffix. An entry that is no object or names no known tax is reported in ``state`` under
    its ModelState key (``{owner}.Taxes[i]``) and skipped.
    """
    exempt_suffix = str(SPEC["value.exempt_tax_name"]).format(tax="").strip().upper()
    for position, entry in enumerate(raw if isinstance(raw, list) else []):
        key = f"{owner}.Taxes[{position}]"
        if not isinstance(entry, Mapping):
            state.add(key, _INVALID_REQUEST)
            continue
        name = str(entry.get("Name") or "").strip().upper()
        exempt = bool(exempt_suffix) and name.endswith(exempt_suffix)
        kind_text = name.removesuffix(exempt_suffix).strip() if exempt else name
        if kind_text not in {k.value for k in TaxKind}:
            state.add(f"{key}.Name", _invalid_tax_message(entry))
            continue
        yield key, entry, TaxKind(kind_text), exempt


def _invalid_tax_message(entry: Mapping[str, Any]) -> str:
    return f"El impuesto {entry.get('Name')} no es válido."


def _read_taxes(
    raw: Any, index: int, base_amount: Decimal, currency: str, state: _ModelState
) -> tuple[list[Tax], Decimal, Decimal]:
    """Tax entries of item ``index`` -> our taxes, transferred and withheld sums."""
    taxes: list[Tax] = []
    transferred = withheld = Decimal(0)
    for key, entry, kind, exempt in _tax_entries(raw, f"Items[{index}]", state):
        rate = _decimal(entry.get("Rate")) or Decimal(0)
        quota = bool(entry.get("IsQuota"))
        retention = bool(entry.get("IsRetention"))
        if not quota and not Decimal(0) <= rate <= 1:
            state.add(f"{key}.Rate", _RATE_MESSAGE)
            continue
        factor = TaxFactor.EXEMPT if exempt else TaxFactor.QUOTA if quota else TaxFactor.RATE
        total = _decimal(entry.get("Total")) or Decimal(0)
        kept: Decimal | None = None
        if not exempt:
            base = _decimal(entry.get("Base"))
            expected_base = base if base is not None else base_amount
            if quota:
                inside = abs(round_money(expected_base * rate, currency) - total) <= Decimal(
                    "0.01")
            else:
                # The SAT's tolerance (Anexo 20, CFDI40180/40186): an Importe inside the bounds
                # for its base is stamped as sent, never recomputed.
                lower, upper = sat_tax_bounds(expected_base, rate)
                inside = lower <= total <= upper
                kept = total
            if not inside:
                state.add(f"{key}.Total", str(EMULATOR_ASSUMPTIONS["amount_mismatch_message"])
                          .format(field=f"{key}.Total"))
        taxes.append(Tax(kind, None if exempt else rate, withholding=retention,
                         factor=factor, amount=kept))
        if retention:
            withheld += total
        else:
            transferred += total
    return taxes, transferred, withheld


def _read_items(body: Mapping[str, Any], currency: str, state: _ModelState) -> list[LineItem]:
    raw_items = body.get("Items")
    if not isinstance(raw_items, list) or not raw_items:
        state.add("Items", str(EMULATOR_ASSUMPTIONS["required_message"]).format(field="Items"))
        return []
    items = []
    for index, raw in enumerate(raw_items):
        prefix = f"Items[{index}]."
        if not isinstance(raw, Mapping):
            state.add(f"Items[{index}]", _INVALID_REQUEST)
            continue
        for key in ("ProductCode", "UnitCode", "Description", "Quantity", "UnitPrice",
                    "Subtotal", "Total"):
            state.require(raw, key, prefix)
        quantity = _decimal(raw.get("Quantity"))
        unit_price = _decimal(raw.get("UnitPrice"))
        subtotal = _decimal(raw.get("Subtotal"))
        discount = _decimal(raw.get("Discount")) or Decimal(0)
        total = _decimal(raw.get("Total"))
        if quantity is None or unit_price is None or subtotal is None or total is None:
            continue
        if quantity <= 0:
            state.add(f"{prefix}Quantity", "La cantidad debe ser mayor a cero.")
            continue
        tolerance = Decimal("0.01")
        if abs(round_money(quantity * unit_price, currency) - subtotal) > tolerance:
            state.add(f"{prefix}Subtotal", str(EMULATOR_ASSUMPTIONS["amount_mismatch_message"])
                      .format(field=f"{prefix}Subtotal"))
        taxes, transferred, withheld = _read_taxes(
            raw.get("Taxes"), index, subtotal - discount, currency, state
        )
        if abs(subtotal - discount + transferred - withheld - total) > tolerance:
            state.add(f"{prefix}Total", str(EMULATOR_ASSUMPTIONS["amount_mismatch_message"])
                      .format(field=f"{prefix}Total"))
        description = str(raw.get("Description") or "")
        items.append(
            LineItem(
                product_code=str(raw.get("ProductCode") or ""),
                unit_code=str(raw.get("UnitCode") or ""),
                description=description,
                quantity=quantity,
                unit_price=unit_price,
                unit_name=_str_or_none(raw.get("Unit")),
                discount=discount,
                taxes=taxes,
                tax_object=_str_or_none(raw.get("TaxObject")),
                sku=_str_or_none(raw.get("IdentificationNumber")),
            )
        )
    return items


def _required_object(
    body: Mapping[str, Any], key: str, state: _ModelState
) -> Mapping[str, Any] | None:
    """``body[key]`` when it is an object; else the field is reported required in ``state``."""
    value = body.get(key)
    if isinstance(value, Mapping):
        return value
    state.add(key, str(EMULATOR_ASSUMPTIONS["required_message"]).format(field=key))
    return None


def _read_relations(body: Mapping[str, Any]) -> list[RelatedDocuments]:
    """The request's ``Relations`` (type and CFDI UUIDs) as our related-documents groups."""
    relations = body.get("Relations")
    if not isinstance(relations, Mapping) or not relations.get("Cfdis"):
        return []
    return [RelatedDocuments(
        str(relations.get("Type") or ""),
        [str(c.get("Uuid") or "") for c in relations["Cfdis"] if isinstance(c, Mapping)],
    )]


def _read_cfdi(body: Mapping[str, Any]) -> tuple[Invoice, str]:
    """The CFDI request as our :class:`Invoice` and its place of issue (HTTP 400 if invalid)."""
    state = _ModelState()
    kind_text = str(state.require(body, "CfdiType") or "I").strip().upper()
    expedition_place = str(state.require(body, "ExpeditionPlace") or "").strip()
    try:
        kind = InvoiceKind(kind_text)
    except ValueError:
        state.add("CfdiType", f"El tipo de comprobante {kind_text} no es válido.")
        kind = InvoiceKind.INCOME
    if kind in (InvoiceKind.INCOME, InvoiceKind.EXPENSE):
        state.require(body, "PaymentForm")
        state.require(body, "PaymentMethod")
    receiver = _required_object(body, "Receiver", state)
    if receiver is None:
        receiver = {}
    else:
        for key in ("Rfc", "Name", "CfdiUse", "FiscalRegime", "TaxZipCode"):
            state.require(receiver, key, "Receiver.")
    rfc = str(receiver.get("Rfc") or "").strip().upper()
    if rfc and not _RFC_PATTERN.match(rfc):
        state.add("Receiver.Rfc", "El RFC del receptor no tiene un formato válido.")
    currency = str(body.get("Currency") or "MXN").strip().upper()
    items = _read_items(body, currency, state)
    exchange = _decimal(body.get("CurrencyExchangeRate", body.get("ExchangeRate")))
    issued_at = _parse_date(body.get("Date"))
    if body.get("Date") and issued_at is None:
        state.add("Date", "La fecha no tiene un formato válido (yyyy-MM-ddTHH:mm:ss).")
    state.raise_if_any()

    related = _read_relations(body)
    global_info = body.get("GlobalInformation")
    try:
        return _invoice_from(body, receiver, rfc, items, currency, exchange, issued_at, kind,
                             related, global_info), expedition_place
    except ValueError as exc:  # a value our models refuse (unknown payment method, bad year)
        raise HttpError(400, {"Message": _INVALID_REQUEST, "ModelState": {"": [str(exc)]}}) from None


def _read_payment_taxes(raw: Any, key: str, state: _ModelState) -> list[TaxSummary]:
    taxes: list[TaxSummary] = []
    for where, entry, kind, exempt in _tax_entries(raw, key, state):
        base = _decimal(entry.get("Base"))
        if base is None:
            state.add(f"{where}.Name", _invalid_tax_message(entry))
            continue
        factor = TaxFactor.EXEMPT if exempt else (
            TaxFactor.QUOTA if entry.get("IsQuota") else TaxFactor.RATE)
        taxes.append(TaxSummary(
            kind, factor, None if exempt else _decimal(entry.get("Rate")),
            bool(entry.get("IsRetention")), base,
            None if exempt else _decimal(entry.get("Total")) or Decimal(0),
        ))
    return taxes


def _read_paid_document(raw: Any, key: str, state: _ModelState) -> PaidDocument | None:
    if not isinstance(raw, Mapping):
        state.add(key, _INVALID_REQUEST)
        return None
    for name in ("Uuid", "Currency", "PartialityNumber", "PreviousBalanceAmount", "AmountPaid",
                 "ImpSaldoInsoluto", "TaxObject"):
        state.require(raw, name, f"{key}.")
    previous = _decimal(raw.get("PreviousBalanceAmount"))
    paid = _decimal(raw.get("AmountPaid"))
    remaining = _decimal(raw.get("ImpSaldoInsoluto"))
    if previous is None or paid is None or remaining is None:
        return None
    if previous - paid != remaining:
        # CRP20238: ImpSaldoInsoluto = ImpSaldoAnt − ImpPagado.
        state.add(f"{key}.ImpSaldoInsoluto", str(EMULATOR_ASSUMPTIONS["amount_mismatch_message"])
                  .format(field=f"{key}.ImpSaldoInsoluto"))
    return PaidDocument(
        uuid=str(raw.get("Uuid") or ""), previous_balance=previous, amount_paid=paid,
        installment=int(str(raw.get("PartialityNumber") or "1")),
        currency=str(raw.get("Currency") or "MXN"),
        equivalence=_decimal(raw.get("EquivalenceDocRel")) or Decimal(1),
        series=_str_or_none(raw.get("Serie")), folio=_str_or_none(raw.get("Folio")),
        tax_object=str(raw.get("TaxObject") or "02"),
        taxes=_read_payment_taxes(raw.get("Taxes"), key, state),
    )


def _read_payment(body: Mapping[str, Any]) -> tuple[PaymentReceipt, str]:
    """A CfdiType P request as our :class:`PaymentReceipt` (HTTP 400 if invalid)."""
    state = _ModelState()
    expedition_place = str(state.require(body, "ExpeditionPlace") or "").strip()
    for forbidden in ("PaymentForm", "PaymentMethod"):
        if body.get(forbidden):
            # CFDI40103 / CFDI40124: a type P carries neither FormaPago nor MetodoPago.
            state.add(forbidden, f"El campo {forbidden} no debe existir en un CFDI de tipo P.")
    receiver = _required_object(body, "Receiver", state)
    if receiver is None:
        receiver = {}
    elif str(receiver.get("CfdiUse") or "") != "CP01":
        state.add("Receiver.CfdiUse", "El UsoCFDI de un CFDI de tipo P debe ser CP01.")
    complement = body.get("Complemento")
    raw_payments = complement.get(str(SPEC["field.payments"])) if isinstance(
        complement, Mapping) else None
    if not isinstance(raw_payments, list) or not raw_payments:
        state.add("Complemento.Payments", str(EMULATOR_ASSUMPTIONS["required_message"]).format(
            field="Complemento.Payments"))
        raw_payments = []
    payments: list[Payment] = []
    for index, raw in enumerate(raw_payments):
        key = f"Complemento.Payments[{index}]"
        if not isinstance(raw, Mapping):
            state.add(key, _INVALID_REQUEST)
            continue
        for name in ("Date", "PaymentForm", "Amount", "RelatedDocuments"):
            state.require(raw, name, f"{key}.")
        paid_at = _parse_date(raw.get("Date"))
        amount = _decimal(raw.get("Amount"))
        documents = [
            _read_paid_document(doc, f"{key}.RelatedDocuments[{position}]", state)
            for position, doc in enumerate(raw.get("RelatedDocuments") or [])
        ]
        if paid_at is None or amount is None:
            continue
        payments.append(Payment(
            paid_at=paid_at, form=str(raw.get("PaymentForm") or ""), amount=amount,
            documents=[d for d in documents if d is not None],
            currency=str(raw.get("Currency") or "MXN"),
            exchange_rate=_decimal(raw.get("ExchangeRate")),
            operation_number=_str_or_none(raw.get("OperationNumber")),
            payer_bank_rfc=_str_or_none(raw.get("RfcIssuerPayerAccount")),
            payer_bank_name=_str_or_none(raw.get("ForeignAccountNamePayer")),
            payer_account=_str_or_none(raw.get("PayerAccount")),
            payee_bank_rfc=_str_or_none(raw.get("RfcReceiverBeneficiaryAccount")),
            payee_account=_str_or_none(raw.get("BeneficiaryAccount")),
        ))
    issued_at = _parse_date(body.get("Date"))
    state.raise_if_any()
    related = _read_relations(body)
    customer = Customer(
        rfc=str(receiver.get("Rfc") or "").strip().upper(),
        legal_name=str(receiver.get("Name") or ""),
        tax_regime=str(receiver.get("FiscalRegime") or ""),
        zip_code=str(receiver.get("TaxZipCode") or ""),
        cfdi_use="CP01",
    )
    receipt = PaymentReceipt(
        customer=customer, payments=payments, series=_str_or_none(body.get("Serie")),
        folio=_str_or_none(body.get("Folio")), issued_at=issued_at, related=related,
    )
    from ..sat.rules_payments import preflight_payment_receipt

    errors = [i for i in preflight_payment_receipt(receipt) if i.severity is Severity.ERROR]
    if errors:
        raise HttpError(400, {"Message": _INVALID_REQUEST,
                              "ModelState": {i.field: [i.message] for i in errors}})
    return receipt, expedition_place


def _listed(raw: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = raw.get(key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _read_waybill(raw: Any, invoice: Invoice) -> CartaPorteInvoice:
    """``Complemento.CartaPorte31`` as our :class:`CartaPorte`, checked with the CCP rules."""
    from ..sat.rules_carta_porte import preflight_carta_porte

    state = _ModelState()
    if not isinstance(raw, Mapping):
        raise HttpError(400, {"Message": _INVALID_REQUEST,
                              "ModelState": {"Complemento.CartaPorte31": [_INVALID_REQUEST]}})
    for key in ("IdCCP", "Ubicaciones", "Mercancias", "FiguraTransporte"):
        state.require(raw, key, "Complemento.CartaPorte31.")
    state.raise_if_any()
    locations = []
    for loc in _listed(raw, "Ubicaciones"):
        address = loc.get("Domicilio") if isinstance(loc.get("Domicilio"), Mapping) else {}
        assert isinstance(address, Mapping)
        locations.append(WaybillLocation(
            kind=str(loc.get("TipoUbicacion") or ""), rfc=str(loc.get("RFCRemitenteDestinatario")
                                                           or ""),
            at=_parse_date(loc.get("FechaHoraSalidaLlegada")),
            zip_code=str(address.get("CodigoPostal") or ""), state=str(address.get("Estado") or ""),
            country=str(address.get("Pais") or "MEX"),
            distance=_decimal(loc.get("DistanciaRecorrida")),
            location_id=_str_or_none(loc.get("IDUbicacion")),
            name=_str_or_none(loc.get("NombreRemitenteDestinatario")),
            municipality=_str_or_none(address.get("Municipio")),
        ))
    mercancias = raw.get("Mercancias") if isinstance(raw.get("Mercancias"), Mapping) else {}
    assert isinstance(mercancias, Mapping)
    goods = [
        WaybillGoods(
            product_code=str(item.get("BienesTransp") or ""),
            description=str(item.get("Descripcion") or ""),
            quantity=_decimal(item.get("Cantidad")) or Decimal(0),
            unit_code=str(item.get("ClaveUnidad") or ""),
            weight_kg=_decimal(item.get("PesoEnKg")) or Decimal(0),
            hazardous=None if item.get("MaterialPeligroso") is None else (
                str(item.get("MaterialPeligroso")) in ("Sí", "Si")),
            hazardous_code=_str_or_none(item.get("CveMaterialPeligroso")),
            packaging_code=_str_or_none(item.get("Embalaje")),
            value=_decimal(item.get("ValorMercancia")),
            currency=_str_or_none(item.get("Moneda")),
        )
        for item in _listed(mercancias, "Mercancia")
    ]
    auto = mercancias.get("Autotransporte")
    if not isinstance(auto, Mapping):
        raise HttpError(400, {"Message": _INVALID_REQUEST, "ModelState": {
            "Complemento.CartaPorte31.Mercancias.Autotransporte": [str(
                EMULATOR_ASSUMPTIONS["required_message"]).format(field="Autotransporte")]}})
    vehicle = auto.get("IdentificacionVehicular") or {}
    insurance = auto.get("Seguros") or {}
    truck = WaybillTruck(
        permit_type=str(auto.get("PermSCT") or ""),
        permit_number=str(auto.get("NumPermisoSCT") or ""),
        config=str(vehicle.get("ConfigVehicular") or ""),
        gross_weight=_decimal(vehicle.get("PesoBrutoVehicular")) or Decimal(0),
        plate=str(vehicle.get("PlacaVM") or ""),
        model_year=int(str(vehicle.get("AnioModeloVM") or "0")),
        insurer=str(insurance.get("AseguraRespCivil") or ""),
        policy=str(insurance.get("PolizaRespCivil") or ""),
        trailers=[WaybillTrailer(str(t.get("SubTipoRem") or ""), str(t.get("Placa") or ""))
                  for t in _listed(auto, "Remolques")],
    )
    figures = [
        WaybillFigure(str(f.get("TipoFigura") or ""), str(f.get("RFCFigura") or ""),
                      str(f.get("NombreFigura") or ""), _str_or_none(f.get("NumLicencia")))
        for f in _listed(raw, "FiguraTransporte")
    ]
    document = CartaPorteInvoice(invoice, CartaPorte(
        locations=locations, goods=goods, truck=truck, figures=figures,
        id_ccp=str(raw.get("IdCCP") or ""),
        international=str(raw.get("TranspInternac") or "No") in ("Sí", "Si"),
        weight_unit=str(mercancias.get("UnidadPeso") or "KGM"),
    ))
    errors = [i for i in preflight_carta_porte(document) if i.severity is Severity.ERROR]
    if errors:
        raise HttpError(400, {"Message": _INVALID_REQUEST,
                              "ModelState": {i.field: [f"{i.code} - {i.message_es or i.message}"]
                                             for i in errors}})
    return document


def _invoice_from(
    body: Mapping[str, Any],
    receiver: Mapping[str, Any],
    rfc: str,
    items: list[LineItem],
    currency: str,
    exchange: Decimal | None,
    issued_at: datetime | None,
    kind: InvoiceKind,
    related: list[RelatedDocuments],
    global_info: Any,
) -> Invoice:
    customer = Customer(
        rfc=rfc,
        legal_name=str(receiver.get("Name") or ""),
        tax_regime=str(receiver.get("FiscalRegime") or ""),
        zip_code=str(receiver.get("TaxZipCode") or ""),
        cfdi_use=str(receiver.get("CfdiUse") or "G03"),
        tax_residence=_str_or_none(receiver.get("TaxResidence")),
        foreign_tax_id=_str_or_none(receiver.get("TaxRegistrationNumber")),
    )
    return Invoice(
        customer=customer,
        items=items,
        currency=currency,
        exchange_rate=exchange if currency not in ("MXN", "XXX") or exchange != 1 else None,
        payment_form=_str_or_none(body.get("PaymentForm")),
        payment_method=_str_or_none(body.get("PaymentMethod")),
        cfdi_use=customer.cfdi_use,
        series=_str_or_none(body.get("Serie")),
        folio=_str_or_none(body.get("Folio")),
        issued_at=issued_at,
        kind=kind,
        export_code=str(body.get("Exportation") or "01"),
        notes=_str_or_none(body.get("Observations")),
        related=related,
        global_info=GlobalInformation(
            str(global_info.get("Periodicity")), str(global_info.get("Months")),
            int(global_info.get("Year") or 0),
        ) if isinstance(global_info, Mapping) else None,
        payment_terms=_str_or_none(body.get("PaymentConditions")),
    )


# -- responses ------------------------------------------------------------------------------


def _wire(value: Any) -> Any:
    """Decimals as JSON numbers (the real API sends numbers, not strings)."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, Mapping):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return value


def _wire_object(value: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _wire(v) for k, v in value.items()}


def _file_payload(file_format: str, content: bytes) -> dict[str, Any]:
    return {
        "ContentEncoding": "base64",
        "ContentType": file_format,
        "ContentLength": len(content),
        "Content": base64.b64encode(content).decode("ascii"),
    }


def _identity(record: IssuedCfdi) -> dict[str, Any]:
    """What names an issued CFDI in both the full document and a list row."""
    invoice = record.invoice
    return {
        "Id": record.id,
        "CfdiType": invoice.kind.value,
        "Type": "issued",
        "Serie": invoice.series or "",
        "Folio": invoice.folio or "",
    }


def _row(record: IssuedCfdi) -> dict[str, Any]:
    """A ``CfdiSearchResults`` row of the list endpoint."""
    invoice = record.invoice
    issued_at = invoice.issued_at or record.document.stamped_at
    return _wire_object({
        **_identity(record),
        "TaxName": invoice.customer.legal_name,
        "Rfc": invoice.customer.rfc,
        "RfcIssuer": record.issuer.rfc,
        "Date": _fmt(issued_at) + "-06:00",
        "Subtotal": invoice.totals.subtotal,
        "Total": record.document.total,
        "Uuid": record.uuid,
        "Email": record.email,
        "IsActive": record.status == "active",
        "PaymentMethod": invoice.effective_payment_method.value,
        "OrderNumber": record.order_number,
        "Status": record.status,
        "EmailSent": record.email_sent,
        "Currency": invoice.currency,
    })


def _list_date(text: str) -> date | None:
    moment = _parse_date(text)
    return moment.date() if moment else None


def _matches(record: IssuedCfdi, query: Mapping[str, str]) -> bool:
    invoice = record.invoice
    status = query.get("status", "all").lower() or "all"
    if status not in ("all", record.status):
        return False
    keyword = query.get("keyword", "").strip().lower()
    if keyword:
        haystack = (invoice.folio, invoice.series, invoice.customer.rfc,
                    invoice.customer.legal_name, record.uuid, record.id, record.order_number)
        if not any(keyword in (v or "").lower() for v in haystack):
            return False
    folio = invoice.folio or ""
    for name, sign in (("foliostart", 1), ("folioend", -1)):
        bound = query.get(name, "").strip()
        if bound and bound != "-1":  # -1 is what clients send for "no bound"
            if not (bound.isdigit() and folio.isdigit()):
                return False
            if sign * (int(folio) - int(bound)) < 0:
                return False
    exact = {
        "rfc": invoice.customer.rfc,
        "serie": invoice.series or "",
        "ordernumber": record.order_number or "",
        "paymentmethod": invoice.effective_payment_method.value,
        "rfcissuer": record.issuer.rfc,
    }
    for name, value in exact.items():
        wanted = query.get(name, "").strip()
        if wanted and wanted.upper() != value.upper():
            return False
    invoice_type = query.get("invoicetype", "").strip().upper()
    if invoice_type in {k.value for k in InvoiceKind} and invoice_type != invoice.kind.value:
        return False
    name_filter = query.get("taxentityname", "").strip().lower()
    if name_filter and name_filter not in invoice.customer.legal_name.lower():
        return False
    issued = (invoice.issued_at or record.document.stamped_at).date()
    start, end = _list_date(query.get("datestart", "")), _list_date(query.get("dateend", ""))
    if start and issued < start:
        return False
    return not (end and issued > end)


def _original_string(record: IssuedCfdi) -> str:
    """A cadena-original-like summary (not the SAT's XSLT output: the document is unsigned)."""
    invoice = record.invoice
    parts = ["1.1", record.uuid, _fmt(record.document.stamped_at), "SAT970701NN3",
             record.issuer.rfc, invoice.customer.rfc, str(record.document.total)]
    return "||" + "|".join(parts) + "||"


def _acuse_pdf(record: IssuedCfdi) -> bytes:
    """A one-page PDF of the cancellation receipt (fpdf2, loaded lazily)."""
    pdf: Any = load_fpdf()(format="Letter")
    pdf.add_page()
    lines = [
        ("B", 14, "Acuse de cancelación de CFDI"),
        ("", 10, f"Folio fiscal (UUID): {record.uuid}"),
        ("", 10, f"RFC emisor: {record.issuer.rfc}"),
        ("", 10, f"Motivo: {record.cancel_motive}   Estatus: {record.cancel_status}"),
        ("", 10, f"Fecha de solicitud: {_fmt(record.cancel_requested_at or datetime(1970, 1, 1))}"),
        ("B", 9, NOT_VALID_NOTICE),
    ]
    for style, size, text in lines:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(0, 6, text.encode("latin-1", "replace").decode("latin-1"),
                       new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _html(record: IssuedCfdi) -> bytes:
    invoice = record.invoice
    rows = "".join(
        f"<tr><td>{item.quantity}</td><td>{_escape(item.unit_code)}</td>"
        f"<td>{_escape(item.description)}</td><td>{item.unit_price}</td><td>{line.amount}</td></tr>"
        for item, line in zip(invoice.items, invoice.totals.lines, strict=True)
    )
    page = (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>CFDI "
        f"{record.uuid}</title></head><body><p><strong>Documento de prueba: NO tiene validez "
        f"fiscal.</strong></p><h1>{_escape(record.issuer.legal_name)}</h1>"
        f"<p>Receptor: {_escape(invoice.customer.legal_name)} ({invoice.customer.rfc})</p>"
        f"<table>{rows}</table><p>Total: {record.document.total} {invoice.currency}</p>"
        f"<p>UUID: {record.uuid}</p></body></html>"
    )
    return page.encode("utf-8")
