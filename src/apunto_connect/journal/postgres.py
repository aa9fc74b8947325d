"""The journal store for several workers on several machines: PostgreSQL (extra ``postgres``).

Every worker opens the same ``postgresql://`` URL. Keys are claimed with row locks
(``INSERT … ON CONFLICT DO NOTHING`` then ``SELECT … FOR UPDATE``), deliveries with
``FOR UPDATE SKIP LOCKED`` so senders never wait for each other, and every claim is a lease
that lapses when its worker dies. The tables (``apunto_journal``, ``apunto_deliveries``,
``apunto_schema``) are created on first use. Leases compare the workers' clocks: keep them
in sync (NTP) and the lease well above the skew.

The password never appears in :attr:`PostgresJournal.identity`, ``repr`` or error messages.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigurationError, JournalUnavailable
from ._sql import SqlJournal, Tx, claim_columns

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresJournal"]

T = TypeVar("T")

_SCHEMA_LOCK = 0x61707A6A  # pg_advisory_xact_lock key: one worker creates the tables at a time


def _require_driver() -> None:
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            "a postgresql:// journal needs the 'postgres' extra: "
            "pip install 'apunto-connect[postgres]'"
        ) from exc


class _PgTx:
    """A transaction's cursor with the ``Tx`` interface (``?`` placeholders)."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor
        self.rowcount = -1

    def execute(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        # The statements are the project's own and contain no literal '?' or '%'.
        self._cursor.execute(sql.replace("?", "%s"), tuple(params))
        rows = self._cursor.fetchall() if self._cursor.description else []
        self.rowcount = self._cursor.rowcount
        return rows


class PostgresJournal(SqlJournal):
    """The journal and outbox in a PostgreSQL database.

    Args:
        url: ``postgresql://user:password@host:port/dbname`` (libpq URL or key=value string).
        clock: unix time source (tests move it).
        max_connections: the pool's size for this process.
        busy_timeout: seconds an operation may wait for a connection or retry a lost one
            before :class:`~apunto_connect.errors.JournalUnavailable`.
        connect_timeout: seconds to wait for the server when opening.

    Raises:
        ConfigurationError: the ``postgres`` extra is not installed.
        JournalUnavailable: the server cannot be reached, refuses the login, or the tables
            cannot be created.
    """

    journal_table = "apunto_journal"
    deliveries_table = "apunto_deliveries"
    version_table = "apunto_schema"
    lock_rows = " FOR UPDATE"
    merge_reference_sql = "(reference::jsonb || ?::jsonb)::text"

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        max_connections: int = 8,
        busy_timeout: float = 15.0,
        connect_timeout: float = 10.0,
    ) -> None:
        _require_driver()
        super().__init__(clock)
        self._url = url
        self._password, self._identity = self._describe(url)
        self.busy_timeout = busy_timeout
        self.connect_timeout = connect_timeout
        self.max_connections = max(1, max_connections)
        self._pool: ConnectionPool[Any] | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()
        self._create()

    def __repr__(self) -> str:
        return f"PostgresJournal({self._identity!r})"

    @property
    def identity(self) -> str:
        """``postgresql://user@host:port/dbname``, never the password."""
        return self._identity

    def _describe(self, url: str) -> tuple[str, str]:
        from psycopg.conninfo import conninfo_to_dict

        from ..redaction import register_secret

        try:
            params = conninfo_to_dict(url)
        except Exception:  # psycopg.ProgrammingError; its text may echo the URL, password included
            raise JournalUnavailable(
                "the PostgreSQL URL cannot be read (expected postgresql://user@host:port/db)",
                target="postgresql://?",
            ) from None
        password = str(params.get("password") or "")
        if password:
            register_secret(password)
        user = params.get("user") or ""
        host = params.get("host") or params.get("hostaddr") or "localhost"
        port = params.get("port") or "5432"
        dbname = params.get("dbname") or user
        return password, f"postgresql://{user}{'@' if user else ''}{host}:{port}/{dbname}"

    def _clean(self, text: object) -> str:
        message = str(text).strip()
        if self._password:
            message = message.replace(self._password, "***")
        from ..redaction import redact

        return redact(message)

    # -- connections --------------------------------------------------------------------

    def _create(self) -> None:
        import psycopg

        try:
            with psycopg.connect(
                self._url, autocommit=True, connect_timeout=max(1, int(self.connect_timeout))
            ) as conn, conn.transaction():
                cursor = conn.cursor()
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                self._create_schema(_PgTx(cursor))
        except psycopg.Error as exc:
            raise JournalUnavailable(
                f"cannot open the PostgreSQL journal: {self._clean(exc)}", target=self._identity
            ) from None

    def _connections(self) -> ConnectionPool[Any]:
        with self._pool_lock:
            # A pool inherited through fork() belongs to the parent: open a new one.
            if self._pool is None or self._pool_pid != os.getpid():
                from psycopg_pool import ConnectionPool

                self._pool = ConnectionPool(
                    self._url, min_size=1, max_size=self.max_connections,
                    kwargs={"autocommit": True}, open=False, name="apunto-journal",
                    timeout=self.busy_timeout,
                )
                self._pool.open(wait=False)
                self._pool_pid = os.getpid()
            return self._pool

    def _run(self, work: Callable[[Tx], T], *, write: bool = True, durable: bool = False) -> T:
        # Every PostgreSQL commit is durable as the server is configured (synchronous_commit).
        import psycopg
        from psycopg import errors as pg_errors
        from psycopg_pool import PoolTimeout

        deadline = time.monotonic() + self.busy_timeout
        pause = 0.01
        while True:
            try:
                with self._connections().connection(
                    timeout=max(0.1, deadline - time.monotonic())
                ) as conn, conn.transaction():
                    return work(_PgTx(conn.cursor()))
            except PoolTimeout as exc:
                raise JournalUnavailable(
                    f"no PostgreSQL connection within {self.busy_timeout:g} s: {self._clean(exc)}",
                    target=self._identity,
                ) from None
            except (pg_errors.SerializationFailure, pg_errors.DeadlockDetected,
                    psycopg.OperationalError) as exc:
                # Transient: a lost connection, a deadlock victim. Every operation is one
                # transaction that either committed or did nothing, so running it again is safe.
                if time.monotonic() < deadline:
                    time.sleep(pause)
                    pause = min(pause * 2, 0.5)
                    continue
                raise JournalUnavailable(
                    f"the PostgreSQL journal cannot be used: {self._clean(exc)}",
                    target=self._identity,
                ) from None
            except psycopg.Error as exc:
                raise JournalUnavailable(
                    f"the PostgreSQL journal refused an operation: {self._clean(exc)}",
                    target=self._identity,
                ) from None

    # -- the outbox claim -----------------------------------------------------------------

    def _claim_batch(
        self, tx: Tx, *, now: float, wall: float, limit: int, owner: str, lease: float
    ) -> list[tuple[Any, ...]]:
        table = self.deliveries_table
        return tx.execute(
            f"UPDATE {table} SET lease_owner = ?, lease_expires = ? "
            f"WHERE (event_id, endpoint) IN ("
            f"SELECT event_id, endpoint FROM {table} WHERE status = 'pending' "
            "AND next_attempt <= ? "
            "AND (lease_owner IS NULL OR lease_expires IS NULL OR lease_expires <= ?) "
            "ORDER BY created_at, event_id, endpoint LIMIT ? FOR UPDATE SKIP LOCKED) "
            f"RETURNING {claim_columns()}",
            (owner, wall + lease, now, wall, limit),
        )

    def close(self) -> None:
        """Close this process's connections (a later call opens them again)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pool_pid == os.getpid():
            pool.close()
