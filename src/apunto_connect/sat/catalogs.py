"""CFDI 4.0 catalogs (SAT ``catCFDI``), shipped with the package.

Small catalogs are ``str`` enums or frozen mappings defined here; currencies (c_Moneda, ISO
4217, with their decimals) and countries (c_Pais, ISO 3166 alpha-3) live in ``data/*.json`` and
load on first use.

Only the codes valid for CFDI 4.0 are listed. The SAT's XSD catalog is shared with CFDI 3.3,
so it still accepts codes that CFDI 4.0 rejects (UsoCFDI ``P01``, régimen ``609``, TipoRelacion
``08``): those are deliberately absent.

The large catalogs (c_ClaveProdServ, c_ClaveUnidad, c_CodigoPostal, c_Colonia and the Carta
Porte c_Estado, c_Municipio, c_Localidad) are compressed package data read on first use; their
look-ups (:func:`product`, :func:`unit`, :func:`postal_code`, :func:`search_products`…) are
re-exported here from :mod:`apunto_connect.sat.catalog_data`.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import attrs

from ..models.invoices import CancelMotive, InvoiceKind, PaymentMethod, TaxFactor, TaxKind
from .catalog_data import (
    CatalogVersion,
    Colonia,
    Locality,
    Municipality,
    PostalCode,
    Product,
    State,
    Unit,
    catalog_version,
    colonias,
    locality,
    municipality,
    postal_code,
    product,
    search_products,
    state,
    unit,
)

__all__ = [
    "CANCEL_MOTIVES",
    "CFDI_USES",
    "EXPORT_CODES",
    "INVOICE_KINDS",
    "MONTHS",
    "PAYMENT_FORMS",
    "PAYMENT_METHODS",
    "PERIODICITIES",
    "RELATION_TYPES",
    "TAXES",
    "TAX_FACTORS",
    "TAX_OBJECTS",
    "TAX_REGIMES",
    "CancelMotive",
    "CatalogVersion",
    "CfdiUse",
    "Colonia",
    "Currency",
    "ExportCode",
    "InvoiceKind",
    "Locality",
    "Month",
    "Municipality",
    "PaymentMethod",
    "Periodicity",
    "PostalCode",
    "Product",
    "RateRule",
    "RelationType",
    "State",
    "TaxFactor",
    "TaxKind",
    "TaxObject",
    "TaxRegime",
    "Unit",
    "catalog_version",
    "colonias",
    "countries",
    "currencies",
    "currency_decimals",
    "is_country",
    "is_currency",
    "locality",
    "municipality",
    "postal_code",
    "product",
    "rate_rule",
    "search_products",
    "state",
    "unit",
]


def _frozen(mapping: dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(mapping)


# --- c_RegimenFiscal ----------------------------------------------------------------------------
@attrs.frozen(slots=True)
class TaxRegime:
    """One c_RegimenFiscal entry and which kind of taxpayer may use it."""

    code: str
    description: str
    fisica: bool
    moral: bool

    def allows(self, persona: str) -> bool:
        """Whether a ``"fisica"`` or ``"moral"`` taxpayer may be in this regime."""
        return self.fisica if persona == "fisica" else self.moral if persona == "moral" else False


def _regimes(*rows: tuple[str, str, str]) -> Mapping[str, TaxRegime]:
    return MappingProxyType(
        {code: TaxRegime(code, text, "F" in who, "M" in who) for code, text, who in rows}
    )


TAX_REGIMES: Mapping[str, TaxRegime] = _regimes(
    ("601", "General de Ley Personas Morales", "M"),
    ("603", "Personas Morales con Fines no Lucrativos", "M"),
    ("605", "Sueldos y Salarios e Ingresos Asimilados a Salarios", "F"),
    ("606", "Arrendamiento", "F"),
    ("607", "Régimen de Enajenación o Adquisición de Bienes", "F"),
    ("608", "Demás ingresos", "F"),
    ("610", "Residentes en el Extranjero sin Establecimiento Permanente en México", "FM"),
    ("611", "Ingresos por Dividendos (socios y accionistas)", "F"),
    ("612", "Personas Físicas con Actividades Empresariales y Profesionales", "F"),
    ("614", "Ingresos por intereses", "F"),
    ("615", "Régimen de los ingresos por obtención de premios", "F"),
    ("616", "Sin obligaciones fiscales", "F"),
    ("620", "Sociedades Cooperativas de Producción que optan por diferir sus ingresos", "M"),
    ("621", "Incorporación Fiscal", "F"),
    ("622", "Actividades Agrícolas, Ganaderas, Silvícolas y Pesqueras", "M"),
    ("623", "Opcional para Grupos de Sociedades", "M"),
    ("624", "Coordinados", "M"),
    (
        "625",
        "Régimen de las Actividades Empresariales con ingresos a través de Plataformas "
        "Tecnológicas",
        "F",
    ),
    ("626", "Régimen Simplificado de Confianza", "FM"),
)
"""c_RegimenFiscal valid for CFDI 4.0, with persona física/moral flags."""


# --- c_UsoCFDI ----------------------------------------------------------------------------------
@attrs.frozen(slots=True)
class CfdiUse:
    """One c_UsoCFDI entry: who may receive it and with which régimen fiscal."""

    code: str
    description: str
    fisica: bool
    moral: bool
    regimes: frozenset[str]

    def allows(self, persona: str) -> bool:
        """Whether a ``"fisica"`` or ``"moral"`` receiver may use it."""
        return self.fisica if persona == "fisica" else self.moral if persona == "moral" else False


_BUSINESS = frozenset({"601", "603", "606", "612", "620", "621", "622", "623", "624", "625", "626"})
_PERSONAL = frozenset({"605", "606", "607", "608", "611", "612", "614", "615", "625"})
_ALL_REGIMES = frozenset(TAX_REGIMES)


def _uses(*rows: tuple[str, str, str, frozenset[str]]) -> Mapping[str, CfdiUse]:
    return MappingProxyType(
        {code: CfdiUse(code, text, "F" in who, "M" in who, regs) for code, text, who, regs in rows}
    )


CFDI_USES: Mapping[str, CfdiUse] = _uses(
    ("G01", "Adquisición de mercancías", "FM", _BUSINESS),
    ("G02", "Devoluciones, descuentos o bonificaciones", "FM", _BUSINESS | {"616"}),
    ("G03", "Gastos en general", "FM", _BUSINESS),
    ("I01", "Construcciones", "FM", _BUSINESS),
    ("I02", "Mobiliario y equipo de oficina por inversiones", "FM", _BUSINESS),
    ("I03", "Equipo de transporte", "FM", _BUSINESS),
    ("I04", "Equipo de computo y accesorios", "FM", _BUSINESS),
    ("I05", "Dados, troqueles, moldes, matrices y herramental", "FM", _BUSINESS),
    ("I06", "Comunicaciones telefónicas", "FM", _BUSINESS),
    ("I07", "Comunicaciones satelitales", "FM", _BUSINESS),
    ("I08", "Otra maquinaria y equipo", "FM", _BUSINESS),
    ("D01", "Honorarios médicos, dentales y gastos hospitalarios", "F", _PERSONAL),
    ("D02", "Gastos médicos por incapacidad o discapacidad", "F", _PERSONAL),
    ("D03", "Gastos funerales", "F", _PERSONAL),
    ("D04", "Donativos", "F", _PERSONAL),
    (
        "D05",
        "Intereses reales efectivamente pagados por créditos hipotecarios (casa habitación)",
        "F",
        _PERSONAL,
    ),
    ("D06", "Aportaciones voluntarias al SAR", "F", _PERSONAL),
    ("D07", "Primas por seguros de gastos médicos", "F", _PERSONAL),
    ("D08", "Gastos de transportación escolar obligatoria", "F", _PERSONAL),
    (
        "D09",
        "Depósitos en cuentas para el ahorro, primas que tengan como base planes de pensiones",
        "F",
        _PERSONAL,
    ),
    ("D10", "Pagos por servicios educativos (colegiaturas)", "F", _PERSONAL),
    ("S01", "Sin efectos fiscales", "FM", _ALL_REGIMES),
    ("CP01", "Pagos", "FM", _ALL_REGIMES),
    ("CN01", "Nómina", "F", frozenset({"605"})),
)
"""c_UsoCFDI valid for CFDI 4.0 with persona flags and the régimen each use accepts."""


# --- payment ------------------------------------------------------------------------------------
PAYMENT_FORMS: Mapping[str, str] = _frozen(
    {
        "01": "Efectivo",
        "02": "Cheque nominativo",
        "03": "Transferencia electrónica de fondos",
        "04": "Tarjeta de crédito",
        "05": "Monedero electrónico",
        "06": "Dinero electrónico",
        "08": "Vales de despensa",
        "12": "Dación en pago",
        "13": "Pago por subrogación",
        "14": "Pago por consignación",
        "15": "Condonación",
        "17": "Compensación",
        "23": "Novación",
        "24": "Confusión",
        "25": "Remisión de deuda",
        "26": "Prescripción o caducidad",
        "27": "A satisfacción del acreedor",
        "28": "Tarjeta de débito",
        "29": "Tarjeta de servicios",
        "30": "Aplicación de anticipos",
        "31": "Intermediario pagos",
        "99": "Por definir",
    }
)
"""c_FormaPago."""

BANKED_PAYMENT_FORMS = frozenset({"02", "03", "04", "05", "06", "28", "29"})
"""Payment forms that may carry ordering/beneficiary bank data in a payment complement."""

PAYMENT_METHODS: Mapping[str, str] = _frozen(
    {"PUE": "Pago en una sola exhibición", "PPD": "Pago en parcialidades o diferido"}
)
"""c_MetodoPago (see also :class:`PaymentMethod`)."""

INVOICE_KINDS: Mapping[str, str] = _frozen(
    {"I": "Ingreso", "E": "Egreso", "T": "Traslado", "N": "Nómina", "P": "Pago"}
)
"""c_TipoDeComprobante (see also :class:`InvoiceKind`)."""


# --- small catalogs as enums --------------------------------------------------------------------
class TaxObject(str, enum.Enum):
    """c_ObjetoImp: whether and how a concept is subject to tax."""

    NOT_SUBJECT = "01"
    SUBJECT = "02"
    SUBJECT_NOT_ITEMIZED = "03"
    SUBJECT_NOT_CAUSED = "04"
    SUBJECT_IVA_PODEBI = "05"
    IVA_SUBJECT_NOT_TRANSFERRED = "06"
    IVA_NOT_TRANSFERRED_IEPS_ITEMIZED = "07"
    IVA_NOT_TRANSFERRED_IEPS_NOT_ITEMIZED = "08"


TAX_OBJECTS: Mapping[str, str] = _frozen(
    {
        "01": "No objeto de impuesto.",
        "02": "Sí objeto de impuesto.",
        "03": "Sí objeto del impuesto y no obligado al desglose.",
        "04": "Sí objeto del impuesto y no causa impuesto.",
        "05": "Sí objeto del impuesto, IVA crédito PODEBI.",
        "06": "Sí objeto del IVA, No traslado IVA.",
        "07": "No traslado del IVA, Sí desglose IEPS.",
        "08": "No traslado del IVA, No desglose IEPS.",
    }
)
"""c_ObjetoImp."""

TAX_OBJECT_VALID_FROM: Mapping[str, date] = MappingProxyType(
    {"04": date(2022, 10, 7), "05": date(2023, 12, 6), "06": date(2024, 12, 13),
     "07": date(2024, 12, 13), "08": date(2024, 12, 13)}
)  # fmt: skip
"""First day each newer c_ObjetoImp code may be used (01–03 always could)."""


class ExportCode(str, enum.Enum):
    """c_Exportacion."""

    NOT_APPLICABLE = "01"
    DEFINITIVE_A1 = "02"
    TEMPORARY = "03"
    DEFINITIVE_OTHER = "04"


EXPORT_CODES: Mapping[str, str] = _frozen(
    {
        "01": "No aplica",
        "02": "Definitiva con clave A1",
        "03": "Temporal",
        "04": "Definitiva con clave distinta a A1 o cuando no existe enajenación en términos "
        "del CFF",
    }
)
"""c_Exportacion."""

TAXES: Mapping[str, str] = _frozen({"001": "ISR", "002": "IVA", "003": "IEPS"})
"""c_Impuesto (see also :class:`TaxKind`)."""

TAX_FACTORS: Mapping[str, str] = _frozen({"Tasa": "Tasa", "Cuota": "Cuota", "Exento": "Exento"})
"""c_TipoFactor (see also :class:`TaxFactor`)."""


class RelationType(str, enum.Enum):
    """c_TipoRelacion."""

    CREDIT_NOTE = "01"
    DEBIT_NOTE = "02"
    RETURN_OF_GOODS = "03"
    SUBSTITUTION = "04"
    TRANSFERS_INVOICED = "05"
    INVOICE_FOR_TRANSFERS = "06"
    ADVANCE_APPLIED = "07"


RELATION_TYPES: Mapping[str, str] = _frozen(
    {
        "01": "Nota de crédito de los documentos relacionados",
        "02": "Nota de débito de los documentos relacionados",
        "03": "Devolución de mercancía sobre facturas o traslados previos",
        "04": "Sustitución de los CFDI previos",
        "05": "Traslados de mercancías facturados previamente",
        "06": "Factura generada por los traslados previos",
        "07": "CFDI por aplicación de anticipo",
    }
)
"""c_TipoRelacion valid for CFDI 4.0."""


class Periodicity(str, enum.Enum):
    """c_Periodicidad of a factura global."""

    DAILY = "01"
    WEEKLY = "02"
    FORTNIGHTLY = "03"
    MONTHLY = "04"
    BIMONTHLY = "05"


PERIODICITIES: Mapping[str, str] = _frozen(
    {"01": "Diario", "02": "Semanal", "03": "Quincenal", "04": "Mensual", "05": "Bimestral"}
)
"""c_Periodicidad."""

_MONTH_NAMES = [
    "Enero",
    "Febrero",
    "Marzo",
    "Abril",
    "Mayo",
    "Junio",
    "Julio",
    "Agosto",
    "Septiembre",
    "Octubre",
    "Noviembre",
    "Diciembre",
]


class Month(str, enum.Enum):
    """c_Meses: 01–12 are months, 13–18 the bimesters (used with periodicity 05)."""

    JANUARY = "01"
    FEBRUARY = "02"
    MARCH = "03"
    APRIL = "04"
    MAY = "05"
    JUNE = "06"
    JULY = "07"
    AUGUST = "08"
    SEPTEMBER = "09"
    OCTOBER = "10"
    NOVEMBER = "11"
    DECEMBER = "12"
    JANUARY_FEBRUARY = "13"
    MARCH_APRIL = "14"
    MAY_JUNE = "15"
    JULY_AUGUST = "16"
    SEPTEMBER_OCTOBER = "17"
    NOVEMBER_DECEMBER = "18"


MONTHS: Mapping[str, str] = _frozen(
    {f"{i + 1:02d}": name for i, name in enumerate(_MONTH_NAMES)}
    | {f"{13 + i}": f"{_MONTH_NAMES[2 * i]}-{_MONTH_NAMES[2 * i + 1]}" for i in range(6)}
)
"""c_Meses."""

CANCEL_MOTIVES: Mapping[str, str] = _frozen(
    {
        "01": "Comprobante emitido con errores con relación",
        "02": "Comprobante emitido con errores sin relación",
        "03": "No se llevó a cabo la operación",
        "04": "Operación nominativa relacionada en una factura global",
    }
)
"""Cancellation motives (see also :class:`CancelMotive`)."""


# --- c_TasaOCuota -------------------------------------------------------------------------------
@attrs.frozen(slots=True)
class RateRule:
    """What TasaOCuota values a (tax, factor, transferred/withheld) combination accepts.

    Attributes:
        fixed: the exact values allowed, when the catalog lists them one by one.
        minimum: lower bound of a "Rango" entry.
        maximum: upper bound of a "Rango" entry.
    """

    fixed: frozenset[Decimal] = frozenset()
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    def allows(self, rate: Decimal) -> bool:
        """Whether ``rate`` (a fraction, e.g. ``0.16``) is accepted."""
        if rate in self.fixed:
            return True
        if self.minimum is None or self.maximum is None:
            return False
        return self.minimum <= rate <= self.maximum

    def describe(self) -> str:
        """A short human description (``0.000000, 0.160000`` or ``0.000000–0.350000``)."""
        if self.minimum is not None and self.maximum is not None:
            return f"{self.minimum:.6f}–{self.maximum:.6f}"
        return ", ".join(f"{value:.6f}" for value in sorted(self.fixed))


def _rates(*values: str) -> frozenset[Decimal]:
    return frozenset(Decimal(value) for value in values)


_IEPS_BOTH = (
    "0.265",
    "0.30",
    "0.53",
    "0.50",
    "1.60",
    "0.304",
    "0.25",
    "0.09",
    "0.08",
    "0.07",
    "0.06",
)

_RATE_RULES: Mapping[tuple[TaxKind, TaxFactor, bool], RateRule] = MappingProxyType(
    {
        # IVA transferred: 16 %, 8 % (border-region stimulus) or 0 %.
        (TaxKind.IVA, TaxFactor.RATE, False): RateRule(_rates("0", "0.16", "0.08")),
        # IVA withheld: any rate in the range (4 % freight, 6 %, two thirds of 16 %...).
        (TaxKind.IVA, TaxFactor.RATE, True): RateRule(
            minimum=Decimal("0"), maximum=Decimal("0.16")
        ),
        (TaxKind.ISR, TaxFactor.RATE, True): RateRule(
            minimum=Decimal("0"), maximum=Decimal("0.35")
        ),
        (TaxKind.IEPS, TaxFactor.RATE, False): RateRule(_rates(*_IEPS_BOTH, "0.03", "0")),
        (TaxKind.IEPS, TaxFactor.RATE, True): RateRule(_rates(*_IEPS_BOTH)),
        (TaxKind.IEPS, TaxFactor.QUOTA, False): RateRule(
            minimum=Decimal("0"), maximum=Decimal("72.1605")
        ),
        (TaxKind.IEPS, TaxFactor.QUOTA, True): RateRule(
            minimum=Decimal("0"), maximum=Decimal("72.1605")
        ),
    }
)


def rate_rule(kind: TaxKind, factor: TaxFactor, withholding: bool) -> RateRule | None:
    """The c_TasaOCuota rule for a tax, or ``None`` when the combination does not exist.

    ISR is never transferred, and IVA/ISR have no ``Cuota``; ``Exento`` carries no rate.
    """
    return _RATE_RULES.get((kind, factor, withholding))


# --- c_Moneda and c_Pais ------------------------------------------------------------------------
@attrs.frozen(slots=True)
class Currency:
    """A c_Moneda entry: ISO 4217 code, English name and decimals allowed in amounts."""

    code: str
    name: str
    decimals: int


def _load(name: str) -> dict[str, Any]:
    text = resources.files("apunto_connect.sat").joinpath("data").joinpath(name).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@lru_cache(maxsize=1)
def currencies() -> Mapping[str, Currency]:
    """c_Moneda: every ISO 4217 code with its decimals (MXN 2, JPY 0, KWD 3, CLF 4, XXX 0)."""
    rows = _load("currencies.json")
    table: dict[str, Currency] = {}
    for code, (name, decimals) in rows.items():
        table[code] = Currency(code, str(name), int(decimals))
    return MappingProxyType(table)


# The decimals of the currencies invoices actually use, so the totals hot path never has to
# load the JSON file; anything else is looked up in the full table once and remembered.
_DECIMALS: dict[str, int] = {"MXN": 2, "USD": 2, "EUR": 2, "XXX": 0, "CAD": 2, "GBP": 2}


def currency_decimals(code: str) -> int:
    """Return how many decimals c_Moneda allows for ``code`` (2 for unknown codes)."""
    decimals = _DECIMALS.get(code)
    if decimals is None:
        currency = currencies().get(code.upper()) if isinstance(code, str) else None
        decimals = 2 if currency is None else currency.decimals
        if currency is not None:
            _DECIMALS[code] = decimals
    return decimals


def is_currency(code: str) -> bool:
    """Whether ``code`` is in c_Moneda (case-sensitive: the SAT wants upper case)."""
    return code in currencies()


@lru_cache(maxsize=1)
def countries() -> Mapping[str, str]:
    """c_Pais: ISO 3166 alpha-3 codes with their English names (``MEX`` → Mexico)."""
    return MappingProxyType({code: str(name) for code, name in _load("countries.json").items()})


def is_country(code: str) -> bool:
    """Whether ``code`` is an ISO 3166 alpha-3 country code (c_Pais)."""
    return code in countries()
