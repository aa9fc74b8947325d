"""The tracking interface for land trips and ocean containers."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Collection, Iterator
from typing import Any

from .._caches import BoundedCache, bounded_cache
from .._capabilities import ProviderBase
from ..errors import ConfigurationError, Conflict
from ..events import TRACKING_CREATED, TRACKING_STATUS_CHANGED
from ..models.common import Capability
from ..models.convert import to_dict
from ..models.tracking import Assignment, Shipment, Tracking, TrackingStatus

__all__ = ["InvalidTransition", "TrackingProvider", "check_transition"]


def check_environment(vendor: str, environment: str) -> None:
    """Refuse an ``environment=`` a tracking vendor does not have.

    The tracking vendors have one host (``production``); ``emulator`` is what the sandbox
    passes when it wires a provider to the offline emulator.

    Raises:
        ConfigurationError: any other environment, naming the vendor and the way out.
    """
    if environment not in {"production", "emulator"}:
        raise ConfigurationError(
            f"{vendor} has no {environment!r} environment; use 'production', or "
            "apunto_connect.Sandbox() for the offline emulator"
        )


class InvalidTransition(Conflict):
    """A lifecycle step that the trip's current status does not allow.

    Raised before any write is sent when the SDK sees the trip is in the wrong status
    (``status_code`` is then ``None``), and also when the vendor itself answers that the trip is
    in the wrong state (``status_code`` 409). It is a :class:`~apunto_connect.errors.Conflict`:
    the input is fine, the trip is not in a state that accepts it.

    Attributes:
        operation: ``assign``, ``activate`` or ``close``.
        current_status: the status the trip is in (``None`` when only the vendor knew it).
        allowed_from: the statuses the operation accepts.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        current_status: TrackingStatus | None,
        allowed_from: Collection[TrackingStatus] = (),
        **kwargs: Any,
    ) -> None:
        self.operation = operation
        self.current_status = current_status
        self.allowed_from = tuple(allowed_from)
        super().__init__(message, **kwargs)


def check_transition(
    provider: str,
    operation: str,
    current: TrackingStatus,
    allowed_from: Collection[TrackingStatus],
    tracking_id: str = "",
) -> None:
    """Raise :class:`InvalidTransition` unless ``current`` is one of ``allowed_from``.

    The message names the current status and the statuses that would be accepted.
    """
    if current in allowed_from:
        return
    ordered = [s for s in TrackingStatus if s in allowed_from]
    allowed = ", ".join(s.value.upper() for s in ordered) or "none"
    subject = f"trip {tracking_id}" if tracking_id else "the trip"
    raise InvalidTransition(
        f"cannot {operation} {subject}: its status is {current.value.upper()}; "
        f"{operation} is allowed only from {allowed}",
        provider=provider,
        operation=operation,
        current_status=current,
        allowed_from=ordered,
    )


def _tracking_data(tracking: Tracking) -> dict[str, Any]:
    data: dict[str, Any] = to_dict(tracking)
    data.pop("raw", None)  # vendor payloads can be large and are not part of the event
    return data


def _note_status(provider: TrackingProvider, tracking: Tracking) -> None:
    """Emit ``tracking.status_changed`` when a call shows a status this provider has not seen."""
    seen: BoundedCache[str, TrackingStatus] | None = provider.__dict__.get("_seen_statuses")
    if seen is None:
        # setdefault: two threads seeing the first status at once keep one cache.
        seen = provider.__dict__.setdefault("_seen_statuses", bounded_cache("tracking.seen_statuses"))
    previous = seen.swap(tracking.tracking_id, tracking.status)
    if previous is not None and previous is not tracking.status:
        provider.events.emit(
            TRACKING_STATUS_CHANGED,
            provider.name,
            {
                "tracking_id": tracking.tracking_id,
                "reference": tracking.reference,
                "previous_status": previous.value,
                "status": tracking.status.value,
                "native_status": tracking.native_status,
                "tracking": _tracking_data(tracking),
            },
        )


class TrackingProvider(ProviderBase):
    """Create and follow trackings; land vendors also assign, activate and close trips.

    Operations a vendor does not offer raise :class:`~apunto_connect.errors.UnsupportedOperation`
    before any network call.

    The public methods are template methods: each checks the capability, calls the vendor's
    hook (``create_tracking`` → ``_create_tracking``, ``assign`` → ``_assign`` …) and emits
    ``tracking.created`` and ``tracking.status_changed`` on :attr:`events`, so no vendor
    carries event code.
    """

    # -- public operations: capability check, the vendor's hook, events ------------------------

    def create_tracking(self, shipment: Shipment, **options: Any) -> Tracking:
        """Start tracking ``shipment``; emits ``tracking.created``.

        ``options`` are the vendor's own (e.g. ShipsGo's ``allow_non_iso_container``).
        """
        self.require(Capability.CREATE_TRACKING)
        tracking = self._create_tracking(shipment, **options)
        self.events.emit(TRACKING_CREATED, self.name, _tracking_data(tracking))
        return self._observed(tracking)

    def get_tracking(self, tracking_id: str) -> Tracking:
        """Fetch the current state of a tracking."""
        self.require(Capability.GET_TRACKING)
        return self._observed(self._get_tracking(tracking_id))

    def list_trackings(self, **filters: Any) -> Iterator[Tracking]:
        """Iterate over the trackings of the account, lazily."""
        self.require(Capability.LIST_TRACKINGS)
        return self._list_trackings(**filters)

    def delete_tracking(self, tracking_id: str) -> None:
        """Stop tracking and remove the shipment at the vendor."""
        self.require(Capability.DELETE_TRACKING)
        self._delete_tracking(tracking_id)

    def assign(self, tracking_id: str, assignment: Assignment) -> Tracking:
        """Assign carrier, vehicle and driver to a land trip."""
        self.require(Capability.ASSIGN)
        return self._observed(self._assign(tracking_id, assignment))

    def activate(self, tracking_id: str, *, by: str) -> Tracking:
        """Start monitoring a land trip; records when and who."""
        self.require(Capability.ACTIVATE)
        return self._observed(self._activate(tracking_id, by=by))

    def close(self, tracking_id: str, *, by: str) -> Tracking:
        """Finish monitoring a land trip; records when and who."""
        self.require(Capability.CLOSE)
        return self._observed(self._close(tracking_id, by=by))

    def _observed(self, tracking: Tracking) -> Tracking:
        """Note the status a public call returned (emitting ``tracking.status_changed``).

        Vendor methods that return a :class:`Tracking` outside the operations above (ControlT's
        ``wait_until_created``) pass their result through here. Hooks call other hooks, never
        the public methods, so one call is noted once.
        """
        _note_status(self, tracking)
        return tracking

    # -- vendor hooks --------------------------------------------------------------------------

    @abstractmethod
    def _create_tracking(self, shipment: Shipment, **options: Any) -> Tracking:
        """Create the tracking at the vendor (the capability is already checked)."""

    @abstractmethod
    def _get_tracking(self, tracking_id: str) -> Tracking:
        """Read a tracking from the vendor."""

    def _list_trackings(self, **filters: Any) -> Iterator[Tracking]:
        raise NotImplementedError

    def _delete_tracking(self, tracking_id: str) -> None:
        raise NotImplementedError

    def _assign(self, tracking_id: str, assignment: Assignment) -> Tracking:
        raise NotImplementedError

    def _activate(self, tracking_id: str, *, by: str) -> Tracking:
        raise NotImplementedError

    def _close(self, tracking_id: str, *, by: str) -> Tracking:
        raise NotImplementedError
