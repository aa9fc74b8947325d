from __future__ import annotations

import contextlib
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apunto_connect.cfdi import parse
from apunto_connect.cfdi.safe_xml import parse_xml
from apunto_connect.errors import ValidationError
from tests.cfdi.samples import FIXTURES, fixture_bytes

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" Version="4.0" Serie="&lol9;"/>
"""


def _xxe(target: Path) -> bytes:
    return (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE c [<!ENTITY secret SYSTEM "{target.as_uri()}">]>\n'
        '<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" Version="4.0">'
        "<cfdi:Emisor Rfc=\"EKU9003173C9\"/><cfdi:Addenda>&secret;</cfdi:Addenda>"
        "</cfdi:Comprobante>"
    ).encode()


def test_billion_laughs_is_refused_cleanly() -> None:
    with pytest.raises(ValidationError) as info:
        parse(BILLION_LAUGHS)
    assert info.value.issues[0].code == "APUNTO-CFDI-004"
    assert "DTD" in str(info.value)


def test_external_entity_cannot_read_local_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    for target in (secret, Path("/etc/passwd")):
        with pytest.raises(ValidationError) as info:
            parse(_xxe(target))
        assert "TOP-SECRET-VALUE" not in str(info.value)
        assert "root:" not in str(info.value)


def _utf16(payload: bytes) -> bytes:
    text = payload.decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    return text.encode("utf-16")


def test_doctype_hidden_in_utf16_is_still_refused() -> None:
    # The byte scan cannot see UTF-16 markup; the parsed tree's DOCTYPE check catches it.
    with pytest.raises(ValidationError, match="DTD"):
        parse(_utf16(_xxe(Path("/etc/passwd"))))
    # libxml2's own amplification guard may stop billion laughs first; either way it is clean.
    with pytest.raises(ValidationError):
        parse(_utf16(BILLION_LAUGHS))


def test_doctype_without_entities_is_refused_too() -> None:
    data = fixture_bytes("invoice33.xml").replace(b"?>\n", b'?>\n<!DOCTYPE cfdi:Comprobante SYSTEM "http://example.com/x.dtd">\n', 1)
    with pytest.raises(ValidationError, match="DTD"):
        parse(data)


def test_size_bound_is_enforced_before_parsing() -> None:
    data = fixture_bytes("invoice40_taxes_retentions.xml")
    assert parse(data, max_bytes=len(data)).total
    with pytest.raises(ValidationError) as info:
        parse(data, max_bytes=len(data) - 1)
    assert info.value.issues[0].code == "APUNTO-CFDI-002"


def test_oversized_file_on_disk_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    big.write_bytes(b" " * 2048)
    with pytest.raises(ValidationError, match="larger than"):
        parse(big, max_bytes=1024)


@pytest.mark.parametrize(
    "garbage",
    [b"", b"   ", b"not xml at all", b"<unclosed", b"\x00\x01\x02\xff\xfe", b"<a>&undefined;</a>",
     b'<?xml version="1.0" encoding="klingon"?><a/>', "texto sin XML", b"\xef\xbb\xbf", b"<a></b>"],
)
def test_garbage_is_a_validation_error(garbage: bytes | str) -> None:
    with pytest.raises(ValidationError):
        parse(garbage)


def test_wrong_input_type_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        parse(12345)  # type: ignore[arg-type]


def test_parser_is_thread_local() -> None:
    import threading

    from apunto_connect.cfdi import safe_xml

    seen: list[object] = []

    def grab() -> None:
        parse_xml(b"<a/>")
        seen.append(safe_xml._parser())

    threads = [threading.Thread(target=grab) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen[0] is not seen[1]
    assert safe_xml._parser() is safe_xml._parser()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_parse_never_raises_anything_but_validation_error_on_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(ValidationError):
        parse(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=512))
def test_parse_never_raises_anything_but_validation_error_on_arbitrary_text(text: str) -> None:
    with contextlib.suppress(ValidationError):
        parse(text)


_SEEDS = [p.read_bytes() for p in sorted(FIXTURES.glob("*.xml"))]
_NOISE = b'0123456789.-eE<>&;"= /:TZaxNn\x00\xff'


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(_SEEDS) - 1), st.randoms(use_true_random=False), st.integers(1, 8))
def test_parse_never_raises_anything_but_validation_error_on_mutated_cfdi(
    which: int, rnd: random.Random, edits: int
) -> None:
    # Mutating real documents reaches the model-building code (bad amounts, dates, missing
    # attributes, broken structure), which random bytes almost never do.
    data = bytearray(_SEEDS[which])
    for _ in range(edits):
        at = rnd.randrange(len(data))
        span = rnd.randrange(0, 6)
        insert = bytes(rnd.choice(_NOISE) for _ in range(rnd.randrange(0, 4)))
        data[at : at + span] = insert
    with contextlib.suppress(ValidationError):
        parse(bytes(data))
