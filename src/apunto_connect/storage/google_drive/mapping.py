"""Google Drive ↔ SDK models: constants, limits, queries, app properties, errors; no I/O."""

import contextlib
import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

import attrs

from ..._wire import json_or_none
from ...credentials import CredentialField
from ...errors import (
    AuthenticationError,
    PermissionDenied,
    ProviderError,
    RateLimited,
    ValidationError,
)
from ...http import error_class_for_status
from ...models.storage import StoredFile
from ...redaction import redact
from ..base import UploadData
from .retries import RATE_LIMIT_REASONS

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
    "LIST_FIELDS",
    "OAUTH_BASE_URL",
    "PROPERTY_PREFIX",
    "PROVIDER",
    "SHA256_PROPERTY",
    "UUID_PROPERTY",
    "DriveStatus",
    "ProgressCallback",
    "StorageQuotaExceeded",
    "app_properties_to_metadata",
    "check_name",
    "drive_file_to_stored",
    "file_query",
    "folder_segments",
    "google_drive_error",
    "media_upload_uri",
    "metadata_to_app_properties",
    "opened",
    "quote_query_value",
]

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
LIST_FIELDS = f"nextPageToken,files({FILE_FIELDS})"
"""The fields of one page of a file search."""

LIMITS: Mapping[str, int] = {
    # Google's documented limits (evidence in spec.py and docs/vendors/evidence/google_drive.md).
    "property_bytes": 124,  # key + value, UTF-8
    "app_properties": 30,  # private properties one app may set on one file
    "max_page_size": 1000,
}
"""Drive limits the provider checks before sending: the defaults of the storage ``SPEC``'s
``limit.*`` facts (override per provider with ``spec={"limit.property_bytes": ...}``)."""

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
    from ...errors import Issue

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


def google_drive_error(status: int, content: bytes | str | None) -> ProviderError:
    """Map a Drive error answer to our tree; Google's ``error.message`` is kept verbatim.

    Drive errors look like ``{"error": {"code": 403, "message": "...", "errors": [{"domain":
    "usageLimits", "reason": "storageQuotaExceeded", "message": "..."}]}}``; the first reason
    becomes ``vendor_code``.
    """
    body = json_or_none(content)
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
    if reason == "propertyLengthLimitExceeded":
        # Drive answers 403 for a property over its size limit: a refused value, not a
        # missing permission, so it must not read as PermissionDenied.
        return ProviderError(message, **kwargs)
    kind = error_class_for_status(status)
    if reason in RATE_LIMIT_REASONS and kind is not AuthenticationError:
        kind = RateLimited  # Drive also signals rate limits with a 403 and one of these reasons
    return kind(message, **kwargs)


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
def opened(data: UploadData | str) -> Iterator[tuple[BinaryIO, int, str]]:
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


def folder_segments(folder: str) -> list[str]:
    """The parts of a caller's folder path (``"CFDI/2026"`` → two), each checked.

    Raises:
        ValidationError: an unusable path (NUL byte, ``.`` or ``..`` parts).
    """
    if "\x00" in folder:
        raise ValidationError("contains a NUL byte", field="folder", code="APUNTO-STORAGE-501")
    segments = [s for s in folder.replace("\\", "/").split("/") if s not in ("", ".")]
    if any(s == ".." for s in segments):
        raise ValidationError(f"may not contain '..': {folder!r}", field="folder", code="APUNTO-STORAGE-503")
    return segments


def check_name(name: str) -> None:
    """Refuse a file name Drive paths cannot carry (empty, ``.``, ``..``, slashes, NUL).

    Raises:
        ValidationError: naming the field and the rule.
    """
    if not name or name in {".", ".."} or "/" in name or "\\" in name or "\x00" in name:
        raise ValidationError(
            f"must be a plain file name, got {name!r}", field="name", code="APUNTO-STORAGE-505"
        )

