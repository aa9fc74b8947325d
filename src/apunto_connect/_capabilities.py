"""The part every provider base shares: a name, capabilities and a guard."""

from __future__ import annotations

import copy
from typing import ClassVar, TypeVar

import attrs

from .errors import ServerError, TransportError, UnsupportedOperation
from .events import EventBus
from .models.common import Capability, ConnectionStatus

__all__ = ["ProviderBase"]

_P = TypeVar("_P", bound="ProviderBase")
SANDBOX_ENVIRONMENT = "sandbox"


class ProviderBase:
    """Name, capability metadata and life cycle common to every provider.

    Subclasses set ``name`` and ``capabilities``; :meth:`require` raises
    :class:`UnsupportedOperation` before any network call when an operation is not offered.
    """

    name: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def mark_sandbox(self) -> None:
        """Note that this provider talks to the offline emulator (``Sandbox`` calls it).

        ``check_connection()`` then reports ``environment="sandbox"``, and the mode the
        provider was set up for in ``extra["vendor_environment"]``.
        """
        self.__dict__["_sandbox"] = True

    @property
    def events(self) -> EventBus:
        """The event bus of this provider (created on first use; never shared)."""
        bus: EventBus | None = self.__dict__.get("_event_bus")
        if bus is None:
            bus = self.__dict__.setdefault("_event_bus", EventBus())
        return bus

    def supports(self, capability: Capability) -> bool:
        """Tell whether this provider offers ``capability``."""
        return capability in self.capabilities

    def require(self, capability: Capability, hint: str = "") -> None:
        """Raise :class:`UnsupportedOperation` unless ``capability`` is offered."""
        if capability not in self.capabilities:
            raise UnsupportedOperation(self.name or type(self).__name__, capability.value, hint)

    def check_connection(self) -> ConnectionStatus:
        """Verify the credentials against the vendor and describe the account.

        A health check answers rather than raises on the one condition it exists to report:
        an unreachable host, a timeout or a 5xx give ``ok=False`` with the reason in
        ``detail``; every other error still raises. Vendors implement
        :meth:`_check_connection`.
        """
        try:
            status = self._check_connection()
        except (TransportError, ServerError) as exc:
            status = self._unreachable_status(exc)
        if self.__dict__.get("_sandbox") and status.environment != SANDBOX_ENVIRONMENT:
            # The vendor's own mode (Enlace Fiscal's "production" vs "debug") stays visible.
            extra = dict(status.extra)
            if status.environment is not None:
                extra["vendor_environment"] = status.environment
            status = attrs.evolve(status, environment=SANDBOX_ENVIRONMENT, extra=extra)
        return status

    def _check_connection(self) -> ConnectionStatus:
        """Hook: ask the vendor whether the credentials work and describe the account.

        Refused credentials are a status (``ok=False`` with the vendor's text); a vendor that
        cannot be reached may raise, :meth:`check_connection` turns that into a status.
        """
        raise NotImplementedError

    def _unreachable_status(self, exc: TransportError | ServerError) -> ConnectionStatus:
        environment = getattr(self, "environment", None)
        return ConnectionStatus(
            provider=self.name or type(self).__name__,
            ok=False,
            environment=environment if isinstance(environment, str) else None,
            detail=f"not reachable: {exc}",
            extra={"error": type(exc).__name__},
        )

    def release(self) -> None:
        """Release network resources (connection pools). Safe to call twice.

        Invoicing and storage providers also answer to ``close()``; tracking providers use
        ``close(tracking_id, by=...)`` for closing a trip, so ``release()`` is the shared name.
        """

    def with_options(
        self: _P,
        *,
        timeout: float | tuple[float, float] | None = None,
        deadline: float | None = None,
        max_retries: int | None = None,
    ) -> _P:
        """A copy with other transport defaults, sharing sessions, journal and events.

        ``timeout`` is ``(connect, read)`` seconds (or one number for both), ``deadline`` the
        total seconds a call may take (retries and waits included), ``max_retries`` the
        retries after the first attempt. Every call made through the returned provider uses
        them; the original is unchanged. Release the original, not the copy, when done::

            quick = provider.with_options(timeout=5, max_retries=0)
            quick.check_connection()
        """
        self.events  # made now if need be, so that both share one bus  # noqa: B018
        twin = copy.copy(self)
        for name, value in list(vars(self).items()):
            # Transports, and clients that hold one (Actiun's), know how to copy themselves.
            with_options = getattr(value, "with_options", None)
            if callable(with_options) and not isinstance(value, type) and value is not self:
                setattr(
                    twin, name,
                    with_options(timeout=timeout, deadline=deadline, max_retries=max_retries),
                )
        return twin

    def __enter__(self: _P) -> _P:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
