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

# public name -> module that defines it (written out, not computed, so that type checkers see
# every name; tests/test_import.py checks that this table, __all__ and the imports below agree)
_LAZY: dict[str, str] = {
    "archive": "apunto_connect.archiving",
    "archive_many": "apunto_connect.archiving",
    "Secret": "apunto_connect.credentials",
    "ApuntoError": "apunto_connect.errors",
    "AuthenticationError": "apunto_connect.errors",
    "ConfigurationError": "apunto_connect.errors",
    "Conflict": "apunto_connect.errors",
    "CredentialsNotFound": "apunto_connect.errors",
    "InsufficientCredits": "apunto_connect.errors",
    "Issue": "apunto_connect.errors",
    "JournalUnavailable": "apunto_connect.errors",
    "NotFound": "apunto_connect.errors",
    "PermissionDenied": "apunto_connect.errors",
    "ProviderError": "apunto_connect.errors",
    "RateLimited": "apunto_connect.errors",
    "ServerError": "apunto_connect.errors",
    "SignatureVerificationError": "apunto_connect.errors",
    "StampInProgress": "apunto_connect.errors",
    "StampOutcomeUnknown": "apunto_connect.errors",
    "StampRejected": "apunto_connect.errors",
    "Timeout": "apunto_connect.errors",
    "TransportError": "apunto_connect.errors",
    "UnexpectedResponse": "apunto_connect.errors",
    "UnsupportedOperation": "apunto_connect.errors",
    "ValidationError": "apunto_connect.errors",
    "Transport": "apunto_connect.http",
    "open_journal": "apunto_connect.journal",
    "Assignment": "apunto_connect.models",
    "CancelMotive": "apunto_connect.models",
    "Cancellation": "apunto_connect.models",
    "Capability": "apunto_connect.models",
    "ConnectionStatus": "apunto_connect.models",
    "Customer": "apunto_connect.models",
    "Driver": "apunto_connect.models",
    "FleetType": "apunto_connect.models",
    "Invoice": "apunto_connect.models",
    "InvoiceKind": "apunto_connect.models",
    "Issuer": "apunto_connect.models",
    "LineItem": "apunto_connect.models",
    "PaymentMethod": "apunto_connect.models",
    "Shipment": "apunto_connect.models",
    "StampedInvoice": "apunto_connect.models",
    "StoredFile": "apunto_connect.models",
    "Tax": "apunto_connect.models",
    "Tracking": "apunto_connect.models",
    "TrackingEvent": "apunto_connect.models",
    "TrackingMode": "apunto_connect.models",
    "TrackingStatus": "apunto_connect.models",
    "Vehicle": "apunto_connect.models",
    "PaymentReceipt": "apunto_connect.models",
    "Payment": "apunto_connect.models",
    "PaidDocument": "apunto_connect.models",
    "CreditNote": "apunto_connect.models",
    "CartaPorte": "apunto_connect.models",
    "CartaPorteInvoice": "apunto_connect.models",
    "carta_porte_from_trip": "apunto_connect.models",
    "Ticket": "apunto_connect.models",
    "global_invoice": "apunto_connect.models",
    "available_providers": "apunto_connect.registry",
    "invoice_provider": "apunto_connect.registry",
    "storage_provider": "apunto_connect.registry",
    "tracking_provider": "apunto_connect.registry",
    "Sandbox": "apunto_connect.sandbox",
    "LocalStorage": "apunto_connect.storage.local",
}

