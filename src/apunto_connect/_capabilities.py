"""The part every provider base shares: a name, capabilities and a guard."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from .errors import UnsupportedOperation
from .events import EventBus
from .models.common import Capability, ConnectionStatus

__all__ = ["ProviderBase"]

_P = TypeVar("_P", bound="ProviderBase")


class ProviderBase:
    """Name, capability metadata and life cycle common to every provider.

    Subclasses set ``name`` and ``capabilities``; :meth:`require` raises
    :class:`UnsupportedOperation` before any network call when an operation is not offered.
    """

    name: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

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
        """Verify the credentials against the vendor and describe the account."""
        raise NotImplementedError

    def release(self) -> None:
        """Release network resources (connection pools). Safe to call twice.

        Invoicing and storage providers also answer to ``close()``; tracking providers use
        ``close(tracking_id, by=...)`` for closing a trip, so ``release()`` is the shared name.
        """

    def __enter__(self: _P) -> _P:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
