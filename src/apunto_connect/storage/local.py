"""Local filesystem storage: the default place to archive stamped XML and PDF files.

* Atomic writes: content goes to a temporary file in the same folder, is flushed to disk and
  then renamed over the target, so a crash never leaves half a CFDI behind.
* Content hashes: every file's SHA-256 is kept in a metadata sidecar (``.<name>.meta.json``)
  together with the caller's metadata; uploading identical content again is a no-op.
* Safe names: file ids are relative POSIX paths below ``root``; absolute paths, ``..``
  segments, drive letters, NUL bytes and symlinks that lead outside ``root`` are refused, and
  so are names longer than the filesystem allows (255 bytes, less the sidecar's affixes).
* "Identical" is checked on the disk: a re-upload is skipped only when the file there still
  hashes to the sidecar's SHA-256 (a crash between the rename and the sidecar write must not
  make other bytes pass for the ones asked for).
"""

from __future__ import annotations

import hashlib
import io
import json
import mimetypes
import os
import tempfile
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import BinaryIO, ClassVar

from ..errors import NotFound, ValidationError
from ..models.common import Capability, ConnectionStatus
from ..models.storage import StoredFile
from .base import StorageProvider, UploadData

__all__ = ["LocalStorage"]

_CHUNK = 1024 * 1024
_SIDECAR_PREFIX = "."
_SIDECAR_SUFFIX = ".meta.json"
# NAME_MAX of the common filesystems (ext4, APFS, NTFS in UTF-16 units is at least as generous)
_NAME_MAX = 255
_FILE_NAME_MAX = _NAME_MAX - len((_SIDECAR_PREFIX + _SIDECAR_SUFFIX).encode())


def _clean_segments(value: str, field: str) -> list[str]:
    if "\x00" in value:
        raise ValidationError("contains a NUL byte", field=field, code="APUNTO-STORAGE-501")
    text = value.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise ValidationError(
            f"must be a relative path, got {value!r}", field=field, code="APUNTO-STORAGE-502"
        )
    segments = [s for s in text.split("/") if s not in ("", ".")]
    if any(s == ".." for s in segments):
        raise ValidationError(
            f"may not climb out of the storage root: {value!r}", field=field, code="APUNTO-STORAGE-503"
        )
    for segment in segments:
        size = len(segment.encode("utf-8", "surrogatepass"))
        if size > _NAME_MAX:
            raise ValidationError(
                f"has a path segment of {size} bytes; the limit is {_NAME_MAX}",
                field=field, code="APUNTO-STORAGE-506",
            )
    return segments


def _file_hash(path: Path) -> str | None:
    """SHA-256 of the file at ``path``, or ``None`` when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as source:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _parse_created(value: object) -> datetime | None:
    """The sidecar's ``created_at``; a damaged value is simply unknown."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _hash_and_copy(source: BinaryIO, target: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        target.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


