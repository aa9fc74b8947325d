"""Google Drive storage: archive CFDI XML and PDF files in the user's own Drive.

What it is: the Drive API v3 through Google's own google-api-python-client and google-auth
(``pip install apunto-connect[drive]``), imported only when a Drive call is made — importing
this module costs nothing.

* Base URLs: ``https://www.googleapis.com/drive/v3`` (metadata), ``…/upload/drive/v3``
  (content), ``https://oauth2.googleapis.com`` (``/token``, ``/revoke``).
* Auth: OAuth 2.0 for a user, scope ``drive.file`` only (the app sees the files and folders it
  created); sign-in, token stores and revocation live in :mod:`.google_auth`. A service
  account (``credentials=``) works too, but only inside a Shared Drive: service accounts have no
  Drive storage of their own (``403 storageQuotaExceeded``).
* Layout: everything lives under one app folder (``apunto-connect`` in My Drive, or
  ``root_folder_id=`` of a folder in a Shared Drive); ``folder="CFDI/RFC/2026/11"`` creates the
  path on demand. Folder ids are cached (thread-safely); a restarted process finds them again
  by name, parent and folder MIME type.
* Idempotency: every file carries ``appProperties`` with our SHA-256 of the content
  (``apunto_sha256``) and the caller's metadata (``apunto_uuid``, ``apunto_issuer_rfc``...). An
  upload first searches ``appProperties has { key='apunto_sha256' and value='…' }`` with the
  same name and parent; a hit is returned instead of uploading again. A file with the same name
  but other content gets the new content as a new revision (same file id), like
  :class:`~apunto_connect.storage.local.LocalStorage` replaces it. A connection dropped after a
  create was sent is followed by a search before anything is sent again.
* Uploads: multipart up to ``multipart_threshold`` bytes, resumable above it in chunks of
  ``chunk_size`` (a multiple of 256 KiB, as the upload protocol requires) with a progress
  callback; downloads are chunked with ``Range`` requests.
* Retries: google-api-python-client's own (``execute(num_retries=N)`` /
  ``next_chunk(num_retries=N)``) on 429, 5xx and 403 ``rateLimitExceeded`` /
  ``userRateLimitExceeded``, with randomised exponential back-off; ``sleep=`` replaces the wait.
* Threads: httplib2 is not thread-safe, so each thread gets its own authorized HTTP client and
  service object; the credentials are shared and refreshed under a lock.
* Transports: ``session=`` (a :class:`requests.Session`) sends everything through an
  httplib2-compatible shim over that session — that is how :class:`apunto_connect.Sandbox`
  wires the real Google client to the offline emulator; ``client_options={"api_endpoint": …}``
  points the client elsewhere over real HTTP (e.g. ``sb.serve()``). google-api-python-client
  builds upload URLs from the discovery document's ``rootUrl`` and only swaps the host when the
  endpoint is overridden (it keeps ``https`` and drops any path prefix), so this provider
  rewrites upload URLs onto the overridden endpoint — see :func:`media_upload_uri`.

Public vs assumed: paths, query syntax, error reasons, retry rules, the 256 KiB chunk rule and
scopes are from Google's documentation and the client library's source. The property limits in
:data:`LIMITS` (124 bytes per key+value, 30 app properties per file) were not confirmed by our
research and are kept there, overridable (``GoogleDriveStorage(limits={...})``); the emulator
enforces the same table.

Sources: Drive API v3 reference and guides (files, search query terms, custom file
properties, manage uploads, handle errors, shared drives), google-api-python-client and
google-auth source, Google Cloud console help on OAuth consent screen publishing status.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import logging
import mimetypes
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, BinaryIO, ClassVar
from urllib.parse import urlsplit, urlunsplit

import attrs

from .._caches import BoundedCache, bounded_cache
from .._extras import require_extra
from ..credentials import CredentialField, Secret, resolve_credentials
from ..errors import (
    ApuntoError,
    AuthenticationError,
    Conflict,
    NotFound,
    PermissionDenied,
    ProviderError,
    RateLimited,
    ServerError,
    TransportError,
    ValidationError,
)
from ..models.common import Capability, ConnectionStatus
from ..models.storage import StoredFile
from ..redaction import redact
from .base import StorageProvider, UploadData
from .google_auth import (
    DEFAULT_SCOPES,
    GOOGLE_OAUTH_ENDPOINTS,
    ClientConfig,
    MemoryTokenStore,
    PendingLogin,
    StoredToken,
    TokenGrant,
    TokenStore,
    default_token_store,
    load_client_config,
    login_installed_app,
    refresh_error,
    revoke_token,
    user_credentials,
)
from .google_auth import begin_web_login as _begin_web_login
from .google_auth import finish_web_login as _finish_web_login

__all__ = [
    "API_BASE_URL",
    "CHUNK_QUANTUM",
    "CREDENTIALS",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MULTIPART_THRESHOLD",
    "DEFAULT_ROOT_FOLDER",
    "FILE_FIELDS",
    "FOLDER_MIME_TYPE",
    "LIMITS",
    "OAUTH_BASE_URL",
    "PROPERTY_PREFIX",
    "SHA256_PROPERTY",
    "UUID_PROPERTY",
    "DriveStatus",
    "GoogleDriveStorage",
    "StorageQuotaExceeded",
    "app_properties_to_metadata",
    "drive_file_to_stored",
    "file_query",
    "google_drive_error",
    "media_upload_uri",
    "metadata_to_app_properties",
    "quote_query_value",
]

log = logging.getLogger("apunto_connect.google_drive")

PROVIDER = "google_drive"
API_BASE_URL = "https://www.googleapis.com"
OAUTH_BASE_URL = "https://oauth2.googleapis.com"
SERVICE_PATH = "drive/v3/"
FOLDER_MIME_TYPE = "application/vnd.google-apps.folder"
PROPERTY_PREFIX = "apunto_"
SHA256_PROPERTY = "apunto_sha256"
UUID_PROPERTY = "apunto_uuid"
CHUNK_QUANTUM = 256 * 1024
DEFAULT_CHUNK_SIZE = 32 * CHUNK_QUANTUM  # 8 MiB
DEFAULT_MULTIPART_THRESHOLD = 5 * 1024 * 1024
DEFAULT_ROOT_FOLDER = "apunto-connect"
FILE_FIELDS = (
    "id,name,mimeType,parents,size,createdTime,modifiedTime,md5Checksum,sha256Checksum,"
    "appProperties,webViewLink,trashed"
)
_LIST_FIELDS = f"nextPageToken,files({FILE_FIELDS})"

LIMITS: Mapping[str, int] = {
    # ASSUMED (not confirmed by our research): Drive's custom-property limits.
    "property_bytes": 124,  # key + value, UTF-8
    "app_properties": 30,  # private properties one app may set on one file
    "max_page_size": 1000,
}
"""Drive limits the provider checks before sending (override per provider with ``limits=``)."""

CREDENTIALS: tuple[CredentialField, ...] = (
    CredentialField("client_id", secret=False, required=False),
    CredentialField("client_secret", required=False),
    CredentialField("refresh_token", required=False),
)
"""Optional fields: the OAuth client (else ``client_config=``) and a refresh token (else the
token store filled by :meth:`GoogleDriveStorage.login`)."""

QUOTA_HINT = (
    "Service accounts have no Drive storage of their own: upload into a Shared Drive "
    "(root_folder_id= of a folder there), use domain-wide delegation to act as a user, or sign "
    "in with a user account (OAuth). A user account needs free space in its Drive."
)

ProgressCallback = Callable[[int, int], None]
"""``progress(bytes_sent, total_bytes)``, called after every chunk."""


class StorageQuotaExceeded(PermissionDenied):
    """Drive refused the upload for lack of storage (``403 storageQuotaExceeded``).

    ``message`` is Google's text verbatim; ``hint`` explains the usual cause (shown by ``str()``).
    """

    hint: str = QUOTA_HINT

    def __str__(self) -> str:
        return f"{super().__str__()} — {self.hint}"


# -- pure mappers ---------------------------------------------------------------------------


def quote_query_value(value: str) -> str:
    """A string literal for Drive's ``q`` language: backslashes and quotes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def file_query(
    *,
    name: str | None = None,
    parent: str | None = None,
    folder: bool | None = None,
    app_properties: Mapping[str, str] | None = None,
    trashed: bool = False,
) -> str:
    """A ``q`` expression: terms joined with ``and`` (``folder=False`` excludes folders)."""
    terms = []
    if name is not None:
        terms.append(f"name = {quote_query_value(name)}")
    if parent is not None:
        terms.append(f"{quote_query_value(parent)} in parents")
    if folder is True:
        terms.append(f"mimeType = {quote_query_value(FOLDER_MIME_TYPE)}")
    elif folder is False:
        terms.append(f"mimeType != {quote_query_value(FOLDER_MIME_TYPE)}")
    for key, value in (app_properties or {}).items():
        terms.append(
            f"appProperties has {{ key={quote_query_value(key)} and value={quote_query_value(value)} }}"
        )
    terms.append(f"trashed = {'true' if trashed else 'false'}")
    return " and ".join(terms)


