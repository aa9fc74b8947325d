"""Checks for the fields of a concept (line item) and of a vendor's product catalog.

* Product *names* of 2–50 characters are a rule of the invoicing vendors' product catalogs
  (their help pages say so), not of the SAT; the SAT's own limit is on Descripcion (1–1000).
* ClaveProdServ must be in the SAT's c_ClaveProdServ (CFDI40162) and ClaveUnidad in
  c_ClaveUnidad, case-sensitive (CFDI40165); both catalogs ship with the SDK
  (:mod:`apunto_connect.sat.catalog_data`) and load on the first check. The most used units are
  in :data:`COMMON_UNITS`.

Every function returns a list of :class:`~apunto_connect.errors.Issue` (empty when fine) and
never raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from ..errors import Issue, Severity
from . import catalog_data

__all__ = [
    "COMMON_UNITS",
    "DESCRIPTION_MAX",
    "PAYMENT_PRODUCT_CODE",
    "PRODUCT_NAME_MAX",
    "PRODUCT_NAME_MIN",
    "product_description",
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


def _error(
    field: str, code: str, message: str, message_es: str, aliases: tuple[str, ...] = ()
) -> Issue:
    return Issue(field, code, message, message_es, Severity.ERROR, aliases)


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
    """Check that a ClaveProdServ is in the SAT's c_ClaveProdServ (CFDI40162).

    ``01010101`` ("No existe en el catálogo") is itself a catalog code and passes. The issue
    keeps the former code ``APUNTO-304`` in ``aliases`` for one release.
    """
    if not isinstance(code, str):
        return _not_text(field, code)
    if _PRODUCT_CODE.fullmatch(code) and catalog_data.product(code) is not None:
        return []
    return [
        _error(
            field,
            "CFDI40162",
            f"ClaveProdServ {code!r} is not in the SAT catalog c_ClaveProdServ",
            f"El campo ClaveProdServ ({code!r}) no contiene un valor del catálogo "
            "c_ClaveProdServ",
            ("APUNTO-304",),
        )
    ]


@lru_cache(maxsize=1)
def _units_by_upper() -> Mapping[str, str]:
    """Catalog spelling of each unit by its upper-case form, for the "wrong case" hint."""
    table: dict[str, str] = {}
    for candidate in (*COMMON_UNITS, *sorted(catalog_data.unit_codes())):
        table.setdefault(candidate.upper(), candidate)
    return MappingProxyType(table)


def validate_unit_code(code: object, *, field: str = "unit_code") -> list[Issue]:
    """Check that a ClaveUnidad is in the SAT's c_ClaveUnidad, case-sensitive (CFDI40165).

    A code that only differs in case from a catalog unit (``h87``) names the right spelling
    and its description. The former codes (``APUNTO-305`` format, ``APUNTO-306`` case) stay in
    ``aliases`` for one release.
    """
    if not isinstance(code, str):
        return _not_text(field, code)
    if _UNIT_CODE.fullmatch(code) and catalog_data.unit(code) is not None:
        return []
    right = _units_by_upper().get(code.upper()) if _UNIT_CODE.fullmatch(code) else None
    if right is not None:
        name = unit_name(right)
        return [
            _error(
                field,
                "CFDI40165",
                f"ClaveUnidad is case-sensitive: use {right!r} ({name}), not {code!r}",
                f"La ClaveUnidad distingue mayúsculas: use {right!r} ({name}), no {code!r}",
                ("APUNTO-306",),
            )
        ]
    return [
        _error(
            field,
            "CFDI40165",
            f"ClaveUnidad {code!r} is not in the SAT catalog c_ClaveUnidad",
            f"El campo ClaveUnidad ({code!r}) no contiene un valor del catálogo c_ClaveUnidad",
            ("APUNTO-305",),
        )
    ]


def unit_name(code: object) -> str | None:
    """The catalog name of a ClaveUnidad (``H87`` → ``Pieza``), else ``None``."""
    if not isinstance(code, str):
        return None
    common = COMMON_UNITS.get(code)
    if common is not None:
        return common
    found = catalog_data.unit(code)
    return None if found is None else found.name


def product_description(code: object) -> str | None:
    """The catalog description of a ClaveProdServ (``78101800`` → ``Transporte de carga…``)."""
    if not isinstance(code, str):
        return None
    found = catalog_data.product(code)
    return None if found is None else found.description
