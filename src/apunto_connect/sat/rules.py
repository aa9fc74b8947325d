"""Pre-flight checks: what the SAT or the PAC would certainly reject, caught before the network.

:func:`preflight` returns every :class:`~apunto_connect.errors.Issue` it finds; :func:`check`
raises one :class:`~apunto_connect.errors.ValidationError` listing them all when at least one
is an error. Each issue names the field (``customer.rfc``, ``items[2].quantity``), the SAT
rule code of the official error matrix where there is one (``CFDI40105``) or ours
(``APUNTO-5xx``), and a message in English and Spanish.

Catalog membership is checked against the catalogs shipped with the SDK (c_ClaveProdServ,
c_ClaveUnidad, c_CodigoPostal). Not checked here because it needs the SAT's online lists: that
an RFC and its name are registered (LCO, CFDI40143–40148).

Where the SAT's matrix has a row for a rule that used to carry one of our codes, the issue now
carries the SAT's code and keeps the old one in ``Issue.aliases`` for one release.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from .._wire import UUID_PATTERN
from ..errors import ApuntoError, Issue, Severity, ValidationError
from ..models.invoices import (
    CancelMotive,
    Invoice,
    InvoiceKind,
    InvoiceTotals,
    LineItem,
    PaymentMethod,
    TaxFactor,
    TaxKind,
)
from ..models.parties import Customer, Issuer
from ..money import sat_tax_bounds
from . import catalogs
from ._findings import Findings, decimal_places
from .names import split_capital_regime
from .products import (
    PAYMENT_PRODUCT_CODE,
    validate_description,
    validate_product_code,
    validate_product_name,
    validate_unit_code,
)
from .rfc import GENERIC_FOREIGN_RFC, GENERIC_NATIONAL_RFC, RfcKind, validate_rfc

if TYPE_CHECKING:
    pass

__all__ = [
    "DATE_WINDOW",
    "PUBLIC_NAME",
    "check",
    "local_now",
    "preflight",
    "tax_amount_issues",
    "validate_cancellation",
]

DATE_WINDOW = timedelta(hours=72)
"""How old a Fecha the PACs accept (their error 401: "Fecha y hora de generación fuera de
rango"); a Fecha in the future is refused too."""

FIX_TOLERANCE = Decimal("0.05")
"""How far (as a fraction) a USD TipoCambio may be from the Banxico FIX before pre-flight warns."""

FixSource = Callable[[str, date], "Decimal | None"]
"""Gives the FIX (pesos per unit of a currency) of a day, or ``None`` when it is not known."""

PUBLIC_NAME = "PUBLICO EN GENERAL"
"""Receiver name of a factura global (the SAT's matrix spells it without accent)."""

_ZIP = re.compile(r"[0-9]{5}")
_ZERO = Decimal(0)
_NO_TAX_NODE = frozenset({"01", "03", "04", "05"})
_NO_IVA_IEPS = frozenset({"06", "08"})


def _persona(rfc: str) -> str | None:
    """``"fisica"``/``"moral"`` for a valid RFC (generics count as física), else ``None``."""
    result = validate_rfc(rfc)
    kind = result.kind
    if not result.valid or kind is None:
        return None
    return "moral" if kind is RfcKind.MORAL else "fisica"


# --- parties ------------------------------------------------------------------------------------
def _check_legal_name(out: Findings, field: str, name: str, rfc: str, code: str) -> None:
    if not name.strip():
        out.error(field, "APUNTO-503", "the name is empty", "El nombre está vacío")
        return
    if _persona(rfc) != "moral":
        return
    base, regime = split_capital_regime(name)
    if regime is not None:
        out.error(
            field,
            code,
            f"CFDI 4.0 wants the name without the régimen de capital {regime!r}: send {base!r}",
            f"CFDI 4.0 requiere el nombre sin el régimen de capital {regime!r}: envíe {base!r}",
        )


def _check_issuer(out: Findings, issuer: Issuer) -> None:
    rfc = validate_rfc(issuer.rfc)
    out.extend("issuer.rfc", rfc.issues)
    if rfc.is_generic:
        out.error(
            "issuer.rfc",
            "APUNTO-501",
            "a generic RFC cannot issue invoices",
            "Un RFC genérico no puede emitir comprobantes",
        )
    _check_legal_name(out, "issuer.legal_name", issuer.legal_name, issuer.rfc, "CFDI40139")
    regime = catalogs.TAX_REGIMES.get(issuer.tax_regime)
    persona = _persona(issuer.rfc)
    if regime is None:
        out.error(
            "issuer.tax_regime",
            "CFDI40140",
            f"{issuer.tax_regime!r} is not a CFDI 4.0 c_RegimenFiscal code",
            f"{issuer.tax_regime!r} no es una clave de c_RegimenFiscal de CFDI 4.0",
        )
    elif persona is not None and not rfc.is_generic and not regime.allows(persona):
        out.error(
            "issuer.tax_regime",
            "CFDI40141",
            f"régimen {regime.code} does not apply to a persona {persona} (RFC {issuer.rfc})",
            f"El régimen {regime.code} no corresponde a una persona {persona} (RFC {issuer.rfc})",
        )
    if not _ZIP.fullmatch(issuer.zip_code) or catalogs.postal_code(issuer.zip_code) is None:
        out.error(
            "issuer.zip_code",
            "CFDI40126",
            f"LugarExpedicion {issuer.zip_code!r} is not a postal code of the SAT catalog "
            "c_CodigoPostal",
            f"El campo LugarExpedicion ({issuer.zip_code!r}) no contiene un valor del catálogo "
            "c_CodigoPostal",
        )


def _check_customer(out: Findings, invoice: Invoice, issuer: Issuer | None) -> None:
    customer = invoice.customer
    rfc = validate_rfc(customer.rfc)
    out.extend("customer.rfc", rfc.issues)
    _check_legal_name(out, "customer.legal_name", customer.legal_name, customer.rfc, "CFDI40145")
    if not _ZIP.fullmatch(customer.zip_code):
        out.error(
            "customer.zip_code",
            "APUNTO-504",
            f"DomicilioFiscalReceptor must be a 5-digit postal code, got {customer.zip_code!r}",
            f"DomicilioFiscalReceptor debe ser un código postal de 5 dígitos, se recibió "
            f"{customer.zip_code!r}",
        )
    elif catalogs.postal_code(customer.zip_code) is None:
        # The SAT compares it with the receiver's registered address (LCO); a code outside
        # c_CodigoPostal can never match one.
        out.error(
            "customer.zip_code",
            "CFDI40147",
            f"DomicilioFiscalReceptor {customer.zip_code!r} is not a postal code of the SAT "
            "catalog c_CodigoPostal, so it cannot be the receiver's registered address",
            f"El DomicilioFiscalReceptor ({customer.zip_code!r}) no está en el catálogo "
            "c_CodigoPostal, por lo que no puede ser el domicilio fiscal registrado del receptor",
        )
    persona = _persona(customer.rfc)
    regime = catalogs.TAX_REGIMES.get(customer.tax_regime)
    if regime is None:
        out.error(
            "customer.tax_regime",
            "CFDI40157",
            f"{customer.tax_regime!r} is not a CFDI 4.0 c_RegimenFiscal code",
            f"{customer.tax_regime!r} no es una clave de c_RegimenFiscal de CFDI 4.0",
        )
    elif persona is not None and not rfc.is_generic and not regime.allows(persona):
        out.error(
            "customer.tax_regime",
            "CFDI40158",
            f"régimen {regime.code} does not apply to a persona {persona} (RFC {customer.rfc})",
            f"El régimen {regime.code} no corresponde a una persona {persona} (RFC {customer.rfc})",
        )
    use_code = invoice.effective_cfdi_use
    use = catalogs.CFDI_USES.get(use_code)
    if use is None:
        out.error(
            "cfdi_use",
            "CFDI40160",
            f"{use_code!r} is not a CFDI 4.0 c_UsoCFDI code",
            f"{use_code!r} no es una clave de c_UsoCFDI de CFDI 4.0",
        )
    else:
        if persona is not None and not rfc.is_generic and not use.allows(persona):
            out.error(
                "cfdi_use",
                "CFDI40161",
                f"UsoCFDI {use.code} does not apply to a persona {persona}",
                f"El UsoCFDI {use.code} no aplica a una persona {persona}",
            )
        if regime is not None and regime.code not in use.regimes:
            out.error(
                "cfdi_use",
                "CFDI40161",
                f"UsoCFDI {use.code} is not allowed with régimen {regime.code}",
                f"El UsoCFDI {use.code} no es válido con el régimen {regime.code}",
            )
    _check_foreign_fields(out, customer, rfc.normalized)
    if rfc.is_generic:
        _check_generic_receiver(out, invoice, issuer, rfc.normalized)
    elif customer.legal_name.replace("Ú", "U") == PUBLIC_NAME:
        out.error(
            "customer.legal_name",
            "CFDI40146",
            f"the name {PUBLIC_NAME} requires the RFC {GENERIC_NATIONAL_RFC}",
            f"El nombre {PUBLIC_NAME} requiere el RFC {GENERIC_NATIONAL_RFC}",
        )


def _check_foreign_fields(out: Findings, customer: Customer, rfc: str) -> None:
    residence = customer.tax_residence
    if residence is not None:
        if rfc != GENERIC_FOREIGN_RFC:
            out.error(
                "customer.tax_residence",
                "CFDI40151",
                "ResidenciaFiscal is only for foreign receivers (RFC XEXX010101000)",
                "ResidenciaFiscal solo aplica a receptores extranjeros (RFC XEXX010101000)",
            )
        elif residence == "MEX":
            out.error(
                "customer.tax_residence",
                "CFDI40152",
                "a foreign receiver's ResidenciaFiscal cannot be MEX",
                "La ResidenciaFiscal de un receptor extranjero no puede ser MEX",
            )
        elif not catalogs.is_country(residence):
            out.error(
                "customer.tax_residence",
                "CFDI40150",
                f"{residence!r} is not a c_Pais code (ISO 3166 alpha-3)",
                f"{residence!r} no es una clave de c_Pais (ISO 3166 alfa-3)",
            )
    if customer.foreign_tax_id is not None and rfc != GENERIC_FOREIGN_RFC:
        out.error(
            "customer.foreign_tax_id",
            "CFDI40154",
            "NumRegIdTrib is only for foreign receivers (RFC XEXX010101000)",
            "NumRegIdTrib solo aplica a receptores extranjeros (RFC XEXX010101000)",
        )
    elif customer.foreign_tax_id is not None and residence is None:
        out.error(
            "customer.tax_residence",
            "CFDI40153",
            "a foreign receiver with NumRegIdTrib needs its ResidenciaFiscal (c_Pais)",
            "Si se registra NumRegIdTrib, el campo ResidenciaFiscal debe existir",
        )


def _check_generic_receiver(
    out: Findings, invoice: Invoice, issuer: Issuer | None, rfc: str
) -> None:
    customer = invoice.customer
    if customer.tax_regime != "616":
        out.error(
            "customer.tax_regime",
            "CFDI40159",
            f"a generic RFC ({rfc}) needs régimen 616 Sin obligaciones fiscales",
            f"Un RFC genérico ({rfc}) requiere el régimen 616 Sin obligaciones fiscales",
        )
    if issuer is not None and customer.zip_code != issuer.zip_code:
        out.error(
            "customer.zip_code",
            "CFDI40149",
            f"with a generic RFC the receiver's postal code must equal LugarExpedicion "
            f"({issuer.zip_code})",
            f"Con RFC genérico el domicilio fiscal del receptor debe ser igual a "
            f"LugarExpedicion ({issuer.zip_code})",
        )
    expected = "CP01" if invoice.kind is InvoiceKind.PAYMENT else "S01"
    allowed = {expected, "G02"} if invoice.kind is InvoiceKind.EXPENSE else {expected}
    if invoice.effective_cfdi_use not in allowed:
        out.error(
            "cfdi_use",
            "CFDI40161",
            f"with a generic RFC the UsoCFDI must be {expected}",
            f"Con RFC genérico el UsoCFDI debe ser {expected}",
        )
    if rfc != GENERIC_NATIONAL_RFC:
        return
    name = customer.legal_name
    if name != PUBLIC_NAME and name.replace("Ú", "U") == PUBLIC_NAME:
        out.warning(
            "customer.legal_name",
            "APUNTO-505",
            f"write {PUBLIC_NAME} without the accent, as the SAT's rules do",
            f"Escriba {PUBLIC_NAME} sin acento, como en las reglas del SAT",
        )
    elif name != PUBLIC_NAME:
        out.warning(
            "customer.legal_name",
            "APUNTO-506",
            f"sales to the general public use the name {PUBLIC_NAME}",
            f"Las ventas al público en general usan el nombre {PUBLIC_NAME}",
        )
    if (
        invoice.kind is InvoiceKind.INCOME
        and name.replace("Ú", "U") == PUBLIC_NAME
        and invoice.global_info is None
    ):
        out.error(
            "global_info",
            "CFDI40130",
            "an income invoice to PUBLICO EN GENERAL needs InformacionGlobal",
            "Un ingreso a PUBLICO EN GENERAL requiere el nodo InformacionGlobal",
        )


# --- document -----------------------------------------------------------------------------------
def _check_currency(out: Findings, invoice: Invoice) -> None:
    currency, rate = invoice.currency, invoice.exchange_rate
    if not catalogs.is_currency(currency):
        out.error(
            "currency",
            "CFDI40113",
            f"{currency!r} is not a c_Moneda code (ISO 4217, upper case)",
            f"{currency!r} no es una clave de c_Moneda (ISO 4217, en mayúsculas)",
        )
    if currency == "MXN" and rate is not None and rate != 1:
        out.error(
            "exchange_rate",
            "CFDI40114",
            "for MXN the exchange rate must be 1 or absent",
            "Para MXN el tipo de cambio debe ser 1 u omitirse",
        )
    elif currency == "XXX" and rate is not None:
        out.error(
            "exchange_rate",
            "CFDI40116",
            "currency XXX takes no exchange rate",
            "La moneda XXX no lleva tipo de cambio",
        )
    elif currency not in ("MXN", "XXX") and rate is None:
        out.error(
            "exchange_rate",
            "CFDI40115",
            f"currency {currency} needs an exchange rate",
            f"La moneda {currency} requiere tipo de cambio",
        )
    if rate is not None and (rate <= 0 or decimal_places(rate) > 6):
        out.error(
            "exchange_rate",
            "CFDI40117",
            "the exchange rate must be positive with at most 6 decimals",
            "El campo TipoCambio no cumple con el patrón requerido (positivo, máximo 6 "
            "decimales)",
            "APUNTO-510",
        )
    if currency == "XXX" and invoice.kind in (InvoiceKind.INCOME, InvoiceKind.EXPENSE):
        out.error(
            "currency",
            "APUNTO-511",
            "income and expense invoices need a real currency, not XXX",
            "Los comprobantes de ingreso y egreso requieren una moneda real, no XXX",
        )


def _payment_method(out: Findings, invoice: Invoice) -> PaymentMethod | None:
    try:
        return invoice.effective_payment_method
    except ValueError:
        out.error(
            "payment_method",
            "CFDI40124",
            f"{invoice.customer.payment_method!r} is not a c_MetodoPago code (PUE or PPD)",
            f"{invoice.customer.payment_method!r} no es una clave de c_MetodoPago (PUE o PPD)",
        )
        return None


def _check_payment(out: Findings, invoice: Invoice) -> None:
    kind = invoice.kind
    if kind in (InvoiceKind.TRANSFER, InvoiceKind.PAYROLL, InvoiceKind.PAYMENT):
        if invoice.payment_form:
            out.error(
                "payment_form",
                "CFDI40103",
                f"a type {kind.value} CFDI carries no FormaPago",
                f"Un CFDI de tipo {kind.value} no lleva FormaPago",
            )
        if kind is not InvoiceKind.PAYROLL and invoice.payment_method is not None:
            out.error(
                "payment_method",
                "CFDI40125",
                f"a type {kind.value} CFDI carries no MetodoPago",
                f"Un CFDI de tipo {kind.value} no lleva MetodoPago",
            )
        return
    method = _payment_method(out, invoice)
    if method is None:  # already reported; read the form without the broken default
        form = invoice.payment_form or invoice.customer.payment_form or "99"
    else:
        form = invoice.effective_payment_form
    if form not in catalogs.PAYMENT_FORMS:
        out.error(
            "payment_form",
            "CFDI40104",
            f"{form!r} is not a c_FormaPago code",
            f"El campo FormaPago ({form!r}) no contiene un valor del catálogo c_FormaPago",
            "APUNTO-512",
        )
    elif method is PaymentMethod.PPD and form != "99":
        out.error(
            "payment_form",
            "CFDI40105",
            "with PPD (deferred payment) the FormaPago must be 99 Por definir",
            "Con PPD (pago diferido) la FormaPago debe ser 99 Por definir",
        )


def _check_kind(out: Findings, invoice: Invoice, totals: InvoiceTotals | None) -> None:
    kind = invoice.kind
    if kind not in (InvoiceKind.TRANSFER, InvoiceKind.PAYMENT):
        return
    if invoice.currency != "XXX":
        out.error(
            "currency",
            "APUNTO-513",
            f"a type {kind.value} CFDI uses currency XXX",
            f"Un CFDI de tipo {kind.value} usa la moneda XXX",
        )
    if totals is not None and totals.subtotal != 0:
        out.error(
            "items",
            "CFDI40109",
            f"a type {kind.value} CFDI has SubTotal 0 (unit prices 0)",
            f"Un CFDI de tipo {kind.value} tiene SubTotal 0 (valores unitarios 0)",
        )
    if any(item.taxes for item in invoice.items):
        out.error(
            "items",
            "CFDI40201",
            f"a type {kind.value} CFDI carries no taxes",
            f"Un CFDI de tipo {kind.value} no lleva impuestos",
        )
    if kind is InvoiceKind.PAYMENT:
        _check_payment_host(out, invoice)


def _check_payment_host(out: Findings, invoice: Invoice) -> None:
    if invoice.effective_cfdi_use != "CP01":
        out.error(
            "cfdi_use",
            "APUNTO-514",
            "a payment CFDI uses UsoCFDI CP01",
            "Un CFDI de pago usa el UsoCFDI CP01",
        )
    for index, item in enumerate(invoice.items):
        if (item.product_code, item.unit_code, item.quantity) != (
            PAYMENT_PRODUCT_CODE,
            "ACT",
            Decimal(1),
        ):
            out.error(
                f"items[{index}]",
                "APUNTO-515",
                "a payment CFDI has one concept: 84111506, unit ACT, quantity 1",
                "Un CFDI de pago tiene un concepto: 84111506, unidad ACT, cantidad 1",
            )


def _check_export(out: Findings, invoice: Invoice) -> None:
    code = invoice.export_code
    if code not in catalogs.EXPORT_CODES:
        out.error(
            "export_code",
            "CFDI40123",
            f"{code!r} is not a c_Exportacion code",
            f"{code!r} no es una clave de c_Exportacion",
        )
    elif code == "02":
        out.error(
            "export_code",
            "CFDI40122",
            "Exportacion 02 needs the Comercio Exterior complement, which this SDK does not build",
            "Exportacion 02 requiere el complemento de Comercio Exterior, que este SDK no genera",
        )


def _check_relations(out: Findings, invoice: Invoice) -> None:
    for index, group in enumerate(invoice.related):
        field = f"related[{index}]"
        if group.relation_type not in catalogs.RELATION_TYPES:
            out.error(
                f"{field}.relation_type",
                "CFDI40137",
                f"{group.relation_type!r} is not a CFDI 4.0 c_TipoRelacion code",
                f"{group.relation_type!r} no es una clave de c_TipoRelacion de CFDI 4.0",
            )
        if not group.uuids:
            out.error(
                f"{field}.uuids",
                "APUNTO-520",
                "a relation needs at least one UUID",
                "Una relación requiere al menos un UUID",
            )
        for position, uuid in enumerate(group.uuids):
            if not (isinstance(uuid, str) and UUID_PATTERN.fullmatch(uuid)):
                out.error(
                    f"{field}.uuids[{position}]",
                    "APUNTO-521",
                    f"{uuid!r} is not a folio fiscal (UUID of 36 characters)",
                    f"{uuid!r} no es un folio fiscal (UUID de 36 caracteres)",
                )


def _check_global(out: Findings, invoice: Invoice, issuer: Issuer | None) -> None:
    info = invoice.global_info
    if info is None:
        return
    if invoice.customer.rfc != GENERIC_NATIONAL_RFC:
        out.error(
            "global_info",
            "APUNTO-522",
            f"InformacionGlobal is only for invoices to {GENERIC_NATIONAL_RFC}",
            f"InformacionGlobal solo aplica a comprobantes a {GENERIC_NATIONAL_RFC}",
        )
    if info.periodicity not in catalogs.PERIODICITIES:
        out.error(
            "global_info.periodicity",
            "CFDI40131",
            f"{info.periodicity!r} is not a c_Periodicidad code",
            f"El campo Periodicidad ({info.periodicity!r}) no contiene un valor del catálogo "
            "c_Periodicidad",
            "APUNTO-523",
        )
    if info.months not in catalogs.MONTHS:
        out.error(
            "global_info.months",
            "CFDI40133",
            f"{info.months!r} is not a c_Meses code (01-18)",
            f"El campo Meses ({info.months!r}) no contiene un valor del catálogo c_Meses",
            "APUNTO-524",
        )
    elif info.periodicity == "05" and info.months < "13":
        out.error(
            "global_info.months",
            "CFDI40134",
            "bimonthly periodicity (05) goes with months 13-18",
            "Si la Periodicidad es 05 (bimestral), Meses debe contener un valor de 13 a 18",
            "APUNTO-525",
        )
    elif info.periodicity != "05" and info.months >= "13":
        out.error(
            "global_info.months",
            "CFDI40135",
            "months 13-18 are only for bimonthly periodicity (05); use 01-12",
            "Si la Periodicidad es distinta de 05, Meses debe contener un valor de 01 a 12",
            "APUNTO-525",
        )
    if info.periodicity == "05" and issuer is not None and issuer.tax_regime != "621":
        out.error(
            "global_info.periodicity",
            "CFDI40132",
            "bimonthly global invoices are only for régimen 621 Incorporación Fiscal",
            "La Periodicidad 05 (bimestral) solo aplica cuando el RegimenFiscal del emisor es 621",
            "APUNTO-526",
        )
    year = (invoice.issued_at.date() if invoice.issued_at else date.today()).year
    if not (max(2019, year - 5) <= info.year <= year):
        out.error(
            "global_info.year",
            "CFDI40136",
            f"the year must be {year} or up to 5 years before (not before 2019), got {info.year}",
            f"El año debe ser {year} o hasta 5 años anteriores (no antes de 2019), se recibió "
            f"{info.year}",
        )


# --- concepts -----------------------------------------------------------------------------------
def _check_item(out: Findings, invoice: Invoice, index: int, item: LineItem) -> None:
    field = f"items[{index}]"
    out.extend(f"{field}.product_code", validate_product_code(item.product_code))
    out.extend(f"{field}.unit_code", validate_unit_code(item.unit_code))
    out.extend(f"{field}.description", validate_description(item.description))
    if item.name is not None:
        out.extend(f"{field}.name", validate_product_name(item.name))
    elif validate_product_name(item.description):
        out.warning(
            f"{field}.name",
            "APUNTO-530",
            "no product name and the description is not 2-50 characters; vendors that keep a "
            "product catalog will reject or cut it",
            "Sin nombre de producto y la descripción no tiene de 2 a 50 caracteres; los "
            "proveedores con catálogo de productos la rechazarán o recortarán",
        )
    if item.quantity <= 0:
        out.error(
            f"{field}.quantity",
            "APUNTO-531",
            "the quantity must be greater than 0",
            "La cantidad debe ser mayor que 0",
        )
    elif decimal_places(item.quantity) > 6:
        out.error(
            f"{field}.quantity",
            "APUNTO-532",
            "the quantity takes at most 6 decimals",
            "La cantidad admite máximo 6 decimales",
        )
    _check_unit_price(out, invoice, field, item)
    if item.discount < 0:
        out.error(
            f"{field}.discount",
            "APUNTO-533",
            "the discount cannot be negative",
            "El descuento no puede ser negativo",
        )
    elif decimal_places(item.discount) > catalogs.currency_decimals(invoice.currency):
        out.error(
            f"{field}.discount",
            "CFDI40168",
            f"the concept's discount has more decimals than {invoice.currency} allows",
            f"El Descuento del concepto tiene más decimales de los que permite "
            f"{invoice.currency}",
            "CFDI40112",
        )
    _check_tax_object(out, invoice, field, item)
    for position, tax in enumerate(item.taxes):
        _check_tax(
            out, f"{field}.taxes[{position}]", tax.kind, tax.factor, tax.rate, tax.withholding
        )
    _check_duplicate_taxes(out, field, item)


def _check_unit_price(out: Findings, invoice: Invoice, field: str, item: LineItem) -> None:
    price = item.unit_price
    if invoice.kind in (InvoiceKind.INCOME, InvoiceKind.EXPENSE, InvoiceKind.PAYROLL):
        if price <= 0:
            out.error(
                f"{field}.unit_price",
                "CFDI40166",
                f"a type {invoice.kind.value} CFDI needs unit prices greater than 0",
                f"Un CFDI de tipo {invoice.kind.value} requiere valores unitarios mayores que 0",
            )
    elif price != 0:
        out.error(
            f"{field}.unit_price",
            "APUNTO-534",
            f"a type {invoice.kind.value} CFDI has unit prices of 0",
            f"Un CFDI de tipo {invoice.kind.value} tiene valores unitarios de 0",
        )
    if decimal_places(price) > 6:
        out.error(
            f"{field}.unit_price",
            "APUNTO-535",
            "the unit price takes at most 6 decimals",
            "El valor unitario admite máximo 6 decimales",
        )


def _check_tax_object(out: Findings, invoice: Invoice, field: str, item: LineItem) -> None:
    code = item.effective_tax_object
    name = f"{field}.tax_object"
    if code not in catalogs.TAX_OBJECTS:
        out.error(
            name,
            "CFDI40170",
            f"{code!r} is not a c_ObjetoImp code",
            f"{code!r} no es una clave de c_ObjetoImp",
        )
        return
    since = catalogs.TAX_OBJECT_VALID_FROM.get(code)
    if since is not None and invoice.issued_at is not None and invoice.issued_at.date() < since:
        out.error(
            name,
            "CFDI40170",
            f"ObjetoImp {code} can be used from {since.isoformat()}",
            f"El ObjetoImp {code} se puede usar a partir del {since.isoformat()}",
        )
    kinds = {tax.kind for tax in item.taxes}
    transferred = {tax.kind for tax in item.taxes if not tax.withholding}
    if code == "02" and not item.taxes:
        out.error(
            name,
            "CFDI40171",
            "ObjetoImp 02 (subject to tax) needs the concept's taxes",
            "ObjetoImp 02 (sí objeto de impuesto) requiere los impuestos del concepto",
        )
    elif code in _NO_TAX_NODE and item.taxes:
        out.error(
            name,
            "CFDI40172",
            f"ObjetoImp {code} carries no taxes on the concept",
            f"Con ObjetoImp {code} el concepto no lleva impuestos",
        )
    elif code in _NO_IVA_IEPS and kinds & {TaxKind.IVA, TaxKind.IEPS}:
        out.error(
            name,
            "CFDI140226",
            f"ObjetoImp {code} carries no IVA or IEPS (only ISR withholding)",
            f"Con ObjetoImp {code} no se registra IVA ni IEPS (solo retención de ISR)",
        )
    elif code == "07" and (TaxKind.IVA in kinds or TaxKind.IEPS not in transferred):
        out.error(
            name,
            "CFDI140227",
            "ObjetoImp 07 carries IEPS transferred and no IVA",
            "Con ObjetoImp 07 se registra IEPS trasladado y no IVA",
        )


def _check_tax(
    out: Findings,
    field: str,
    kind: TaxKind,
    factor: TaxFactor,
    rate: Decimal | None,
    withholding: bool,
) -> None:
    if kind is TaxKind.ISR and not withholding:
        out.error(
            f"{field}.kind",
            "APUNTO-540",
            "ISR can only be withheld, never transferred",
            "El ISR solo puede retenerse, nunca trasladarse",
        )
        return
    if factor is TaxFactor.EXEMPT:
        if withholding:
            out.error(
                f"{field}.factor",
                "CFDI40184",
                "a withholding cannot be Exento",
                "Una retención no puede ser Exento",
            )
        elif rate is not None:
            out.error(
                f"{field}.rate",
                "CFDI40177",
                "an Exento tax carries no TasaOCuota",
                "Un impuesto Exento no lleva TasaOCuota",
            )
        return
    if rate is None:
        out.error(
            f"{field}.rate",
            "CFDI40178",
            f"a {factor.value} tax needs its TasaOCuota",
            f"Un impuesto con factor {factor.value} requiere su TasaOCuota",
        )
        return
    code = "CFDI40185" if withholding else "CFDI40179"
    if decimal_places(rate) > 6:
        out.error(
            f"{field}.rate",
            code,
            "TasaOCuota takes at most 6 decimals",
            "La TasaOCuota admite máximo 6 decimales",
        )
        return
    rule = catalogs.rate_rule(kind, factor, withholding)
    action, accion = ("withheld", "retenido") if withholding else ("transferred", "trasladado")
    if rule is None:
        out.error(
            f"{field}.factor",
            code,
            f"{kind.value} {action} cannot use factor {factor.value}",
            f"{kind.value} {accion} no puede usar el factor {factor.value}",
        )
    elif not rule.allows(rate):
        out.error(
            f"{field}.rate",
            code,
            f"{kind.value} {action} ({factor.value}) accepts {rule.describe()}, got {rate}",
            f"{kind.value} {accion} ({factor.value}) admite {rule.describe()}, se recibió {rate}",
        )


def _check_duplicate_taxes(out: Findings, field: str, item: LineItem) -> None:
    seen: set[tuple[TaxKind, TaxFactor, Decimal | None, bool]] = set()
    for position, tax in enumerate(item.taxes):
        key = (tax.kind, tax.factor, tax.rate, tax.withholding)
        if key in seen:
            out.error(
                f"{field}.taxes[{position}]",
                # The matrix's CFDI40208 is the duplicated withholding, CFDI40218 the transfer.
                "CFDI40208" if tax.withholding else "CFDI40218",
                f"the same tax ({tax.kind.value} {tax.factor.value}) appears twice on the concept",
                f"El mismo impuesto ({tax.kind.value} {tax.factor.value}) aparece dos veces en "
                "el concepto",
            )
        seen.add(key)


def _check_amounts(out: Findings, invoice: Invoice, totals: InvoiceTotals) -> None:
    negative_price = False
    for index, (item, line) in enumerate(zip(invoice.items, totals.lines, strict=True)):
        field = f"items[{index}]"
        if line.amount < 0:
            # A negative price is reported by its own rule; the discount and total rules
            # below would only repeat it in misleading words.
            negative_price = True
            continue
        if line.discount > line.amount:
            out.error(
                f"{field}.discount",
                "CFDI40169",
                f"the discount ({line.discount}) exceeds the line amount ({line.amount})",
                f"El descuento ({line.discount}) excede el importe ({line.amount})",
            )
        elif item.taxes and line.amount - line.discount <= 0:
            for tax in line.taxes:
                if tax.factor is not TaxFactor.QUOTA:
                    out.error(
                        f"{field}.taxes",
                        "CFDI40181" if tax.withholding else "CFDI40174",
                        "a tax needs a base greater than 0 (amount less discount)",
                        "Un impuesto requiere una base mayor que 0 (importe menos descuento)",
                    )
                    break
    if totals.total < 0 and not negative_price:
        out.error(
            "items",
            "APUNTO-541",
            f"the total would be negative ({totals.total}): withholdings exceed the amount",
            f"El total sería negativo ({totals.total}): las retenciones exceden el importe",
        )


def _totals(out: Findings, invoice: Invoice) -> InvoiceTotals | None:
    try:
        return invoice.totals
    except (ArithmeticError, ValueError):
        # Absurd magnitudes overflow Decimal's context; nothing else can be said about them.
        out.error(
            "items",
            "APUNTO-542",
            "the amounts are too large to compute",
            "Los importes son demasiado grandes para calcularse",
        )
        return None


def tax_amount_issues(invoice: Invoice, totals: InvoiceTotals) -> list[Issue]:
    """Fixed ``Tax.amount`` values outside the SAT's tolerance for their base (CFDI40180/40186).

    The SAT accepts an Importe between ``(base − ½·10⁻ᵈ) × rate`` truncated and
    ``(base + ½·10⁻ᵈ − 10⁻¹²) × rate`` rounded up (:func:`apunto_connect.money.sat_tax_bounds`).
    Computed amounts always fall inside; a fixed one (what a store charged) may not.
    """
    out = Findings()
    for index, (item, line) in enumerate(zip(invoice.items, totals.lines, strict=True)):
        for position, (tax, summary) in enumerate(zip(item.taxes, line.taxes, strict=True)):
            if tax.amount is None or summary.amount is None or tax.rate is None:
                continue
            places = decimal_places(summary.base) if tax.factor is TaxFactor.QUOTA else (
                catalogs.currency_decimals(invoice.currency)
            )
            lower, upper = sat_tax_bounds(summary.base, tax.rate, places)
            if lower <= summary.amount <= upper:
                continue
            code = "CFDI40186" if tax.withholding else "CFDI40180"
            out.error(
                f"items[{index}].taxes[{position}].amount",
                code,
                f"the fixed tax amount {summary.amount} is outside the SAT's bounds "
                f"{lower}–{upper} for base {summary.base} at {tax.rate}",
                f"El Importe {summary.amount} no está entre los límites {lower} y {upper} para "
                f"la Base {summary.base} y la TasaOCuota {tax.rate}",
            )
    return out.issues


def _place(zip_code: object) -> catalogs.PostalCode:
    """The c_CodigoPostal entry of ``zip_code``, else Mexico City's (01000)."""
    found = catalogs.postal_code(zip_code) if isinstance(zip_code, str) else None
    found = found or catalogs.postal_code("01000")
    if found is None:  # pragma: no cover - the shipped catalog always has 01000
        raise AssertionError("c_CodigoPostal shipped without 01000")
    return found


def local_now(zip_code: object) -> datetime:
    """The current local time (naive) where LugarExpedicion ``zip_code`` is.

    Uses the time zone c_CodigoPostal gives the postal code; Mexico City's when the code is not
    in the catalog.
    """
    return _place(zip_code).now()


def _check_date(
    out: Findings,
    invoice: Invoice,
    issuer: Issuer | None,
    now: datetime | None,
    window: timedelta | None,
) -> None:
    issued = invoice.issued_at
    if issued is None or window is None:
        return  # the vendor fills in its own clock
    place = _place(issuer.zip_code if issuer is not None else None)
    zone = place.tzinfo
    if now is None:
        current = place.now()
    elif now.tzinfo is not None:
        current = now.astimezone(zone).replace(tzinfo=None)
    else:
        current = now
    if issued.tzinfo is not None:
        issued = issued.astimezone(zone).replace(tzinfo=None)
    if issued > current:
        out.error(
            "issued_at",
            "APUNTO-516",
            f"Fecha {issued.isoformat()} is in the future (now {current:%Y-%m-%dT%H:%M:%S} at "
            f"LugarExpedicion); the PAC refuses it (401)",
            f"La Fecha {issued.isoformat()} está en el futuro (ahora {current:%Y-%m-%dT%H:%M:%S} "
            "en LugarExpedicion); el PAC la rechaza (401)",
        )
    elif current - issued > window:
        hours = int(window.total_seconds() // 3600)
        out.error(
            "issued_at",
            "APUNTO-516",
            f"Fecha {issued.isoformat()} is more than {hours} hours old; the PAC refuses it (401)",
            f"La Fecha {issued.isoformat()} tiene más de {hours} horas; el PAC la rechaza (401: "
            "fecha y hora de generación fuera de rango)",
        )


def _check_fix(out: Findings, invoice: Invoice, fix: FixSource | None) -> None:
    rate = invoice.exchange_rate
    # Banxico publishes a FIX for the US dollar only.
    if fix is None or rate is None or invoice.currency != "USD" or rate <= 0:
        return
    day = invoice.issued_at.date() if invoice.issued_at is not None else date.today()
    try:
        reference = fix(invoice.currency, day)
    except ApuntoError as exc:
        # Pre-flight never fails because a reference service did: say so and go on.
        out.warning(
            "exchange_rate",
            "APUNTO-518",
            f"the Banxico FIX of {day.isoformat()} could not be read to compare TipoCambio: {exc}",
            f"No se pudo leer el FIX de Banxico del {day.isoformat()} para comparar el "
            f"TipoCambio: {exc}",
        )
        return
    if reference is None or reference <= 0:
        return
    gap = abs(rate - reference) / reference
    if gap > FIX_TOLERANCE:
        out.warning(
            "exchange_rate",
            "APUNTO-517",
            f"TipoCambio {rate} is {gap:.1%} away from the Banxico FIX of {day.isoformat()} "
            f"({reference}); the PAC may ask for a Confirmacion code",
            f"El TipoCambio {rate} se aleja {gap:.1%} del FIX de Banxico del "
            f"{day.isoformat()} ({reference}); el PAC puede pedir una clave de Confirmacion",
        )


# --- entry points -------------------------------------------------------------------------------
def _not_a(field: str, expected: str, value: object) -> ValidationError:
    """APUNTO-500: ``value`` given as ``field`` is not the ``expected`` model."""
    got = type(value).__name__
    return ValidationError([Issue(field, "APUNTO-500", f"expected an {expected}, got {got}",
                                  f"Se esperaba un {expected}, se recibió {got}")])


def preflight(
    invoice: object,
    issuer: Issuer | None = None,
    *,
    now: datetime | None = None,
    date_window: timedelta | None = DATE_WINDOW,
    fix: FixSource | None = None,
) -> list[Issue]:
    """Return every issue the SAT or the PAC would raise about ``invoice``, errors first.

    Args:
        invoice: the invoice to check; payment receipts, credit notes and Carta Porte invoices
            are checked by :mod:`.rules_documents` (host CFDI plus their own rules); anything
            else raises :class:`ValidationError`.
        issuer: the issuer; defaults to ``invoice.issuer``. Issuer rules (and the ones that
            compare with LugarExpedicion) are skipped when neither is given.
        now: the current time (naive = local time at LugarExpedicion); the clock by default.
        date_window: how old an ``issued_at`` the PAC accepts (72 hours); ``None`` skips the
            date rule (e.g. to re-check an invoice stamped long ago).
        fix: where to read the Banxico FIX (``sat.exchange_rate``); when given, a TipoCambio
            more than 5 % away from the FIX of the invoice's date is a warning.
    """
    if not isinstance(invoice, Invoice):
        from ..models.documents import FiscalDocument

        if isinstance(invoice, FiscalDocument):
            from .rules_documents import preflight_document

            return preflight_document(
                invoice, issuer, now=now, date_window=date_window, fix=fix
            )
        raise _not_a("invoice", "Invoice", invoice)
    if issuer is not None and not isinstance(issuer, Issuer):
        raise _not_a("issuer", "Issuer", issuer)
    out = Findings()
    issuer = issuer if issuer is not None else invoice.issuer
    if issuer is not None:
        _check_issuer(out, issuer)
    _check_customer(out, invoice, issuer)
    _check_currency(out, invoice)
    _check_payment(out, invoice)
    _check_export(out, invoice)
    _check_relations(out, invoice)
    _check_global(out, invoice, issuer)
    if not invoice.items:
        out.error(
            "items",
            "APUNTO-543",
            "an invoice needs at least one concept",
            "Un comprobante requiere al menos un concepto",
        )
    for index, item in enumerate(invoice.items):
        _check_item(out, invoice, index, item)
    totals = _totals(out, invoice)
    _check_kind(out, invoice, totals)
    if totals is not None:
        _check_amounts(out, invoice, totals)
        out.issues.extend(tax_amount_issues(invoice, totals))
    _check_date(out, invoice, issuer, now, date_window)
    _check_fix(out, invoice, fix)
    return sorted(out.issues, key=lambda issue: issue.severity is not Severity.ERROR)


def check(
    invoice: object,
    issuer: Issuer | None = None,
    *,
    now: datetime | None = None,
    date_window: timedelta | None = DATE_WINDOW,
    fix: FixSource | None = None,
) -> None:
    """Raise :class:`ValidationError` listing every issue when :func:`preflight` finds an error.

    Warnings alone do not raise; when it does raise, the warnings travel in
    ``exc.issues`` too (``exc.errors`` has only the errors). The keywords are
    :func:`preflight`'s.
    """
    issues = preflight(invoice, issuer, now=now, date_window=date_window, fix=fix)
    if any(issue.severity is Severity.ERROR for issue in issues):
        raise ValidationError(issues)


def validate_cancellation(motive: object, replacement_uuid: object = None) -> list[Issue]:
    """Check a cancellation request before sending it.

    Motive ``01`` (errors, replaced by another CFDI) needs the UUID of the replacement, which
    must be stamped first with TipoRelacion 04; the other motives do not use one.
    """
    out = Findings()
    try:
        code = CancelMotive(motive)
    except ValueError:
        out.error(
            "motive",
            "APUNTO-601",
            f"{motive!r} is not a cancellation motive (01-04)",
            f"{motive!r} no es un motivo de cancelación (01-04)",
        )
        return out.issues
    if replacement_uuid is None or replacement_uuid == "":
        if code.requires_replacement:
            out.error(
                "replacement_uuid",
                "APUNTO-602",
                "motive 01 needs the UUID of the replacement CFDI (stamp it first, relation 04)",
                "El motivo 01 requiere el UUID del CFDI que sustituye (tímbrelo antes, relación 04)",
            )
        return out.issues
    if not (isinstance(replacement_uuid, str) and UUID_PATTERN.fullmatch(replacement_uuid)):
        out.error(
            "replacement_uuid",
            "APUNTO-603",
            f"{replacement_uuid!r} is not a folio fiscal (UUID of 36 characters)",
            f"{replacement_uuid!r} no es un folio fiscal (UUID de 36 caracteres)",
        )
    elif not code.requires_replacement:
        out.warning(
            "replacement_uuid",
            "APUNTO-604",
            f"only motive 01 uses a replacement UUID; it is ignored with motive {code.value}",
            f"Solo el motivo 01 usa UUID de sustitución; con el motivo {code.value} se ignora",
        )
    return out.issues
