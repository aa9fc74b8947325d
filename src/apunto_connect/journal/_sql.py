"""The journal and outbox semantics written once in SQL, shared by SQLite and PostgreSQL.

A backend supplies only what differs: how a transaction is run (SQLite takes the write lock
with ``BEGIN IMMEDIATE``; PostgreSQL locks rows with ``FOR UPDATE``), the placeholder style,
the table names, and how a batch of deliveries is claimed in one statement.

Every public method is one short transaction; :meth:`SqlJournal.claim` polls between
transactions while another live owner holds the key, so no lock is held while waiting.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from ..errors import NotFound
from ..events import Event
from ._claims import ClaimRequest, check_still_held, existing_claim, restart_changes
from .base import DEFAULT_LEASE, JournalStore, OutboxItem, OutboxStore, event_body
from .records import (
    Claim,
    Delivery,
    DeliveryStatus,
    JournalRecord,
    StampState,
    owner_is_dead,
)

__all__ = ["SCHEMA_VERSION", "SqlJournal", "Tx"]

T = TypeVar("T")

SCHEMA_VERSION = 1
"""The layout this code reads and writes; a store written by a newer layout is refused."""

_RECORD_COLUMNS = (
    "vendor, account, idem_key, payload_hash, reference, state, uuid, vendor_id, result, "
    "error, attempts, lease_owner, lease_expires, created_at, updated_at, sent_at"
)
_DELIVERY_COLUMNS = (
    "event_id, endpoint, event_type, status, attempts, next_attempt, last_error, created_at, "
    "delivered_at, body, lease_owner, lease_expires"
)


class Tx(Protocol):
    """One open transaction: statements use ``?`` placeholders whatever the backend."""

    rowcount: int

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; returns its rows (empty when it returns none)."""


