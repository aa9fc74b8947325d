"""The invoicing interface every CFDI vendor implements, and the one stamping path they share.

:meth:`InvoiceProvider.stamp` is a template: validate → claim the idempotency key in the
journal → ask the vendor whether the invoice already exists (where it can be asked) → send →
record the outcome and queue its event in one transaction → emit. Vendors implement small
hooks (``_prepare_stamp``, ``_send_stamp``, ``_find_existing``, ``_cancel`` …); locking, the
journal and events live here once. See ``docs/idempotency.md``.
"""

from __future__ import annotations

import logging
import threading
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, Literal

from ..errors import (
    ApuntoError,
    Conflict,
    ProviderError,
    ServerError,
    Severity,
    StampOutcomeUnknown,
    TransportError,
    ValidationError,
)
from ..events import (
    CREDIT_NOTE_STAMPED,
    INVOICE_CANCELLED,
    INVOICE_PAID,
    INVOICE_STAMP_FAILED,
    INVOICE_STAMPED,
    PAYMENT_STAMPED,
    Event,
)
from ..journal import DEFAULT_LEASE, DEFAULT_WAIT, JournalRecord, JournalStore, open_journal
from ..journal.records import Claim, StampState
from ..models.common import Capability
from ..models.convert import from_dict, to_dict
from ..models.credit_notes import CreditNote
from ..models.documents import FiscalDocument
from ..models.invoices import (
    Cancellation,
    CancelMotive,
    Invoice,
    InvoiceKind,
    PaymentMethod,
    StampedInvoice,
)
from ..models.parties import Customer, Issuer
from ..models.payments import PaymentReceipt
from .attempts import (
    DEFAULT_SETTLE_SECONDS,
    StampAttempt,
    _ambiguous,
    _canonical_hash,
    _invoice_data,
    _stamped_data,
    customer_lock,
    product_lock,
)
from .bulk import Progress, StampBatch, StampOutcome
from .documents import document_capability, host_invoice
from .registrations import Registrations

__all__ = [
    "DEFAULT_SETTLE_SECONDS",
    "DownloadFormat",
    "InvoiceProvider",
    "StampAttempt",
    "document_capability",
    "host_invoice",
]

log = logging.getLogger("apunto_connect.invoicing")

DownloadFormat = Literal["xml", "pdf"]

