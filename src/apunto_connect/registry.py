"""Providers by name, built in or added by third parties through entry points.

A third-party package adds a vendor by declaring, in its ``pyproject.toml``::

    [project.entry-points."apunto_connect.providers"]
    "invoicing.myvendor" = "my_package.vendor:MyVendorProvider"

Names are ``<kind>.<name>`` with kind ``invoicing``, ``tracking`` or ``storage``. Nothing is
imported until a provider is asked for by name.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

from .errors import ConfigurationError

if TYPE_CHECKING:  # the concrete classes only name return types; nothing heavy loads at run time
    from .invoicing.actiun import ActiunInvoiceProvider
    from .invoicing.alegra import AlegraProvider
    from .invoicing.base import InvoiceProvider
    from .invoicing.contadigital import ContaDigitalProvider
    from .invoicing.enlace_fiscal import EnlaceFiscalProvider
    from .invoicing.facturama import FacturamaProvider
    from .storage.base import StorageProvider
    from .storage.google_drive import GoogleDriveStorage
    from .storage.local import LocalStorage
    from .tracking.base import TrackingProvider
    from .tracking.controlt import ControlTProvider
    from .tracking.shipsgo import ShipsGoProvider

__all__ = [
    "ENTRY_POINT_GROUP",
    "Kind",
    "available_providers",
    "invoice_provider",
    "load_provider_class",
    "storage_provider",
    "tracking_provider",
]

ENTRY_POINT_GROUP = "apunto_connect.providers"
Kind = Literal["invoicing", "tracking", "storage"]
T = TypeVar("T")

# Built-in providers: "module:Class" strings so that nothing is imported up front.
_BUILTIN: dict[str, dict[str, str]] = {
    "invoicing": {
        "actiun": "apunto_connect.invoicing.actiun:ActiunInvoiceProvider",
        "alegra": "apunto_connect.invoicing.alegra:AlegraProvider",
        "contadigital": "apunto_connect.invoicing.contadigital:ContaDigitalProvider",
        "enlace_fiscal": "apunto_connect.invoicing.enlace_fiscal:EnlaceFiscalProvider",
        "facturama": "apunto_connect.invoicing.facturama:FacturamaProvider",
    },
    "tracking": {
        "controlt": "apunto_connect.tracking.controlt:ControlTProvider",
        "shipsgo": "apunto_connect.tracking.shipsgo:ShipsGoProvider",
    },
    "storage": {
        "google_drive": "apunto_connect.storage.google_drive:GoogleDriveStorage",
        "local": "apunto_connect.storage.local:LocalStorage",
    },
}


def _entry_point_targets(kind: Kind) -> dict[str, str]:
    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        prefix, _, name = ep.name.partition(".")
        if prefix == kind and name:
            found[name] = ep.value
    return found


def available_providers(kind: Kind) -> list[str]:
    """Names of every provider of ``kind``: built-in plus entry points."""
    return sorted({*_BUILTIN[kind], *_entry_point_targets(kind)})


def load_provider_class(kind: Kind, name: str) -> type[Any]:
    """Import and return the provider class registered as ``name``.

    Raises:
        ConfigurationError: unknown name (the message lists the known ones) or a broken target.
    """
    key = name.strip().lower().replace("-", "_")
    target = _BUILTIN[kind].get(key) or _entry_point_targets(kind).get(key)
    if target is None:
        known = ", ".join(available_providers(kind)) or "none"
        raise ConfigurationError(f"Unknown {kind} provider {name!r}; known: {known}")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"{kind} provider {name!r} ({target}) could not be loaded: {exc}"
        ) from exc
    return cast(type[Any], cls)


# The overloads let a type checker infer the concrete provider from a literal vendor name
# (``invoice_provider("facturama")`` is a FacturamaProvider); any other name, such as a
# third-party entry point or a name read from configuration, gives the base interface.


@overload
def invoice_provider(name: Literal["actiun"], **kwargs: Any) -> ActiunInvoiceProvider: ...
@overload
def invoice_provider(name: Literal["alegra"], **kwargs: Any) -> AlegraProvider: ...
@overload
def invoice_provider(name: Literal["contadigital"], **kwargs: Any) -> ContaDigitalProvider: ...
@overload
def invoice_provider(name: Literal["enlace_fiscal"], **kwargs: Any) -> EnlaceFiscalProvider: ...
@overload
def invoice_provider(name: Literal["facturama"], **kwargs: Any) -> FacturamaProvider: ...
@overload
def invoice_provider(name: str, **kwargs: Any) -> InvoiceProvider: ...


def invoice_provider(name: str, **kwargs: Any) -> InvoiceProvider:
    """Build the invoicing provider ``name``; missing credentials come from env or keyring."""
    return cast("InvoiceProvider", load_provider_class("invoicing", name)(**kwargs))


@overload
def tracking_provider(name: Literal["controlt"], **kwargs: Any) -> ControlTProvider: ...
@overload
def tracking_provider(name: Literal["shipsgo"], **kwargs: Any) -> ShipsGoProvider: ...
@overload
def tracking_provider(name: str, **kwargs: Any) -> TrackingProvider: ...


def tracking_provider(name: str, **kwargs: Any) -> TrackingProvider:
    """Build the tracking provider ``name``; missing credentials come from env or keyring."""
    return cast("TrackingProvider", load_provider_class("tracking", name)(**kwargs))


@overload
def storage_provider(name: Literal["google_drive"], **kwargs: Any) -> GoogleDriveStorage: ...
@overload
def storage_provider(name: Literal["local"], **kwargs: Any) -> LocalStorage: ...
@overload
def storage_provider(name: str, **kwargs: Any) -> StorageProvider: ...


def storage_provider(name: str, **kwargs: Any) -> StorageProvider:
    """Build the storage provider ``name`` (``local`` needs ``root=``)."""
    return cast("StorageProvider", load_provider_class("storage", name)(**kwargs))