def schema_statements(journal: str, deliveries: str, version_table: str) -> list[str]:
    """The tables of a store (valid SQL for both SQLite and PostgreSQL).

    Times are unix seconds written by the store's clock, so tests can move time and every
    worker compares leases on the same scale.
    """
    return [
        f"CREATE TABLE IF NOT EXISTS {version_table} (version INTEGER NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS {journal} (
            vendor        TEXT NOT NULL,
            account       TEXT NOT NULL,
            idem_key      TEXT NOT NULL,
            payload_hash  TEXT NOT NULL,
            reference     TEXT NOT NULL DEFAULT '{{}}',
            state         TEXT NOT NULL,
            uuid          TEXT,
            vendor_id     TEXT,
            result        TEXT,
            error         TEXT,
            attempts      INTEGER NOT NULL DEFAULT 0,
            lease_owner   TEXT,
            lease_expires DOUBLE PRECISION,
            lease_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
            created_at    DOUBLE PRECISION NOT NULL,
            updated_at    DOUBLE PRECISION NOT NULL,
            sent_at       DOUBLE PRECISION,
            PRIMARY KEY (vendor, account, idem_key)
        )""",
        f"CREATE INDEX IF NOT EXISTS {journal}_state ON {journal} (state, created_at)",
        f"""CREATE TABLE IF NOT EXISTS {deliveries} (
            event_id      TEXT NOT NULL,
            endpoint      TEXT NOT NULL,
            event_type    TEXT NOT NULL,
            body          TEXT NOT NULL,
            status        TEXT NOT NULL DEFAULT 'pending',
            attempts      INTEGER NOT NULL DEFAULT 0,
            next_attempt  DOUBLE PRECISION NOT NULL,
            last_error    TEXT,
            created_at    DOUBLE PRECISION NOT NULL,
            delivered_at  DOUBLE PRECISION,
            lease_owner   TEXT,
            lease_expires DOUBLE PRECISION,
            PRIMARY KEY (event_id, endpoint)
        )""",
        f"CREATE INDEX IF NOT EXISTS {deliveries}_due ON {deliveries} (status, next_attempt)",
    ]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _record(row: Sequence[Any]) -> JournalRecord:
    (vendor, account, key, payload_hash, reference, state, uuid, vendor_id, result, error,
     attempts, lease_owner, lease_expires, created_at, updated_at, sent_at) = row
    return JournalRecord(
        vendor=vendor, account=account, key=key, payload_hash=payload_hash,
        reference=json.loads(reference) if reference else {}, state=StampState(state),
        uuid=uuid, vendor_id=vendor_id, result=json.loads(result) if result else None,
        error=error, attempts=int(attempts), lease_owner=lease_owner,
        lease_expires=None if lease_expires is None else float(lease_expires),
        created_at=float(created_at), updated_at=float(updated_at),
        sent_at=None if sent_at is None else float(sent_at),
    )


def _missing(claim: Claim) -> NotFound:
    return NotFound(f"idempotency key {claim.key!r} is not in the journal", provider=claim.vendor)


def _delivery(row: Sequence[Any]) -> Delivery:
    (event_id, endpoint, event_type, status, attempts, next_attempt, last_error, created_at,
     delivered_at, body, lease_owner, lease_expires) = row
    return Delivery(
        event_id=event_id, endpoint=endpoint, event_type=event_type, status=status,
        attempts=int(attempts), next_attempt=float(next_attempt), last_error=last_error,
        created_at=float(created_at),
        delivered_at=None if delivered_at is None else float(delivered_at), body=body,
        lease_owner=lease_owner,
        lease_expires=None if lease_expires is None else float(lease_expires),
    )


class SqlJournal(JournalStore):
    """The journal contract over a SQL database; subclasses run the transactions."""

    journal_table = "journal"
    deliveries_table = "deliveries"
    version_table = "schema_version"
    lock_rows = ""
    """Appended to a SELECT that is followed by an UPDATE of the same row (``FOR UPDATE``)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._outbox = SqlOutbox(self)

    # -- what a backend provides ----------------------------------------------------------

    @abc.abstractmethod
    def _run(self, work: Callable[[Tx], T], *, write: bool = True, durable: bool = False) -> T:
        """Run ``work`` in one transaction and return its result.

        Committed on return, rolled back when it raises, retried on a transient lock.
        ``durable`` marks a commit that must be on disk before the caller goes on (a request
        recorded as sent, a hand resolution), whatever the store's sync setting.
        """

    @abc.abstractmethod
    def _claim_batch(
        self, tx: Tx, *, now: float, wall: float, limit: int, owner: str, lease: float
    ) -> list[tuple[Any, ...]]:
        """Claim due deliveries for ``owner`` in one statement; returns their rows."""

    @property
    def outbox(self) -> OutboxStore:
        return self._outbox

    # -- the schema ---------------------------------------------------------------------

    def _create_schema(self, tx: Tx) -> None:
        tx.execute(schema_statements(self.journal_table, self.deliveries_table,
                                     self.version_table)[0])
        rows = tx.execute(f"SELECT MAX(version) FROM {self.version_table}")
        version = rows[0][0] if rows and rows[0][0] is not None else 0
        if version > SCHEMA_VERSION:
            from ..errors import JournalUnavailable

            raise JournalUnavailable(
                f"the store was written by a newer apunto-connect (layout {version}, this "
                f"version reads {SCHEMA_VERSION}); upgrade apunto-connect",
                target=self.identity,
            )
        for statement in schema_statements(self.journal_table, self.deliveries_table,
                                           self.version_table)[1:]:
            tx.execute(statement)
        self._migrate(tx)
        if version < SCHEMA_VERSION:
            tx.execute(f"DELETE FROM {self.version_table}")
            tx.execute(f"INSERT INTO {self.version_table} (version) VALUES (?)", (SCHEMA_VERSION,))

    def _migrate(self, tx: Tx) -> None:
        """Bring tables made by older releases up to date (a hook for backends)."""

    # -- reading --------------------------------------------------------------------------

    def _select(self, tx: Tx, vendor: str, account: str, key: str,
                lock: bool = False) -> JournalRecord | None:
        rows = tx.execute(
            f"SELECT {_RECORD_COLUMNS} FROM {self.journal_table} "
            "WHERE vendor = ? AND account = ? AND idem_key = ?" + (self.lock_rows if lock else ""),
            (vendor, account, key),
        )
        return _record(rows[0]) if rows else None

    def _select_for(self, tx: Tx, claim: Claim) -> JournalRecord:
        record = self._select(tx, claim.vendor, claim.account, claim.key, lock=True)
        if record is None:
            raise _missing(claim)
        return record

    def _update(self, tx: Tx, vendor: str, account: str, key: str, **changes: Any) -> None:
        changes["updated_at"] = self.clock()
        for name in ("reference", "result"):
            if name in changes and changes[name] is not None:
                changes[name] = _dumps(dict(changes[name]))
        if "state" in changes:
            changes["state"] = StampState(changes["state"]).value
        assignments = ", ".join(f"{name} = ?" for name in changes)
        tx.execute(
            f"UPDATE {self.journal_table} SET {assignments} "
            "WHERE vendor = ? AND account = ? AND idem_key = ?",
            (*changes.values(), vendor, account, key),
        )

    def _update_held(self, tx: Tx, claim: Claim, **changes: Any) -> None:
        """Write ``changes`` to the claim's row in one statement (no read first)."""
        self._update(tx, claim.vendor, claim.account, claim.key, **changes)
        if tx.rowcount == 0:
            raise _missing(claim)

    def get(self, vendor: str, account: str, key: str) -> JournalRecord | None:
        return self._run(lambda tx: self._select(tx, vendor, account, key), write=False)

    def records(
        self, *, vendor: str | None = None, state: StampState | str | None = None
    ) -> list[JournalRecord]:
        wanted = StampState(state).value if state is not None else None
        conditions, params = [], []
        if vendor is not None:
            conditions.append("vendor = ?")
            params.append(vendor)
        if wanted is not None:
            conditions.append("state = ?")
            params.append(wanted)
        where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
        rows = self._run(
            lambda tx: tx.execute(
                f"SELECT {_RECORD_COLUMNS} FROM {self.journal_table}{where} "
                "ORDER BY created_at, idem_key",
                params,
            ),
            write=False,
        )
        return [_record(row) for row in rows]

    # -- claims ---------------------------------------------------------------------------

    merge_reference_sql: str | None = None
    """An expression merging the JSON text parameter into ``reference`` in SQL (so recording a
    request as sent with its reference is one statement), or ``None`` to read and write it."""

    def _try_claim(self, request: ClaimRequest) -> Claim | str:
        return self._run(lambda tx: self._claim_row(tx, request))

    def _insert_fresh(self, tx: Tx, request: ClaimRequest) -> Claim | None:
        """Insert the key's record for ``request`` unless it exists; the claim when inserted."""
        now = self.clock()
        tx.execute(
            f"INSERT INTO {self.journal_table} (vendor, account, idem_key, payload_hash, "
            "reference, state, attempts, lease_owner, lease_expires, lease_seconds, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?) "
            "ON CONFLICT (vendor, account, idem_key) DO NOTHING",
            (request.vendor, request.account, request.key, request.payload_hash,
             _dumps(dict(request.reference)), StampState.CLAIMED.value, request.owner,
             now + request.lease, request.lease, now, now),
        )
        if tx.rowcount == 1:
            return Claim(record=request.fresh_record(now), owner=request.owner, fresh=True)
        return None

    def _claim_row(self, tx: Tx, request: ClaimRequest) -> Claim | str:
        """One attempt in one transaction: a :class:`Claim`, or the live owner of the key.

        The usual case, a key never seen before, is the INSERT alone; anything else is decided
        on the stored record.
        """
        fresh = self._insert_fresh(tx, request)
        if fresh is not None:
            return fresh
        now = self.clock()
        vendor, account, key = request.vendor, request.account, request.key
        record = self._select(tx, vendor, account, key, lock=True)
        if record is None:  # deleted between the two statements (by hand): try again
            return "a concurrent change"
        decided = existing_claim(record, request.payload_hash, request.owner, now)
        if decided is not None:
            return decided
        changes: dict[str, Any] = {
            "lease_owner": request.owner, "lease_expires": now + request.lease,
            "lease_seconds": request.lease,
            **restart_changes(record, request.payload_hash, request.reference),
        }
        self._update(tx, vendor, account, key, **changes)
        if record.payload_hash != request.payload_hash:
            taken = self._select(tx, vendor, account, key)
            assert taken is not None
            return Claim(record=taken, owner=request.owner, fresh=False)
        return Claim(record=record, owner=request.owner, fresh=False)

    def set_reference(self, claim: Claim, reference: Mapping[str, str]) -> None:
        self._run(lambda tx: self._merge_reference(tx, claim, reference))

    def _merge_reference(self, tx: Tx, claim: Claim, reference: Mapping[str, str]) -> None:
        rows = tx.execute(
            f"SELECT reference FROM {self.journal_table} "
            "WHERE vendor = ? AND account = ? AND idem_key = ?" + self.lock_rows,
            (claim.vendor, claim.account, claim.key),
        )
        if not rows:
            raise _missing(claim)
        stored = json.loads(rows[0][0]) if rows[0][0] else {}
        self._update(tx, claim.vendor, claim.account, claim.key,
                     reference={**stored, **reference})

    def mark_sent(self, claim: Claim, reference: Mapping[str, str] | None = None) -> None:
        merge = self.merge_reference_sql if reference else None

        def work(tx: Tx) -> None:
            if reference and merge is None:
                self._merge_reference(tx, claim, reference)
            # The usual case, in one statement: this claim still holds the lease (the
            # reference merged in SQL where the backend can).
            if self._mark_sent_held(tx, claim, reference if merge else None, merge):
                return
            rows = tx.execute(
                f"SELECT attempts, lease_owner, lease_expires, lease_seconds "
                f"FROM {self.journal_table} WHERE vendor = ? AND account = ? AND idem_key = ?"
                + self.lock_rows,
                (claim.vendor, claim.account, claim.key),
            )
            if not rows:
                raise _missing(claim)
            attempts, owner, expires, lease_seconds = rows[0]
            now = self.clock()
            check_still_held(claim, owner, None if expires is None else float(expires), now)
            if reference and merge is not None:
                self._merge_reference(tx, claim, reference)
            # Once sent, the lease must outlast the request itself: a takeover while the
            # request is in flight could ask the vendor too early and send a second time.
            lease = max(float(lease_seconds or 0), DEFAULT_LEASE)
            self._update(
                tx, claim.vendor, claim.account, claim.key, state=StampState.SENT,
                attempts=int(attempts) + 1, sent_at=now, lease_owner=claim.owner,
                lease_expires=now + lease,
            )

        self._run(work, durable=True)

    def _mark_sent_held(
        self, tx: Tx, claim: Claim, reference: Mapping[str, str] | None, merge: str | None
    ) -> bool:
        """Record the request as sent if ``claim`` still holds the lease (one UPDATE)."""
        now = self.clock()
        extra, params = "", []
        if reference and merge:
            extra, params = f", reference = {merge}", [_dumps(dict(reference))]
        tx.execute(
            f"UPDATE {self.journal_table} SET state = ?, attempts = attempts + 1, "
            "sent_at = ?, updated_at = ?, lease_expires = ? + "
            f"(CASE WHEN lease_seconds > ? THEN lease_seconds ELSE ? END){extra} "
            "WHERE vendor = ? AND account = ? AND idem_key = ? AND lease_owner = ?",
            (StampState.SENT.value, now, now, now, DEFAULT_LEASE, DEFAULT_LEASE, *params,
             claim.vendor, claim.account, claim.key, claim.owner),
        )
        return tx.rowcount == 1

    def restore(self, claim: Claim, state: StampState) -> None:
        def work(tx: Tx) -> None:
            current = self._select_for(tx, claim)
            self._update(tx, claim.vendor, claim.account, claim.key, state=StampState(state),
                         attempts=max(0, current.attempts - 1))

        self._run(work)

    def _settle(
        self, claim: Claim, changes: Mapping[str, Any], outbox: Sequence[OutboxItem] = ()
    ) -> None:
        def work(tx: Tx) -> None:
            self._update_held(tx, claim, **changes, lease_owner=None, lease_expires=None)
            now = self.clock()
            for event, endpoints in outbox:
                self._outbox._add(tx, event, endpoints, now)

        self._run(work)

    def release(self, claim: Claim) -> None:
        if not claim.owner:
            return
        self._run(lambda tx: tx.execute(
            f"UPDATE {self.journal_table} SET lease_owner = NULL, lease_expires = NULL, "
            "updated_at = ? WHERE vendor = ? AND account = ? AND idem_key = ? "
            "AND lease_owner = ?",
            (self.clock(), claim.vendor, claim.account, claim.key, claim.owner),
        ))

    def _settle_by_hand(
        self, vendor: str, account: str, key: str, changes: Mapping[str, Any]
    ) -> JournalRecord:
        def work(tx: Tx) -> JournalRecord:
            self._update(tx, vendor, account, key, **changes)
            settled = self._select(tx, vendor, account, key)
            if settled is None:
                raise NotFound(f"idempotency key {key!r} is not in the journal",
                               provider=vendor)
            return settled

        return self._run(work, durable=True)