def metadata_to_app_properties(
    metadata: Mapping[str, str] | None, sha256: str, limits: Mapping[str, int] = LIMITS
) -> dict[str, str]:
    """Caller metadata as ``appProperties`` (``uuid`` → ``apunto_uuid``), plus our content hash.

    Raises:
        ValidationError: a reserved key, or a key/value pair over Drive's limits — before any
            network call, listing every problem.
    """
    from ..errors import Issue

    properties = {SHA256_PROPERTY: sha256}
    issues = []
    for key, value in (metadata or {}).items():
        full = PROPERTY_PREFIX + str(key)
        if full == SHA256_PROPERTY:
            issues.append(Issue(f"metadata.{key}", "APUNTO-STORAGE-520", "'sha256' is reserved for the content hash"))
            continue
        text = str(value)
        size = len(full.encode("utf-8")) + len(text.encode("utf-8"))
        if size > limits["property_bytes"]:
            issues.append(Issue(
                f"metadata.{key}", "APUNTO-STORAGE-521",
                f"Drive keeps at most {limits['property_bytes']} bytes per property "
                f"(key '{full}' + value); this one has {size}",
            ))
            continue
        properties[full] = text
    if len(properties) > limits["app_properties"]:
        issues.append(Issue(
            "metadata", "APUNTO-STORAGE-522",
            f"Drive keeps at most {limits['app_properties']} app properties per file; "
            f"got {len(properties)} (including {SHA256_PROPERTY})",
        ))
    if issues:
        raise ValidationError(issues)
    return properties


def app_properties_to_metadata(properties: Mapping[str, str] | None) -> dict[str, str]:
    """The caller metadata back from ``appProperties`` (our prefix removed, the hash left out)."""
    return {
        key[len(PROPERTY_PREFIX):]: str(value)
        for key, value in (properties or {}).items()
        if key.startswith(PROPERTY_PREFIX) and key != SHA256_PROPERTY
    }


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def drive_file_to_stored(file: Mapping[str, Any], folder: str = "") -> StoredFile:
    """A Drive file resource as a :class:`StoredFile` (``folder`` is the path the caller used)."""
    properties = file.get("appProperties") or {}
    size = file.get("size")
    return StoredFile(
        provider=PROVIDER,
        id=str(file["id"]),
        name=str(file.get("name", "")),
        folder=folder,
        size=int(size) if size is not None else None,
        sha256=properties.get(SHA256_PROPERTY) or file.get("sha256Checksum"),
        content_type=file.get("mimeType"),
        created_at=_parse_time(file.get("createdTime")),
        metadata=app_properties_to_metadata(properties),
        url=file.get("webViewLink"),
    )


def _decode_json(content: bytes | str | None) -> Any:
    import json

    if not content:
        return None
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    try:
        return json.loads(text)
    except ValueError:
        return None


