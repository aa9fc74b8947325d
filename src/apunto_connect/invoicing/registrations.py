"""Registering a stamp's customer and products at the vendor: once, however many stamp at once.

A base of :class:`~apunto_connect.invoicing.base.InvoiceProvider`. Registrations are guarded by
striped locks named after the record (:func:`~apunto_connect.invoicing.attempts.customer_lock`,
:func:`~apunto_connect.invoicing.attempts.product_lock`), so two threads never create the same
customer or product twice; a batch may register everything it needs up front, in parallel.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from .._capabilities import ProviderBase
from ..errors import ApuntoError
from ..events import CUSTOMER_CREATED
from ..models.invoices import Invoice
from ..models.parties import Customer
from .attempts import _LOCK_STRIPES

log = logging.getLogger("apunto_connect.invoicing")


class Registrations(ProviderBase):
    """Registration locks, batch warm-up and ``customer.created`` reporting for a provider."""

    @contextlib.contextmanager
    def _registering(self, names: Iterable[str]) -> Iterator[None]:
        """Hold the registration locks of ``names`` (see :func:`customer_lock`), in one order."""
        stripes = self.__dict__.get("_register_locks")
        if stripes is None:
            stripes = self.__dict__.setdefault(
                "_register_locks", [threading.Lock() for _ in range(_LOCK_STRIPES)]
            )
        held = sorted({hash(name) % _LOCK_STRIPES for name in names})  # one order: no deadlock
        for index in held:
            stripes[index].acquire()
        try:
            yield
        finally:
            for index in reversed(held):
                stripes[index].release()

    def _batch_registrations(
        self, invoices: Sequence[Invoice]
    ) -> list[tuple[str, Callable[[], object]]]:
        """Hook: the vendor records a batch needs, registered in parallel before it stamps.

        One ``(lock name, work)`` per distinct customer (:func:`customer_lock`) and product
        (:func:`product_lock`); the work registers that one record if the vendor lacks it (and
        caches its id), like :meth:`_prepare_stamp` would for the first invoice needing it.
        Default: none (each stamp registers what it needs).
        """
        return []

    def _warm_up(self, invoices: Sequence[Invoice]) -> list[Callable[[], None]]:
        """The batch's registrations as tasks, each under its lock, failures left to the stamps.

        A registration that fails is not an outcome: the stamp that needs the record registers
        it again and reports the vendor's error for that invoice.
        """
        def task(name: str, work: Callable[[], object]) -> Callable[[], None]:
            def run() -> None:
                try:
                    with self._registering([name]):
                        work()
                except ApuntoError as exc:
                    log.debug("registering %s before the batch failed: %s", name, exc)
            return run

        return [task(name, work) for name, work in self._batch_registrations(invoices)]

    def _customer_created(self, customer: Customer, vendor_id: str = "") -> None:
        """Report from a hook that this provider registered ``customer`` at the vendor.

        The base emits ``customer.created`` (after the preparing hook returns, outside the
        registration locks); outside a stamp it is emitted at once.
        """
        local = self.__dict__.get("_created_local")
        pending = getattr(local, "created", None) if local is not None else None
        if pending is None:
            self._emit_customer_created(customer, vendor_id)
        else:
            pending.append((customer, vendor_id))

    def _emit_customer_created(self, customer: Customer, vendor_id: str) -> None:
        data: dict[str, Any] = {"rfc": customer.rfc, "legal_name": customer.legal_name}
        if vendor_id:
            data["vendor_id"] = vendor_id
        self.events.emit(CUSTOMER_CREATED, self.name, data)