class SqlOutbox(OutboxStore):
    """The outbox half of a :class:`SqlJournal` (same database, same transactions)."""

    def __init__(self, journal: SqlJournal) -> None:
        self._journal = journal

    @property
    def _table(self) -> str:
        return self._journal.deliveries_table

    def _add(self, tx: Tx, event: Event, endpoints: Iterable[str], now: float) -> int:
        body = event_body(event)
        added = 0
        for url in endpoints:
            tx.execute(
                f"INSERT INTO {self._table} (event_id, endpoint, event_type, body, status, "
                "attempts, next_attempt, created_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?) "
                "ON CONFLICT (event_id, endpoint) DO NOTHING",
                (event.id, url, event.type, body, DeliveryStatus.PENDING.value, now, now),
            )
            added += max(0, tx.rowcount)
        return added

    def add(self, event: Event, endpoints: Iterable[str], now: float) -> int:
        urls = list(endpoints)
        return self._journal._run(lambda tx: self._add(tx, event, urls, now))

    def claim_due(
        self, now: float, limit: int = 100, *, owner: str, lease: float = DEFAULT_LEASE
    ) -> list[Delivery]:
        def work(tx: Tx) -> list[tuple[Any, ...]]:
            wall = self._journal.clock()
            self._expire_dead_owners(tx, wall)
            return self._journal._claim_batch(
                tx, now=now, wall=wall, limit=limit, owner=owner, lease=lease
            )

        rows = self._journal._run(work)
        return sorted((_delivery(row) for row in rows),
                      key=lambda d: (d.created_at, d.event_id, d.endpoint))

    def _expire_dead_owners(self, tx: Tx, wall: float) -> None:
        # A sender of this host that died mid-delivery gives its claims back at once.
        owners = tx.execute(
            f"SELECT DISTINCT lease_owner FROM {self._table} WHERE status = ? "
            "AND lease_owner IS NOT NULL AND lease_expires > ?",
            (DeliveryStatus.PENDING.value, wall),
        )
        for (holder,) in owners:
            if owner_is_dead(holder):
                tx.execute(
                    f"UPDATE {self._table} SET lease_expires = ? "
                    "WHERE lease_owner = ? AND status = ?",
                    (wall, holder, DeliveryStatus.PENDING.value),
                )

    def mark_delivered(self, delivery: Delivery, now: float) -> None:
        self._journal._run(lambda tx: tx.execute(
            f"UPDATE {self._table} SET status = ?, attempts = attempts + 1, delivered_at = ?, "
            "last_error = NULL, lease_owner = NULL, lease_expires = NULL "
            "WHERE event_id = ? AND endpoint = ?",
            (DeliveryStatus.DELIVERED.value, now, delivery.event_id, delivery.endpoint),
        ))

    def mark_failed_attempt(
        self, delivery: Delivery, error: str, next_attempt: float, park: bool
    ) -> None:
        status = DeliveryStatus.FAILED if park else DeliveryStatus.PENDING
        # Only while the row is still pending and ours: a late failure report must not undo a
        # delivery another sender made after our lease lapsed.
        self._journal._run(lambda tx: tx.execute(
            f"UPDATE {self._table} SET attempts = attempts + 1, last_error = ?, "
            "next_attempt = ?, status = ?, lease_owner = NULL, lease_expires = NULL "
            "WHERE event_id = ? AND endpoint = ? AND status = ? "
            "AND (lease_owner IS NULL OR lease_owner = ?)",
            (error[:500], next_attempt, status.value, delivery.event_id, delivery.endpoint,
             DeliveryStatus.PENDING.value, delivery.lease_owner),
        ))

    def retry(self, event_id: str | None = None) -> int:
        def work(tx: Tx) -> int:
            sql = (
                f"UPDATE {self._table} SET status = ?, attempts = 0, next_attempt = 0, "
                "lease_owner = NULL, lease_expires = NULL WHERE status = ?"
            )
            params: list[Any] = [DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value]
            if event_id:
                sql += " AND event_id = ?"
                params.append(event_id)
            tx.execute(sql, params)
            return max(0, tx.rowcount)

        return self._journal._run(work)

    def list(self, status: str | None = None) -> list[Delivery]:
        sql = f"SELECT {_DELIVERY_COLUMNS} FROM {self._table}"
        params: tuple[Any, ...] = ()
        if status:
            sql += " WHERE status = ?"
            params = (status,)
        rows = self._journal._run(
            lambda tx: tx.execute(sql + " ORDER BY created_at, event_id, endpoint", params),
            write=False,
        )
        return [_delivery(row) for row in rows]


def claim_columns() -> str:
    """The delivery columns a claiming statement returns, in :func:`_delivery` order."""
    return _DELIVERY_COLUMNS