def google_drive_error(status: int, content: bytes | str | None) -> ProviderError:
    """Map a Drive error answer to our tree; Google's ``error.message`` is kept verbatim.

    Drive errors look like ``{"error": {"code": 403, "message": "...", "errors": [{"domain":
    "usageLimits", "reason": "storageQuotaExceeded", "message": "..."}]}}``; the first reason
    becomes ``vendor_code``.
    """
    body = _decode_json(content)
    raw = content.decode("utf-8", "replace") if isinstance(content, bytes) else (content or "")
    error = body.get("error") if isinstance(body, Mapping) else None
    reason: str | None = None
    details: Any = None
    if isinstance(error, Mapping):
        message = str(error.get("message") or "")
        errors = error.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            reason = errors[0].get("reason")
            details = errors
        elif isinstance(error.get("status"), str):
            reason = error["status"]
    elif isinstance(error, str):  # OAuth-style {"error": "...", "error_description": "..."}
        message = str(body.get("error_description") or error)
        reason = error
    else:
        message = raw.strip()[:500] or f"HTTP {status}"
    kwargs: dict[str, Any] = {
        "provider": PROVIDER, "status_code": status, "vendor_code": reason,
        "details": details, "raw_body": redact(raw) if raw else None,
    }
    if reason == "storageQuotaExceeded":
        return StorageQuotaExceeded(message, **kwargs)
    if status == 401:
        return AuthenticationError(message, **kwargs)
    if status == 429 or reason in {"rateLimitExceeded", "userRateLimitExceeded"}:
        return RateLimited(message, **kwargs)
    if status == 403:
        return PermissionDenied(message, **kwargs)
    if status == 404:
        return NotFound(message, **kwargs)
    if status == 409:
        return Conflict(message, **kwargs)
    if status >= 500:
        return ServerError(message, **kwargs)
    return ProviderError(message, **kwargs)


def media_upload_uri(uri: str, api_endpoint: str | None) -> str:
    """Put an upload URL on an overridden ``api_endpoint``.

    With ``client_options={"api_endpoint": E}``, google-api-python-client builds upload URLs
    as ``https://<host of E>/upload/drive/v3/...``: it swaps only the host of the discovery
    document's ``rootUrl`` and keeps ``https`` and the path, so an endpoint with a path prefix
    or plain ``http`` (a proxy, the loopback sandbox) would not receive them. ``E`` stands for
    ``https://www.googleapis.com/drive/v3/``; uploads go to the same prefix + ``upload/drive/v3/``.
    """
    if not api_endpoint:
        return uri
    endpoint = urlsplit(api_endpoint if api_endpoint.endswith("/") else api_endpoint + "/")
    target = urlsplit(uri)
    if target.netloc != endpoint.netloc or not target.path.startswith("/upload/"):
        return uri
    prefix = endpoint.path
    if prefix.endswith("/" + SERVICE_PATH):
        prefix = prefix[: -len(SERVICE_PATH)]
    path = prefix.rstrip("/") + target.path
    return urlunsplit((endpoint.scheme, endpoint.netloc, path, target.query, ""))


# -- status ---------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class DriveStatus:
    """The state of the Drive connection (the help page's "estatus de la conexión").

    Attributes:
        connected: ``True`` when Drive accepted the credentials just now.
        account: the Google account e-mail.
        display_name: the account's name.
        scopes: the scopes granted.
        token_expiry: when the current access token expires (UTC).
        storage_limit, storage_usage: bytes, when Drive reports them (no limit: ``None``).
        detail: a sentence for people (Google's text when something is wrong).
        error_code: Google's error code when not connected (``invalid_grant``...).
    """

    connected: bool
    account: str | None = None
    display_name: str | None = None
    scopes: tuple[str, ...] = ()
    token_expiry: datetime | None = None
    storage_limit: int | None = None
    storage_usage: int | None = None
    detail: str = ""
    error_code: str | None = None


# -- upload sources -------------------------------------------------------------------------

_HASH_CHUNK = 1024 * 1024


@contextlib.contextmanager
def _opened(data: UploadData | str) -> Iterator[tuple[BinaryIO, int, str]]:
    """A seekable stream positioned at 0, its size and SHA-256, whatever the caller passed."""
    owned: BinaryIO | None = None
    if isinstance(data, (bytes, bytearray, memoryview)):
        stream: BinaryIO = io.BytesIO(bytes(data))
    elif isinstance(data, (str, os.PathLike)):
        owned = stream = open(data, "rb")  # noqa: SIM115 - closed in finally
    else:
        stream = data
        seekable = getattr(stream, "seekable", lambda: False)()
        if not seekable or stream.tell() != 0:
            # MediaIoBaseUpload seeks to absolute offsets: copy what is left into a spool file.
            spool = tempfile.SpooledTemporaryFile(max_size=DEFAULT_CHUNK_SIZE)  # noqa: SIM115
            while chunk := stream.read(_HASH_CHUNK):
                spool.write(chunk)
            spool.seek(0)
            owned = stream = spool  # type: ignore[assignment]
    try:
        digest = hashlib.sha256()
        size = 0
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
        stream.seek(0)
        yield stream, size, digest.hexdigest()
    finally:
        if owned is not None:
            owned.close()


def _folder_segments(folder: str) -> list[str]:
    if "\x00" in folder:
        raise ValidationError("contains a NUL byte", field="folder", code="APUNTO-STORAGE-501")
    segments = [s for s in folder.replace("\\", "/").split("/") if s not in ("", ".")]
    if any(s == ".." for s in segments):
        raise ValidationError(f"may not contain '..': {folder!r}", field="folder", code="APUNTO-STORAGE-503")
    return segments


def _check_name(name: str) -> None:
    if not name or name in {".", ".."} or "/" in name or "\\" in name or "\x00" in name:
        raise ValidationError(
            f"must be a plain file name, got {name!r}", field="name", code="APUNTO-STORAGE-505"
        )


# -- the provider ---------------------------------------------------------------------------


