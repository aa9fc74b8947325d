"""Fidelity: a real third-party Alegra client works against the loopback emulator.

The ``alegra`` package from PyPI is a small resource-style client of Alegra's REST API
(``Contact``, ``Item``, ``Invoice`` with ``create``/``retrieve``/``list``/``email``/``void``/
``open``). It builds its URLs as ``{api_base}/{api_version}/{resource}/`` with a trailing slash,
authenticates with HTTP Basic ``user:token`` and returns the ``requests`` response untouched, so
this test sees the emulator's status codes and bodies as a third-party caller does. Pointing it
at the emulator changes only the host of its ``api_base``: the emulator answers Alegra's own
``/api/v1`` paths under ``/alegra``.

A test-only dependency; if this client cannot work against the emulator, the emulator is wrong.
"""

from __future__ import annotations

import alegra  # the PyPI client, from the test extra
import fpdf  # noqa: F401  (the test extra installs it; emulators draw PDFs with it)
import pytest
import requests
from alegra import resources

from apunto_connect.cfdi import parse
from apunto_connect.sandbox import Sandbox
from apunto_connect.sandbox.alegra import AlegraEmulator

EMAIL = AlegraEmulator.demo_credentials["email"]
TOKEN = AlegraEmulator.demo_credentials["token"]


@pytest.fixture
def emulator(monkeypatch):
    """The Alegra emulator on loopback, with the PyPI client configured to call it."""
    with Sandbox(vendors=["alegra"], seed=7) as sandbox:
        # Only the host changes: https://api.alegra.com/api + /v1 → http://127.0.0.1:PORT/alegra/api
        host = sandbox.serve().base_url("alegra")
        monkeypatch.setattr(alegra, "user", EMAIL)
        monkeypatch.setattr(alegra, "token", TOKEN)
        monkeypatch.setattr(alegra, "api_base", host + "/api")
        monkeypatch.setattr(alegra, "api_version", "v1")
        emulator = sandbox.emulator("alegra")
        emulator.file_delay = 0.0  # type: ignore[attr-defined]  (the file URLs come at once)
        yield emulator


def _client_and_item() -> tuple[str, str]:
    contact = resources.Contact.create(
        name="ESCUELA KEMPER URGATE", identification="EKU9003173C9",
        regime="GENERAL_REGIME_OF_MORAL_PEOPLE_LAW", address={"zipCode": "26015"},
        type=["client"], email="cuentas@example.com",
    )
    assert contact.status_code == 201, contact.text
    item = resources.Item.create(
        name="Flete terrestre", price=1000, productKey="78101802", unitKey="E48",
        tax=[{"id": "1"}],
    )
    assert item.status_code == 201, item.text
    return contact.json()["id"], item.json()["id"]


def _invoice_body(client_id: str, item_id: str) -> dict[str, object]:
    return {
        "date": "2026-12-01", "dueDate": "2026-12-31", "client": {"id": client_id},
        "items": [{"id": item_id, "price": 1000, "quantity": 2, "tax": [{"id": "1"}]}],
        "numberTemplate": {"prefix": "PY", "number": "1"}, "currency": {"code": "MXN"},
        "paymentForm": "03", "paymentMethod": "PUE", "cfdiUse": "G03",
        "stamp": {"generateStamp": True},
    }


def test_pypi_alegra_client_stamps_reads_emails_and_voids(emulator):
    client_id, item_id = _client_and_item()

    created = resources.Invoice.create(**_invoice_body(client_id, item_id))
    assert created.status_code == 201, created.text
    invoice = created.json()
    assert invoice["status"] == "open"
    uuid = invoice["stamp"]["uuid"]

    read = resources.Invoice.retrieve(invoice["id"], fields="pdf,xml")
    assert read.status_code == 200
    assert read.json()["stamp"]["uuid"] == uuid
    xml = requests.get(read.json()["xml"], timeout=10)
    assert xml.status_code == 200
    document = parse(xml.content)
    assert document.uuid == uuid and document.total == 2320
    assert requests.get(read.json()["pdf"], timeout=10).content.startswith(b"%PDF")

    listed = resources.Invoice.list(order_direction="DESC", limit=5)
    assert listed.status_code == 200 and [row["id"] for row in listed.json()] == [invoice["id"]]

    mailed = resources.Invoice.email(invoice["id"], emails=["cuentas@example.com"])
    assert mailed.status_code == 200
    assert emulator.invoices[invoice["id"]].emails == ["cuentas@example.com"]

    voided = resources.Invoice.void(invoice["id"], motive="02")
    assert voided.status_code == 200
    assert voided.json()["status"] == "void"


def test_pypi_alegra_client_reads_the_emulators_refusals_as_alegra_sends_them(emulator):
    client_id, item_id = _client_and_item()
    body = _invoice_body(client_id, item_id)

    missing = resources.Invoice.retrieve("999")
    assert missing.status_code == 404
    assert missing.json() == {"code": 404, "message": "No se encontró la factura con id 999"}

    first = resources.Invoice.create(**body)
    assert first.status_code == 201
    voided_twice = resources.Invoice.void(first.json()["id"], motive="02")
    assert voided_twice.status_code == 200
    again = resources.Invoice.void(first.json()["id"], motive="02")
    assert again.status_code == 400
    assert again.json()["message"] == "La factura ya se encuentra anulada"

    no_recipients = resources.Invoice.email(first.json()["id"])
    assert no_recipients.status_code == 400
    assert "emails" in no_recipients.json()["message"]

    bad_name = resources.Item.create(name="X", price=1, productKey="78101802", unitKey="E48")
    assert bad_name.status_code == 400
    assert "entre 2 y 50" in bad_name.json()["message"]

    wrong_auth = resources.Invoice.list(token="not-the-token")
    assert wrong_auth.status_code == 401
