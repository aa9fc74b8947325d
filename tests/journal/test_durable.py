"""What only the durable stores promise: other processes, dead workers, bad files, servers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from apunto_connect.errors import ConfigurationError, JournalUnavailable, StampInProgress
from apunto_connect.events import Event
from apunto_connect.journal import (
    ENV_VAR,
    MemoryJournal,
    StampState,
    open_journal,
)
from apunto_connect.journal.sqlite import SqliteJournal

V, A = "facturama", "acct-1"

_CHILD = textwrap.dedent(
    """
    import sys, time
    from apunto_connect.journal import open_journal
    from apunto_connect.journal.records import new_owner

    store = open_journal(sys.argv[1])
    if sys.argv[2] == "claim":
        claim = store.claim("facturama", "acct-1", "k1", "h1", lease=600)
        print(claim.owner, flush=True)
    else:
        owner = new_owner()
        taken = store.outbox.claim_due(time.time(), 100, owner=owner, lease=600)
        print(owner, len(taken), flush=True)
    time.sleep(60)  # killed long before
    """
)


def _read_line(proc: subprocess.Popen[str], timeout: float = 20) -> str:
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not line or not line[0]:
        proc.kill()
        proc.wait(timeout=10)
        raise AssertionError(f"the child said nothing: {proc.stderr.read()}")  # type: ignore[union-attr]
    return line[0].strip()


def _spawn(target: str, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, target, mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _event(n: int) -> Event:
    return Event(id=f"evt_{uuid.uuid4().hex}", type="invoice.stamped", provider=V,
                 data={"n": n}, created_at=datetime.now(timezone.utc))


def test_a_killed_worker_leaves_its_key_to_the_next(durable_target: str):
    store = open_journal(durable_target)
    child = _spawn(durable_target, "claim")
    try:
        owner = _read_line(child)
        assert f":{child.pid}:" in owner
        with pytest.raises(StampInProgress):  # alive: its 600 s lease is respected
            store.claim(V, A, "k1", "h1", wait=0.2)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    started = time.monotonic()
    taken = store.claim(V, A, "k1", "h1", wait=5)
    assert time.monotonic() - started < 2  # no need to wait for the lease
    assert not taken.fresh and taken.record.lease_owner == owner
    assert taken.record.state == StampState.CLAIMED


def test_a_killed_sender_leaves_its_deliveries_to_the_next(durable_target: str):
    store = open_journal(durable_target)
    for n in range(3):
        store.outbox.add(_event(n), ["https://a.test/h"], time.time())
    child = _spawn(durable_target, "deliveries")
    try:
        owner, count = _read_line(child).split()
        assert count == "3"
        assert store.outbox.claim_due(time.time(), owner="next", lease=60) == []
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    taken = store.outbox.claim_due(time.time(), owner="next", lease=60)
    assert len(taken) == 3 and {d.lease_owner for d in taken} == {"next"}
    assert owner != "next"


# -- SQLite files that cannot be used ---------------------------------------------------


def test_a_file_that_is_not_a_database_is_refused_at_open(tmp_path: Path):
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"this is not a database, just some text\n" * 200)
    with pytest.raises(JournalUnavailable) as caught:
        SqliteJournal(path)
    assert str(path) in str(caught.value) and caught.value.target == str(path)


def test_a_damaged_database_is_refused_at_open(tmp_path: Path):
    path = tmp_path / "journal.sqlite3"
    store = SqliteJournal(path, synchronous="normal")
    for n in range(300):
        store.claim(V, A, f"key-{n:04d}-" + "x" * 80, "h" * 64, reference={"folio": str(n)})
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    assert len(data) > 5 * 4096
    data[3 * 4096:5 * 4096] = os.urandom(2 * 4096)  # two b-tree pages of the journal table
    path.write_bytes(bytes(data))
    with pytest.raises(JournalUnavailable, match="journal"):
        SqliteJournal(path)


def test_a_folder_that_cannot_be_created_is_refused(tmp_path: Path):
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    path = blocker / "journal.sqlite3"
    with pytest.raises(JournalUnavailable, match="cannot create") as caught:
        SqliteJournal(path)
    assert str(path) in str(caught.value)


def test_a_lock_that_does_not_clear_is_refused_within_the_bound(tmp_path: Path):
    path = tmp_path / "journal.sqlite3"
    store = SqliteJournal(path, busy_timeout=0.3)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing, and never finishing
    try:
        started = time.monotonic()
        with pytest.raises(JournalUnavailable, match="locked"):
            store.claim(V, A, "k1", "h1")
        assert time.monotonic() - started < 3
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.claim(V, A, "k1", "h1").fresh  # and works again once the lock is gone


def test_a_short_lock_is_waited_out(tmp_path: Path):
    path = tmp_path / "journal.sqlite3"
    store = SqliteJournal(path, busy_timeout=5)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    releaser = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    releaser.start()
    try:
        assert store.claim(V, A, "k1", "h1").fresh
    finally:
        releaser.join()
        other.close()


def test_a_new_file_another_process_is_still_setting_up_is_waited_for(tmp_path: Path):
    # Two workers opening a new journal at once: one is still writing to the file in its
    # first (rollback-journal) mode while the other switches it to WAL. SQLite answers that
    # switch "database is locked" at once, without its busy handler; the open waits instead.
    path = tmp_path / "journal.sqlite3"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE setup (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO setup VALUES (1)")
    releaser = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    releaser.start()
    try:
        assert SqliteJournal(path, busy_timeout=5).claim(V, A, "k1", "h1").fresh
    finally:
        releaser.join()
        other.close()


def test_sync_modes_keep_every_commit_and_unknown_modes_are_refused(tmp_path: Path):
    from apunto_connect.errors import ValidationError

    for mode in ("sent", "full", "normal"):
        store = SqliteJournal(tmp_path / f"{mode}.sqlite3", synchronous=mode)
        claim = store.claim(V, A, "k1", "h1")
        store.mark_sent(claim)
        store.mark_stamped(claim, uuid="U", vendor_id=None, result=None)
        store.close()
        reopened = SqliteJournal(tmp_path / f"{mode}.sqlite3")
        record = reopened.get(V, A, "k1")
        assert record is not None and record.state == StampState.STAMPED
    with pytest.raises(ValidationError) as caught:
        SqliteJournal(tmp_path / "x.sqlite3", synchronous="sometimes")
    assert caught.value.issues[0].field == "synchronous"


def test_the_sync_mode_defaults_to_normal_and_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from apunto_connect.errors import ValidationError

    monkeypatch.delenv("APUNTO_JOURNAL_SYNC", raising=False)
    assert SqliteJournal(tmp_path / "a.sqlite3").synchronous == "normal"
    monkeypatch.setenv("APUNTO_JOURNAL_SYNC", "SENT")
    assert SqliteJournal(tmp_path / "b.sqlite3").synchronous == "sent"
    assert SqliteJournal(tmp_path / "c.sqlite3", synchronous="full").synchronous == "full"
    monkeypatch.setenv("APUNTO_JOURNAL_SYNC", "often")
    with pytest.raises(ValidationError, match="APUNTO_JOURNAL_SYNC"):
        SqliteJournal(tmp_path / "d.sqlite3")


def test_a_store_from_a_newer_release_is_refused(tmp_path: Path):
    path = tmp_path / "journal.sqlite3"
    SqliteJournal(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(JournalUnavailable, match="newer"):
        SqliteJournal(path)


_OLD_OUTBOX = """
CREATE TABLE deliveries (
    event_id TEXT NOT NULL, endpoint TEXT NOT NULL, event_type TEXT NOT NULL,
    body TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL, last_error TEXT,
    created_at REAL NOT NULL, delivered_at REAL, PRIMARY KEY (event_id, endpoint)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt);
