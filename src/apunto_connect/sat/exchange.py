"""The Banxico FIX exchange rate (pesos per US dollar) for an invoice's TipoCambio.

Banxico publishes the FIX every business day as series ``SF43718`` of its SIE REST API; the API
needs a free token issued by Banxico. The token is resolved like every credential of the SDK:
``token=`` argument, then the ``APUNTO_BANXICO_TOKEN`` environment variable, then the keyring
(service ``apunto_connect/banxico``)::

    from datetime import date
    from apunto_connect import sat

    sat.exchange_rate("USD", date(2026, 11, 30))     # Decimal('18.4150')

The rate of a day is the last FIX determined on or before it (weekends and holidays have none,
Banxico answers ``N/E``), and each answer is kept for the rest of the process, so an invoice run
asks Banxico once per day and currency. The sandbox serves an emulator of the API
(``Sandbox().emulator("banxico")``), and :func:`apunto_connect.sat.preflight` takes
``fix=client.exchange_rate`` to warn when a TipoCambio is far from the FIX.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ..errors import Issue, ProviderError, Severity, ValidationError

if TYPE_CHECKING:
    import requests

    from ..credentials import Secret
    from ..http import Transport

__all__ = ["BANXICO_URL", "FIX_SERIES", "ExchangeRates", "exchange_rate"]

BANXICO_URL = "https://www.banxico.org.mx/SieAPIRest/service/v1"
"""Base URL of Banxico's SIE REST API."""

FIX_SERIES = "SF43718"
"""SIE series of the FIX: pesos per US dollar, determined by Banxico each business day."""

_SERIES = {"USD": FIX_SERIES}
_LOOKBACK = timedelta(days=10)  # the longest run of days without a FIX (holidays + weekend)


def _error(field: str, code: str, message: str, message_es: str) -> ValidationError:
    return ValidationError([Issue(field, code, message, message_es, Severity.ERROR)])


def _day(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _error(
        "date",
        "APUNTO-812",
        f"{value!r} is not a date (date, datetime or YYYY-MM-DD)",
        f"{value!r} no es una fecha (date, datetime o AAAA-MM-DD)",
    )


class ExchangeRates:
    """Banxico SIE client for the FIX, with a per-day cache (thread-safe).

    Args:
        token: the Banxico SIE token; else ``APUNTO_BANXICO_TOKEN`` or the keyring.
        base_url: the SIE API root (the emulator's URL in tests).
        session: a :class:`requests.Session` (the sandbox's, to reach its emulator in process).
        today: the current date (tests); a date after it is refused.
    """

    def __init__(
        self,
        token: str | Secret | None = None,
        *,
        base_url: str = BANXICO_URL,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (5.0, 20.0),
        today: Callable[[], date] = date.today,
    ) -> None:
        from ..credentials import CredentialField, resolve_credentials
        from ..http import Transport

        resolved = resolve_credentials("banxico", [CredentialField("token")], {"token": token})
        self._token: Secret = resolved["token"]
        self._today = today
        self._cache: dict[tuple[str, date], Decimal] = {}
        self._lock = threading.Lock()
        self.transport: Transport = Transport(
            "banxico",
            base_url,
            headers={"Bmx-Token": self._token.reveal()},
            timeout=timeout,
            session=session,
            error_mapper=_banxico_error,
            secrets=(self._token.reveal(),),
        )

    def exchange_rate(self, currency: object, day: object) -> Decimal:
        """Pesos per unit of ``currency`` on ``day``: the last FIX determined on or before it.

        ``MXN`` is 1. Only ``USD`` has a FIX.

        Raises:
            ValidationError: another currency, a malformed date or one in the future.
            ProviderError: Banxico refused (a bad token: :class:`AuthenticationError`), its
                text verbatim, or it has no FIX in the ten days before ``day``.
            TransportError: no usable answer.
        """
        if not isinstance(currency, str) or currency.strip().upper() not in (*_SERIES, "MXN"):
            raise _error(
                "currency",
                "APUNTO-811",
                f"Banxico's FIX exists for USD only, got {currency!r}",
                f"El FIX de Banxico solo existe para USD, se recibió {currency!r}",
            )
        code = currency.strip().upper()
        when = _day(day)
        if when > self._today():
            raise _error(
                "date",
                "APUNTO-812",
                f"{when.isoformat()} is in the future: Banxico has no FIX for it yet",
                f"{when.isoformat()} es una fecha futura: Banxico aún no tiene FIX",
            )
        if code == "MXN":
            return Decimal(1)
        key = (code, when)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        rate = self._fetch(_SERIES[code], when)
        with self._lock:
            self._cache[key] = rate
        return rate

    def _fetch(self, series: str, when: date) -> Decimal:
        start = when - _LOOKBACK
        body = self.transport.request_json(
            "GET", f"series/{series}/datos/{start.isoformat()}/{when.isoformat()}"
        )
        published = sorted(_points(body, series), key=lambda point: point[0])
        if not published:
            raise ProviderError(
                f"Banxico has no FIX ({series}) between {start.isoformat()} and "
                f"{when.isoformat()}",
                provider="banxico",
            )
        return published[-1][1]

    def close(self) -> None:
        """Close the connections this client opened."""
        self.transport.close()


def _points(body: Any, series: str) -> list[tuple[date, Decimal]]:
    """The published (date, value) pairs of ``series`` in a SIE answer; ``N/E`` skipped."""
    try:
        all_series = body["bmx"]["series"]
    except (KeyError, TypeError):
        raise ProviderError(
            "Banxico's answer has no bmx.series", provider="banxico", raw_body=str(body)[:2000]
        ) from None
    points: list[tuple[date, Decimal]] = []
    for entry in all_series if isinstance(all_series, list) else []:
        if not isinstance(entry, Mapping) or entry.get("idSerie") != series:
            continue
        for point in entry.get("datos") or []:
            try:
                day = datetime.strptime(str(point["fecha"]), "%d/%m/%Y").date()
                value = Decimal(str(point["dato"]).replace(",", ""))
            except (KeyError, TypeError, ValueError, InvalidOperation):
                continue  # "N/E": no value that day
            if value.is_finite() and value > 0:
                points.append((day, value))
    return points


def _banxico_error(provider: str, response: requests.Response) -> ProviderError:
    """Banxico's ``{"error": {"mensaje": …, "detalle": …}}`` kept verbatim."""
    from ..http import default_error_mapper

    error = default_error_mapper(provider, response)
    try:
        payload = response.json()
    except ValueError:
        return error
    detail = payload.get("error") if isinstance(payload, Mapping) else None
    if isinstance(detail, Mapping) and detail.get("mensaje"):
        text = str(detail["mensaje"])
        if detail.get("detalle"):
            text = f"{text}: {detail['detalle']}"
        error.message = text
        error.args = (text,)
    return error


_DEFAULT: ExchangeRates | None = None
_DEFAULT_LOCK = threading.Lock()


def exchange_rate(currency: object, day: object, *, client: ExchangeRates | None = None) -> Decimal:
    """The Banxico FIX of ``day`` for ``currency`` (see :class:`ExchangeRates`).

    Without ``client`` one default client is made on first use (its token from the environment
    or the keyring) and reused, cache included.
    """
    global _DEFAULT
    if client is None:
        with _DEFAULT_LOCK:
            if _DEFAULT is None:
                _DEFAULT = ExchangeRates()
            client = _DEFAULT
    return client.exchange_rate(currency, day)