class LocalStorage(StorageProvider):
    """Files in a folder of this machine.

    Args:
        root: the folder everything is stored under (created when missing).
    """

    name: ClassVar[str] = "local"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.UPLOAD, Capability.DOWNLOAD, Capability.LIST_FILES, Capability.DELETE}
    )

    def __init__(self, root: str | os.PathLike[str] = "apunto-archive", **_: object) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    # -- paths --------------------------------------------------------------------------------

    def _path_for(self, file_id: str) -> Path:
        segments = _clean_segments(file_id, "file_id")
        if not segments:
            raise ValidationError("is empty", field="file_id", code="APUNTO-STORAGE-504")
        path = self.root.joinpath(*segments)
        # A symlink inside root could still point elsewhere: compare resolved locations.
        resolved = path.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise ValidationError(
                f"resolves outside the storage root: {file_id!r}", field="file_id", code="APUNTO-STORAGE-503"
            )
        return path

    @staticmethod
    def _sidecar(path: Path) -> Path:
        return path.with_name(f"{_SIDECAR_PREFIX}{path.name}{_SIDECAR_SUFFIX}")

    def _file_id(self, path: Path) -> str:
        return PurePosixPath(*path.relative_to(self.root).parts).as_posix()

    # -- interface ----------------------------------------------------------------------------

    def _check_connection(self) -> ConnectionStatus:
        """Check that the root folder exists and is writable."""
        writable = os.access(self.root, os.W_OK)
        return ConnectionStatus(
            provider=self.name,
            ok=writable,
            account=str(self.root),
            environment="local",
            detail="writable" if writable else "the folder is not writable",
        )

    def upload(
        self,
        data: UploadData,
        name: str,
        *,
        folder: str = "",
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredFile:
        """Write ``data`` to ``folder/name`` atomically; identical content is not rewritten."""
        name_segments = _clean_segments(name, "name")
        if len(name_segments) != 1:
            raise ValidationError(
                f"must be a plain file name, got {name!r}", field="name", code="APUNTO-STORAGE-505"
            )
        name_bytes = len(name_segments[0].encode("utf-8", "surrogatepass"))
        if name_bytes > _FILE_NAME_MAX:
            raise ValidationError(
                f"is {name_bytes} bytes long; stored names may have {_FILE_NAME_MAX} "
                f"(the metadata file beside it adds {_NAME_MAX - _FILE_NAME_MAX})",
                field="name", code="APUNTO-STORAGE-506",
            )
        folder_segments = _clean_segments(folder, "folder")
        path = self._path_for("/".join([*folder_segments, name_segments[0]]))
        path.parent.mkdir(parents=True, exist_ok=True)
        content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"

        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as temp:
                sha256, size = self._write(data, temp)
                temp.flush()
                os.fsync(temp.fileno())
            existing = self._read_sidecar(path)
            if existing.get("sha256") == sha256 and _file_hash(path) == sha256:
                os.unlink(temp_name)  # same bytes already there: keep the original untouched
                old = existing.get("metadata")
                old_metadata = dict(old) if isinstance(old, dict) else {}
                merged = {**old_metadata, **(metadata or {})}
                if merged != old_metadata:
                    self._write_sidecar(path, {**existing, "metadata": merged})
                return self._stored(path)
            os.replace(temp_name, path)
        except BaseException:
            if os.path.exists(temp_name):
                os.unlink(temp_name)
            raise
        self._write_sidecar(
            path,
            {
                "sha256": sha256,
                "size": size,
                "content_type": content_type,
                "created_at": datetime.now(timezone.utc).isoformat(),
                "metadata": dict(metadata or {}),
            },
        )
        return self._stored(path)

    def download(self, file_id: str) -> bytes:
        """Return the content of ``file_id``."""
        path = self._path_for(file_id)
        if not path.is_file():
            raise NotFound(f"no stored file {file_id!r}", provider=self.name, status_code=404)
        return path.read_bytes()

    def stat(self, file_id: str) -> StoredFile:
        """Describe ``file_id`` without reading its content."""
        path = self._path_for(file_id)
        if not path.is_file():
            raise NotFound(f"no stored file {file_id!r}", provider=self.name, status_code=404)
        return self._stored(path)

    def list(self, folder: str = "", *, recursive: bool = False) -> Iterator[StoredFile]:
        """Iterate over the files of ``folder`` (and below it with ``recursive=True``)."""
        segments = _clean_segments(folder, "folder")
        base = self._path_for("/".join(segments)) if segments else self.root
        if not base.is_dir():
            return
        candidates = base.rglob("*") if recursive else base.iterdir()
        for path in sorted(candidates):
            if path.is_file() and not path.name.startswith("."):
                yield self._stored(path)

    def delete(self, file_id: str) -> None:
        """Remove ``file_id`` and its metadata."""
        path = self._path_for(file_id)
        if not path.is_file():
            raise NotFound(f"no stored file {file_id!r}", provider=self.name, status_code=404)
        path.unlink()
        self._sidecar(path).unlink(missing_ok=True)

    # -- internals ----------------------------------------------------------------------------

    @staticmethod
    def _write(data: UploadData, target: BinaryIO) -> tuple[str, int]:
        if isinstance(data, (bytes, bytearray, memoryview)):
            return _hash_and_copy(io.BytesIO(bytes(data)), target)
        if isinstance(data, (str, os.PathLike)):
            with open(data, "rb") as source:
                return _hash_and_copy(source, target)
        return _hash_and_copy(data, target)

    def _read_sidecar(self, path: Path) -> dict[str, object]:
        sidecar = self._sidecar(path)
        try:
            loaded = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def _write_sidecar(self, path: Path, content: Mapping[str, object]) -> None:
        sidecar = self._sidecar(path)
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".meta-", suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8") as temp:
            json.dump(content, temp, ensure_ascii=False, indent=2, sort_keys=True)
        os.replace(temp_name, sidecar)

    def _stored(self, path: Path) -> StoredFile:
        info = self._read_sidecar(path)
        metadata = info.get("metadata")
        created = info.get("created_at")
        file_id = self._file_id(path)
        folder, _, name = file_id.rpartition("/")
        size = info.get("size")
        return StoredFile(
            provider=self.name,
            id=file_id,
            name=name,
            folder=folder,
            size=size if isinstance(size, int) else path.stat().st_size,
            sha256=str(info["sha256"]) if "sha256" in info else None,
            content_type=str(info["content_type"]) if "content_type" in info else None,
            created_at=_parse_created(created),
            metadata={str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {},
            url=path.as_uri(),
        )
