from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from apunto_connect.cfdi import build, parse, verification_url
from apunto_connect.errors import ValidationError
from tests.cfdi.samples import STAMP, fixture_bytes, freight_invoice


def test_url_from_a_parsed_document() -> None:
    cfdi = parse(fixture_bytes("invoice40_taxes_retentions.xml"))
    url = verification_url(cfdi)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx"
    )
    assert parse_qs(parts.query) == {
        "id": ["3f2a9c1e-5b7d-4e8f-a1c2-9d0e8f7a6b5c"],
        "re": ["XIQB891116QE4"],
        "rr": ["EKU9003173C9"],
        "tt": ["12433.33"],
        "fe": ["MTIzNA=="],
    }
    assert cfdi.verification_url == url
    assert list(parse_qs(parts.query)) == ["id", "re", "rr", "tt", "fe"]


def test_url_from_raw_fields_encodes_ampersand_and_enye() -> None:
    url = verification_url(uuid="C7D8E9F0-1A2B-4C3D-9E8F-7A6B5C4D3E2F", issuer_rfc="H&E951128469",
                           receiver_rfc="HAÑ930228SM9", total="0", seal="abc+/defgh==")
    assert "re=H%26E951128469" in url
    assert "rr=HA%C3%91930228SM9" in url
    assert "tt=0&" in url
    assert url.endswith("fe=%2Fdefgh%3D%3D")  # last 8 characters, percent-encoded
    assert parse_qs(urlsplit(url).query)["fe"] == ["/defgh=="]


def test_total_keeps_its_decimals_and_never_uses_exponents() -> None:
    base = dict(uuid="u", issuer_rfc="EKU9003173C9", receiver_rfc="XAXX010101000", seal="12345678")
    assert "tt=1160.00&" in verification_url(total=Decimal("1160.00"), **base)
    assert "tt=1000000&" in verification_url(total=Decimal("1E+6"), **base)
    assert "tt=0.50&" in verification_url(total="0.50", **base)


def test_keywords_override_the_document() -> None:
    cfdi = parse(fixture_bytes("invoice33.xml"))
    assert "tt=5000&" in verification_url(cfdi, total=5000)


def test_unstamped_document_has_no_url() -> None:
    cfdi = parse(build(freight_invoice()))
    with pytest.raises(ValidationError, match="stamped"):
        verification_url(cfdi)


def test_built_and_stamped_document_has_a_url() -> None:
    cfdi = parse(build(freight_invoice(), STAMP))
    url = cfdi.verification_url
    assert f"id={STAMP.uuid}" in url and "tt=17369.56" in url
