"""Journal stores for the conformance suite: every test runs on each backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from apunto_connect.journal import JournalStore, MemoryJournal


class Clock:
    """A clock the test moves by hand (leases are compared on the store's clock)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


StoreFactory = Callable[[], JournalStore]

BACKENDS = ["memory", "sqlite", "sqlite-no-returning", "postgres"]
DURABLE = ["sqlite", "postgres"]


def _factory(kind: str, request: pytest.FixtureRequest, tmp_path: Path,
             clock: Clock, opened: list[JournalStore]) -> tuple[StoreFactory, str]:
    """A function opening one more handle on one backing store, and that store's target."""
    if kind == "memory":
        shared = MemoryJournal(clock=clock)
        return (lambda: shared), "memory"
    if kind.startswith("sqlite"):
        from apunto_connect.journal.sqlite import SqliteJournal

        path = tmp_path / "journal.sqlite3"

        def sqlite_store() -> JournalStore:
            store = SqliteJournal(path, clock=clock, busy_timeout=5.0)
            if kind == "sqlite-no-returning":
                # The paths taken by SQLite older than 3.35 (no RETURNING), which may also
                # lack json_patch (JSON1 was optional before 3.38).
                store.use_returning = False
                store.merge_reference_sql = None
            opened.append(store)
            return store

        return sqlite_store, str(path)
    from apunto_connect.journal.postgres import PostgresJournal

    url: str = request.getfixturevalue("pg_url")

    def pg_store() -> JournalStore:
        store = PostgresJournal(url, clock=clock, busy_timeout=5.0)
        opened.append(store)
        return store

    return pg_store, url


@pytest.fixture(params=BACKENDS)
def new_store(request: pytest.FixtureRequest, tmp_path: Path,
              clock: Clock) -> Iterator[StoreFactory]:
    """Open handles on one store of each backend (several handles = several workers)."""
    opened: list[JournalStore] = []
    factory, _ = _factory(request.param, request, tmp_path, clock, opened)
    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(new_store: StoreFactory) -> JournalStore:
    return new_store()


@pytest.fixture(params=DURABLE)
def durable_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a durable store lives (a file path or a PostgreSQL URL), for subprocesses."""
    if request.param == "sqlite":
        return str(tmp_path / "journal.sqlite3")
    url: str = request.getfixturevalue("pg_url")
    return url
