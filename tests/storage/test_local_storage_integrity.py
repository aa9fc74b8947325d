"""LocalStorage refuses names the filesystem cannot hold and never trusts a stale sidecar."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from apunto_connect.errors import ValidationError
from apunto_connect.storage.local import LocalStorage


def test_a_name_longer_than_the_filesystem_allows_is_a_validation_error(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    with pytest.raises(ValidationError) as raised:
        storage.upload(b"x", "ñ" * 128 + ".xml")  # 260 bytes in UTF-8
    assert raised.value.issues[0].field == "name"
    assert raised.value.issues[0].code == "APUNTO-STORAGE-506"
    with pytest.raises(ValidationError) as raised:
        storage.upload(b"x", "a.xml", folder="CFDI/" + "f" * 256)
    assert raised.value.issues[0].field == "folder"


def test_the_longest_allowed_name_is_stored_with_its_metadata(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    name = "a" * 240 + ".xml"  # 244 bytes: the sidecar ".<name>.meta.json" is 255
    stored = storage.upload(b"<cfdi/>", name, metadata={"uuid": "X"})
    assert stored.metadata == {"uuid": "X"}
    assert storage.download(stored.id) == b"<cfdi/>"


def test_a_re_upload_after_a_crash_before_the_sidecar_write_restores_the_bytes(
    tmp_path: Path,
) -> None:
    storage = LocalStorage(tmp_path)
    first = storage.upload(b"version A", "F-1.xml")
    # A later upload of other bytes crashed after the rename, before its sidecar was written:
    # the disk holds B while the sidecar still describes A.
    (tmp_path / "F-1.xml").write_bytes(b"version B")
    again = storage.upload(b"version A", "F-1.xml")
    assert storage.download("F-1.xml") == b"version A"
    assert again.sha256 == first.sha256 == hashlib.sha256(b"version A").hexdigest()


def test_identical_content_is_still_not_rewritten(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.upload(b"same", "F-2.xml")
    before = (tmp_path / "F-2.xml").stat().st_mtime_ns
    storage.upload(b"same", "F-2.xml")
    assert (tmp_path / "F-2.xml").stat().st_mtime_ns == before
