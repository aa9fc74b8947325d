"""Offline emulators of every vendor, so the SDK runs, demos and tests with no account.

>>> from apunto_connect import Sandbox
>>> with Sandbox() as sb:                                   # doctest: +SKIP
...     facturama = sb.invoice_provider("facturama")
...     stamped = facturama.stamp(invoice)

One emulator per vendor speaks that vendor's real paths, auth, envelopes and error shapes, and
is reachable two ways: in process (``sb.session``, a :class:`requests.Session` with an adapter
mounted on the vendor's real base URLs) and over loopback (``sb.serve()``).
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, overload

import requests

from ..errors import ConfigurationError
from .adapter import SandboxAdapter
from .faults import Fault, FaultKind, FaultPlan
from .framework import Emulator, SandboxClock
from .server import LoopbackServer

if TYPE_CHECKING:  # return types only: the vendor modules load when a provider is asked for
    from ..invoicing.actiun import ActiunInvoiceProvider
    from ..invoicing.alegra import AlegraProvider
    from ..invoicing.base import InvoiceProvider
    from ..invoicing.contadigital import ContaDigitalProvider
    from ..invoicing.enlace_fiscal import EnlaceFiscalProvider
    from ..invoicing.facturama import FacturamaProvider
    from ..journal import JournalStore
    from ..registry import Kind
    from ..storage.base import StorageProvider
    from ..storage.google_drive import GoogleDriveStorage
    from ..storage.local import LocalStorage
    from ..tracking.base import TrackingProvider
    from ..tracking.controlt import ControlTProvider
    from ..tracking.shipsgo import ShipsGoProvider

__all__ = [
    "EMULATORS",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "LoopbackServer",
    "Sandbox",
    "SandboxClock",
]

# name -> "module:Class"; every vendor adds its emulator here.
EMULATORS: dict[str, str] = {
    "actiun": "apunto_connect.sandbox.actiun:ActiunEmulator",
    "alegra": "apunto_connect.sandbox.alegra:AlegraEmulator",
    "contadigital": "apunto_connect.sandbox.contadigital:ContaDigitalEmulator",
    "enlace_fiscal": "apunto_connect.sandbox.enlace_fiscal:EnlaceFiscalEmulator",
    "facturama": "apunto_connect.sandbox.facturama:FacturamaEmulator",
    "google_drive": "apunto_connect.sandbox.google_drive:GoogleDriveEmulator",
    "controlt": "apunto_connect.sandbox.controlt:ControlTEmulator",
    "shipsgo": "apunto_connect.sandbox.shipsgo:ShipsGoEmulator",
    "sat_status": "apunto_connect.sandbox.sat_status:SatStatusEmulator",
    "banxico": "apunto_connect.sandbox.banxico:BanxicoEmulator",
}


def _seed_for(seed: int | None, name: str) -> int | None:
    """Derive each emulator's seed, so one sandbox seed never gives two vendors the same UUIDs."""
    return None if seed is None else zlib.crc32(f"{seed}:{name}".encode())


def _marked(provider: Any) -> Any:
    """``provider``, told that it runs on the emulator (its status says "sandbox")."""
    mark = getattr(provider, "mark_sandbox", None)
    if callable(mark):  # third-party providers may not derive from the SDK's bases
        mark()
    return provider


def _load_emulator_class(target: str) -> type[Emulator]:
    module_name, _, attr = target.partition(":")
    cls: type[Emulator] = getattr(importlib.import_module(module_name), attr)
    return cls


