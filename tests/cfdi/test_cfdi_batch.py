from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from apunto_connect.cfdi import CfdiStream, parse_many
from apunto_connect.errors import ValidationError
from tests.cfdi.samples import FIXTURES, fixture_bytes

NAMES = sorted(p.name for p in FIXTURES.glob("*.xml"))


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "exports"
    (root / "2025" / "03").mkdir(parents=True)
    shutil.copy(FIXTURES / "invoice40_taxes_retentions.xml", root / "a.xml")
    shutil.copy(FIXTURES / "invoice33.xml", root / "2025" / "B.XML")
    shutil.copy(FIXTURES / "payment40_pagos20.xml", root / "2025" / "03" / "c.xml")
    (root / "notes.txt").write_text("ignored")
    return root


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_folder_is_walked_recursively_in_sorted_order(folder: Path) -> None:
    docs = list(parse_many(folder))
    # files of a folder first, then its sub-folders, each level sorted by name
    assert [Path(d.source or "").name for d in docs] == ["a.xml", "B.XML", "c.xml"]
    assert {d.version for d in docs} == {"3.3", "4.0"}


def test_zip_members_are_parsed_and_named(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "sat.zip", {
        "x/one.xml": fixture_bytes("cartaporte31_freight.xml"),
        "__MACOSX/x/._one.xml": b"\x00\x05junk",
        "readme.txt": b"hi",
        "two.xml": fixture_bytes("invoice33.xml"),
    })
    docs = list(parse_many(archive))
    assert [d.source for d in docs] == [f"{archive}!x/one.xml", f"{archive}!two.xml"]
    assert docs[0].carta_porte is not None


def test_zip_inside_a_folder_is_opened(folder: Path) -> None:
    _zip(folder / "more.zip", {"m.xml": fixture_bytes("global40_unknown_complement.xml")})
    assert len(list(parse_many(folder))) == 4


def test_iterable_of_bytes_paths_text_and_named_pairs(folder: Path) -> None:
    items = [
        fixture_bytes("invoice33.xml"),
        folder / "a.xml",
        str(folder / "2025" / "03" / "c.xml"),
        fixture_bytes("payment33_pagos10.xml").decode(),
        ("mail-attachment.xml", fixture_bytes("cartaporte31_freight.xml")),
    ]
    docs = list(parse_many(items))
    assert [d.source for d in docs] == [
        "<item 0>", str(folder / "a.xml"), str(folder / "2025" / "03" / "c.xml"), "<item 3>",
        "mail-attachment.xml",
    ]


def test_parse_many_is_lazy(tmp_path: Path) -> None:
    consumed: list[int] = []

    def items():  # type: ignore[no-untyped-def]
        for i in range(3):
            consumed.append(i)
            yield fixture_bytes("invoice33.xml")

    stream = parse_many(items())
    assert isinstance(stream, CfdiStream)
    assert consumed == []
    next(stream)
    assert consumed == [0]


def test_bad_file_raises_an_error_naming_it(folder: Path) -> None:
    (folder / "2025" / "broken.xml").write_bytes(b"<cfdi:Comprobante")
    stream = parse_many(folder)
    # the good files before it still come out
    assert [next(stream).version, next(stream).version] == ["4.0", "3.3"]
    with pytest.raises(ValidationError) as info:
        list(stream)
    assert str(folder / "2025" / "broken.xml") in str(info.value)


def test_bad_attribute_error_names_the_file_and_the_attribute(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(fixture_bytes("invoice33.xml").replace(b'Total="4999.99"', b'Total="x"'))
    with pytest.raises(ValidationError) as info:
        list(parse_many([bad]))
    assert info.value.issues[0].field == f"{bad}:Comprobante@Total"


def test_skip_mode_drops_bad_documents_silently(folder: Path) -> None:
    (folder / "broken.xml").write_bytes(b"garbage")
    stream = parse_many(folder, errors="skip")
    assert len(list(stream)) == 3
    assert stream.failures == []


def test_collect_mode_keeps_failures_with_their_names(folder: Path, tmp_path: Path) -> None:
    (folder / "broken.xml").write_bytes(b"garbage")
    archive = _zip(tmp_path / "bad.zip", {"evil.xml": b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'})
    stream = parse_many([folder, archive, tmp_path / "nope.xml", b"", 42], errors="collect")  # type: ignore[list-item]
    docs = list(stream)
    assert len(docs) == 3
    sources = [f.source for f in stream.failures]
    assert sources == [str(folder / "broken.xml"), f"{archive}!evil.xml", str(tmp_path / "nope.xml"),
                       "<item 3>", "<item 4>"]
    assert "DTD" in stream.failures[1].message
    assert all(isinstance(f.error, ValidationError) for f in stream.failures)


def test_corrupt_zip_is_reported_not_raised_as_zipfile_error(tmp_path: Path) -> None:
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ValidationError, match="ZIP"):
        list(parse_many(fake))


def test_zip_member_over_the_size_bound_is_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "big.zip", {"big.xml": b"<a>" + b" " * 10_000 + b"</a>"})
    stream = parse_many(archive, errors="collect", max_bytes=1_000)
    assert list(stream) == []
    assert "larger than" in stream.failures[0].message


def test_unknown_error_mode_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse_many([], errors="ignore")  # type: ignore[arg-type]


def test_a_lone_bytes_document_is_accepted() -> None:
    (doc,) = parse_many(fixture_bytes("invoice33.xml"))
    assert doc.source == "<item 0>"
