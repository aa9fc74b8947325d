"""Safe parsing of untrusted XML: no DTDs, no entities, no network, bounded size.

CFDI files arrive from customers, suppliers, ZIP exports and vendor APIs, so every byte is
treated as hostile. The parser used here

* never loads or validates a DTD and never resolves entities (so neither *billion laughs* nor
  ``<!ENTITY x SYSTEM "file:///etc/passwd">`` can do anything);
* never touches the network;
* keeps libxml2's default limits on depth and text size (``huge_tree=False``);
* refuses any document that declares a ``DOCTYPE`` at all: a CFDI never has one, so its
  presence is a sign of an attack or of something that is not a CFDI;
* refuses documents larger than a configurable bound (20 MB by default) before parsing.

Every failure is reported as :class:`apunto_connect.errors.ValidationError`; lxml's own
exceptions never leak to the caller.
"""

from __future__ import annotations

import threading

from lxml import etree

from ..errors import ValidationError

__all__ = ["DEFAULT_MAX_BYTES", "parse_xml"]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
"""Largest document accepted by default (20 MB); real CFDI rarely exceed a few hundred KB."""

# A CFDI never carries a DTD. Looking for the markup before parsing lets us reject hostile
# documents without libxml2 ever reading the internal subset. UTF-16/32 encodings are caught
# after parsing through ``docinfo`` (see ``parse_xml``).
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")

_local = threading.local()


def _parser() -> etree.XMLParser:
    """Return this thread's parser; lxml parsers are not safe to share between threads."""
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
            load_dtd=False,
            dtd_validation=False,
            remove_comments=False,
            remove_pis=False,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


def _as_bytes(xml: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(xml, bytes):
        return xml
    if isinstance(xml, (bytearray, memoryview)):
        return bytes(xml)
    if isinstance(xml, str):
        text = xml.lstrip("\ufeff \t\r\n")
        # The text is already decoded, so an encoding declaration would lie about the bytes
        # we hand to libxml2: drop it and encode as UTF-8 (the parser's default).
        if text.startswith("<?xml"):
            end = text.find("?>")
            if end != -1:
                text = text[end + 2 :]
        return text.encode("utf-8", "surrogatepass")
    raise ValidationError(
        f"expected XML as bytes or str, got {type(xml).__name__}", field="xml", code="APUNTO-CFDI-001"
    )


def _reject(message: str, code: str, source: str | None) -> ValidationError:
    return ValidationError(message, field=source or "xml", code=code)


def parse_xml(
    xml: bytes | bytearray | memoryview | str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    source: str | None = None,
) -> etree._Element:
    """Parse untrusted XML safely and return its root element.

    Args:
        xml: the document, as bytes (preferred: the encoding declaration is honoured) or str.
        max_bytes: size bound; larger documents are refused before parsing.
        source: a name for the document (file name) used in error messages.

    Raises:
        ValidationError: the input is too large, declares a DTD or entities, or is not
            well-formed XML.
    """
    data = _as_bytes(xml)
    if len(data) > max_bytes:
        raise _reject(
            f"document is {len(data)} bytes, larger than the {max_bytes}-byte limit",
            "APUNTO-CFDI-002",
            source,
        )
    if not data.strip():
        raise _reject("document is empty", "APUNTO-CFDI-003", source)
    for marker in _DTD_MARKERS:
        if marker in data:
            raise _reject(
                "document declares a DTD or entities; refused (a CFDI never has one)",
                "APUNTO-CFDI-004",
                source,
            )
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise _reject(f"not well-formed XML: {exc}", "APUNTO-CFDI-003", source) from None
    except (ValueError, TypeError, LookupError, etree.LxmlError) as exc:
        # e.g. an unknown encoding declaration or bytes libxml2 cannot decode at all
        raise _reject(f"unreadable XML: {exc}", "APUNTO-CFDI-003", source) from None
    if root is None:
        raise _reject("document has no root element", "APUNTO-CFDI-003", source)
    # Documents in UTF-16/32 (or any encoding that is not ASCII-compatible) hide the DTD
    # markers from the byte scan above; the parsed tree still records any DOCTYPE, so check it
    # before anyone reads the content. It costs well under a microsecond.
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise _reject(
            "document declares a DTD or entities; refused (a CFDI never has one)",
            "APUNTO-CFDI-004",
            source,
        )
    return root
