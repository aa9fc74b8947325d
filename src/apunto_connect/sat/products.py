"""Checks for the fields of a concept (line item) and of a vendor's product catalog.

* Product *names* of 2–50 characters are a rule of the invoicing vendors' product catalogs
  (their help pages say so), not of the SAT; the SAT's own limit is on Descripcion (1–1000).
* ClaveProdServ is checked for its format only (8 digits): the SAT catalog has about 52,700
  codes and is not shipped with the SDK.
* ClaveUnidad is checked for its format (2–3 characters, case-sensitive); the most used units
  are in :data:`COMMON_UNITS` (the full catalog has about 2,400 codes and is not shipped).

Every function returns a list of :class:`~apunto_connect.errors.Issue` (empty when fine) and
never raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from ..errors import Issue, Severity

__all__ = [
    "COMMON_UNITS",
    "DESCRIPTION_MAX",
    "PAYMENT_PRODUCT_CODE",
    "PRODUCT_NAME_MAX",
    "PRODUCT_NAME_MIN",
    "unit_name",
    "validate_description",
    "validate_product_code",
    "validate_product_name",
    "validate_unit_code",
]

PRODUCT_NAME_MIN = 2
PRODUCT_NAME_MAX = 50
DESCRIPTION_MAX = 1000

PAYMENT_PRODUCT_CODE = "84111506"
"""ClaveProdServ of the single concept of a payment CFDI (Servicios de facturación)."""

COMMON_UNITS: Mapping[str, str] = MappingProxyType(
    {
        "H87": "Pieza",
        "E48": "Unidad de servicio",
        "ACT": "Actividad",
        "KGM": "Kilogramo",
        "GRM": "Gramo",
        "TNE": "Tonelada",
        "LTR": "Litro",
        "MTR": "Metro",
        "KMT": "Kilómetro",
        "MTK": "Metro cuadrado",
        "MTQ": "Metro cúbico",
        "XBX": "Caja",
        "XPK": "Paquete",
        "XPX": "Pallet",
        "SET": "Conjunto",
        "KT": "Kit",
        "C62": "Uno",
        "EA": "Elemento",
        "DAY": "Día",
        "HUR": "Hora",
        "MIN": "Minuto",
        "WEE": "Semana",
        "MON": "Mes",
        "ANN": "Año",
        "A9": "Tarifa",
        "E51": "Trabajo",
        "XNA": "No disponible",
    }
)
"""The ClaveUnidad codes most invoices use, with their catalog names."""

_PRODUCT_CODE = re.compile(r"[0-9]{8}")
_UNIT_CODE = re.compile(r"[A-Za-z0-9]{2,3}")


def _error(field: str, code: str, message: str, message_es: str) -> Issue:
    return Issue(field, code, message, message_es, Severity.ERROR)


def _not_text(field: str, value: object) -> list[Issue]:
    kind = type(value).__name__
    return [
        _error(
            field,
            "APUNTO-300",
            f"expected text, got {kind}",
            f"Se esperaba texto, se recibió {kind}",
        )
    ]


def validate_product_name(name: object, *, field: str = "name") -> list[Issue]:
    """Check a product name for a vendor catalog: 2–50 characters after trimming.

    This is a vendor rule (Facturama, Alegra and ContaDigital document it for their product
    catalogs), so the issue code is ours, not the SAT's.
    """
    if not isinstance(name, str):
        return _not_text(field, name)
    size = len(name.strip())
    if PRODUCT_NAME_MIN <= size <= PRODUCT_NAME_MAX:
        return []
    return [
        _error(
            field,
            "APUNTO-301",
            f"a product name needs {PRODUCT_NAME_MIN}-{PRODUCT_NAME_MAX} characters, it has {size}",
            f"El nombre del producto debe tener de {PRODUCT_NAME_MIN} a {PRODUCT_NAME_MAX} "
            f"caracteres, tiene {size}",
        )
    ]


def validate_description(text: object, *, field: str = "description") -> list[Issue]:
    """Check a Concepto@Descripcion: 1–1000 characters, no ``|`` (the cadena original's separator)."""
    if not isinstance(text, str):
        return _not_text(field, text)
    issues: list[Issue] = []
    size = len(text.strip())
    if not 1 <= size <= DESCRIPTION_MAX:
        issues.append(
            _error(
                field,
                "APUNTO-302",
                f"a description needs 1-{DESCRIPTION_MAX} characters, it has {size}",
                f"La descripción debe tener de 1 a {DESCRIPTION_MAX} caracteres, tiene {size}",
            )
        )
    if "|" in text:
        issues.append(
            _error(
                field,
                "APUNTO-303",
                "a description cannot contain '|'",
                "La descripción no puede contener '|'",
            )
        )
    return issues


def validate_product_code(code: object, *, field: str = "product_code") -> list[Issue]:
    """Check the format of a ClaveProdServ (8 digits).

    Whether the code exists in the SAT catalog is not checked: the catalog (about 52,700 codes)
    is not shipped with the SDK. ``01010101`` ("No existe en el catálogo") is a valid code.
    """
    if not isinstance(code, str):
        return _not_text(field, code)
    if _PRODUCT_CODE.fullmatch(code) and code != "00000000":
        return []
    return [
        _error(
            field,
            "APUNTO-304",
            f"ClaveProdServ must be 8 digits from the SAT catalog, got {code!r}",
            f"La ClaveProdServ debe ser de 8 dígitos del catálogo del SAT, se recibió {code!r}",
        )
    ]


def validate_unit_code(code: object, *, field: str = "unit_code") -> list[Issue]:
    """Check the format of a ClaveUnidad: 2–3 letters or digits, case-sensitive.

    A code that only differs in case from a common unit (``h87``) is an error that names the
    right spelling; other well-formed codes pass because the full catalog is not shipped.
    """
    if not isinstance(code, str):
        return _not_text(field, code)
    if not _UNIT_CODE.fullmatch(code):
        return [
            _error(
                field,
                "APUNTO-305",
                f"ClaveUnidad must be 2-3 letters or digits, got {code!r}",
                f"La ClaveUnidad debe tener de 2 a 3 letras o dígitos, se recibió {code!r}",
            )
        ]
    upper = code.upper()
    if code not in COMMON_UNITS and upper in COMMON_UNITS:
        return [
            _error(
                field,
                "APUNTO-306",
                f"ClaveUnidad is case-sensitive: use {upper!r} ({COMMON_UNITS[upper]}), not {code!r}",
                f"La ClaveUnidad distingue mayúsculas: use {upper!r} ({COMMON_UNITS[upper]}), "
                f"no {code!r}",
            )
        ]
    return []


def unit_name(code: str) -> str | None:
    """The catalog name of a common ClaveUnidad (``H87`` → ``Pieza``), else ``None``."""
    return COMMON_UNITS.get(code)
