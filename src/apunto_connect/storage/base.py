"""The storage interface used to archive stamped XML and PDF files."""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from typing import BinaryIO

from .._capabilities import ProviderBase
from ..models.storage import StoredFile

__all__ = ["StorageProvider", "UploadData"]

UploadData = bytes | os.PathLike[str] | BinaryIO


class StorageProvider(ProviderBase):
    """Upload, download, list and delete files in one place (local folder, Google Drive)."""

    @abstractmethod
    def upload(
        self,
        data: UploadData,
        name: str,
        *,
        folder: str = "",
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredFile:
        """Store ``data`` as ``folder/name``; idempotent for identical content and metadata."""

    @abstractmethod
    def download(self, file_id: str) -> bytes:
        """Return the content of a stored file."""

    @abstractmethod
    def list(self, folder: str = "") -> Iterator[StoredFile]:
        """Iterate over the files of ``folder`` (the root when empty)."""

    @abstractmethod
    def delete(self, file_id: str) -> None:
        """Remove a stored file."""

    def close(self) -> None:
        """Release resources; same as :meth:`release`."""
        self.release()
