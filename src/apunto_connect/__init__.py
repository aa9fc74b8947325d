"""apunto-connect: Mexican CFDI invoicing, freight tracking and storage behind three interfaces.

The package imports lazily: ``import apunto_connect`` loads no vendor code, lxml, keyring or
Google libraries; names are resolved on first use.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__

logging.getLogger("apunto_connect").addHandler(logging.NullHandler())

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "invoice_provider": "apunto_connect.registry",
    "tracking_provider": "apunto_connect.registry",
    "storage_provider": "apunto_connect.registry",
    "available_providers": "apunto_connect.registry",
    "Sandbox": "apunto_connect.sandbox",
    "Secret": "apunto_connect.credentials",
    "Transport": "apunto_connect.http",
    "archive": "apunto_connect.archiving",
    "archive_many": "apunto_connect.archiving",
    "LocalStorage": "apunto_connect.storage.local",
    "open_journal": "apunto_connect.journal",
    "PaymentReceipt": "apunto_connect.models",
    "Payment": "apunto_connect.models",
    "PaidDocument": "apunto_connect.models",
    "CreditNote": "apunto_connect.models",
    "CartaPorte": "apunto_connect.models",
    "CartaPorteInvoice": "apunto_connect.models",
    "carta_porte_from_trip": "apunto_connect.models",
    "Ticket": "apunto_connect.models",
    "global_invoice": "apunto_connect.models",
}
for _module, _names in {
    "apunto_connect.errors": (
        "ApuntoError", "AuthenticationError", "ConfigurationError", "Conflict",
        "CredentialsNotFound", "InsufficientCredits", "Issue", "JournalUnavailable", "NotFound",
        "PermissionDenied", "ProviderError", "RateLimited", "ServerError",
        "SignatureVerificationError", "StampInProgress", "StampOutcomeUnknown", "StampRejected", "Timeout", "TransportError", "UnsupportedOperation", "ValidationError",
    ),
    "apunto_connect.models": (
        "Assignment", "CancelMotive", "Cancellation", "Capability", "ConnectionStatus",
        "Customer", "Driver", "FleetType", "Invoice", "InvoiceKind", "Issuer", "LineItem",
        "PaymentMethod", "Shipment", "StampedInvoice", "StoredFile", "Tax", "Tracking",
        "TrackingEvent", "TrackingMode", "TrackingStatus", "Vehicle",
    ),
}.items():
    _LAZY.update(dict.fromkeys(_names, _module))

__all__ = ["__version__", *sorted(_LAZY)]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .archiving import archive, archive_many
    from .credentials import Secret
    from .errors import *
    from .http import Transport
    from .journal import open_journal
    from .models import *
    from .registry import (
        available_providers,
        invoice_provider,
        storage_provider,
        tracking_provider,
    )
    from .sandbox import Sandbox
    from .storage.local import LocalStorage


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'apunto_connect' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: the next access skips __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
