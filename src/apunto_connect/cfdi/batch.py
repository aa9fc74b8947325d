"""Parse many CFDI lazily from a folder, a ZIP archive or an iterable of paths and bytes."""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import Literal, Union

import attrs

from ..errors import Issue, ValidationError
from .models import Cfdi
from .parse import parse
from .safe_xml import DEFAULT_MAX_BYTES

__all__ = ["CfdiStream", "ErrorMode", "ParseFailure", "Source", "parse_many"]

logger = logging.getLogger("apunto_connect.cfdi")

ErrorMode = Literal["raise", "skip", "collect"]
"""What ``parse_many`` does with a document it cannot read."""

_Item = Union[bytes, bytearray, str, "os.PathLike[str]", tuple[str, bytes]]
Source = Union[str, "os.PathLike[str]", bytes, Iterable[_Item]]
"""A folder, a ZIP file or a single XML file path; or an iterable of items (see parse_many)."""

# One unit of work: a display name and a function that returns the document's bytes (or
# raises ValidationError). Reading is deferred so a bad file fails with its own name, in order.
_Job = tuple[str, Callable[[], bytes]]


@attrs.frozen(slots=True)
class ParseFailure:
    """A document ``parse_many`` could not read (kept when ``errors="collect"``).

    Attributes:
        source: the file name, ZIP member (``archive.zip!inner/path.xml``) or ``<item N>``.
        error: the :class:`ValidationError` explaining why.
    """

    source: str
    error: ValidationError = attrs.field(eq=False)

    @property
    def message(self) -> str:
        """The error as one line of text."""
        return str(self.error)


class CfdiStream(Iterator[Cfdi]):
    """A lazy iterator of parsed :class:`Cfdi`; with ``errors="collect"`` it also keeps failures.

    ``failures`` grows while you iterate, so look at it after the loop::

        stream = parse_many("exports/", errors="collect")
        rows = to_records(stream)
        for failure in stream.failures:
            print(failure.source, failure.message)
    """

    def __init__(self, documents: Iterator[Cfdi]) -> None:
        self._documents = documents
        self.failures: list[ParseFailure] = []
        """Documents that could not be read (only filled with ``errors="collect"``)."""

    def __iter__(self) -> CfdiStream:
        return self

    def __next__(self) -> Cfdi:
        return next(self._documents)

    def close(self) -> None:
        """Stop early and release open archives (also happens when the stream is collected)."""
        close = getattr(self._documents, "close", None)
        if close is not None:
            close()


def _is_zip_name(name: str) -> bool:
    return name.lower().endswith(".zip")


def _is_xml_name(name: str) -> bool:
    return name.lower().endswith(".xml")


def _failure(source: str, message: str, code: str) -> ValidationError:
    return ValidationError(message, field=source, code=code)


def _file_reader(path: str, max_bytes: int) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            size = os.path.getsize(path)
            if size > max_bytes:
                raise _failure(
                    path, f"file is {size} bytes, larger than the {max_bytes}-byte limit",
                    "APUNTO-CFDI-002",
                )
            with open(path, "rb") as fh:
                return fh.read(max_bytes + 1)
        except OSError as exc:
            raise _failure(path, f"cannot read file: {exc.strerror or exc}", "APUNTO-CFDI-005") from None

    return read


def _zip_jobs(path: str, max_bytes: int) -> Iterator[_Job]:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        message = f"cannot open ZIP archive: {exc}"

        def fail() -> bytes:
            raise _failure(path, message, "APUNTO-CFDI-006")

        yield path, fail
        return
    with archive:
        for info in archive.infolist():
            name = info.filename
            # Skip folders and the resource-fork copies macOS adds to archives it creates.
            if info.is_dir() or not _is_xml_name(name) or name.startswith("__MACOSX/"):
                continue
            member = f"{path}!{name}"
            yield member, _member_reader(archive, info, member, max_bytes)


def _member_reader(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, member: str, max_bytes: int
) -> Callable[[], bytes]:
    def read() -> bytes:
        # The size in the directory may lie (zip bombs), so the read itself is bounded too.
        if info.file_size > max_bytes:
            raise _failure(
                member, f"member is {info.file_size} bytes, larger than the {max_bytes}-byte limit",
                "APUNTO-CFDI-002",
            )
        try:
            with archive.open(info) as fh:
                data = fh.read(max_bytes + 1)
        except (OSError, zipfile.BadZipFile, RuntimeError, ValueError, EOFError) as exc:
            # RuntimeError: encrypted member; BadZipFile: CRC mismatch; EOFError: truncated
            raise _failure(member, f"cannot read ZIP member: {exc}", "APUNTO-CFDI-006") from None
        if len(data) > max_bytes:
            raise _failure(
                member, f"member is larger than the {max_bytes}-byte limit", "APUNTO-CFDI-002"
            )
        return data

    return read


