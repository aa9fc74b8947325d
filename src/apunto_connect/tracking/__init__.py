"""Tracking providers: land trips and ocean containers behind :class:`TrackingProvider`."""

from .base import TrackingProvider

__all__ = ["TrackingProvider"]
