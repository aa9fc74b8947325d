"""What every vendor module shares on the wire: Mexico's time, UUIDs, SAT codes, exact JSON.

One copy of each, so the same vendor text yields the same ``sat_code`` at every vendor and
every request body writes money the same way.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import json
import json.encoder
import re
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the transport (requests, tenacity) is not loaded for the helpers below
    import requests

    from .http import Transport

__all__ = [
    "MEXICO_CITY",
    "SAT_CODE_PATTERN",
    "UUID_PATTERN",
    "decode_answer",
    "decode_json",
    "encode_json",
    "is_uuid",
    "json_or_none",
    "local_text",
    "mexico_now",
    "mexico_tz",
    "mexico_wall",
    "sat_code",
    "text_or_none",
    "utc_now",
]

MEXICO_CITY = "America/Mexico_City"
"""The zone CFDI dates are read in when a vendor sends them without an offset."""

UUID_PATTERN = re.compile(
    r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
)
"""A folio fiscal (the TimbreFiscalDigital UUID), any case."""

SAT_CODE_PATTERN = re.compile(r"\b(?:CFDI\d{5}|CRP\d{3,5}|CCE\d{3,5}|CCP\d{3,5}|CP\d{3})\b")
"""A code of the SAT's error matrices: CFDI 4.0, Pagos (CRP), Comercio Exterior (CCE),
Carta Porte (CCP) and the older Carta Porte codes (CP)."""


@functools.lru_cache(maxsize=1)
def mexico_tz() -> dt.tzinfo:
    """Mexico City's zone (UTC-6 all year since 2022 when the system has no tz database)."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(MEXICO_CITY)
    except Exception:  # no tz database on the machine
        return dt.timezone(dt.timedelta(hours=-6), "CST")


def utc_now() -> dt.datetime:
    """The current time, aware, in UTC (the default ``now=`` of every provider)."""
    return dt.datetime.now(dt.timezone.utc)


def mexico_now(now: Callable[[], dt.datetime] = utc_now) -> dt.datetime:
    """The current Mexico City wall time, naive and to the second (how CFDI dates are written)."""
    moment = now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(mexico_tz()).replace(tzinfo=None, microsecond=0)


def mexico_wall(moment: dt.datetime) -> dt.datetime:
    """An aware ``moment`` as naive Mexico City wall time; a naive one is taken as already so."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(mexico_tz()).replace(tzinfo=None)


def local_text(moment: dt.datetime) -> str:
    """``yyyy-mm-ddTHH:MM:SS`` in Mexico City time (an aware moment is converted first)."""
    return mexico_wall(moment).strftime("%Y-%m-%dT%H:%M:%S")


def is_uuid(text: object) -> bool:
    """Tell whether ``text`` is a UUID (a folio fiscal), ignoring surrounding spaces."""
    return isinstance(text, str) and UUID_PATTERN.match(text.strip()) is not None


def text_or_none(value: object) -> str | None:
    """``value`` as stripped text; ``None`` when it is absent or blank (how answers omit a field)."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def sat_code(*texts: object, known: Mapping[str, str] | None = None) -> str | None:
    """The first SAT error code in ``texts`` (strings or lists of strings), else ``None``.

    ``known`` maps sentences a vendor sends without a code to the code they stand for; it is
    consulted only when no text carries a code.
    """
    flat = list(_flatten(texts))
    for text in flat:
        found = SAT_CODE_PATTERN.search(text)
        if found:
            return found.group(0)
    for text in flat:
        for sentence, code in (known or {}).items():
            if sentence in text:
                return code
    return None


def _flatten(values: Iterable[object]) -> Iterable[str]:
    for value in values:
        if isinstance(value, str):
            yield value
        elif isinstance(value, Mapping):
            yield from _flatten(value.values())
        elif isinstance(value, (list, tuple)):
            yield from _flatten(value)
        elif value is not None:
            yield str(value)


def decode_json(content: bytes | str | None) -> Any:
    """Decode a JSON body with amounts kept exact (``Decimal``); empty content is ``None``.

    Raises:
        ValueError: the content is not JSON.
    """
    if content is None:
        return None
    if isinstance(content, bytes):
        if not content.strip():
            return None
        return json.loads(content, parse_float=Decimal)
    if not content.strip():
        return None
    return json.loads(content, parse_float=Decimal)


def json_or_none(content: bytes | str | None) -> Any:
    """Like :func:`decode_json`, but a body that is not JSON is ``None`` (error pages)."""
    try:
        return decode_json(content)
    except ValueError:
        return None


def decode_answer(response: requests.Response, transport: Transport) -> Any:
    """A vendor's JSON answer with amounts kept exact (``Decimal``); empty content is ``None``.

    Raises:
        TransportError: the body is not JSON (an HTML page, a truncated answer); raised by
            ``transport`` in its words, with ``request_sent=True``.
    """
    try:
        return decode_json(response.content)
    except ValueError:
        return transport.decode_json(response)  # raises TransportError(request_sent)


def encode_json(value: Any) -> bytes:
    """UTF-8 JSON with ``Decimal`` written as exact numbers, never through binary floats.

    Dates and times are written in ISO 8601, enums by value.

    Raises:
        TypeError: a value JSON cannot carry.
    """
    return _encode(value).encode("utf-8")


_quote = json.encoder.encode_basestring  # C-accelerated; keeps non-ASCII text as it is


def _encode(value: Any) -> str:
    # The common types first: a stamp body is mostly strings, Decimals, dicts and lists.
    if isinstance(value, str):
        return _quote(value)  # a str enum is written as its value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"cannot send {value} as a JSON number")
        return format(value, "f")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_quote(str(k))}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join([_encode(v) for v in value]) + "]"
    if value is None or value is True or value is False:
        return "null" if value is None else ("true" if value else "false")
    if isinstance(value, enum.Enum):
        return _encode(value.value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return json.dumps(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return _quote(value.isoformat())
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def monotonic() -> float:
    """The default ``clock=`` of every provider: seconds for intervals, pacing and expiry."""
    return time.monotonic()
