"""The Google Drive provider: construction, uploads, downloads, listing and the account."""

import builtins
import io
import mimetypes
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timezone
from typing import Any, BinaryIO, ClassVar

import attrs

from ..._caches import BoundedCache, bounded_cache
from ..._extras import require_extra
from ..._overrides import provider_spec, warn_renamed
from ...credentials import Secret, resolve_credentials
from ...errors import (
    ApuntoError,
    AuthenticationError,
    TransportError,
    ValidationError,
)
from ...http import RetryPolicy
from ...models.common import Capability, ConnectionStatus
from ...models.storage import StoredFile
from ...vendor_spec import VendorSpec
from ..base import StorageProvider, UploadData
from ..google_auth import (
    DEFAULT_SCOPES,
    GOOGLE_OAUTH_ENDPOINTS,
    ClientConfig,
    MemoryTokenStore,
    PendingLogin,
    StoredToken,
    TokenGrant,
    TokenStore,
    login_installed_app,
    revoke_token,
    user_credentials,
)
from ..google_auth import begin_web_login as _begin_web_login
from ..google_auth import finish_web_login as _finish_web_login
from .folders import DriveFolders
from .mapping import (
    CHUNK_QUANTUM,
    CREDENTIALS,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_ROOT_FOLDER,
    FILE_FIELDS,
    FOLDER_MIME_TYPE,
    LIMITS,
    PROVIDER,
    SHA256_PROPERTY,
    UUID_PROPERTY,
    DriveStatus,
    ProgressCallback,
    check_name,
    drive_file_to_stored,
    file_query,
    folder_segments,
    metadata_to_app_properties,
    opened,
)
from .retries import DriveRetry
from .spec import SPEC

__all__ = ["DEFAULT_MAX_RETRIES", "GoogleDriveStorage"]

DEFAULT_MAX_RETRIES = 5
"""Retries of one Drive call (the client library's usual count for Drive)."""


class GoogleDriveStorage(DriveFolders, StorageProvider):
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
        max_retries: retries on 429/5xx/rate-limit 403 and dropped connections (default 5),
            under the house :class:`~apunto_connect.http.RetryPolicy`.
        replace_existing: new content under an existing name becomes a new revision of that file
            (``False``: a second file with the same name).
        page_size: files per list page (1–1000).
        session: send through this :class:`requests.Session` (the sandbox passes its own).
        http: an httplib2-like object to send through (tests: ``HttpMockSequence``).
        client_options: google-api-python-client options, e.g. ``{"api_endpoint": url}``.
        oauth_endpoints: override ``token_uri``/``revoke_uri``/``auth_uri``.
        timeout: seconds per request.
        sleep, rand: how to wait between retries and the source of their jitter (inject for
            tests).
        spec: overrides of :data:`~.spec.SPEC`, e.g. ``{"limit.property_bytes": 124}``
            (unknown keys raise ``ConfigurationError``).
        limits: deprecated spelling of ``spec`` with :data:`LIMITS`' keys
            (``{"property_bytes": 124}``; one release, ``DeprecationWarning``).
        environment: label reported by :meth:`check_connection`.
        num_retries: deprecated name of ``max_retries`` (one release, ``DeprecationWarning``).
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
        max_retries: int | None = None,
        replace_existing: bool = True,
        page_size: int = 100,
        session: Any = None,
        http: Any = None,
        client_options: Mapping[str, Any] | None = None,
        oauth_endpoints: Mapping[str, str] | None = None,
        timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        spec: Mapping[str, Any] | VendorSpec | None = None,
        limits: Mapping[str, int] | None = None,
        environment: str = "production",
        num_retries: int | None = None,
    ) -> None:
        # Google's client libraries are an extra: say so here, not at the first Drive call.
        require_extra("drive", "Google Drive storage")
        if chunk_size <= 0 or chunk_size % CHUNK_QUANTUM:
            raise ValidationError(
                f"must be a positive multiple of 256 KiB ({CHUNK_QUANTUM} bytes), got {chunk_size}",
                field="chunk_size", code="APUNTO-STORAGE-523",
            )
        self.spec: VendorSpec = provider_spec(
            SPEC, spec, legacy=limits, legacy_keys={name: f"limit.{name}" for name in LIMITS},
            owner="GoogleDriveStorage", legacy_name="limits",
        )
        # The limits checked before sending, read once from the spec.
        self.limits: Mapping[str, int] = {
            name: int(self.spec.peek(f"limit.{name}")) for name in LIMITS
        }
        if num_retries is not None:
            warn_renamed("GoogleDriveStorage", "num_retries", "max_retries")
            if max_retries is None:
                max_retries = num_retries
        self.retry_policy = RetryPolicy(max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max_retries)
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
        self.max_retries = self.retry_policy.max_retries
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
        self._retry = DriveRetry(self.retry_policy, sleep, rand)
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
        check_name(name)
        path = "/".join(folder_segments(folder))
        content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        with opened(data) as (stream, size, sha256):
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
        for _ in range(chunks + self.max_retries + 1):
            try:
                status, response = self._retry.call(
                    lambda: request.next_chunk(num_retries=0), connection_errors=False
                )
            except HttpError as exc:
                raise self._error(exc) from None
            except (OSError, TransportError) as exc:
                # The library marks the upload as interrupted; the next call asks Drive how
                # much arrived (PUT "bytes */size") and carries on from there.
                failures += 1
                if failures > self.max_retries:
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
        for _ in range(1_000_000):  # 8 TB at the default chunk size; only a bound, never reached
            try:
                status, done = self._retry.call(lambda: downloader.next_chunk(num_retries=0))
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
        path = "/".join(folder_segments(folder))
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

    def _check_connection(self) -> ConnectionStatus:
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
