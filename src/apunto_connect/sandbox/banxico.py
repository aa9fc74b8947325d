"""Emulator of Banxico's SIE REST API, series SF43718 (the FIX), for ``sat.exchange_rate``.

Real paths and shapes: ``GET /SieAPIRest/service/v1/series/SF43718/datos/{start}/{end}`` (and
``/datos/oportuno`` for the latest), token in the ``Bmx-Token`` header or ``?token=``, answer
``{"bmx": {"series": [{"idSerie", "titulo", "datos": [{"fecha": "dd/mm/yyyy", "dato"}]}]}}``
with business days only. The error body ``{"error": {"mensaje", "detalle"}}`` and its texts
are assumed (public integrations show the shape, not every sentence).

The values are **synthetic** (between 17 and 20 pesos, stable per date) unless a test sets the
real one with :meth:`BanxicoEmulator.set_fix`; weekends have no FIX, like the real series.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from .._wire import mexico_tz
from .framework import (
    Emulator,
    EmulatorRequest,
    EmulatorResponse,
    HttpError,
    json_response,
    route,
)

__all__ = ["DEMO_TOKEN", "BanxicoEmulator"]

BASE_URL = "https://www.banxico.org.mx/SieAPIRest/service/v1"
DEMO_TOKEN = "sandbox-banxico-token-0000000000000000000000000000000000000000000000000000000000"
TITLE = (
    "Tipo de cambio Pesos por dólar E.U.A. Tipo de cambio para solventar obligaciones "
    "denominadas en moneda extranjera Fecha de determinación (FIX)"
)
_MAX_DAYS = 3650


class BanxicoEmulator(Emulator):
    """Banxico SIE: the FIX series, token-protected."""

    name: ClassVar[str] = "banxico"
    kind: ClassVar[str] = "sat"
    base_urls: ClassVar[tuple[str, ...]] = (BASE_URL,)
    demo_credentials: ClassVar[Mapping[str, str]] = {"token": DEMO_TOKEN}

    def setup(self) -> None:
        """No FIX set: rates are synthetic until :meth:`set_fix`."""
        self.fixes: dict[date, Decimal | None] = {}
        self.requests = 0

    def provider_options(self) -> dict[str, object]:
        """The sandbox's date is the emulator clock's, so "the future" agrees on both sides."""
        return {"today": self.today}

    def today(self) -> date:
        """The emulated current date in Mexico City (UTC-6)."""
        moment = datetime.fromtimestamp(self.clock.now(), tz=mexico_tz())
        return moment.date()

    def set_fix(self, day: date, value: Decimal | str | None) -> None:
        """Publish ``value`` as the FIX of ``day`` (``None``: Banxico shows ``N/E``)."""
        with self.lock:
            self.fixes[day] = None if value is None else Decimal(str(value))

    def fix_of(self, day: date) -> Decimal | None:
        """The FIX this emulator publishes for ``day`` (``None`` on weekends and ``N/E`` days)."""
        if day in self.fixes:
            return self.fixes[day]
        if day.weekday() >= 5 or day > self.today():
            return None
        # Synthetic but stable: the same date always gets the same value.
        spread = zlib.crc32(day.isoformat().encode()) % 30000
        return Decimal(17) + Decimal(spread) / Decimal(10000)

    def authenticate(self, request: EmulatorRequest) -> EmulatorResponse | None:
        """A missing or wrong token is refused before routing, as Banxico does."""
        token = request.header("bmx-token") or request.query.get("token", "")
        if token != DEMO_TOKEN:
            return json_response(
                401,
                {"error": {"mensaje": "Token inválido",
                           "detalle": "El token proporcionado no es válido o no existe."}},
            )  # fmt: skip
        return None

    @route("GET", "/series/{series}/datos/{start}/{end}")
    def range_data(self, request: EmulatorRequest, series: str, start: str, end: str) -> EmulatorResponse:
        """The FIX of every business day from ``start`` to ``end`` (YYYY-MM-DD, inclusive)."""
        self._series(series)
        try:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:
            raise HttpError(
                400, {"error": {"mensaje": "Formato de fecha incorrecto",
                                "detalle": "Las fechas deben tener el formato yyyy-MM-dd."}},
            ) from None  # fmt: skip
        if last < first or (last - first).days > _MAX_DAYS:
            raise HttpError(
                400, {"error": {"mensaje": "Rango de fechas inválido",
                                "detalle": "La fecha final debe ser posterior a la inicial."}},
            )  # fmt: skip
        self.requests += 1
        points = []
        day = first
        while day <= last:
            value = self.fix_of(day)
            if value is not None or day in self.fixes:
                points.append(_point(day, value))
            day += timedelta(days=1)
        return self._answer(points)

    @route("GET", "/series/{series}/datos/oportuno")
    def latest(self, request: EmulatorRequest, series: str) -> EmulatorResponse:
        """The latest published FIX."""
        self._series(series)
        self.requests += 1
        day = self.today()
        for _ in range(15):
            value = self.fix_of(day)
            if value is not None:
                return self._answer([_point(day, value)])
            day -= timedelta(days=1)
        return self._answer([])

    @staticmethod
    def _series(series: str) -> None:
        if series.upper() != "SF43718":
            raise HttpError(
                404, {"error": {"mensaje": "Serie no encontrada",
                                "detalle": f"La serie {series} no existe o no es pública."}},
            )  # fmt: skip

    @staticmethod
    def _answer(points: list[dict[str, str]]) -> EmulatorResponse:
        return json_response(
            200, {"bmx": {"series": [{"idSerie": "SF43718", "titulo": TITLE, "datos": points}]}}
        )


def _point(day: date, value: Decimal | None) -> dict[str, str]:
    return {"fecha": day.strftime("%d/%m/%Y"), "dato": "N/E" if value is None else f"{value:.4f}"}