class Sandbox:
    """A set of stateful vendor emulators and providers wired to them.

    Args:
        latency: seconds added to every request (realistic timing for benchmarks).
        faults: fault rules (or a :class:`FaultPlan`) to inject.
        seed: makes ids and fault probabilities reproducible.
        clock: simulated time shared by the emulators (advance it instead of sleeping).
        vendors: only these emulators (all by default).
        journal: the stamping journal its invoicing providers share: a
            :class:`~apunto_connect.journal.JournalStore`, a SQLite path, a ``postgresql://``
            URL or ``"memory"``. By default a fresh in-memory journal of this sandbox alone
            (``APUNTO_JOURNAL`` is not read: sandbox keys never mix with real ones).
    """

    def __init__(
        self,
        latency: float = 0.0,
        faults: FaultPlan | Iterable[Fault] | None = None,
        seed: int | None = None,
        clock: SandboxClock | None = None,
        vendors: Iterable[str] | None = None,
        journal: JournalStore | str | os.PathLike[str] | None = None,
    ) -> None:
        from ..journal import MemoryJournal, open_journal

        self.latency = latency
        self.journal: JournalStore = (
            MemoryJournal() if journal is None else open_journal(journal)
        )
        self.seed = seed
        self.clock = clock or SandboxClock()
        self.faults = faults if isinstance(faults, FaultPlan) else FaultPlan(faults or (), seed)
        names = list(vendors) if vendors is not None else list(EMULATORS)
        unknown = [n for n in names if n not in EMULATORS]
        if unknown:
            raise ConfigurationError(f"no emulator for {unknown}; known: {sorted(EMULATORS)}")
        self.emulators: dict[str, Emulator] = {
            name: _load_emulator_class(EMULATORS[name])(clock=self.clock, seed=_seed_for(seed, name))
            for name in names
        }
        for emulator in self.emulators.values():
            # Reads made while an emulator sets itself up (its route table) are no flow's own.
            forget = getattr(getattr(emulator, "spec", None), "forget_used", None)
            if callable(forget):
                forget()
        self.adapter = SandboxAdapter(self.emulators, self.faults, latency)
        self.session = requests.Session()
        for prefix in self.adapter.prefixes():
            self.session.mount(prefix, self.adapter)
        self._servers: list[LoopbackServer] = []
        self._temp_dirs: list[Path] = []
        # (vendor, provider) for every provider built here, read by assumptions_used().
        self._built: list[tuple[str, Any]] = []

    def emulator(self, name: str) -> Emulator:
        """The emulator of vendor ``name`` (to inspect its state in tests)."""
        try:
            return self.emulators[name]
        except KeyError:
            raise ConfigurationError(
                f"no emulator named {name!r}; known: {sorted(self.emulators)}"
            ) from None

    def provider_kwargs(self, name: str, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments that wire vendor ``name``'s provider to this sandbox."""
        emulator = self.emulator(name)
        kwargs: dict[str, Any] = {**emulator.demo_credentials, "session": self.session}
        kwargs.update(emulator.provider_options())
        kwargs.update(overrides)
        return kwargs

    # The overloads mirror apunto_connect.registry: a literal vendor name gives the concrete
    # provider class to a type checker, any other name the base interface.
    @overload
    def invoice_provider(
        self, name: Literal["actiun"], **overrides: Any
    ) -> ActiunInvoiceProvider: ...
    @overload
    def invoice_provider(self, name: Literal["alegra"], **overrides: Any) -> AlegraProvider: ...
    @overload
    def invoice_provider(
        self, name: Literal["contadigital"], **overrides: Any
    ) -> ContaDigitalProvider: ...
    @overload
    def invoice_provider(
        self, name: Literal["enlace_fiscal"], **overrides: Any
    ) -> EnlaceFiscalProvider: ...
    @overload
    def invoice_provider(
        self, name: Literal["facturama"], **overrides: Any
    ) -> FacturamaProvider: ...
    @overload
    def invoice_provider(self, name: str, **overrides: Any) -> InvoiceProvider: ...

    def invoice_provider(self, name: str, **overrides: Any) -> InvoiceProvider:
        """An invoicing provider talking to the emulator, with demo credentials."""
        overrides.setdefault("journal", self.journal)
        return cast("InvoiceProvider", self._build_provider("invoicing", name, overrides))

    @overload
    def tracking_provider(
        self, name: Literal["controlt"], **overrides: Any
    ) -> ControlTProvider: ...
    @overload
    def tracking_provider(self, name: Literal["shipsgo"], **overrides: Any) -> ShipsGoProvider: ...
    @overload
    def tracking_provider(self, name: str, **overrides: Any) -> TrackingProvider: ...

    def tracking_provider(self, name: str, **overrides: Any) -> TrackingProvider:
        """A tracking provider talking to the emulator, with demo credentials."""
        return cast("TrackingProvider", self._build_provider("tracking", name, overrides))

    @overload
    def storage_provider(
        self, name: Literal["google_drive"], **overrides: Any
    ) -> GoogleDriveStorage: ...
    @overload
    def storage_provider(self, name: Literal["local"], **overrides: Any) -> LocalStorage: ...
    @overload
    def storage_provider(self, name: str, **overrides: Any) -> StorageProvider: ...

    def storage_provider(self, name: str, **overrides: Any) -> StorageProvider:
        """A storage provider: ``local`` in a temporary folder, others on their emulator."""
        if name == "local":
            from ..registry import load_provider_class

            if "root" not in overrides:
                root = Path(tempfile.mkdtemp(prefix="apunto-sandbox-"))
                self._temp_dirs.append(root)
                overrides["root"] = root
            return cast("StorageProvider", load_provider_class("storage", "local")(**overrides))
        return cast("StorageProvider", self._build_provider("storage", name, overrides))

    def _build_provider(self, kind: Kind, name: str, overrides: Mapping[str, Any]) -> Any:
        """Vendor ``name``'s provider of ``kind`` wired to its emulator.

        It is remembered, so :meth:`assumptions_used` reads its spec too.
        """
        from ..registry import load_provider_class

        cls = load_provider_class(kind, name)
        provider = _marked(cls(**self.provider_kwargs(name, **overrides)))
        self._built.append((name, provider))
        return provider

    def assumptions_used(self) -> dict[str, list[str]]:
        """Which assumed vendor facts the flows run on this sandbox relied on, per vendor.

        The union of what the providers built by this sandbox and its emulators read through
        their own spec copies (:meth:`~apunto_connect.vendor_spec.VendorSpec.assumptions_used`).
        Only vendors that relied on at least one assumed fact appear; each list is sorted. A
        key here is a guess about the vendor's real API that the flow depends on: check it (in
        ``docs/vendors/evidence/``) before going live, or override it with ``spec={...}``.
        """
        used: dict[str, set[str]] = {}
        holders: list[tuple[str, Any]] = [*self._built, *self.emulators.items()]
        for vendor, holder in holders:
            spec = getattr(holder, "spec", None)
            read = getattr(spec, "assumptions_used", None)
            if callable(read):  # vendors without a spec (storage "local") have nothing to say
                used.setdefault(vendor, set()).update(read())
        return {vendor: sorted(keys) for vendor, keys in sorted(used.items()) if keys}

    def forget_assumptions_used(self) -> None:
        """Start :meth:`assumptions_used` afresh (e.g. after setting up, before the flow)."""
        for _vendor, holder in [*self._built, *self.emulators.items()]:
            forget = getattr(getattr(holder, "spec", None), "forget_used", None)
            if callable(forget):
                forget()

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> LoopbackServer:
        """Serve every emulator over loopback HTTP (stopped by :meth:`close`)."""
        server = LoopbackServer(self.emulators, self.faults, self.latency, host, port)
        self._servers.append(server)
        return server

    def close(self) -> None:
        """Stop servers, close the session and remove temporary folders."""
        for server in self._servers:
            server.close()
        self._servers.clear()
        self.session.close()
        for folder in self._temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)
        self._temp_dirs.clear()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def demo_credentials() -> Mapping[str, Mapping[str, str]]:
    """Every emulator's demo credentials (they work only against the sandbox)."""
    return {
        name: dict(_load_emulator_class(target).demo_credentials)
        for name, target in EMULATORS.items()
    }
