"""The SAT's large catalogs, shipped as package data and loaded on first use.

c_ClaveProdServ, c_ClaveUnidad, c_CodigoPostal (with estado, municipio, localidad, the border
stimulus flag and the time zone), c_Colonia, and the Carta Porte catalogs c_Estado,
c_Municipio and c_Localidad. Each lives in ``data/catalogs/NAME.tsv.gz`` (about 2 MB in all),
written by ``scripts/build_sat_catalogs.py`` from the SAT's workbooks (or, where they are not
at hand, from the SQLite file the ``satcfdi`` package builds from them); :func:`catalog_version`
says which. A catalog is read the first time one of its look-ups is called and kept in a dict,
so ``import apunto_connect`` pays nothing and later look-ups cost a dict access.

Look-ups take the code as text and return ``None`` when it is not in the catalog; anything
that is not text raises :class:`~apunto_connect.errors.ValidationError` naming the field.
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from ..errors import Issue, Severity, ValidationError

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:  # Python 3.10; importlib.abc's alias is deprecated from 3.12 and gone in 3.14
    from importlib.abc import Traversable

__all__ = [
    "CatalogVersion",
    "Colonia",
    "Locality",
    "Municipality",
    "PostalCode",
    "Product",
    "State",
    "Unit",
    "catalog_version",
    "colonias",
    "locality",
    "municipality",
    "postal_code",
    "product",
    "search_products",
    "state",
    "unit",
    "unit_codes",
]

_T = TypeVar("_T")


@attrs.frozen(slots=True)
class CatalogVersion:
    """Where the shipped catalogs come from.

    Attributes:
        source: the file they were built from (a SAT workbook, or satcfdi's catalog file).
        version: the version or date of that source.
        generated: the day ``scripts/build_sat_catalogs.py`` wrote them (ISO date).
        rows: rows per shipped catalog.
    """

    source: str
    version: str
    generated: str
    rows: Mapping[str, int]


@attrs.frozen(slots=True)
class Product:
    """A c_ClaveProdServ entry."""

    code: str
    description: str


@attrs.frozen(slots=True)
class Unit:
    """A c_ClaveUnidad entry (codes are case-sensitive: ``Gd`` and ``GD`` differ)."""

    code: str
    name: str


# The SAT's "Descripción del Huso Horario" → the IANA zone with the same clock rules (Mexico
# dropped daylight saving in 2022 except on the US border, which follows the US dates), and
# its standard offset for machines without a time-zone database.
_ZONES: Mapping[str, tuple[str, int]] = MappingProxyType(
    {
        "Tiempo del Centro": ("America/Mexico_City", -6),
        "Tiempo del Centro en Frontera": ("America/Matamoros", -6),
        "Tiempo del Pacífico": ("America/Mazatlan", -7),
        "Tiempo del Pacífico en Frontera": ("America/Ciudad_Juarez", -7),
        "Tiempo del Noroeste": ("America/Tijuana", -8),
        "Tiempo del Sureste": ("America/Cancun", -5),
    }
)


# Chihuahua's border strip (Ciudad Juárez, Ojinaga…) went back to Mountain time with the US
# daylight-saving dates in November 2022; the SAT's description still says "Centro en Frontera".
_STATE_ZONES: Mapping[tuple[str, str], tuple[str, int]] = MappingProxyType(
    {("Tiempo del Centro en Frontera", "CHH"): ("America/Ciudad_Juarez", -7)}
)


@lru_cache(maxsize=16)
def _zone(description: str, state: str = "") -> tzinfo:
    name, hours = _STATE_ZONES.get((description, state)) or _ZONES.get(
        description, ("America/Mexico_City", -6)
    )
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:  # no tz database: the standard offset is still right today
        return timezone(timedelta(hours=hours), description)


@attrs.frozen(slots=True)
class PostalCode:
    """A c_CodigoPostal entry.

    Attributes:
        code: the 5-digit postal code.
        state: c_Estado (``COA``).
        municipality: c_Municipio within the state (``025``), empty when the SAT gives none.
        locality: c_Localidad within the state (``06``), empty when the SAT gives none.
        border_stimulus: the SAT's "Estímulo Franja Fronteriza" flag (``"0"`` none, ``"1"``
            northern border, ``"2"`` southern border).
        time_zone: the SAT's description of the time zone (``Tiempo del Centro``).
    """

    code: str
    state: str
    municipality: str
    locality: str
    border_stimulus: str
    time_zone: str

    @property
    def tzinfo(self) -> tzinfo:
        """The time zone as a :class:`tzinfo` (IANA zone with the same rules)."""
        return _zone(self.time_zone, self.state)

    def utc_offset(self, at: datetime | None = None) -> timedelta:
        """The offset from UTC at local time ``at`` (now by default): ``-6 h`` in Mexico City."""
        moment = at if at is not None else datetime.now(self.tzinfo).replace(tzinfo=None)
        offset = self.tzinfo.utcoffset(moment.replace(tzinfo=None))
        return offset if offset is not None else timedelta(0)

    @property
    def in_border_region(self) -> bool:
        """Whether the postal code is in a border region with the IVA/ISR stimulus."""
        return self.border_stimulus not in ("", "0")

    def now(self) -> datetime:
        """The current local time at this postal code (naive, as CFDI's Fecha is written)."""
        return datetime.now(self.tzinfo).replace(tzinfo=None)


@attrs.frozen(slots=True)
class Colonia:
    """A c_Colonia entry (a settlement within a postal code)."""

    code: str
    postal_code: str
    name: str


@attrs.frozen(slots=True)
class State:
    """A c_Estado entry (Mexican states and those of the USA and Canada)."""

    code: str
    country: str
    name: str


@attrs.frozen(slots=True)
class Municipality:
    """A c_Municipio entry; the code is unique within its state."""

    state: str
    code: str
    name: str


@attrs.frozen(slots=True)
class Locality:
    """A c_Localidad entry; the code is unique within its state."""

    state: str
    code: str
    name: str


# --- loading ------------------------------------------------------------------------------------
_LOCK = threading.Lock()
_TABLES: dict[str, dict[str, str]] = {}


def _data_dir() -> Traversable:
    return resources.files("apunto_connect.sat").joinpath("data").joinpath("catalogs")


def _lines(name: str) -> list[str]:
    path = _data_dir().joinpath(f"{name}.tsv.gz")
    return gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()


def _table(name: str, columns: int = 1) -> dict[str, str]:
    """Each line of a catalog by its key (the first ``columns`` fields), read once per process.

    Lines stay unsplit until looked up: building the index is then one dict insert per row,
    which keeps the first use of the 95,000 postal codes well under a second.
    """
    table = _TABLES.get(name)
    if table is None:
        with _LOCK:
            table = _TABLES.get(name)
            if table is None:
                lines = _lines(name)
                if columns == 1:
                    table = {line[: line.index("\t")]: line for line in lines}
                else:
                    table = {"|".join(line.split("\t", 2)[:2]): line for line in lines}
                _TABLES[name] = table
    return table


def _text(value: object, field: str, catalog: str) -> str:
    if isinstance(value, str):
        return value
    kind = type(value).__name__
    raise ValidationError(
        [
            Issue(
                field,
                "APUNTO-300",
                f"a {catalog} code is text, got {kind}",
                f"Una clave de {catalog} es texto, se recibió {kind}",
                Severity.ERROR,
            )
        ]
    )


def _get(name: str, code: str, build: Callable[..., _T], columns: int = 1) -> _T | None:
    line = _table(name, columns).get(code)
    return None if line is None else build(*line.split("\t"))


# --- look-ups -----------------------------------------------------------------------------------
def product(code: object) -> Product | None:
    """The c_ClaveProdServ entry for ``code`` (``"78101800"``), or ``None`` when absent."""
    return _get("products", _text(code, "product_code", "c_ClaveProdServ"), Product)


def unit(code: object) -> Unit | None:
    """The c_ClaveUnidad entry for ``code`` (case-sensitive), or ``None`` when absent."""
    return _get("units", _text(code, "unit_code", "c_ClaveUnidad"), Unit)


def postal_code(code: object) -> PostalCode | None:
    """The c_CodigoPostal entry for ``code`` (``"26015"``), or ``None`` when absent."""
    return _get("postal_codes", _text(code, "zip_code", "c_CodigoPostal"), PostalCode)


def unit_codes() -> frozenset[str]:
    """Every c_ClaveUnidad code (loads the catalog)."""
    return frozenset(_table("units"))


def state(code: object) -> State | None:
    """The c_Estado entry for ``code`` (``"JAL"``, ``"TX"``), or ``None`` when absent."""
    return _get("estados", _text(code, "state", "c_Estado"), State)


def municipality(state_code: object, code: object) -> Municipality | None:
    """The c_Municipio entry ``code`` of a state (``("COA", "025")``), or ``None``."""
    key = f"{_text(state_code, 'state', 'c_Estado')}|{_text(code, 'municipality', 'c_Municipio')}"
    return _get("municipios", key, Municipality, 2)


def locality(state_code: object, code: object) -> Locality | None:
    """The c_Localidad entry ``code`` of a state (``("COA", "06")``), or ``None``."""
    key = f"{_text(state_code, 'state', 'c_Estado')}|{_text(code, 'locality', 'c_Localidad')}"
    return _get("localidades", key, Locality, 2)


@lru_cache(maxsize=1)
def _colonias_by_zip() -> Mapping[str, list[str]]:
    # The lines stay text until a postal code is asked for (145,000 of them).
    grouped: dict[str, list[str]] = {}
    for line in _lines("colonias"):
        grouped.setdefault(line[:5], []).append(line)
    return MappingProxyType(grouped)


def colonias(postal: object) -> tuple[Colonia, ...]:
    """Every c_Colonia of a postal code (empty when it has none)."""
    lines = _colonias_by_zip().get(_text(postal, "zip_code", "c_CodigoPostal"), [])
    return tuple(Colonia(code, zip_code, name) for zip_code, code, name in map(_split, lines))


def _split(line: str) -> list[str]:
    return line.split("\t")


def _fold(text: str) -> str:
    """Lower case without accents, for searching (``Fletes`` and ``FLETÉS`` match)."""
    plain = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in plain if not unicodedata.combining(ch)).lower()


@lru_cache(maxsize=1)
def _folded_products() -> tuple[tuple[str, str, str], ...]:
    rows = (line.split("\t", 1) for line in sorted(_table("products").values()))
    return tuple((code, description, _fold(description)) for code, description in rows)


def search_products(text: object, *, limit: int = 20) -> list[Product]:
    """Products whose description has every word of ``text`` (no case, no accents).

    ``search_products("flete")`` → freight codes; ``search_products("transporte carga")``.
    Results come in code order, at most ``limit`` of them.
    """
    query = _fold(_text(text, "text", "c_ClaveProdServ")).split()
    if not query:
        return []
    found: list[Product] = []
    for code, description, folded in _folded_products():
        if all(word in folded for word in query):
            found.append(Product(code, description))
            if len(found) >= limit:
                break
    return found


@lru_cache(maxsize=1)
def catalog_version() -> CatalogVersion:
    """Which SAT catalog release (or derived file) the shipped data was built from."""
    path = _data_dir().joinpath("version.json")
    meta = json.loads(path.read_text("utf-8"))
    return CatalogVersion(
        str(meta["source"]),
        str(meta["version"]),
        str(meta["generated"]),
        MappingProxyType({str(k): int(v) for k, v in meta.get("rows", {}).items()}),
    )
