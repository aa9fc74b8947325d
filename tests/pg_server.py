"""A throwaway PostgreSQL server for the suite (a pytest plugin, registered in conftest.py).

``pg_server`` (session scope) runs ``initdb`` and ``pg_ctl start`` from the machine's
``/usr/lib/postgresql/*/bin`` in a temporary folder, listening on a free port of 127.0.0.1
only (its unix socket stays inside that folder), and stops it when the session ends. PostgreSQL
refuses to run as root, so as root the binaries run as the unprivileged ``postgres`` system
user, who owns the folder. ``pg_url`` gives each test a database of its own.

Without the binaries (or psycopg) the tests are skipped locally with the reason; when the
environment variable ``CI`` is set they fail instead, so CI can never pass by skipping them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

PASSWORD = "pg-test-5e1d0c"  # only for this throwaway server, reachable from 127.0.0.1 only


@attrs.frozen
class PgServer:
    """A running server: its admin URL and how to build a URL for one database."""

    host: str
    port: int
    user: str
    password: str

    def url(self, dbname: str = "postgres") -> str:
        """A ``postgresql://`` URL for ``dbname`` on this server."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{dbname}"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run on CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def _bin_dir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _run(command: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _as_server_user(command), capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """Start a private PostgreSQL on 127.0.0.1 for the session and stop it afterwards."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        _unavailable("no /usr/lib/postgresql/*/bin/initdb (install the 'postgresql' package)")
    assert bin_dir is not None
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'apunto-connect[postgres]')")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        _unavailable("running as root without runuser to drop to the postgres user")

    root = Path(tempfile.mkdtemp(prefix="apunto-pg-", dir="/tmp"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    password_file = root / "password"
    password_file.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        for path in (root, sockets, password_file):
            shutil.chown(path, "postgres", "postgres")
    started = False
    try:
        init = _run([
            str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8",
            "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256",
            f"--pwfile={password_file}",
        ])
        if init.returncode != 0:
            pytest.fail(f"initdb failed:\n{init.stdout}\n{init.stderr}", pytrace=False)
        last_error = ""
        for _ in range(3):  # a port taken between the probe and the start: pick another
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            start = _run([
                str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                str(root / "server.log"), "-w", "-t", "30", "start",
            ])
            if start.returncode == 0:
                started = True
                break
            log_file = root / "server.log"
            last_error = start.stderr + (log_file.read_text() if log_file.exists() else "")
        if not started:
            pytest.fail(f"pg_ctl start failed:\n{last_error}", pytrace=False)
        yield PgServer(host="127.0.0.1", port=port, user="postgres", password=PASSWORD)
    finally:
        if started:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh, empty database for one test (the whole server is thrown away at the end)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return pg_server.url(name)