INSERT INTO deliveries (event_id, endpoint, event_type, body, next_attempt, created_at)
VALUES ('evt_old', 'https://a.test/h', 'invoice.stamped', '{"id":"evt_old"}', 10, 10);
"""


def test_an_outbox_file_of_the_old_layout_keeps_working(tmp_path: Path):
    path = tmp_path / "outbox.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(_OLD_OUTBOX)
    store = SqliteJournal(path)
    (old,) = store.outbox.list()
    assert old.event_id == "evt_old" and old.status == "pending" and old.lease_owner is None
    (claimed,) = store.outbox.claim_due(20, owner="sender", lease=30)
    assert claimed.event_id == "evt_old" and claimed.lease_owner == "sender"
    assert store.claim(V, A, "k1", "h1").fresh  # and the journal lives in the same file


# -- opening by target ------------------------------------------------------------------


def test_open_journal_by_path_env_and_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "j.sqlite3"
    first = open_journal(path)
    assert isinstance(first, SqliteJournal) and first.identity == f"sqlite:{path.resolve()}"
    assert open_journal(str(path)) is first  # one shared handle per target
    monkeypatch.setenv(ENV_VAR, str(path))
    assert open_journal() is first
    assert isinstance(open_journal("memory"), MemoryJournal)
    assert open_journal(first) is first
    monkeypatch.setenv(ENV_VAR, "  ")
    with pytest.raises(ConfigurationError):
        open_journal(" ")


def test_a_default_journal_that_cannot_be_created_says_how_to_choose_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import apunto_connect.journal as journal_module

    not_a_folder = tmp_path / "home-is-a-file"
    not_a_folder.write_text("")
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(journal_module, "default_journal_path",
                        lambda: not_a_folder / "apunto-connect" / "journal.sqlite3")
    with pytest.raises(JournalUnavailable) as caught:
        open_journal()
    text = str(caught.value)
    assert "cannot create the journal folder" in text
    assert "default journal file" in text and ENV_VAR in text and "journal=" in text
    assert caught.value.target.endswith("journal.sqlite3")
    # A file the user chose gets the plain error: they know how they chose it.
    with pytest.raises(JournalUnavailable) as chosen:
        open_journal(not_a_folder / "journal.sqlite3")
    assert "default journal" not in str(chosen.value)


# -- PostgreSQL -------------------------------------------------------------------------


def test_postgres_never_shows_the_password(pg_url: str):
    from apunto_connect.journal.postgres import PostgresJournal
    from tests.pg_server import PASSWORD

    store = open_journal(pg_url)
    assert isinstance(store, PostgresJournal)
    assert PASSWORD not in store.identity and PASSWORD not in repr(store)
    assert store.identity.startswith("postgresql://postgres@127.0.0.1:")
    for bad in (pg_url.rsplit("/", 1)[0] + "/no_such_db",
                pg_url.replace(PASSWORD, PASSWORD + "-wrong")):
        with pytest.raises(JournalUnavailable) as caught:
            PostgresJournal(bad, connect_timeout=3)
        text = str(caught.value)
        assert "PostgreSQL" in text and PASSWORD not in text
        assert PASSWORD not in repr(caught.value.__cause__)


def test_postgres_server_that_is_not_there(tmp_path: Path):
    import socket

    import psycopg  # noqa: F401  (the postgres extra: make test installs it)

    from apunto_connect.journal.postgres import PostgresJournal

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(JournalUnavailable, match="cannot open"):
        PostgresJournal(f"postgresql://u:s3cr3t-pw@127.0.0.1:{port}/db", connect_timeout=2)
    assert time.monotonic() - started < 5


def test_postgres_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch):
    from apunto_connect.journal.postgres import PostgresJournal

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    with pytest.raises(ConfigurationError, match=r"apunto-connect\[postgres\]"):
        PostgresJournal("postgresql://u@127.0.0.1:1/db")


def test_a_forked_worker_opens_its_own_connections(durable_target: str):
    store = open_journal(durable_target)
    store.claim(V, A, "parent-key", "h")  # the parent's connection is open and used
    pid = os.fork()
    if pid == 0:  # the child: the inherited handle must work on fresh connections
        code = 1
        try:
            claim = store.claim(V, A, "child-key", "h", wait=5)
            store.mark_sent(claim)
            store.mark_stamped(claim, uuid="CHILD", vendor_id=None, result=None)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    record = store.get(V, A, "child-key")
    assert record is not None and record.uuid == "CHILD"
    assert store.claim(V, A, "another", "h").fresh  # the parent's side still works