class GoogleDriveStorage(StorageProvider):
    """Files in a Google Drive, under one app folder.

    Args:
        client_config: the OAuth client: ``client_secret.json`` path, its dict or JSON text, or a
            :class:`~apunto_connect.storage.google_auth.ClientConfig` (else ``client_id``/
            ``client_secret`` or ``APUNTO_GOOGLE_DRIVE_CLIENT_CONFIG``).
        client_id, client_secret: the OAuth client as two fields.
        refresh_token: a refresh token to use (kept in memory; else the token store's).
        credentials: any google-auth credentials instead (a service account in a Shared Drive).
        token_store: where sign-in results live (keyring by default, see
            :func:`~apunto_connect.storage.google_auth.default_token_store`).
        scopes: OAuth scopes (``drive.file`` by default).
        root_folder: name of the app folder in My Drive (``apunto-connect``).
        root_folder_id: use this folder id as the root instead (e.g. in a Shared Drive).
        drive_id: the Shared Drive's id, so searches look in that drive (``corpora=drive``).
        chunk_size: resumable chunk size, a positive multiple of 256 KiB.
        multipart_threshold: files up to this many bytes go in one multipart request.
        num_retries: retries of the client library on 429/5xx/rate-limit 403.
        replace_existing: new content under an existing name becomes a new revision of that file
            (``False``: a second file with the same name).
        page_size: files per list page (1–1000).
        session: send through this :class:`requests.Session` (the sandbox passes its own).
        http: an httplib2-like object to send through (tests: ``HttpMockSequence``).
        client_options: google-api-python-client options, e.g. ``{"api_endpoint": url}``.
        oauth_endpoints: override ``token_uri``/``revoke_uri``/``auth_uri``.
        timeout: seconds per request.
        sleep, rand: the library's back-off functions (inject for tests).
        limits: override :data:`LIMITS`.
        environment: label reported by :meth:`check_connection`.
    """

    name: ClassVar[str] = PROVIDER
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.UPLOAD, Capability.DOWNLOAD, Capability.LIST_FILES, Capability.DELETE}
    )

    def __init__(
        self,
        *,
        client_config: ClientConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
        client_id: str | None = None,
        client_secret: str | Secret | None = None,
        refresh_token: str | Secret | None = None,
        credentials: Any = None,
        token_store: TokenStore | None = None,
        scopes: Sequence[str] = DEFAULT_SCOPES,
        root_folder: str = DEFAULT_ROOT_FOLDER,
        root_folder_id: str | None = None,
        drive_id: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        num_retries: int = 5,
        replace_existing: bool = True,
        page_size: int = 100,
        session: Any = None,
        http: Any = None,
        client_options: Mapping[str, Any] | None = None,
        oauth_endpoints: Mapping[str, str] | None = None,
        timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        limits: Mapping[str, int] | None = None,
        environment: str = "production",
    ) -> None:
        # Google's client libraries are an extra: say so here, not at the first Drive call.
        require_extra("drive", "Google Drive storage")
        if chunk_size <= 0 or chunk_size % CHUNK_QUANTUM:
            raise ValidationError(
                f"must be a positive multiple of 256 KiB ({CHUNK_QUANTUM} bytes), got {chunk_size}",
                field="chunk_size", code="APUNTO-STORAGE-523",
            )
        self.limits: Mapping[str, int] = {**LIMITS, **(limits or {})}
        if not 1 <= page_size <= self.limits["max_page_size"]:
            raise ValidationError(
                f"must be between 1 and {self.limits['max_page_size']}", field="page_size", code="APUNTO-STORAGE-524"
            )
        if not root_folder or "/" in root_folder:
            raise ValidationError("must be a plain folder name", field="root_folder", code="APUNTO-STORAGE-505")
        found = resolve_credentials(
            PROVIDER, CREDENTIALS[:2], {"client_id": client_id, "client_secret": client_secret}
        )
        # A refresh token given as an argument or in the environment is used from memory; one
        # in the keyring is the token store's own entry, read (and cleared) through the store.
        found.update(resolve_credentials(
            PROVIDER, CREDENTIALS[2:], {"refresh_token": refresh_token}, use_keyring=False
        ))
        self._client_config_source = client_config
        self._client_id = found["client_id"]
        self._client_secret = found["client_secret"]
        self._client: ClientConfig | None = None
        self._given_credentials = credentials
        self._token_store: TokenStore | None = token_store
        seed = found["refresh_token"]
        self._seed: StoredToken | None = None
        if seed is not None:
            self._seed = StoredToken(
                refresh_token=seed, client_id=str(self._client_id or ""), scopes=tuple(scopes)
            )
            if token_store is None:
                self._token_store = MemoryTokenStore(self._seed)
        self.scopes = tuple(scopes)
        self.root_folder = root_folder
        self.chunk_size = chunk_size
        self.multipart_threshold = multipart_threshold
        self.num_retries = num_retries
        self.replace_existing = replace_existing
        self.page_size = page_size
        self.environment = environment
        self._session = session
        self._http = http
        self._client_options = dict(client_options or {})
        self._api_endpoint: str | None = self._client_options.get("api_endpoint")
        self._oauth = {**GOOGLE_OAUTH_ENDPOINTS, **(oauth_endpoints or {})}
        self._timeout = timeout
        self._sleep = sleep
        self._rand = rand
        self._lock = threading.RLock()
        self._folder_lock = threading.RLock()
        self._name_locks = [threading.Lock() for _ in range(64)]
        self._local = threading.local()
        self._generation = 0
        self._credentials: Any = credentials
        # Folder ids by path and paths by id, bounded; the app folder's id is kept apart.
        self._folders: BoundedCache[str, str] = bounded_cache("drive.folders")
        self._folder_paths: BoundedCache[str, str] = bounded_cache("drive.folders")
        self._app_folder_id: str | None = None
        self._root_folder_id = root_folder_id or None
        self.drive_id = drive_id
        if self._root_folder_id:
            self._remember_folder("", self._root_folder_id)

    # -- configuration ------------------------------------------------------------------------

    @property
    def token_store(self) -> TokenStore:
        """Where the signed-in account's refresh token is kept."""
        with self._lock:
            if self._token_store is None:
                self._token_store = default_token_store()
            return self._token_store

    def client_config(self) -> ClientConfig:
        """The OAuth client (loaded on first use), with this provider's OAuth endpoints."""
        with self._lock:
            if self._client is None:
                client = load_client_config(
                    self._client_config_source, client_id=self._client_id,
                    client_secret=self._client_secret,
                )
                overrides = {k: v for k, v in self._oauth.items() if v != GOOGLE_OAUTH_ENDPOINTS.get(k)}
                self._client = client.with_endpoints(overrides) if overrides else client
            return self._client

    def _stored_token(self) -> StoredToken | None:
        return self.token_store.load() or self._seed

    # -- HTTP plumbing --------------------------------------------------------------------------

    def _base_http(self) -> Any:
        """The calling thread's unauthenticated httplib2-like client."""
        base = getattr(self._local, "base", None)
        if base is None:
            from .google_http import DEFAULT_TIMEOUT, GuardedHttp, RequestsHttp, new_httplib2_http

            if self._http is not None:
                base = self._http
            elif self._session is not None:
                timeout = (self._timeout, self._timeout) if self._timeout else DEFAULT_TIMEOUT
                base = RequestsHttp(self._session, timeout)
            else:
                base = GuardedHttp(new_httplib2_http(self._timeout))
            self._local.base = base
        return base

    def _user_credentials(self) -> Any:
        with self._lock:
            if self._credentials is not None:
                return self._credentials
            token = self._stored_token()
            if token is None:
                raise AuthenticationError(
                    "Not signed in to Google Drive: run `apunto-connect drive login` or call "
                    "GoogleDriveStorage.login() (backends: begin_web_login/finish_web_login)",
                    provider=PROVIDER, vendor_code="not_signed_in",
                )
            client = self.client_config()
            if token.client_id and token.client_id != client.client_id:
                raise AuthenticationError(
                    "The stored Google Drive sign-in belongs to another OAuth client "
                    f"({token.client_id}); sign in again with this client",
                    provider=PROVIDER, vendor_code="client_mismatch",
                )
            self._credentials = user_credentials(
                client, token.refresh_token.reveal(), token.scopes, on_refresh=self._after_refresh
            )
            return self._credentials

    def _after_refresh(self, creds: Any) -> None:
        # Google may rotate the refresh token; what is stored must follow it.
        token = self._stored_token()
        new = getattr(creds, "refresh_token", None)
        if token is not None and new and new != token.refresh_token.reveal():
            updated = attrs.evolve(token, refresh_token=Secret(new))
            self.token_store.save(updated)
            if self._seed is not None:
                self._seed = updated

    def _service(self) -> Any:
        """The calling thread's Drive service object (one authorized HTTP client per thread)."""
        service = getattr(self._local, "service", None)
        if service is None or getattr(self._local, "generation", -1) != self._generation:
            from google_auth_httplib2 import (  # type: ignore[import-untyped,unused-ignore]
                AuthorizedHttp,
            )
            from googleapiclient.discovery import build

            authorized = AuthorizedHttp(self._user_credentials(), http=self._base_http())
            service = build(
                "drive", "v3", http=authorized, static_discovery=True, cache_discovery=False,
                client_options=self._client_options or None, requestBuilder=self._build_request,
            )
            self._local.service = service
            self._local.generation = self._generation
        return service

    def _build_request(self, http: Any, postproc: Any, uri: str, **kwargs: Any) -> Any:
        from googleapiclient.http import HttpRequest

        request = HttpRequest(http, postproc, media_upload_uri(uri, self._api_endpoint), **kwargs)
        # The library sleeps with time.sleep between retries; tests and the sandbox must not.
        request._sleep = self._sleep
        request._rand = self._rand
        return request

    def _error(self, exc: Any) -> ProviderError:
        error = google_drive_error(int(exc.resp.status), exc.content)
        return error

    def _execute(self, request: Any) -> Any:
        """Run one API request with the library's retries, mapping every failure to our tree."""
        from google.auth.exceptions import RefreshError
        from googleapiclient.errors import HttpError

        try:
            return request.execute(num_retries=self.num_retries)
        except HttpError as exc:
            raise self._error(exc) from None
        except RefreshError as exc:  # service-account and other non-user credentials
            raise refresh_error(exc) from exc
        except ApuntoError:
            raise
        except (OSError, ValueError) as exc:
            raise TransportError(f"Google Drive request failed: {exc}", provider=PROVIDER) from exc
        except Exception as exc:
            if type(exc).__module__.startswith("httplib2"):
                raise TransportError(f"Google Drive request failed: {exc}", provider=PROVIDER) from exc
            raise

    def _name_lock(self, parent: str, name: str) -> threading.Lock:
        return self._name_locks[hash((parent, name)) % len(self._name_locks)]

    # -- queries --------------------------------------------------------------------------------

    def _search(self, q: str, *, fields: str = _LIST_FIELDS, limit: int | None = None,
                order_by: str | None = None) -> Iterator[dict[str, Any]]:
        files = self._service().files()
        token: str | None = None
        seen = 0
        while True:
            params: dict[str, Any] = {
                "q": q, "fields": fields, "pageSize": self.page_size, "spaces": "drive",
                "supportsAllDrives": True, "includeItemsFromAllDrives": True,
            }
            if self.drive_id:
                params.update(corpora="drive", driveId=self.drive_id)
            if order_by:
                params["orderBy"] = order_by
            if token:
                params["pageToken"] = token
            page = self._execute(files.list(**params))
            for item in page.get("files", []):
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            token = page.get("nextPageToken")
            if not token:
                return

    def _first(self, q: str, order_by: str | None = "createdTime") -> dict[str, Any] | None:
        return next(self._search(q, limit=1, order_by=order_by), None)

    def _create_once(self, find: Callable[[], dict[str, Any] | None],
                     create: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Create, but after a drop following the send look for the result before resending."""
        attempts = max(1, self.num_retries) + 1
        for attempt in range(attempts):
            try:
                return create()
            except TransportError as exc:
                if not exc.request_sent or attempt == attempts - 1:
                    raise
                log.warning("Drive create may have gone through (%s); looking it up", exc)
                existing = find()
                if existing is not None:
                    return existing
        raise AssertionError("unreachable")  # pragma: no cover

    # -- folders --------------------------------------------------------------------------------

    def _find_folder(self, name: str, parent: str) -> dict[str, Any] | None:
        return self._first(file_query(name=name, parent=parent, folder=True))

    def _create_folder(self, name: str, parent: str) -> dict[str, Any]:
        body = {"name": name, "mimeType": FOLDER_MIME_TYPE, "parents": [parent]}

        def create() -> dict[str, Any]:
            request = self._service().files().create(
                body=body, fields=FILE_FIELDS, supportsAllDrives=True
            )
            result: dict[str, Any] = self._execute(request)
            return result

        return self._create_once(lambda: self._find_folder(name, parent), create)

    def _folder_id(self, folder: str, *, create: bool) -> str | None:
        """The id of ``folder`` below the app folder (created on demand when ``create``)."""
        segments = _folder_segments(folder)
        key = ""
        parent = self._app_folder_id
        if parent is None:
            with self._folder_lock:
                parent = self._app_folder_id
                if parent is None:
                    found = self._find_folder(self.root_folder, "root")
                    if found is None:
                        if not create:
                            return None
                        found = self._create_folder(self.root_folder, "root")
                    parent = str(found["id"])
                    self._remember_folder("", parent)
        for segment in segments:
            key = f"{key}/{segment}" if key else segment
            cached = self._folders.get(key)
            if cached is not None:
                parent = cached
                continue
            with self._folder_lock:
                cached = self._folders.get(key)
                if cached is None:
                    found = self._find_folder(segment, parent)
                    if found is None:
                        if not create:
                            return None
                        found = self._create_folder(segment, parent)
                    cached = str(found["id"])
                    self._remember_folder(key, cached)
            parent = cached
        return parent

    def _remember_folder(self, path: str, folder_id: str) -> None:
        if not path:
            self._app_folder_id = folder_id
            return
        self._folders.put(path, folder_id)
        self._folder_paths.put(folder_id, path)

    def _known_path(self, folder_id: str) -> str | None:
        """The cached path of ``folder_id`` (``""`` for the app folder), or ``None``."""
        if folder_id == self._app_folder_id:
            return ""
        return self._folder_paths.get(folder_id)

    def _folder_path_of(self, file: Mapping[str, Any]) -> str:
        """The caller-style folder path of a file, from the cache or by walking up its parents."""
        parents = file.get("parents") or []
        if not parents:
            return ""
        parent = str(parents[0])
        if self._known_path(parent) is None:
            self._folder_id("", create=False)  # learn the app folder: the walk stops there
        known = self._known_path(parent)
        if known is not None:
            return known
        names: list[str] = []
        current = parent
        for _ in range(64):  # Drive paths are shallow; the cap guards against cycles
            prefix = self._known_path(current)
            if prefix is not None:
                path = "/".join([prefix, *reversed(names)] if prefix else reversed(names))
                self._remember_folder(path, parent)
                return path
            info = self._execute(self._service().files().get(
                fileId=current, fields="id,name,parents", supportsAllDrives=True
            ))
            up = info.get("parents") or []
            if not up:
                break
            names.append(str(info["name"]))
            current = str(up[0])
        return ""

    # -- interface ------------------------------------------------------------------------------

    def upload(
        self,
        data: UploadData,
        name: str,
        *,
        folder: str = "",
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        progress: ProgressCallback | None = None,
    ) -> StoredFile:
        """Store ``data`` as ``folder/name``; identical content already there is returned as is."""
        self.require(Capability.UPLOAD)
        _check_name(name)
        path = "/".join(_folder_segments(folder))
        content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        with _opened(data) as (stream, size, sha256):
            properties = metadata_to_app_properties(metadata, sha256, self.limits)
            parent = self._folder_id(path, create=True)
            assert parent is not None
            with self._name_lock(parent, name):
                file = self._upload_in(parent, name, stream, size, sha256, content_type, properties,
                                       progress)
        return drive_file_to_stored(file, path)

    def _find_same(self, parent: str, name: str, sha256: str) -> dict[str, Any] | None:
        return self._first(file_query(
            name=name, parent=parent, folder=False, app_properties={SHA256_PROPERTY: sha256}
        ))

    def _upload_in(self, parent: str, name: str, stream: BinaryIO, size: int, sha256: str,
                   content_type: str, properties: dict[str, str],
                   progress: ProgressCallback | None) -> dict[str, Any]:
        existing = self._find_same(parent, name, sha256)
        if existing is not None:
            if progress is not None:
                progress(size, size)
            return self._merge_properties(existing, properties)
        same_name = (
            self._first(file_query(name=name, parent=parent, folder=False))
            if self.replace_existing else None
        )
        if same_name is not None:
            old = same_name.get("appProperties") or {}
            stale: dict[str, str | None] = {k: None for k in old if k not in properties}
            body: dict[str, Any] = {"mimeType": content_type, "appProperties": {**stale, **properties}}
            file_id = str(same_name["id"])
        else:
            body = {"name": name, "parents": [parent], "mimeType": content_type,
                    "appProperties": properties}
            file_id = None

        def send() -> dict[str, Any]:
            return self._send_media(stream, size, content_type, body, file_id, progress)

        file = self._create_once(lambda: self._find_same(parent, name, sha256), send)
        checksum = file.get("sha256Checksum")
        if checksum and checksum != sha256:
            raise TransportError(
                f"Drive stored {name!r} with SHA-256 {checksum}, not {sha256}: the content was "
                "damaged on the way; upload it again", provider=PROVIDER, request_sent=True,
            )
        return file

    def _merge_properties(self, file: dict[str, Any], properties: Mapping[str, str]) -> dict[str, Any]:
        old = file.get("appProperties") or {}
        changed = {k: v for k, v in properties.items() if old.get(k) != v}
        if not changed:
            return file
        request = self._service().files().update(
            fileId=file["id"], body={"appProperties": changed}, fields=FILE_FIELDS,
            supportsAllDrives=True,
        )
        updated: dict[str, Any] = self._execute(request)
        return updated

    def _send_media(self, stream: BinaryIO, size: int, content_type: str, body: dict[str, Any],
                    file_id: str | None, progress: ProgressCallback | None) -> dict[str, Any]:
        from googleapiclient.http import MediaIoBaseUpload

        stream.seek(0)
        resumable = size > self.multipart_threshold
        media = MediaIoBaseUpload(stream, mimetype=content_type, chunksize=self.chunk_size,
                                  resumable=resumable)
        files = self._service().files()
        if file_id is None:
            request = files.create(body=body, media_body=media, fields=FILE_FIELDS,
                                   supportsAllDrives=True)
        else:
            request = files.update(fileId=file_id, body=body, media_body=media, fields=FILE_FIELDS,
                                   supportsAllDrives=True)
        if not resumable:
            result: dict[str, Any] = self._execute(request)
            if progress is not None:
                progress(size, size)
            return result
        return self._resumable(request, size, progress)

    def _resumable(self, request: Any, size: int, progress: ProgressCallback | None) -> dict[str, Any]:
        from googleapiclient.errors import HttpError

        chunks = size // self.chunk_size + 1
        failures = 0
        for _ in range(chunks + self.num_retries + 1):
            try:
                status, response = request.next_chunk(num_retries=self.num_retries)
            except HttpError as exc:
                raise self._error(exc) from None
            except (OSError, TransportError) as exc:
                # The library marks the upload as interrupted; the next call asks Drive how
                # much arrived (PUT "bytes */size") and carries on from there.
                failures += 1
                if failures > self.num_retries:
                    raise TransportError(
                        f"resumable upload interrupted {failures} times: {exc}", provider=PROVIDER,
                        request_sent=True,
                    ) from exc
                self._sleep(self._rand() * 2**failures)
                continue
            if status is not None and progress is not None:
                progress(int(status.resumable_progress), size)
            if response is not None:
                if progress is not None:
                    progress(size, size)
                result: dict[str, Any] = response
                return result
        raise TransportError("resumable upload did not finish", provider=PROVIDER, request_sent=True)

    def download(self, file_id: str) -> bytes:
        """Return the content of ``file_id``."""
        buffer = io.BytesIO()
        self.download_to(file_id, buffer)
        return buffer.getvalue()

    def download_to(self, file_id: str, target: BinaryIO | os.PathLike[str] | str) -> int:
        """Stream ``file_id`` into a binary file object or a path, in ``chunk_size`` ranges; returns bytes."""
        self.require(Capability.DOWNLOAD)
        from googleapiclient.errors import HttpError
        from googleapiclient.http import MediaIoBaseDownload

        if isinstance(target, (str, os.PathLike)):
            with open(target, "wb") as handle:
                return self.download_to(file_id, handle)
        request = self._service().files().get_media(fileId=file_id, supportsAllDrives=True)
        downloader = MediaIoBaseDownload(target, request, chunksize=self.chunk_size)
        downloader._sleep = self._sleep
        downloader._rand = self._rand
        for _ in range(1_000_000):  # 8 TB at the default chunk size; only a bound, never reached
            try:
                status, done = downloader.next_chunk(num_retries=self.num_retries)
            except HttpError as exc:
                raise self._error(exc) from None
            except (OSError, ValueError) as exc:
                raise TransportError(f"Google Drive download failed: {exc}", provider=PROVIDER) from exc
            if done:
                return int(status.resumable_progress) if status else 0
        raise TransportError("download did not finish", provider=PROVIDER)  # pragma: no cover

    def stat(self, file_id: str) -> StoredFile:
        """Describe ``file_id`` without downloading it."""
        file = self._execute(self._service().files().get(
            fileId=file_id, fields=FILE_FIELDS, supportsAllDrives=True
        ))
        return drive_file_to_stored(file, self._folder_path_of(file))

    def list(self, folder: str = "", *, recursive: bool = False) -> Iterator[StoredFile]:
        """Iterate over the files of ``folder`` (below it too with ``recursive=True``), by name."""
        self.require(Capability.LIST_FILES)
        path = "/".join(_folder_segments(folder))
        folder_id = self._folder_id(path, create=False)
        if folder_id is None:
            return
        pending = [(path, folder_id)]
        for _ in range(100_000):  # bounded walk: one step per folder
            if not pending:
                return
            current_path, current_id = pending.pop(0)
            q = file_query(parent=current_id, folder=None if recursive else False)
            subfolders = []
            for item in self._search(q, order_by="name"):
                if item.get("mimeType") == FOLDER_MIME_TYPE:
                    sub = f"{current_path}/{item['name']}" if current_path else str(item["name"])
                    self._remember_folder(sub, str(item["id"]))
                    subfolders.append((sub, str(item["id"])))
                else:
                    yield drive_file_to_stored(item, current_path)
            pending.extend(subfolders)

    def find(self, *, uuid: str | None = None, sha256: str | None = None) -> builtins.list[StoredFile]:
        """Files carrying a document UUID or content hash, anywhere the app can see."""
        properties = {}
        if uuid:
            properties[UUID_PROPERTY] = uuid
        if sha256:
            properties[SHA256_PROPERTY] = sha256
        if not properties:
            raise ValidationError("give uuid= or sha256=", field="find", code="APUNTO-STORAGE-525")
        q = file_query(folder=False, app_properties=properties)
        return [drive_file_to_stored(item, self._folder_path_of(item)) for item in self._search(q)]

    def delete(self, file_id: str) -> None:
        """Delete ``file_id`` for good (it does not go to the trash)."""
        self.require(Capability.DELETE)
        self._execute(self._service().files().delete(fileId=file_id, supportsAllDrives=True))
        with self._folder_lock:
            if file_id == self._app_folder_id:
                self._app_folder_id = None
            path = self._folder_paths.pop(file_id)
            if path is not None:
                self._folders.prune(lambda k: k == path or k.startswith(path + "/"))

    # -- connection: status, sign-in, disconnect -------------------------------------------------

    def signed_in(self) -> bool:
        """Tell whether credentials are at hand (without asking Google)."""
        return self._credentials is not None or self._stored_token() is not None

    def status(self) -> DriveStatus:
        """Ask Drive who we are; failures of the sign-in come back as ``connected=False``."""
        token = None if self._given_credentials is not None else self._stored_token()
        if self._credentials is None and token is None:
            return DriveStatus(connected=False, detail="Not signed in to Google Drive",
                               error_code="not_signed_in")
        try:
            about = self._execute(self._service().about().get(
                fields="user(displayName,emailAddress),storageQuota(limit,usage)"
            ))
        except AuthenticationError as exc:
            return DriveStatus(
                connected=False, account=token.account if token else None,
                scopes=token.scopes if token else (), detail=str(exc), error_code=exc.vendor_code,
            )
        user = about.get("user") or {}
        quota = about.get("storageQuota") or {}
        account = user.get("emailAddress")
        token = token and self._stored_token()  # a refresh during the call may have rotated it
        if token is not None and account and token.account != account:
            saved = attrs.evolve(token, account=account)
            self.token_store.save(saved)
            if self._seed is not None:
                self._seed = saved
        creds = self._credentials
        expiry = getattr(creds, "expiry", None)
        scopes = tuple(getattr(creds, "scopes", None) or (token.scopes if token else self.scopes))
        return DriveStatus(
            connected=True,
            account=account,
            display_name=user.get("displayName"),
            scopes=scopes,
            token_expiry=expiry.replace(tzinfo=timezone.utc) if expiry else None,
            storage_limit=int(quota["limit"]) if quota.get("limit") else None,
            storage_usage=int(quota["usage"]) if quota.get("usage") else None,
            detail=f"Connected to Google Drive as {account}",
        )

    def check_connection(self) -> ConnectionStatus:
        """:meth:`status` as a :class:`ConnectionStatus`."""
        status = self.status()
        extra: dict[str, Any] = {"scopes": list(status.scopes)}
        if status.token_expiry:
            extra["token_expiry"] = status.token_expiry.isoformat()
        if status.storage_limit is not None:
            extra["storage_limit"] = status.storage_limit
        if status.storage_usage is not None:
            extra["storage_usage"] = status.storage_usage
        if status.error_code:
            extra["error_code"] = status.error_code
        return ConnectionStatus(
            provider=PROVIDER, ok=status.connected, account=status.account,
            environment=self.environment, detail=status.detail, extra=extra,
        )

    def _signed_in_with(self, grant: TokenGrant) -> None:
        with self._lock:
            self._seed = None
            self._credentials = user_credentials(
                self.client_config(), grant.stored.refresh_token.reveal(), grant.stored.scopes,
                access_token=grant.access_token.reveal(), expiry=grant.expiry,
                on_refresh=self._after_refresh,
            )
            self._generation += 1

    def login(
        self,
        *,
        open_browser: bool = True,
        port: int = 0,
        timeout_seconds: int | None = None,
        login_hint: str | None = None,
        select_account: bool = False,
    ) -> DriveStatus:
        """Sign in with a browser (installed-app flow, answer on a localhost port) and store the token."""
        grant = login_installed_app(
            self.client_config(), scopes=self.scopes, token_store=self.token_store, port=port,
            open_browser=open_browser, timeout_seconds=timeout_seconds, login_hint=login_hint,
            select_account=select_account,
        )
        self._signed_in_with(grant)
        return self.status()

    def begin_web_login(
        self, redirect_uri: str, *, login_hint: str | None = None, select_account: bool = False
    ) -> PendingLogin:
        """Web sign-in, step 1: where to send the browser, and what to keep until it returns."""
        return _begin_web_login(
            self.client_config(), redirect_uri, scopes=self.scopes, login_hint=login_hint,
            select_account=select_account,
        )

    def finish_web_login(
        self, pending: PendingLogin | tuple[str, str], authorization_response: str,
        *, redirect_uri: str | None = None,
    ) -> DriveStatus:
        """Web sign-in, step 2: exchange the code (with the PKCE verifier), store, report status."""
        grant = _finish_web_login(
            self.client_config(), redirect_uri, pending, authorization_response,
            token_store=self.token_store, http=self._base_http(),
        )
        self._signed_in_with(grant)
        return self.status()

    def disconnect(self) -> bool:
        """Revoke the refresh token at Google and forget it; ``True`` when Google revoked it.

        Works offline too: the stored token is forgotten even when Google cannot be reached
        (the error is raised after forgetting).
        """
        token = None if self._given_credentials is not None else self._stored_token()
        revoked = False
        failure: ApuntoError | None = None
        if token is not None:
            try:
                revoked = revoke_token(
                    token.refresh_token.reveal(), http=self._base_http(),
                    revoke_uri=self._oauth["revoke_uri"],
                )
            except ApuntoError as exc:
                failure = exc
            self.token_store.clear()
        with self._lock:
            self._seed = None
            self._credentials = self._given_credentials
            self._generation += 1
        with self._folder_lock:
            self._folders.clear()
            self._folder_paths.clear()
            self._app_folder_id = None
            if self._root_folder_id is not None:
                self._remember_folder("", self._root_folder_id)
        if failure is not None:
            raise failure
        return revoked

    def reconnect(self, **login_options: Any) -> DriveStatus:
        """Disconnect, then sign in again letting the user pick another Google account."""
        self.disconnect()
        login_options.setdefault("select_account", True)
        return self.login(**login_options)

    def begin_reconnect(self, redirect_uri: str, *, login_hint: str | None = None) -> PendingLogin:
        """Web variant of :meth:`reconnect`: disconnect, then start a web sign-in with account choice."""
        self.disconnect()
        return self.begin_web_login(redirect_uri, login_hint=login_hint, select_account=True)

    def release(self) -> None:
        """Drop this thread's HTTP client and service (others go with their threads)."""
        base = getattr(self._local, "base", None)
        if base is not None and self._http is None and hasattr(base, "close"):
            base.close()
        self._local = threading.local()
