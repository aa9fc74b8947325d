"""Alegra keeps an item's unit in ``inventory.unit`` as one of its own words (a correction).

The fixture is shaped like the item bodies public Alegra clients model (``inventory.unit``, a
price list), rewritten with made-up data.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from apunto_connect import Sandbox
from apunto_connect.invoicing.alegra.mapping import alegra_unit, item_matches, line_to_alegra_item
from apunto_connect.invoicing.alegra.spec import SPEC
from apunto_connect.models import LineItem, Tax
from apunto_connect.sandbox.alegra import DEMO_EMAIL, DEMO_TOKEN

FIXTURE = Path(__file__).parent / "fixtures" / "alegra" / "item_with_inventory_unit.json"
BASE = "https://api.alegra.com/api/v1"


def line(unit_code: str = "E48", unit_name: str | None = "Servicio") -> LineItem:
    return LineItem(
        product_code="78141500", unit_code=unit_code, unit_name=unit_name,
        description="Maniobra de carga en patio, contenedor de 40 pies", quantity=Decimal(1),
        unit_price=Decimal("950.00"), taxes=[Tax.iva()], sku="MAN-040", name="Maniobra de carga",
    )


def test_the_spec_records_the_correction_and_its_sources():
    fact = SPEC.fact("field.item.unit_name")
    assert (fact.value, fact.source) == ("inventory.unit", "public-integration")
    assert "alegra-cli" in fact.evidence and "alegra-php" in fact.evidence


def test_the_item_body_puts_the_unit_where_public_clients_read_it():
    sample = json.loads(FIXTURE.read_text(encoding="utf-8"))
    body = line_to_alegra_item(line())
    assert "unit" not in body  # no longer a top-level free text
    assert body["inventory"] == {"unit": sample["inventory"]["unit"]} == {"unit": "service"}
    assert item_matches(sample, line(), SPEC)  # the stored item is found again


@pytest.mark.parametrize(
    ("code", "word"),
    [("H87", "piece"), ("E48", "service"), ("KGM", "kilogram"), ("LTR", "liter"),
     ("xun", "unit"), ("ZZZ", "unit")],
)
def test_sat_unit_codes_become_alegra_words(code, word):
    assert alegra_unit(code) == word
    assert word in SPEC["value.item.unit_words"]


def test_the_emulator_refuses_a_free_text_unit_and_keeps_a_word():
    with Sandbox(vendors=["alegra"]) as sb:
        def post(body: dict) -> requests.Response:
            return sb.session.post(f"{BASE}/items", json=body, auth=(DEMO_EMAIL, DEMO_TOKEN),
                                   timeout=5)

        base = {"name": "Maniobra", "price": 950, "productKey": "78141500", "unitKey": "E48"}
        refused = post({**base, "inventory": {"unit": "Servicio"}})
        assert refused.status_code == 400 and "Servicio" in refused.json()["message"]
        sample = json.loads(FIXTURE.read_text(encoding="utf-8"))
        accepted = post({**base, "inventory": sample["inventory"]})
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["inventory"]["unit"] == "service"


def test_a_stamped_line_reads_its_unit_back_from_inventory():
    with Sandbox(vendors=["alegra"]) as sb:
        from apunto_connect.demo import demo_invoice

        provider = sb.invoice_provider("alegra")
        provider.stamp(demo_invoice("61"))
        items = list(sb.emulator("alegra").items.values())  # type: ignore[attr-defined]
        assert items and all(i["inventory"]["unit"] in SPEC["value.item.unit_words"] for i in items)
        assert not any("unit" in i for i in items)
