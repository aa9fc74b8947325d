"""Stamping with a vendor's own batch request (Alegra stamps up to 10 drafts at once).

The same guarantees as one stamp at a time: every key is claimed in the journal, a key whose
earlier request may have stamped takes the one-by-one path, drafts are remembered before the
batch request leaves, and each outcome is recorded with its events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import ApuntoError, UnexpectedResponse
from ..journal.records import Claim, StampState
from ..models.invoices import Invoice, StampedInvoice
from .attempts import StampAttempt, _ambiguous, _canonical_hash
from .bulk import StampOutcome

if TYPE_CHECKING:
    from .base import InvoiceProvider

__all__ = ["stamp_native_chunk"]


def stamp_native_chunk(
    provider: InvoiceProvider, items: Sequence[tuple[int, Invoice, str | None]]
) -> dict[int, StampOutcome]:
    """Stamp up to :meth:`_native_batch_size` invoices with one stamping request.

    Each key is claimed in the journal first; a key whose earlier request may have stamped
    takes the one-by-one path (which asks the vendor). Drafts are created and remembered,
    every claim is marked sent, then one request stamps them all; each outcome is recorded
    with its event, as a single stamp would be.
    """
    outcomes: dict[int, StampOutcome] = {}
    ready: list[tuple[int, StampAttempt, str]] = []
    for index, invoice, key in items:
        claim: Claim | None = None
        try:
            if key is not None:
                claim = provider.journal.claim(
                    provider.name, provider._journal_account(), key, _canonical_hash(invoice),
                    reference=provider._initial_reference(invoice), lease=provider.lease_seconds,
                    wait=provider.claim_wait,
                )
                state = claim.record.state
                if state is StampState.STAMPED:
                    done = provider._from_record(claim.record, key)
                    outcomes[index] = StampOutcome(index, key, stamped=done, already_done=True)
                    continue
                if state in (StampState.SENT, StampState.UNKNOWN):
                    provider.journal.release(claim)
                    stamped = provider._stamp_and_emit(invoice, key, False, validated=True)
                    outcomes[index] = StampOutcome(index, key, stamped=stamped)
                    continue
            reference = dict(claim.record.reference) if claim is not None else {}
            attempt = StampAttempt(provider, invoice, key, claim, reference)
            prepared = provider._prepare_locked(attempt)
            ready.append((index, attempt, provider._create_draft(attempt, prepared)))
        except ApuntoError as exc:
            if claim is not None:
                provider.journal.release(claim)
            provider._emit_failed(invoice, key, exc)
            outcomes[index] = StampOutcome(index, key, error=exc)
    if not ready:
        return outcomes
    for _, attempt, _ in ready:
        attempt.sending()
    try:
        results = provider._stamp_drafts([draft for _, _, draft in ready])
    except ApuntoError as exc:
        results = {draft: exc for _, _, draft in ready}
    for index, attempt, draft in ready:
        result = results.get(draft)
        if isinstance(result, StampedInvoice):
            if attempt.claim is not None:
                events = provider._record_stamped(attempt.claim, result, attempt.invoice)
            else:
                events = provider._stamped_events(result, attempt.invoice)
            for event in events:
                provider.events.publish(event)
            outcomes[index] = StampOutcome(index, attempt.key, stamped=result, id=draft)
            continue
        error = result if isinstance(result, ApuntoError) else UnexpectedResponse(
            f"{provider.name}: no answer for draft {draft} in the batch", provider=provider.name
        )
        if attempt.claim is not None:
            if _ambiguous(error):
                provider.journal.mark_unknown(attempt.claim, f"{type(error).__name__}: {error}")
            else:
                provider.journal.mark_failed(attempt.claim, f"{type(error).__name__}: {error}")
        provider._emit_failed(attempt.invoice, attempt.key, error)
        outcomes[index] = StampOutcome(index, attempt.key, error=error, id=draft)
    return outcomes
