"""The default journal store: one SQLite file, safe for many threads and processes of a host.

The file is in WAL mode (readers never wait for the writer); every change is one short
``BEGIN IMMEDIATE`` transaction, which takes the file's write lock up front so two workers can
never both decide they own a key. Each thread has its own connection (a forked child opens
new ones). A lock that does not clear within ``busy_timeout`` seconds, a file that is not a
database or is corrupt, or a folder that cannot be created are all
:class:`~apunto_connect.errors.JournalUnavailable`, raised when the store is opened or used and
never swallowed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import JournalUnavailable
from ._sql import SqlJournal, Tx, claim_columns

__all__ = ["HAS_RETURNING", "SYNC_ENV_VAR", "SqliteJournal"]

T = TypeVar("T")

@functools.cache
def _has_json() -> bool:
    """Whether this SQLite can merge JSON objects (``json_patch``); asked once, when needed."""
    try:
        with contextlib.closing(sqlite3.connect(":memory:")) as db:
            merged = db.execute("""SELECT json_patch('{"a":"1"}', '{"b":"2"}')""").fetchone()
            return bool(merged and merged[0] == '{"a":"1","b":"2"}')
    except sqlite3.Error:  # built without JSON1 (before 3.38 it was optional)
        return False


class _Forks:
    """Counts forks, so a child never uses (nor closes) a connection it inherited.

    Compared on every call instead of ``os.getpid()``, which is a system call each time.
    """

    generation = 0

    @classmethod
    def forked(cls) -> None:
        cls.generation += 1


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_Forks.forked)

HAS_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)
"""Whether this Python's SQLite claims deliveries with one ``UPDATE … RETURNING`` statement."""

SYNC_ENV_VAR = "APUNTO_JOURNAL_SYNC"
"""Environment variable choosing when SQLite journal commits reach the disk (see
:class:`SqliteJournal`'s ``synchronous``)."""

_SYNCHRONOUS = {"full": "FULL", "sent": "NORMAL", "normal": "NORMAL"}
"""The ``synchronous`` setting of ordinary commits for each mode (``sent``: only the durable
ones are synced at once, see :class:`SqliteJournal`)."""