def _path_jobs(path: str, max_bytes: int) -> Iterator[_Job]:
    if os.path.isdir(path):
        for folder, dirs, files in os.walk(path):
            dirs.sort()  # deterministic order, whatever the file system returns
            for name in sorted(files):
                full = os.path.join(folder, name)
                if _is_xml_name(name):
                    yield full, _file_reader(full, max_bytes)
                elif _is_zip_name(name):
                    yield from _zip_jobs(full, max_bytes)
    elif _is_zip_name(path):
        yield from _zip_jobs(path, max_bytes)
    else:
        yield path, _file_reader(path, max_bytes)


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _jobs(source: Source, max_bytes: int) -> Iterator[_Job]:
    if isinstance(source, (str, os.PathLike)):
        yield from _path_jobs(os.fspath(source), max_bytes)
        return
    if isinstance(source, (bytes, bytearray)):
        # A lone document is a common slip; treat it as a one-item iterable, not as bytes ints.
        yield "<item 0>", _constant(bytes(source))
        return
    entries: Iterable[object] = source  # checked one by one: callers pass anything
    for index, item in enumerate(entries):
        if isinstance(item, (bytes, bytearray)):
            yield f"<item {index}>", _constant(bytes(item))
        elif isinstance(item, str) and item.lstrip().startswith("<"):
            yield f"<item {index}>", _constant(item.encode("utf-8"))
        elif isinstance(item, (str, os.PathLike)):
            yield from _path_jobs(os.fspath(item), max_bytes)
        elif (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], (bytes, bytearray))
        ):
            yield item[0], _constant(bytes(item[1]))
        else:
            message = f"unsupported item of type {type(item).__name__}"
            name = f"<item {index}>"

            def fail(message: str = message, name: str = name) -> bytes:
                raise _failure(name, message, "APUNTO-CFDI-007")

            yield name, fail


def _named(exc: ValidationError, source: str) -> ValidationError:
    """Make sure every issue names the document, so a batch error says which file failed."""
    issues: list[Issue] = [
        i if i.field.startswith(source) else attrs.evolve(i, field=f"{source}:{i.field}")
        for i in exc.issues
    ]
    return ValidationError(issues)


def _documents(
    source: Source, errors: ErrorMode, max_bytes: int, stream_failures: list[ParseFailure]
) -> Iterator[Cfdi]:
    for name, read in _jobs(source, max_bytes):
        try:
            document = parse(read(), max_bytes=max_bytes, source=name)
        except ValidationError as exc:
            error = _named(exc, name)
            if errors == "raise":
                raise error from None
            logger.debug("skipping %s: %s", name, error)
            if errors == "collect":
                stream_failures.append(ParseFailure(name, error))
            continue
        yield document


def parse_many(
    source: Source,
    *,
    errors: ErrorMode = "raise",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> CfdiStream:
    """Parse many CFDI lazily, one document in memory at a time.

    Args:
        source: one of

            * a folder: every ``*.xml`` (and every ``*.zip``) below it, recursively, in sorted
              order;
            * a ``.zip`` archive: every ``*.xml`` member (nested archives are not opened);
            * a single ``.xml`` file path;
            * an iterable whose items are ``bytes`` (a document), ``str`` starting with ``<``
              (a document as text), ``str``/``PathLike`` paths (file, folder or ZIP, as above)
              or ``(name, bytes)`` pairs.
        errors: what to do with a document that cannot be read: ``"raise"`` (default) raises a
            :class:`ValidationError` naming the file; ``"skip"`` ignores it; ``"collect"``
            ignores it and records a :class:`ParseFailure` in ``stream.failures``.
        max_bytes: size bound per document (ZIP members included).

    Returns:
        A :class:`CfdiStream`: iterate it to get :class:`Cfdi` objects whose ``source`` names
        the file (``archive.zip!member.xml`` for ZIP members, ``<item N>`` for bytes).
    """
    if errors not in ("raise", "skip", "collect"):
        raise ValidationError(
            f"errors must be 'raise', 'skip' or 'collect', not {errors!r}",
            field="errors",
            code="APUNTO-CFDI-008",
        )
    failures: list[ParseFailure] = []
    stream = CfdiStream(_documents(source, errors, max_bytes, failures))
    stream.failures = failures
    return stream
