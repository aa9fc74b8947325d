"""Tracking providers: land trips and ocean containers behind :class:`TrackingProvider`.

Vendor modules (``controlt``, ``shipsgo``) are imported on first use through
:func:`apunto_connect.tracking_provider`, so importing this package stays light.
"""

from .base import InvalidTransition, TrackingProvider, check_transition

__all__ = ["InvalidTransition", "TrackingProvider", "check_transition"]