class _SqliteTx:
    """A transaction on one connection, with the ``Tx`` interface."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.rowcount = -1

    def execute(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        cursor = self._db.execute(sql, tuple(params))
        rows = cursor.fetchall()
        self.rowcount = cursor.rowcount
        return rows


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SqliteJournal(SqlJournal):
    """The journal and outbox in one SQLite file.

    Args:
        path: the database file (created with its folder when missing).
        clock: unix time source (tests move it).
        busy_timeout: seconds a transaction waits for another process's write lock before
            :class:`~apunto_connect.errors.JournalUnavailable`.
        synchronous: when commits reach the disk (default: the environment variable
            ``APUNTO_JOURNAL_SYNC``, else ``"normal"``). ``"normal"``: no commit waits for the
            disk; every commit survives a crash or kill of the process (WAL), and a power cut
            or an operating-system crash may undo the last ones. ``"sent"``: in addition, a
            commit that records a stamp request as sent, or a hand resolution, is synced
            before the call returns (one fsync per stamp), so even a power cut cannot make
            the journal forget a request that left; the others are synced at the next of
            those or at a checkpoint (a power cut may undo them, which is safe: an undone
            claim sent nothing, an undone "stamped" falls back to "sent" and is looked up
            again). ``"full"``: every commit is synced.

    Raises:
        JournalUnavailable: the folder cannot be created, the file is not a SQLite database,
            is corrupt, was written by a newer release, or stays locked.
    """

    quick_check_limit = 512 * 1024 * 1024
    """Files up to this size (bytes) are checked page by page when opened."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 15.0,
        synchronous: str | None = None,
    ) -> None:
        super().__init__(clock)
        self.path = Path(path).expanduser().resolve()
        if synchronous is None:
            synchronous = os.environ.get(SYNC_ENV_VAR, "").strip() or "normal"
        if synchronous.lower() not in _SYNCHRONOUS:
            from ..errors import ValidationError

            raise ValidationError(
                f"synchronous ({SYNC_ENV_VAR}) must be one of {sorted(_SYNCHRONOUS)}, "
                f"not {synchronous!r}",
                field="synchronous", code="APUNTO-JOURNAL-001",
            )
        self.synchronous = synchronous.lower()
        """The sync mode in use (``normal``, ``sent`` or ``full``)."""
        self._synchronous = _SYNCHRONOUS[synchronous.lower()]
        self._sync_durable = synchronous.lower() == "sent"
        self.busy_timeout = busy_timeout
        self.use_returning = HAS_RETURNING
        self.merge_reference_sql = "json_patch(reference, ?)" if _has_json() else None
        self._local = threading.local()
        self._open()

    def __repr__(self) -> str:
        return f"SqliteJournal({str(self.path)!r})"

    @property
    def identity(self) -> str:
        """``sqlite:`` and the file's absolute path."""
        return f"sqlite:{self.path}"

    # -- connections --------------------------------------------------------------------

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalUnavailable(
                f"cannot create the journal folder: {exc.strerror or exc}", target=str(self.path)
            ) from exc
        if self.path.exists() and not self.path.is_file():
            raise JournalUnavailable("the journal path is not a file", target=str(self.path))

        def check() -> list[str]:
            db = self._db()
            db.execute("PRAGMA journal_mode=WAL").fetchone()
            # A damaged file must be refused now, not after a stamp went out. The check reads
            # every page (about 0.5 s per GB when cached); beyond the limit, damage shows up as
            # JournalUnavailable on the first operation that reads the bad page instead.
            if self.path.stat().st_size > self.quick_check_limit:
                return ["ok"]
            return [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]

        # Two processes opening a new file at once race to switch it to WAL; the loser's
        # SQLITE_BUSY skips the busy handler, so it is retried here like a transaction's.
        problems = self._when_free(check, "cannot open the journal")
        if problems != ["ok"]:
            raise JournalUnavailable(
                f"the journal file is corrupt: {'; '.join(problems[:3])}", target=str(self.path)
            )
        self._run(self._create_schema)

    def _db(self) -> sqlite3.Connection:
        local = self._local
        db: sqlite3.Connection | None = getattr(local, "db", None)
        if db is not None and getattr(local, "generation", None) == _Forks.generation:
            return db
        # A connection inherited through fork() must not be used (nor closed) by the child.
        try:
            db = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None,
                check_same_thread=True,
            )
        except sqlite3.Error as exc:
            raise JournalUnavailable(
                f"cannot open the journal: {exc}", target=str(self.path)
            ) from exc
        try:
            db.execute(f"PRAGMA synchronous={self._synchronous}")
            db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        except sqlite3.Error:
            db.close()
            raise
        local.db = db
        local.generation = _Forks.generation
        return db

    def _run(self, work: Callable[[Tx], T], *, write: bool = True, durable: bool = False) -> T:
        sync_now = durable and self._sync_durable

        def transaction() -> T:
            db = self._db()
            if sync_now:
                # In WAL mode a FULL commit syncs the whole log, earlier commits included.
                db.execute("PRAGMA synchronous=FULL")
            # A write takes the write lock before it reads anything: a statement left to
            # upgrade a read snapshot (autocommit, or a deferred BEGIN) can stall against a
            # writer of another process until busy_timeout.
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                result = work(_SqliteTx(db))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise
            finally:
                if sync_now:
                    db.execute(f"PRAGMA synchronous={self._synchronous}")
            return result

        return self._when_free(transaction, "the journal cannot be used")

    def _when_free(self, attempt: Callable[[], T], doing: str) -> T:
        """``attempt()``, tried again while SQLite says busy, for up to :attr:`busy_timeout`.

        Some busy cases (WAL recovery, switching a new file to WAL, a snapshot upgrade) skip
        SQLite's own busy handler; they are retried here within the same bound.

        Raises:
            JournalUnavailable: still busy at the deadline, or a file SQLite cannot use.
        """
        deadline = time.monotonic() + self.busy_timeout
        pause = 0.005
        while True:
            try:
                return attempt()
            except sqlite3.OperationalError as exc:
                if _is_busy(exc) and time.monotonic() < deadline:
                    time.sleep(pause)
                    pause = min(pause * 2, 0.1)
                    continue
                raise self._unavailable(exc, doing) from exc
            except sqlite3.DatabaseError as exc:
                raise self._unavailable(exc, doing) from exc

    def _unavailable(self, exc: sqlite3.DatabaseError, doing: str) -> JournalUnavailable:
        """The typed error for what SQLite said: a lock that stayed, or a file it cannot use."""
        if isinstance(exc, sqlite3.OperationalError):
            if _is_busy(exc):
                why = f"the journal stayed locked by another process for {self.busy_timeout:g} s"
            else:
                why = doing
        else:  # a file that is not a database, or a damaged page
            why = "the journal file is not a usable SQLite database (damaged?)"
        return JournalUnavailable(f"{why}: {exc}", target=str(self.path))

    # -- schema -------------------------------------------------------------------------

    def _migrate(self, tx: Tx) -> None:
        # Outbox files written before the journal existed have no lease columns.
        columns = {row[1] for row in tx.execute(f"PRAGMA table_info({self.deliveries_table})")}
        for name, kind in (("lease_owner", "TEXT"), ("lease_expires", "DOUBLE PRECISION")):
            if name not in columns:
                tx.execute(f"ALTER TABLE {self.deliveries_table} ADD COLUMN {name} {kind}")

    # -- the outbox claim -----------------------------------------------------------------

    def _claim_batch(
        self, tx: Tx, *, now: float, wall: float, limit: int, owner: str, lease: float
    ) -> list[tuple[Any, ...]]:
        table = self.deliveries_table
        due = (
            f"SELECT rowid FROM {table} WHERE status = 'pending' AND next_attempt <= ? "
            "AND (lease_owner IS NULL OR lease_expires IS NULL OR lease_expires <= ?) "
            "ORDER BY created_at, event_id, endpoint LIMIT ?"
        )
        if self.use_returning:
            return tx.execute(
                f"UPDATE {table} SET lease_owner = ?, lease_expires = ? "
                f"WHERE rowid IN ({due}) RETURNING {claim_columns()}",
                (owner, wall + lease, now, wall, limit),
            )
        # SQLite before 3.35: the same claim in two statements; BEGIN IMMEDIATE already holds
        # the write lock, so nobody can claim the rows in between.
        rowids = [row[0] for row in tx.execute(due, (now, wall, limit))]
        if not rowids:
            return []
        marks = ", ".join("?" for _ in rowids)
        tx.execute(
            f"UPDATE {table} SET lease_owner = ?, lease_expires = ? WHERE rowid IN ({marks})",
            (owner, wall + lease, *rowids),
        )
        return tx.execute(
            f"SELECT {claim_columns()} FROM {table} WHERE rowid IN ({marks})", rowids
        )

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        db = getattr(self._local, "db", None)
        if db is not None and getattr(self._local, "generation", None) == _Forks.generation:
            db.close()
        self._local.db = None

