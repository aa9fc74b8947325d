"""The stamping journal and the webhook outbox: what makes "never stamp twice" durable.

A journal remembers every idempotency key: which invoice it was for, whether a stamp request
left, and which CFDI came back. Every invoicing provider consults it before it sends anything,
so the guarantee holds across threads, worker processes, crashes and restarts.

Choose the store with :func:`open_journal` (or ``journal=`` on a provider):

- a file path: SQLite (the default store, one file in the user's data folder);
- ``postgresql://user@host/db``: PostgreSQL, for workers on several machines (extra
  ``postgres``);
- ``memory``: this process only (tests, or an explicit opt-out).

Without an argument the environment variable ``APUNTO_JOURNAL`` decides, else the default file.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ..errors import ConfigurationError, JournalUnavailable
from .base import DEFAULT_LEASE, DEFAULT_WAIT, JournalStore, OutboxItem, OutboxStore
from .memory import MemoryJournal
from .records import Claim, Delivery, DeliveryStatus, JournalRecord, StampState

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_WAIT",
    "ENV_VAR",
    "Claim",
    "Delivery",
    "DeliveryStatus",
    "JournalRecord",
    "JournalStore",
    "MemoryJournal",
    "OutboxItem",
    "OutboxStore",
    "StampState",
    "default_journal_path",
    "forget_opened",
    "open_journal",
]

ENV_VAR = "APUNTO_JOURNAL"
"""The environment variable that names the journal when no ``journal=`` is given."""


_opened: dict[str, JournalStore] = {}
_opened_lock = threading.Lock()


def default_journal_path() -> Path:
    """The default journal file, in the user's data folder (``platformdirs``)."""
    from platformdirs import user_data_path

    return user_data_path("apunto-connect", appauthor=False) / "journal.sqlite3"


def open_journal(target: JournalStore | str | os.PathLike[str] | None = None) -> JournalStore:
    """The journal store for ``target`` (see the module docs); one shared handle per target.

    Raises:
        JournalUnavailable: the store cannot be opened, is corrupt, or stays locked.
        ConfigurationError: ``postgresql://`` without the ``postgres`` extra installed.
    """
    if isinstance(target, JournalStore):
        return target
    chosen = target is not None or bool(os.environ.get(ENV_VAR))
    if target is None:
        target = os.environ.get(ENV_VAR) or default_journal_path()
    text = os.fspath(target)
    if not text.strip():
        raise ConfigurationError(f"{ENV_VAR} / journal= is empty; give a path, a URL or 'memory'")
    with _opened_lock:
        if text == "memory":
            store = _opened.get("memory")
            if store is None:
                store = _opened["memory"] = MemoryJournal()
            return store
        if text.startswith(("postgresql://", "postgres://")):
            from .postgres import PostgresJournal

            key = text
            store = _opened.get(key)
            if store is None:
                store = _opened[key] = PostgresJournal(text)
            return store
        from .sqlite import SqliteJournal

        path = Path(text).expanduser().resolve()
        key = f"sqlite:{path}"
        store = _opened.get(key)
        if store is None:
            try:
                store = _opened[key] = SqliteJournal(path)
            except JournalUnavailable as exc:
                if chosen:
                    raise
                # Nobody chose this file: say how to choose another (a read-only home in a
                # container is the usual case).
                hint = JournalUnavailable(
                    f"{exc}; this is the default journal file: choose another with journal= or "
                    f"the {ENV_VAR} environment variable (a file path, a postgresql:// URL, or "
                    "'memory' for no durable journal)"
                )
                hint.target = exc.target
                raise hint from exc
        return store


def forget_opened() -> None:
    """Close and forget every store :func:`open_journal` handed out (tests, forks)."""
    with _opened_lock:
        stores = list(_opened.values())
        _opened.clear()
    for store in stores:
        store.close()