# A literal list: type checkers read it to know what the package exports.
__all__ = [
    "ApuntoError",
    "Assignment",
    "AuthenticationError",
    "CancelMotive",
    "Cancellation",
    "Capability",
    "CartaPorte",
    "CartaPorteInvoice",
    "ConfigurationError",
    "Conflict",
    "ConnectionStatus",
    "CredentialsNotFound",
    "CreditNote",
    "Customer",
    "Driver",
    "FleetType",
    "InsufficientCredits",
    "Invoice",
    "InvoiceKind",
    "Issue",
    "Issuer",
    "JournalUnavailable",
    "LineItem",
    "LocalStorage",
    "NotFound",
    "PaidDocument",
    "Payment",
    "PaymentMethod",
    "PaymentReceipt",
    "PermissionDenied",
    "ProviderError",
    "RateLimited",
    "Sandbox",
    "Secret",
    "ServerError",
    "Shipment",
    "SignatureVerificationError",
    "StampInProgress",
    "StampOutcomeUnknown",
    "StampRejected",
    "StampedInvoice",
    "StoredFile",
    "Tax",
    "Ticket",
    "Timeout",
    "Tracking",
    "TrackingEvent",
    "TrackingMode",
    "TrackingStatus",
    "Transport",
    "TransportError",
    "UnexpectedResponse",
    "UnsupportedOperation",
    "ValidationError",
    "Vehicle",
    "__version__",
    "archive",
    "archive_many",
    "available_providers",
    "carta_porte_from_trip",
    "global_invoice",
    "invoice_provider",
    "open_journal",
    "storage_provider",
    "tracking_provider",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    # "X as X" marks each name as an explicit re-export for mypy --strict users.
    from .archiving import archive as archive
    from .archiving import archive_many as archive_many
    from .credentials import Secret as Secret
    from .errors import ApuntoError as ApuntoError
    from .errors import AuthenticationError as AuthenticationError
    from .errors import ConfigurationError as ConfigurationError
    from .errors import Conflict as Conflict
    from .errors import CredentialsNotFound as CredentialsNotFound
    from .errors import InsufficientCredits as InsufficientCredits
    from .errors import Issue as Issue
    from .errors import JournalUnavailable as JournalUnavailable
    from .errors import NotFound as NotFound
    from .errors import PermissionDenied as PermissionDenied
    from .errors import ProviderError as ProviderError
    from .errors import RateLimited as RateLimited
    from .errors import ServerError as ServerError
    from .errors import SignatureVerificationError as SignatureVerificationError
    from .errors import StampInProgress as StampInProgress
    from .errors import StampOutcomeUnknown as StampOutcomeUnknown
    from .errors import StampRejected as StampRejected
    from .errors import Timeout as Timeout
    from .errors import TransportError as TransportError
    from .errors import UnexpectedResponse as UnexpectedResponse
    from .errors import UnsupportedOperation as UnsupportedOperation
    from .errors import ValidationError as ValidationError
    from .http import Transport as Transport
    from .journal import open_journal as open_journal
    from .models import Assignment as Assignment
    from .models import Cancellation as Cancellation
    from .models import CancelMotive as CancelMotive
    from .models import Capability as Capability
    from .models import CartaPorte as CartaPorte
    from .models import CartaPorteInvoice as CartaPorteInvoice
    from .models import ConnectionStatus as ConnectionStatus
    from .models import CreditNote as CreditNote
    from .models import Customer as Customer
    from .models import Driver as Driver
    from .models import FleetType as FleetType
    from .models import Invoice as Invoice
    from .models import InvoiceKind as InvoiceKind
    from .models import Issuer as Issuer
    from .models import LineItem as LineItem
    from .models import PaidDocument as PaidDocument
    from .models import Payment as Payment
    from .models import PaymentMethod as PaymentMethod
    from .models import PaymentReceipt as PaymentReceipt
    from .models import Shipment as Shipment
    from .models import StampedInvoice as StampedInvoice
    from .models import StoredFile as StoredFile
    from .models import Tax as Tax
    from .models import Ticket as Ticket
    from .models import Tracking as Tracking
    from .models import TrackingEvent as TrackingEvent
    from .models import TrackingMode as TrackingMode
    from .models import TrackingStatus as TrackingStatus
    from .models import Vehicle as Vehicle
    from .models import carta_porte_from_trip as carta_porte_from_trip
    from .models import global_invoice as global_invoice
    from .registry import available_providers as available_providers
    from .registry import invoice_provider as invoice_provider
    from .registry import storage_provider as storage_provider
    from .registry import tracking_provider as tracking_provider
    from .sandbox import Sandbox as Sandbox
    from .storage.local import LocalStorage as LocalStorage


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'apunto_connect' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: the next access skips __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
