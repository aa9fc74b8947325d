"""Files kept by a storage provider."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from ._checks import typed_fields

__all__ = ["StoredFile"]


@attrs.frozen(slots=True, field_transformer=typed_fields)
class StoredFile:
    """A file in a storage provider.

    Attributes:
        provider: ``local`` or ``google_drive``.
        id: the provider's id (a relative path for local storage, a file id for Drive).
        name: file name.
        folder: folder path as the caller gave it (``CFDI/EKU9003173C9/2026/11``).
        size: bytes.
        sha256: hex SHA-256 of the content.
        content_type: MIME type.
        created_at: when it was stored.
        metadata: caller metadata (document UUID, RFC...).
        url: where a person can open it, when the provider has such a link.
    """

    provider: str
    id: str
    name: str
    folder: str = ""
    size: int | None = None
    sha256: str | None = None
    content_type: str | None = None
    created_at: datetime | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    url: str | None = None
