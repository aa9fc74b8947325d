"""The tracking interface for land trips and ocean containers."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

from .._capabilities import ProviderBase
from ..models.common import Capability
from ..models.tracking import Assignment, Shipment, Tracking

__all__ = ["TrackingProvider"]


class TrackingProvider(ProviderBase):
    """Create and follow trackings; land vendors also assign, activate and close trips.

    Operations a vendor does not offer raise :class:`~apunto_connect.errors.UnsupportedOperation`
    before any network call.
    """

    @abstractmethod
    def create_tracking(self, shipment: Shipment) -> Tracking:
        """Start tracking ``shipment``."""

    @abstractmethod
    def get_tracking(self, tracking_id: str) -> Tracking:
        """Fetch the current state of a tracking."""

    def list_trackings(self, **filters: Any) -> Iterator[Tracking]:
        """Iterate over the trackings of the account, lazily."""
        self.require(Capability.LIST_TRACKINGS)
        raise NotImplementedError

    def delete_tracking(self, tracking_id: str) -> None:
        """Stop tracking and remove the shipment at the vendor."""
        self.require(Capability.DELETE_TRACKING)
        raise NotImplementedError

    def assign(self, tracking_id: str, assignment: Assignment) -> Tracking:
        """Assign carrier, vehicle and driver to a land trip."""
        self.require(Capability.ASSIGN)
        raise NotImplementedError

    def activate(self, tracking_id: str, *, by: str) -> Tracking:
        """Start monitoring a land trip; records when and who."""
        self.require(Capability.ACTIVATE)
        raise NotImplementedError

    def close(self, tracking_id: str, *, by: str) -> Tracking:
        """Finish monitoring a land trip; records when and who."""
        self.require(Capability.CLOSE)
        raise NotImplementedError