class InvoiceProvider(Registrations):
    """Stamp, fetch, download, cancel and list CFDI 4.0 documents at one vendor.

    Every vendor validates the invoice locally before any network call
    (:meth:`preflight`), registers the customer and products on the fly where the vendor needs
    them, and raises the typed errors of :mod:`apunto_connect.errors` with the vendor's text
    verbatim. With an ``idempotency_key`` a stamp happens at most once per key, across
    threads, processes and restarts, through the journal (``journal=``).

    Events ``invoice.stamped``, ``invoice.stamp_failed`` and ``invoice.cancelled`` are emitted
    on :attr:`events` by this base class.
    """

    bulk_concurrency: ClassVar[int] = 4
    """Threads :meth:`stamp_many` uses when not told (vendors with published limits lower it)."""
    finds_existing: ClassVar[bool] = False
    """Whether :meth:`_find_existing` can ask the vendor if a document exists."""
    asks_before_first_send: ClassVar[bool] = False
    """Whether an attempt that follows no sent request asks the vendor too (its reference,
    e.g. serie+folio, may have been used outside this journal, or a refused attempt may have
    left a draft behind)."""

    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    lease_seconds: float = DEFAULT_LEASE
    claim_wait: float = DEFAULT_WAIT
    _journal_target: JournalStore | str | None = None
    _configured_issuer: Issuer | None = None

    # -- journal ------------------------------------------------------------------------------

    @property
    def journal(self) -> JournalStore:
        """The stamping journal (``journal=``, else ``APUNTO_JOURNAL``, else the default file)."""
        store: JournalStore | None = self.__dict__.get("_journal_store")
        if store is None:
            store = self.__dict__.setdefault("_journal_store", open_journal(self._journal_target))
        return store

    def _set_journal(self, journal: JournalStore | str | None) -> None:
        """Choose the journal (constructors call this with their ``journal=`` argument)."""
        self._journal_target = journal
        self.__dict__.pop("_journal_store", None)

    def _journal_account(self) -> str:
        """The vendor account the keys belong to (a user name, a key fingerprint)."""
        return ""

    def journal_record(self, idempotency_key: str) -> JournalRecord | None:
        """What the journal knows about ``idempotency_key`` at this vendor account."""
        return self.journal.get(self.name, self._journal_account(), idempotency_key)

    def resolve(self, idempotency_key: str, *, uuid: str | None) -> JournalRecord:
        """Settle a key whose outcome is unknown, after checking at the vendor's portal.

        With the CFDI's ``uuid`` the key is recorded as stamped (the next :meth:`stamp` with it
        returns that document, fetched with :meth:`get`); with ``uuid=None`` it is recorded as
        not stamped, so the next :meth:`stamp` sends again.
        """
        result: Mapping[str, Any] | None = None
        vendor_id: str | None = None
        if uuid:
            try:
                found = self.get(uuid)
            except ApuntoError:
                found = None  # the vendor cannot find by UUID: record the UUID alone
            if found is not None:
                result, vendor_id = to_dict(found), found.id
        return self.journal.resolve(
            self.name, self._journal_account(), idempotency_key,
            uuid=uuid, vendor_id=vendor_id, result=result,
        )

    # -- validation ---------------------------------------------------------------------------

    def preflight(self, invoice: FiscalDocument) -> list[Any]:
        """Every problem the SAT or this vendor would certainly reject (no network call).

        The SAT's rules (:func:`apunto_connect.sat.preflight`, which checks a payment receipt,
        credit note or Carta Porte invoice as its host CFDI plus its own rules) plus the
        vendor's own on the host CFDI; the same answer on every call for the same document.
        Warnings are included.
        """
        from .. import sat

        host = host_invoice(invoice)
        issues = list(sat.preflight(invoice, host.issuer or self._configured_issuer))
        issues.extend(self._vendor_issues(host))
        return list(dict.fromkeys(issues))  # a rule both layers check is reported once

    def _vendor_issues(self, invoice: Invoice) -> list[Any]:
        """Hook: this vendor's own rules (limits, unsupported fields), as issues."""
        return []

    def _validate(self, invoice: FiscalDocument) -> None:
        issues = self.preflight(invoice)
        if any(issue.severity is Severity.ERROR for issue in issues):
            raise ValidationError(issues)

    # -- the stamping path --------------------------------------------------------------------

    def require_document(self, document: FiscalDocument) -> None:
        """Raise :class:`UnsupportedOperation` unless this vendor can stamp ``document``'s kind.

        Checked before anything else (pre-flight, journal, network).
        """
        self.require(Capability.STAMP)
        needed = document_capability(document)
        if needed is not None:
            self.require(needed, f"{self.name} cannot issue this document through its API; "
                         "see the vendor matrix in docs/documents.md")

    def stamp(
        self, invoice: FiscalDocument, *, idempotency_key: str | None = None,
        resend: bool = False,
    ) -> StampedInvoice:
        """Issue and stamp (timbrar) a fiscal document; never twice for one ``idempotency_key``.

        One call for every document: an :class:`Invoice` (a factura global too), a
        :class:`~apunto_connect.models.PaymentReceipt`, a
        :class:`~apunto_connect.models.CreditNote` or a
        :class:`~apunto_connect.models.CartaPorteInvoice`. The event emitted is
        ``invoice.stamped``, ``payment.stamped`` or ``credit_note.stamped``, plus
        ``invoice.paid`` for each invoice a receipt settles (and for a PUE invoice).

        Args:
            invoice: the document to stamp.
            idempotency_key: your id for this invoice (an order number, a trip id). Repeating
                the call with the same key returns the CFDI already issued instead of a second
                one, even from another process after a crash. Reusing a key for a different
                invoice is a :class:`Conflict`.
            resend: send again although an earlier request for this key may have stamped and
                the vendor cannot tell; only after checking at the vendor yourself.

        Raises:
            UnsupportedOperation: this vendor cannot issue the document's kind (nothing sent).
            ValidationError: the pre-flight found problems (nothing sent).
            StampRejected: the vendor or the SAT refused (vendor text verbatim).
            Conflict: the key belongs to another invoice, or its reference (serie+folio) to
                another CFDI. ``StampInProgress`` when another worker holds the key.
            StampOutcomeUnknown: an earlier request for this key may have stamped and the vendor
                cannot tell yet; nothing was sent.
            TransportError: no usable answer; ``request_sent`` tells whether it may have
                stamped (a retry with the same key then finds it or raises
                :class:`StampOutcomeUnknown`).
        """
        return self._stamp_and_emit(invoice, idempotency_key, resend)

    def _stamp_and_emit(
        self,
        invoice: FiscalDocument,
        idempotency_key: str | None,
        resend: bool,
        known: Mapping[tuple[str, str], StampedInvoice | None] | None = None,
        validated: bool = False,
    ) -> StampedInvoice:
        try:
            stamped, fresh_events = self._stamp_path(
                invoice, idempotency_key, resend, known=known, validated=validated
            )
        except ApuntoError as exc:
            self._emit_failed(invoice, idempotency_key, exc)
            raise
        for event in fresh_events:
            self.events.publish(event)
        return stamped

    def _stamp_path(
        self,
        document: FiscalDocument,
        key: str | None,
        resend: bool,
        *,
        known: Mapping[tuple[str, str], StampedInvoice | None] | None = None,
        validated: bool = False,
    ) -> tuple[StampedInvoice, list[Event]]:
        self.require_document(document)
        if not validated:
            self._validate(document)
        invoice = host_invoice(document)
        extra = None if document is invoice else document
        if key is None:
            # No key: no journal, but an ambiguous failure is still looked up where it can be.
            attempt = StampAttempt(
                self, invoice, None, None, self._initial_reference(invoice), document=extra
            )
            prepared = self._prepare_locked(attempt)
            try:
                stamped = self._send_stamp(attempt, prepared)
            except BaseException as exc:
                stamped, _ = self._after_failure(attempt, exc)
            return stamped, self._stamped_events(stamped, attempt.stamped_document)
        if not isinstance(key, str) or not key.strip():
            raise ValidationError(
                "an idempotency key must be a non-empty string", field="idempotency_key",
                code="APUNTO-JOURNAL-001",
            )
        self._validate_key(invoice, key)
        claim = self.journal.claim(
            self.name, self._journal_account(), key, _canonical_hash(document),
            reference=self._initial_reference(invoice), lease=self.lease_seconds,
            wait=self.claim_wait,
        )
        record = claim.record
        if record.state is StampState.STAMPED:
            return self._from_record(record, key), []
        attempt = StampAttempt(
            self, invoice, key, claim, reference=dict(record.reference), document=extra
        )
        try:
            return self._stamp_claimed(attempt, resend, known)
        except BaseException:
            self.journal.release(claim)  # a no-op when an outcome was recorded
            raise

    def _stamp_claimed(
        self,
        attempt: StampAttempt,
        resend: bool,
        known: Mapping[tuple[str, str], StampedInvoice | None] | None = None,
    ) -> tuple[StampedInvoice, list[Event]]:
        claim = attempt.claim
        assert claim is not None
        record = claim.record
        earlier_sent = record.state in (StampState.SENT, StampState.UNKNOWN)
        first_send = record.state in (StampState.CLAIMED, StampState.FAILED)
        if (earlier_sent and not resend) or (first_send and self.asks_before_first_send):
            reference = (attempt.reference.get("series", ""), attempt.reference.get("folio", ""))
            if first_send and known is not None and reference in known:
                found = known[reference]  # the batch asked the vendor once for all of them
            else:
                found = self._ask_vendor(attempt) if self._can_find(attempt) else None
            if found is not None:
                return found, self._record_stamped(claim, found, attempt.stamped_document)
            if earlier_sent:
                self._refuse_unknown(attempt)
        prepared = self._prepare_locked(attempt)
        try:
            stamped = self._send_stamp(attempt, prepared)
        except BaseException as exc:
            return self._after_failure(attempt, exc)
        return stamped, self._record_stamped(claim, stamped, attempt.stamped_document)

    def _ask_vendor(self, attempt: StampAttempt) -> StampedInvoice | None:
        try:
            return self._find_existing(attempt)
        except Conflict:
            raise
        except ApuntoError as exc:
            if attempt.previous_state in (StampState.SENT, StampState.UNKNOWN):
                # The vendor cannot answer now: that says nothing about the earlier request.
                self._raise_unknown(attempt, f"the vendor could not be asked: {exc}", retry=True)
            raise

    def _refuse_unknown(self, attempt: StampAttempt) -> None:
        """Refuse to send again after an earlier request that may have stamped.

        Sending again is allowed only when it is provably safe: the vendor was asked and the
        settle window has passed, or the vendor refuses a repeat by itself.
        """
        claim = attempt.claim
        assert claim is not None
        record = claim.record
        if self._can_find(attempt):
            if self._resend_is_safe(attempt):
                return
            sent_at = record.sent_at or record.updated_at
            waited = self.journal.clock() - sent_at
            if waited >= self.settle_seconds:
                log.info("key %s: not found %.0fs after sending; sending again", claim.key, waited)
                return
            self._raise_unknown(
                attempt,
                f"the vendor has no CFDI for it yet, {waited:.0f}s after the request was sent; "
                f"it may still commit it",
                retry=True,
            )
        self._raise_unknown(attempt, f"{self.name} cannot be asked whether it exists", retry=False)

    def _raise_unknown(self, attempt: StampAttempt, why: str, *, retry: bool) -> None:
        claim = attempt.claim
        assert claim is not None
        record = claim.record
        retry_after: float | None = None
        if retry:
            sent_at = record.sent_at or record.updated_at
            retry_after = max(0.0, sent_at + self.settle_seconds - self.journal.clock())
        if record.state is not StampState.UNKNOWN:
            self.journal.mark_unknown(claim, why)
        current = self.journal.get(claim.vendor, claim.account, claim.key) or record
        hint = (
            f"retry after {retry_after:.0f}s, or " if retry_after is not None else ""
        ) + "check at the vendor, then provider.resolve(key, uuid=...) or stamp(..., resend=True)"
        raise StampOutcomeUnknown(
            f"idempotency key {claim.key!r}: a stamp request was sent earlier and {why}; "
            f"nothing was sent now ({hint})",
            provider=self.name, key=claim.key, record=current, retry_after=retry_after,
        )

    def _after_failure(
        self, attempt: StampAttempt, error: BaseException
    ) -> tuple[StampedInvoice, list[Event]]:
        """Record what a failed send means for the key, then re-raise.

        Returns the CFDI instead when the vendor turns out to have it.
        """
        claim = attempt.claim
        not_sent = not attempt.sent or (
            isinstance(error, TransportError) and not error.request_sent
        )
        if not_sent:
            if attempt.sent and claim is not None:
                self.journal.restore(claim, claim.record.state)
            raise error
        can_find = self._can_find(attempt)
        # A refusal of the reference as taken may be this key's own earlier request.
        own_earlier = attempt.previous_state in (StampState.SENT, StampState.UNKNOWN)
        if _ambiguous(error) or (isinstance(error, Conflict) and can_find and own_earlier):
            found: StampedInvoice | None = None
            if can_find:
                try:
                    found = self._find_existing(attempt)
                except ApuntoError:
                    found = None  # the look-up failing says nothing about the stamp
            if found is not None:
                if claim is None:
                    return found, []
                return found, self._record_stamped(claim, found, attempt.stamped_document)
            if claim is None:
                raise error
            if isinstance(error, (Conflict, ServerError)):
                # The vendor answered (a refusal, or a 5xx: none of the supported vendors is
                # known to commit after answering 5xx) and, where it can be asked, holds no CFDI
                # for the reference: nothing was stamped, the key may send again.
                self.journal.mark_failed(claim, f"{type(error).__name__}: {error}")
            else:
                self.journal.mark_unknown(claim, f"{type(error).__name__}: {error}")
            raise error
        if isinstance(error, ProviderError) and claim is not None:
            self.journal.mark_failed(claim, f"{type(error).__name__}: {error}")
        raise error

    def _prepare_locked(self, attempt: StampAttempt) -> Any:
        """:meth:`_prepare_stamp` while holding this invoice's customer and product locks.

        Two threads registering the same customer or product would both find it missing and
        both create it at the vendor; with the locks the second one finds the first's. A
        document other than an invoice is prepared by :meth:`_prepare_document`. Customers the
        hook reports with :meth:`_customer_created` are announced (``customer.created``) once
        it returns.
        """
        invoice = attempt.invoice
        names = [customer_lock(invoice.customer)]
        names.extend(product_lock(item) for item in invoice.items)
        local = self.__dict__.get("_created_local")
        if local is None:
            local = self.__dict__.setdefault("_created_local", threading.local())
        created: list[tuple[Customer, str]] = []
        try:
            with self._registering(names):
                local.created = created
                try:
                    if attempt.document is None:
                        return self._prepare_stamp(invoice)
                    return self._prepare_document(attempt.document, invoice)
                finally:
                    local.created = None
        finally:
            for customer, vendor_id in created:
                self._emit_customer_created(customer, vendor_id)

    # -- many at once -------------------------------------------------------------------------

    def stamp_many(
        self,
        invoices: Sequence[FiscalDocument],
        *,
        concurrency: int | None = None,
        idempotency_keys: Sequence[str] | None = None,
        progress: Progress = None,
    ) -> StampBatch:
        """Stamp a batch on a bounded pool of threads, each invoice through :meth:`stamp`.

        Any :data:`~apunto_connect.models.FiscalDocument` can be in the batch (receipts, credit
        notes, Carta Porte invoices); a kind this vendor cannot issue fails its outcome with
        :class:`UnsupportedOperation` before anything is sent. Every document is pre-flighted
        before the first call; a bad one becomes a failed outcome
        and never stops the batch. Keys the journal shows stamped are not sent again (re-running
        a batch after a crash stamps only what is missing). Where the vendor can list a range
        of serie+folio, the batch asks once instead of once per invoice.

        Args:
            invoices: the invoices, in the order outcomes are wanted.
            concurrency: threads stamping at once (default :attr:`bulk_concurrency`).
            idempotency_keys: one key per invoice (recommended), or none.
            progress: ``True`` for a tqdm bar (extra ``progress``), or a callable receiving
                ``(done, total, outcome)``.

        Returns:
            A :class:`~apunto_connect.invoicing.bulk.StampBatch`: iterate it for the outcomes in
            input order; ``.summary()`` tallies stamped / already done / failed by type.
        """
        self.require(Capability.STAMP)
        return StampBatch(
            self, invoices, idempotency_keys, concurrency or self.bulk_concurrency, progress
        )

    def _stamp_from_batch(
        self,
        invoice: FiscalDocument,
        key: str | None,
        known: Mapping[tuple[str, str], StampedInvoice | None] | None,
    ) -> StampedInvoice:
        return self._stamp_and_emit(invoice, key, False, known=known, validated=True)

    def _native_batch_size(self) -> int:
        """Hook: how many saved drafts the vendor stamps in one request (0: no such request).

        Vendors that have one implement :meth:`_create_draft` and :meth:`_stamp_drafts`.
        """
        return 0

    def _create_draft(self, attempt: StampAttempt, prepared: Any) -> str:
        """Hook: save the invoice at the vendor without stamping it; its id (not fiscal)."""
        raise NotImplementedError

    def _stamp_drafts(self, ids: Sequence[str]) -> Mapping[str, StampedInvoice | ApuntoError]:
        """Hook: stamp saved drafts in one request; the CFDI or the error of each id.

        After a lost answer each draft is read back, never sent again.
        """
        raise NotImplementedError

    def _stamp_native_chunk(
        self, items: Sequence[tuple[int, Invoice, str | None]]
    ) -> dict[int, StampOutcome]:
        """Stamp up to :meth:`_native_batch_size` invoices with one stamping request."""
        from .native_batch import stamp_native_chunk

        return stamp_native_chunk(self, items)

    def _emit_failed(
        self, invoice: FiscalDocument, key: str | None, error: ApuntoError
    ) -> None:
        try:
            data = _invoice_data(host_invoice(invoice))
        except ApuntoError:
            data = {}  # not a document at all: the failure is still reported
        data.update(error=type(error).__name__, message=str(error))
        if key is not None:
            data["idempotency_key"] = key
        self.events.emit(INVOICE_STAMP_FAILED, self.name, data)

    def _find_existing_batch(
        self, invoices: Sequence[Invoice]
    ) -> Mapping[tuple[str, str], StampedInvoice | None] | None:
        """Hook: ask the vendor once about a whole batch's serie+folio references.

        Returns ``{(series, folio): found CFDI or None when certainly absent}``; a reference left
        out is asked about one by one. ``None``: the vendor cannot answer for a batch.
        """
        return None

    def _initial_reference(self, invoice: Invoice) -> dict[str, str]:
        """Hook: what finds the document at the vendor before anything is sent.

        Serie+folio by default, when the invoice carries a folio.
        """
        if invoice.folio:
            return {"series": invoice.series or "", "folio": invoice.folio}
        return {}

    def _record_stamped(
        self, claim: Claim, stamped: StampedInvoice, document: FiscalDocument
    ) -> list[Event]:
        """Record the CFDI and queue its events in the same transaction; returns the events."""
        events = self._stamped_events(stamped, document)
        self.journal.mark_stamped(
            claim, uuid=stamped.uuid, vendor_id=stamped.id, result=to_dict(stamped),
            outbox=[item for event in events for item in self._outbox_items(event)],
        )
        return events

    def _stamped_events(self, stamped: StampedInvoice, document: FiscalDocument) -> list[Event]:
        """The stamp's event by document kind, then ``invoice.paid`` for what it settles."""
        data = _stamped_data(stamped)
        if isinstance(document, PaymentReceipt):
            events = [self.events.new_event(PAYMENT_STAMPED, self.name, data)]
            for paid in document.documents:
                if paid.remaining_balance == 0:
                    events.append(self.events.new_event(INVOICE_PAID, self.name, {
                        "uuid": paid.uuid.upper(), "series": paid.series, "folio": paid.folio,
                        "currency": paid.currency, "installment": paid.installment,
                        "amount_paid": str(paid.amount_paid), "payment_uuid": stamped.uuid,
                    }))
            return events
        if isinstance(document, CreditNote):
            return [self.events.new_event(CREDIT_NOTE_STAMPED, self.name, data)]
        events = [self.events.new_event(INVOICE_STAMPED, self.name, data)]
        host = host_invoice(document)
        if (host.kind is InvoiceKind.INCOME
                and host.effective_payment_method is PaymentMethod.PUE):
            events.append(self.events.new_event(INVOICE_PAID, self.name, {
                "uuid": stamped.uuid, "series": host.series, "folio": host.folio,
                "currency": host.currency, "installment": 1, "amount_paid": str(host.total),
                "payment_uuid": None,
            }))
        return events

    def _outbox_items(self, event: Event) -> list[tuple[Event, list[str]]]:
        """Deliveries for the attached webhook senders whose outbox is the journal's store.

        They are queued in the stamp's own transaction (a transactional outbox).
        """
        items = []
        for target in self.events.outbox_targets(event.type):
            store = getattr(target, "store", None)
            if isinstance(store, JournalStore) and store.identity == self.journal.identity:
                items.append((event, list(getattr(target, "endpoints", ()))))
        return items

    def _from_record(self, record: JournalRecord, key: str) -> StampedInvoice:
        """The stamped invoice a finished key recorded (fetched again if only the UUID is known)."""
        if record.result:
            return from_dict(StampedInvoice, dict(record.result))
        ref = record.vendor_id or record.uuid
        if not ref:
            raise StampOutcomeUnknown(
                f"idempotency key {key!r} was resolved as stamped without a UUID",
                provider=self.name, key=key, record=record,
            )
        return self.get(ref)

    # -- vendor hooks -------------------------------------------------------------------------

    def _validate_key(self, invoice: Invoice, key: str) -> None:
        """Hook: refuse a keyed stamp this vendor cannot make safe (raise ValidationError)."""

    def _can_find(self, attempt: StampAttempt) -> bool:
        """Hook: whether the vendor can be asked about this attempt's reference."""
        return self.finds_existing

    def _resend_is_safe(self, attempt: StampAttempt) -> bool:
        """Hook: whether sending this attempt's request again can never make a second CFDI.

        True when the vendor refuses a repeat by itself, so "not found" needs no settle window.
        """
        return False

    def _prepare_stamp(self, invoice: Invoice) -> Any:
        """Hook: everything before the stamp request that creates nothing fiscal.

        Registers the customer and products, resolves ids; the result is handed to
        :meth:`_send_stamp`. A hook that registers a customer reports it with
        :meth:`_customer_created`.
        """
        return None

    def _prepare_document(self, document: FiscalDocument, invoice: Invoice) -> Any:
        """Hook: :meth:`_prepare_stamp` for a receipt, credit note or Carta Porte invoice.

        ``invoice`` is the host CFDI. The default prepares the host as an invoice (enough for a
        credit note, which is a type E invoice with relations); vendors that declare
        :attr:`Capability.PAYMENT_RECEIPT` or :attr:`Capability.CARTA_PORTE` override it.
        """
        return self._prepare_stamp(invoice)

    @abstractmethod
    def _send_stamp(self, attempt: StampAttempt, prepared: Any) -> StampedInvoice:
        """Hook: send the request(s) that create and stamp the CFDI and return it.

        Call ``attempt.sending(**reference)`` right before the creating request, with the
        vendor-side reference that finds the document again (or ``attempt.remember(...)``
        when it is known earlier, e.g. after saving a draft). Raise the typed errors; do not retry creating
        requests and do not look anything up after a failure (the base does).
        """

    def _find_existing(self, attempt: StampAttempt) -> StampedInvoice | None:
        """Hook: the stamped CFDI for ``attempt.reference`` if the vendor has it, else ``None``.

        Raise :class:`Conflict` when the reference belongs to a different document. Only
        called when :attr:`finds_existing` is true.
        """
        return None

    # -- reading, cancelling ------------------------------------------------------------------

    @abstractmethod
    def get(self, ref: str) -> StampedInvoice:
        """Fetch a stamped invoice by the vendor's id (or UUID where the vendor allows)."""

    @abstractmethod
    def download(self, ref: str, fmt: DownloadFormat) -> bytes:
        """Return the CFDI XML or the PDF representation as bytes."""

    def cancel(
        self, ref: str, motive: CancelMotive, replacement_uuid: str | None = None
    ) -> Cancellation:
        """Cancel a CFDI with a SAT motive (01 needs ``replacement_uuid``)."""
        self.require(Capability.CANCEL)
        cancellation = self._cancel(ref, motive, replacement_uuid)
        data: dict[str, Any] = to_dict(cancellation)
        data.pop("raw", None)
        self.events.emit(INVOICE_CANCELLED, self.name, data)
        return cancellation

    def _cancel(
        self, ref: str, motive: CancelMotive, replacement_uuid: str | None
    ) -> Cancellation:
        """Hook: ask the vendor to cancel (validation of the motive included)."""
        raise NotImplementedError

    def send_email(
        self,
        ref: str,
        to: str | Sequence[str],
        message: str | None = None,
        *,
        subject: str | None = None,
    ) -> str:
        """Ask the vendor to e-mail the CFDI (XML and PDF) of ``ref`` to ``to``.

        Args:
            ref: the invoice, as :meth:`get` takes it.
            to: one address or a list (checked before any request; repeats dropped).
            message: a text for the e-mail's body, where the vendor's call carries one.
            subject: the e-mail's subject, where the vendor's call carries one.

        Returns:
            The vendor's answer text, verbatim ("" when it says nothing).

        Raises:
            UnsupportedOperation: the vendor's API cannot e-mail a CFDI (before any request).
            ValidationError: no address, a malformed one, or a ``message``/``subject`` the
                vendor's call cannot carry.

        Not retried after a request may have reached the vendor: a repeat would e-mail twice.
        """
        self.require(Capability.SEND_EMAIL)
        from .email import email_recipients

        recipients = email_recipients(to)
        return self._send_email(ref.strip(), recipients, message=message, subject=subject)

    def _send_email(
        self, ref: str, recipients: Sequence[str], *, message: str | None, subject: str | None
    ) -> str:
        """Hook: ask the vendor to e-mail ``ref`` to the checked ``recipients``."""
        raise NotImplementedError

    def list(self, **filters: Any) -> Iterator[StampedInvoice]:
        """Iterate over the vendor's issued invoices, page by page, lazily."""
        self.require(Capability.LIST)
        raise NotImplementedError

    def close(self) -> None:
        """Release network resources; same as :meth:`release`."""
        self.release()
