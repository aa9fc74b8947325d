from __future__ import annotations

import io
import os

import pytest

from apunto_connect.errors import NotFound, ValidationError
from apunto_connect.storage.local import LocalStorage


@pytest.fixture
def storage(tmp_path):
    return LocalStorage(tmp_path / "archive")


def test_upload_download_list_delete(storage):
    stored = storage.upload(b"<cfdi/>", "A.xml", folder="CFDI/EKU9003173C9/2026/11", metadata={"uuid": "A"})
    assert stored.id == "CFDI/EKU9003173C9/2026/11/A.xml"
    assert stored.folder == "CFDI/EKU9003173C9/2026/11"
    assert stored.size == 7
    assert stored.content_type == "application/xml"
    assert stored.metadata == {"uuid": "A"}
    assert storage.download(stored.id) == b"<cfdi/>"
    assert [f.name for f in storage.list("CFDI/EKU9003173C9/2026/11")] == ["A.xml"]
    assert [f.id for f in storage.list(recursive=True)] == [stored.id]
    storage.delete(stored.id)
    with pytest.raises(NotFound):
        storage.download(stored.id)
    assert list(storage.list("CFDI/EKU9003173C9/2026/11")) == []


def test_identical_content_is_not_rewritten(storage):
    first = storage.upload(b"same", "x.pdf")
    path = storage.root / "x.pdf"
    mtime = path.stat().st_mtime_ns
    second = storage.upload(io.BytesIO(b"same"), "x.pdf")
    assert second.sha256 == first.sha256
    assert path.stat().st_mtime_ns == mtime


def test_new_content_replaces_atomically_and_leaves_no_temp_files(storage):
    storage.upload(b"v1", "doc.xml")
    storage.upload(b"v2", "doc.xml")
    assert storage.download("doc.xml") == b"v2"
    assert sorted(p.name for p in storage.root.iterdir()) == [".doc.xml.meta.json", "doc.xml"]


def test_uploads_from_a_path_and_a_stream(storage, tmp_path):
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    by_path = storage.upload(source, "big.bin")
    with source.open("rb") as handle:
        by_stream = storage.upload(handle, "big2.bin")
    assert by_path.sha256 == by_stream.sha256
    assert by_path.size == 3 * 1024 * 1024 + 5


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("x.xml", "../outside"),
        ("x.xml", "a/../../outside"),
        ("x.xml", "/etc"),
        ("x.xml", "C:/Windows"),
        ("../x.xml", ""),
        ("a/b.xml", ""),
        ("x\x00.xml", ""),
        ("..", ""),
        ("x.xml", "..\\..\\outside"),
    ],
)
def test_paths_that_escape_the_root_are_refused(storage, name, folder):
    with pytest.raises(ValidationError):
        storage.upload(b"x", name, folder=folder)
    assert not (storage.root.parent / "outside").exists()


@pytest.mark.parametrize("file_id", ["../secret", "/etc/passwd", "a/../../b", ""])
def test_downloads_and_deletes_cannot_escape_either(storage, file_id):
    with pytest.raises(ValidationError):
        storage.download(file_id)
    with pytest.raises(ValidationError):
        storage.delete(file_id)


def test_symlink_pointing_outside_is_refused(storage, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s")
    (storage.root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValidationError):
        storage.download("link/secret.txt")
    with pytest.raises(ValidationError):
        storage.upload(b"x", "evil.txt", folder="link")


def test_check_connection_reports_the_root(storage):
    status = storage.check_connection()
    assert status.ok
    assert status.account == str(storage.root)
