"""Where a Google Drive sign-in is kept between runs: the refresh token and its stores.

:class:`StoredToken` is what survives; :class:`TokenStore` is the protocol, with a memory, a
file (``APUNTO_GOOGLE_DRIVE_TOKEN_FILE``) and a keyring implementation;
:func:`default_token_store` picks one. Re-exported by :mod:`.google_auth`.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs

from .. import credentials as _credentials
from ..credentials import (
    Secret,
    keyring_available,
    keyring_service,
)
from ..errors import (
    ConfigurationError,
)
from ..redaction import forget_secret

__all__ = [
    "DEFAULT_SCOPES",
    "DRIVE_FILE_SCOPE",
    "KEYRING_ENTRY",
    "KEYRING_SERVICE",
    "TOKEN_FILE_ENV",
    "FileTokenStore",
    "KeyringTokenStore",
    "MemoryTokenStore",
    "StoredToken",
    "TokenStore",
    "default_token_store",
]

log = logging.getLogger("apunto_connect.google_drive")

PROVIDER = "google_drive"
DRIVE_FILE_SCOPE = "https://www.googleapis.com/auth/drive.file"
DEFAULT_SCOPES: tuple[str, ...] = (DRIVE_FILE_SCOPE,)
"""Only the files and folders this app created (``drive.file``)."""
KEYRING_SERVICE = keyring_service(PROVIDER)
KEYRING_ENTRY = "credentials"
TOKEN_FILE_ENV = "APUNTO_GOOGLE_DRIVE_TOKEN_FILE"

@attrs.frozen(slots=True)
class StoredToken:
    """What survives between runs: small enough for any keyring backend.

    Attributes:
        refresh_token: the long-lived token (masked in ``repr``).
        client_id: the OAuth client it belongs to (a refresh only works with that client).
        account: the Google account e-mail, when known.
        scopes: the scopes Google granted.
    """

    refresh_token: Secret
    client_id: str
    account: str | None = None
    scopes: tuple[str, ...] = DEFAULT_SCOPES

    def to_json(self) -> str:
        """Compact JSON (a few hundred bytes), as written to the keyring or a file."""
        data: dict[str, Any] = {
            "refresh_token": self.refresh_token.reveal(),
            "client_id": self.client_id,
        }
        if self.account:
            data["account"] = self.account
        if tuple(self.scopes) != DEFAULT_SCOPES:
            data["scopes"] = " ".join(self.scopes)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> StoredToken | None:
        """Parse :meth:`to_json` output; ``None`` for anything unusable."""
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, Mapping) or not data.get("refresh_token") or not data.get("client_id"):
            return None
        scopes = str(data.get("scopes") or "").split() or list(DEFAULT_SCOPES)
        return cls(
            refresh_token=Secret(str(data["refresh_token"])),
            client_id=str(data["client_id"]),
            account=str(data["account"]) if data.get("account") else None,
            scopes=tuple(scopes),
        )


@runtime_checkable
class TokenStore(Protocol):
    """Where the signed-in account's refresh token lives."""

    def load(self) -> StoredToken | None:
        """The stored token, or ``None`` when nobody signed in."""

    def save(self, token: StoredToken) -> None:
        """Replace the stored token."""

    def clear(self) -> None:
        """Forget the stored token (no error when there is none)."""


class MemoryTokenStore:
    """A token kept in this process only (tests, short-lived workers)."""

    def __init__(self, token: StoredToken | None = None) -> None:
        self._token = token
        self._lock = threading.Lock()

    def load(self) -> StoredToken | None:
        """The token, if any."""
        with self._lock:
            return self._token

    def save(self, token: StoredToken) -> None:
        """Keep ``token``."""
        with self._lock:
            self._token = token

    def clear(self) -> None:
        """Forget the token."""
        with self._lock:
            self._token = None

    def __repr__(self) -> str:
        return f"MemoryTokenStore(signed_in={self._token is not None})"


class FileTokenStore:
    """A JSON file only the owner can read (mode 0600), replaced atomically on every save."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()

    def load(self) -> StoredToken | None:
        """The token in the file, or ``None`` when the file is missing or unreadable."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read the Google Drive token file %s: %s", self.path, exc.strerror)
            return None
        if os.name == "posix" and self.path.stat().st_mode & 0o077:
            log.warning("the Google Drive token file %s is readable by other users; chmod 600 it", self.path)
        return StoredToken.from_json(text)

    def save(self, token: StoredToken) -> None:
        """Write the token to a 0600 temporary file in the same folder, then rename it over."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=self.path.parent, prefix=".token-", suffix=".part")
        try:
            os.chmod(temp_name, 0o600)  # before any secret is written
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(token.to_json())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, self.path)
        except BaseException:
            if os.path.exists(temp_name):
                os.unlink(temp_name)
            raise

    def clear(self) -> None:
        """Delete the file."""
        self.path.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"


class KeyringTokenStore:
    """One compact keyring entry: service ``apunto_connect/google_drive``, user ``credentials``.

    Args:
        service, username: where the entry lives.
        keyring: a keyring-like module (``get_password``/``set_password``/``delete_password``);
            the system keyring when ``None``.
    """

    def __init__(
        self, service: str = KEYRING_SERVICE, username: str = KEYRING_ENTRY, keyring: Any = None
    ) -> None:
        self.service = service
        self.username = username
        self._keyring = keyring

    def _backend(self) -> Any:
        backend = self._keyring if self._keyring is not None else _credentials._usable_keyring()
        if backend is None:
            raise ConfigurationError(
                "No usable keyring backend on this machine; pass token_store=FileTokenStore(path) "
                f"or set {TOKEN_FILE_ENV}"
            )
        return backend

    def load(self) -> StoredToken | None:
        """The token in the keyring, or ``None``."""
        try:
            text = self._backend().get_password(self.service, self.username)
        except ConfigurationError:
            return None
        except Exception as exc:  # locked keychains, D-Bus errors: "not there"
            log.debug("keyring lookup failed: %s", type(exc).__name__)
            return None
        return StoredToken.from_json(text) if text else None

    def save(self, token: StoredToken) -> None:
        """Write the compact entry."""
        self._backend().set_password(self.service, self.username, token.to_json())

    def clear(self) -> None:
        """Delete the entry (absent is fine)."""
        try:
            backend = self._backend()
            old = backend.get_password(self.service, self.username)
            backend.delete_password(self.service, self.username)
        except Exception:  # PasswordDeleteError when absent, no backend...
            return
        if old:
            forget_secret(old)

    def __repr__(self) -> str:
        return f"KeyringTokenStore(service={self.service!r}, username={self.username!r})"


def default_token_store(environ: Mapping[str, str] | None = None) -> TokenStore:
    """``APUNTO_GOOGLE_DRIVE_TOKEN_FILE`` if set, else the keyring, else a 0600 file in the user config folder."""
    environ = os.environ if environ is None else environ
    if environ.get(TOKEN_FILE_ENV):
        return FileTokenStore(environ[TOKEN_FILE_ENV])
    if keyring_available(environ):
        return KeyringTokenStore()
    from platformdirs import user_config_path

    return FileTokenStore(user_config_path("apunto-connect") / "google-drive-token.json")

