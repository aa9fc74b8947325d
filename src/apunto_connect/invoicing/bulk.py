"""Stamping many invoices at once: a bounded pool over the one stamping path.

:meth:`InvoiceProvider.stamp_many` returns a :class:`StampBatch`: iterate it to get one
:class:`StampOutcome` per invoice, in input order, as soon as each is known. One bad invoice
never stops the batch: its outcome carries the typed error. Keys the journal already shows as
stamped are not sent again (a batch re-run after a crash stamps only what is missing), and the
:class:`BatchSummary` says how many were already done.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, overload

import attrs

from ..errors import ApuntoError, ValidationError
from ..journal.records import StampState
from ..models.convert import from_dict
from ..models.documents import FiscalDocument
from ..models.invoices import Invoice, StampedInvoice
from .documents import host_invoice

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .base import InvoiceProvider

__all__ = ["BatchSummary", "ProgressCallback", "StampBatch", "StampOutcome"]


@attrs.frozen(slots=True)
class StampOutcome:
    """What happened to one invoice of a batch.

    Attributes:
        index: position of the invoice in the batch.
        key: its idempotency key (``None`` when the batch gave none).
        stamped: the stamped invoice, on success.
        error: the typed error, on failure (the vendor's text verbatim).
        already_done: the journal showed the key stamped before this batch: nothing was sent.
        id: the vendor's id of the document when one was created, even if stamping failed
            (a draft the vendor kept).
    """

    index: int
    key: str | None
    stamped: StampedInvoice | None = None
    error: ApuntoError | None = None
    already_done: bool = False
    id: str | None = None

    @property
    def ok(self) -> bool:
        """True when the invoice is stamped (now or before)."""
        return self.stamped is not None


ProgressCallback = Callable[[int, int, StampOutcome], None]
"""Called with (done, total, outcome) after each invoice."""


@attrs.frozen(slots=True)
class BatchSummary:
    """The tally of a finished batch.

    Attributes:
        total: invoices in the batch.
        stamped: stamped by this run.
        already_done: found stamped in the journal, not sent again.
        failed: failures by error type (``{"StampRejected": 2}``).
        elapsed: seconds from the first call to the last outcome.
    """

    total: int
    stamped: int
    already_done: int
    failed: dict[str, int]
    elapsed: float

    @property
    def rate(self) -> float:
        """Invoices finished (stamped now or before) per second."""
        return (self.stamped + self.already_done) / self.elapsed if self.elapsed > 0 else 0.0

    def __str__(self) -> str:
        failures = ", ".join(f"{name} {count}" for name, count in sorted(self.failed.items()))
        return (
            f"{self.total} invoices: {self.stamped} stamped, {self.already_done} already done, "
            f"{sum(self.failed.values())} failed{f' ({failures})' if failures else ''}; "
            f"{self.elapsed:.1f}s, {self.rate:.1f}/s"
        )


Progress = bool | ProgressCallback | None


class StampBatch(Sequence[StampOutcome]):
    """The outcomes of :meth:`InvoiceProvider.stamp_many`, in input order.

    Work starts when the batch is created. Iterating (or indexing) waits for each outcome in
    turn; :meth:`summary` (or :meth:`results`) waits for the rest.
    """

    def __init__(
        self,
        provider: InvoiceProvider,
        invoices: Sequence[FiscalDocument],
        keys: Sequence[str] | None,
        concurrency: int,
        progress: Progress,
    ) -> None:
        if keys is not None and len(keys) != len(invoices):
            raise ValidationError(
                f"{len(keys)} idempotency keys for {len(invoices)} invoices; give one per "
                "invoice, or none", field="idempotency_keys", code="APUNTO-BULK-001",
            )
        if concurrency < 1:
            raise ValidationError(
                f"concurrency must be at least 1, not {concurrency}", field="concurrency",
                code="APUNTO-BULK-002",
            )
        self.provider = provider
        self.total = len(invoices)
        self._keys = list(keys) if keys is not None else [None] * self.total
        self._started = time.monotonic()
        self._finished: float | None = None
        self._done = 0
        self._lock = threading.Lock()
        self._outcomes: list[StampOutcome | None] = [None] * self.total
        self._report = _progress_reporter(progress, self.total)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="stamp-many")
        self._futures: list[Future[dict[int, StampOutcome]] | None] = [None] * self.total
        self._start(list(invoices))

    # -- running ------------------------------------------------------------------------------

    def _start(self, invoices: list[FiscalDocument]) -> None:
        provider = self.provider
        # Pre-flight of the whole batch before the first call: bad invoices fail at once.
        pending: list[int] = []
        for index, invoice in enumerate(invoices):
            key = self._keys[index]
            error = self._precheck(index, invoice, key)
            if error is not None:
                self._settle(StampOutcome(index, key, error=error))
                continue
            done = self._recorded(key)
            if done is not None:
                self._settle(StampOutcome(index, key, stamped=done, already_done=True))
                continue
            pending.append(index)
        chunk = provider._native_batch_size()
        # Only plain invoices go through a vendor's draft batch; the other documents one by one.
        singles = [i for i in pending if not isinstance(invoices[i], Invoice)]
        pending = [i for i in pending if isinstance(invoices[i], Invoice)]
        if singles:
            known_hosts = provider._find_existing_batch([host_invoice(invoices[i]) for i in singles])
            for index in singles:
                self._futures[index] = self._pool.submit(
                    self._stamp_one, index, invoices[index], self._keys[index], known_hosts
                )
        if chunk > 1:
            # The vendor stamps several documents in one request: each task is one such batch.
            for start in range(0, len(pending), chunk):
                indexes = pending[start : start + chunk]
                items = [(i, _plain(invoices[i]), self._keys[i]) for i in indexes]
                future = self._pool.submit(self._stamp_chunk, items)
                for index in indexes:
                    self._futures[index] = future
        else:
            plain = [_plain(invoices[i]) for i in pending]
            # The batch's look-up and its customer and product registrations run side by side
            # on the pool; each stamp waits for the look-up, and for the registrations it needs
            # through their locks, so none is ever registered twice.
            known = self._pool.submit(provider._find_existing_batch, plain) if plain else None
            for task in provider._warm_up(plain):
                self._pool.submit(task)
            for index in pending:
                invoice, key = invoices[index], self._keys[index]
                self._futures[index] = self._pool.submit(
                    self._stamp_one, index, invoice, key, known
                )
        self._pool.shutdown(wait=False)

    def _precheck(
        self, index: int, invoice: FiscalDocument, key: str | None
    ) -> ApuntoError | None:
        try:
            self.provider.require_document(invoice)
            self.provider._validate(invoice)
        except ValidationError as exc:
            return ValidationError(
                [attrs.evolve(issue, field=f"[{index}].{issue.field}") for issue in exc.issues]
            )
        except ApuntoError as exc:
            return exc
        return None

    def _recorded(self, key: str | None) -> StampedInvoice | None:
        if key is None:
            return None
        record = self.provider.journal_record(key)
        if record is None or record.state is not StampState.STAMPED or not record.result:
            return None
        return from_dict(StampedInvoice, dict(record.result))

    def _stamp_one(
        self, index: int, invoice: FiscalDocument, key: str | None, known: Any
    ) -> dict[int, StampOutcome]:
        try:
            if isinstance(known, Future):
                known = _known_or_none(known)
            stamped = self.provider._stamp_from_batch(invoice, key, known)
        except ApuntoError as exc:
            outcome = StampOutcome(index, key, error=exc)
        else:
            outcome = StampOutcome(index, key, stamped=stamped)
        self._settle(outcome)
        return {index: outcome}

    def _stamp_chunk(
        self, items: list[tuple[int, Invoice, str | None]]
    ) -> dict[int, StampOutcome]:
        outcomes = self.provider._stamp_native_chunk(items)
        for outcome in outcomes.values():
            self._settle(outcome)
        return outcomes

    def _settle(self, outcome: StampOutcome) -> None:
        with self._lock:
            self._outcomes[outcome.index] = outcome
            self._done += 1
            done = self._done
            if done == self.total:
                self._finished = time.monotonic()
        if self._report is not None:
            self._report(done, self.total, outcome)

    # -- reading ------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[StampOutcome]:
        """The outcomes in input order, each as soon as it is known (iterate as often as you like)."""
        for index in range(self.total):
            yield self[index]

    def __len__(self) -> int:
        return self.total

    @overload
    def __getitem__(self, index: int) -> StampOutcome: ...
    @overload
    def __getitem__(self, index: slice) -> list[StampOutcome]: ...

    def __getitem__(self, index: int | slice) -> StampOutcome | list[StampOutcome]:
        """The outcome of invoice ``index`` (waits for it); a slice gives a list."""
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.total))]
        if index < 0:
            index += self.total
        if not 0 <= index < self.total:
            raise IndexError(f"batch index {index} out of range (0..{self.total - 1})")
        future = self._futures[index]
        outcome = future.result()[index] if future is not None else self._outcomes[index]
        assert outcome is not None
        return outcome

    def results(self) -> list[StampOutcome]:
        """Every outcome, in input order (waits for the batch to finish)."""
        return [self[index] for index in range(self.total)]

    def summary(self) -> BatchSummary:
        """The tally of the batch (waits for it to finish)."""
        outcomes = self.results()
        failed = Counter(type(o.error).__name__ for o in outcomes if o.error is not None)
        finished = self._finished or time.monotonic()
        return BatchSummary(
            total=self.total,
            stamped=sum(1 for o in outcomes if o.ok and not o.already_done),
            already_done=sum(1 for o in outcomes if o.already_done),
            failed=dict(failed),
            elapsed=finished - self._started,
        )


def _progress_reporter(progress: Progress, total: int) -> ProgressCallback | None:
    """A callback from ``progress``: a callable as is, ``True`` a tqdm bar (when installed)."""
    if progress is None or progress is False:
        return None
    if callable(progress):
        return progress
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the bar is optional (extra "progress"): run quietly without it
        return None
    bar = tqdm(total=total, unit="invoice", desc="stamping")
    lock = threading.Lock()

    def advance(done: int, total_: int, outcome: StampOutcome) -> None:
        with lock:
            bar.update(1)
            if done == total_:
                bar.close()

    return advance


def _known_or_none(lookup: Future[Any]) -> Any:
    """The batch look-up's answer; ``None`` (ask invoice by invoice) when it failed."""
    try:
        return lookup.result()
    except ApuntoError as exc:
        log.info("the batch look-up failed (%s); each invoice is looked up on its own", exc)
        return None


def _plain(document: FiscalDocument) -> Invoice:
    # The native and batch look-up paths take plain invoices only (filtered above).
    assert isinstance(document, Invoice)
    return document
