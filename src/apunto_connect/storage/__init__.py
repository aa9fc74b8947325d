"""Storage providers: local folders and Google Drive behind :class:`StorageProvider`."""

from .base import StorageProvider, UploadData

__all__ = ["StorageProvider", "UploadData"]
