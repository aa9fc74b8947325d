"""``apunto-connect storage upload|list|download``: files in local storage or Google Drive.

``--provider local`` (the default) works in ``--root`` (``apunto-archive``); ``--provider
google_drive`` uses the Drive sign-in of ``apunto-connect drive login``, or the offline
emulator with ``--sandbox`` (``--sandbox-state FILE`` keeps its files between commands).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from ..models.convert import to_dict
from .drive_cmd import add_drive_options, open_drive

__all__ = ["register"]

PROVIDERS = ("local", "google_drive")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider", choices=PROVIDERS, default="local", help="where files live")
    parser.add_argument("--root", default="apunto-archive", help="folder of the local provider")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_drive_options(parser)


def register(sub: Any) -> None:
    """Add the ``storage`` command group."""
    parser = sub.add_parser("storage", help="upload, list or download stored files")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    upload = actions.add_parser("upload", help="store a file (identical content is not stored twice)")
    upload.add_argument("path", help="file to upload")
    upload.add_argument("--name", help="stored name (default: the file's name)")
    upload.add_argument("--folder", default="", help="folder path, e.g. CFDI/EKU9003173C9/2026/11")
    upload.add_argument("--content-type", help="MIME type (default: guessed from the name)")
    upload.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                        help="metadata to keep with the file (repeatable), e.g. uuid=…")
    _common(upload)
    upload.set_defaults(handler=_upload)

    listing = actions.add_parser("list", help="files of a folder")
    listing.add_argument("--folder", default="", help="folder path (default: the root)")
    listing.add_argument("--recursive", action="store_true", help="include subfolders")
    _common(listing)
    listing.set_defaults(handler=_list)

    download = actions.add_parser("download", help="write a stored file to disk or stdout")
    download.add_argument("file_id", help="the id printed by upload or list")
    download.add_argument("-o", "--output", help="target path (default: stdout)")
    _common(download)
    download.set_defaults(handler=_download)


@contextlib.contextmanager
def _storage(args: argparse.Namespace) -> Iterator[Any]:
    if args.provider == "google_drive":
        with open_drive(args) as drive:
            yield drive
        return
    if args.sandbox:
        raise ValidationError("--sandbox is for --provider google_drive; local storage is already offline",
                              field="--sandbox", code="APUNTO-002")
    from ..storage.local import LocalStorage

    yield LocalStorage(args.root)


def _metadata(items: list[str]) -> dict[str, str]:
    metadata = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"expected KEY=VALUE, got {item!r}", field="--meta", code="APUNTO-002")
        metadata[key.strip()] = value.strip()
    return metadata


def _line(stored: Any) -> str:
    size = "-" if stored.size is None else str(stored.size)
    where = f"{stored.folder}/{stored.name}" if stored.folder else stored.name
    return f"{stored.id}\t{size}\t{where}"


def _upload(args: argparse.Namespace) -> int:
    source = Path(args.path)
    if not source.is_file():
        raise ValidationError(f"no such file: {args.path}", field="path", code="APUNTO-002")
    metadata = _metadata(args.meta)
    with _storage(args) as storage:
        stored = storage.upload(
            source, args.name or source.name, folder=args.folder,
            content_type=args.content_type, metadata=metadata or None,
        )
    if args.json:
        print(json.dumps(to_dict(stored), indent=2, ensure_ascii=False, default=str))
    else:
        print(_line(stored))
        if stored.url:
            print(stored.url)
    return 0


def _list(args: argparse.Namespace) -> int:
    with _storage(args) as storage:
        files = list(storage.list(args.folder, recursive=args.recursive))
    if args.json:
        print(json.dumps([to_dict(f) for f in files], indent=2, ensure_ascii=False, default=str))
    else:
        for stored in files:
            print(_line(stored))
        if not files:
            print(f"no files in {args.folder or 'the root folder'}", file=sys.stderr)
    return 0


def _download(args: argparse.Namespace) -> int:
    with _storage(args) as storage:
        data = storage.download(args.file_id)
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"wrote {len(data)} bytes to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0
