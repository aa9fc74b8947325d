"""Actiun's one SPEC: overrides reach the wire, unknown keys are refused, old names still work
for one release with a warning."""

from __future__ import annotations

import json

import pytest

from apunto_connect.actiun import SPEC, ActiunClient
from apunto_connect.errors import ConfigurationError, StampRejected
from apunto_connect.invoicing.actiun import ActiunInvoiceProvider
from apunto_connect.models import Customer, Invoice, LineItem, Tax
from apunto_connect.sandbox import Sandbox
from apunto_connect.sandbox.actiun import DEMO_API_KEY, ActiunEmulator
from apunto_connect.sandbox.framework import EmulatorRequest
from tests.fakes import ScriptedAdapter, session_with

KEY = "llave-de-prueba"


def freight() -> Invoice:
    return Invoice(
        customer=Customer(rfc="TNO010203AB4", legal_name="TRANSPORTES DEL NORTE",
                          tax_regime="601", zip_code="64000"),
        items=[LineItem("78101802", "E48", "Flete", 1, "1000", taxes=[Tax.iva()])],
        payment_form="03",
    )


def test_a_path_override_on_the_provider_reaches_the_request():
    adapter = ScriptedAdapter((200, {"contacts": []}, {"Total": "0"}))
    provider = ActiunInvoiceProvider(api_key=KEY, session=session_with(adapter),
                                     spec={"path.contacts": "/v2/contacts"})
    assert provider.check_connection().ok
    assert adapter.requests[0].url == "https://api.actiun.com/v2/contacts"
    assert SPEC["path.contacts"] == "/contacts"  # the shared SPEC is untouched


def test_paging_names_come_from_the_spec():
    adapter = ScriptedAdapter((200, {"invoices": []}, {"X-Count": "7"}))
    client = ActiunClient(api_key=KEY, session=session_with(adapter),
                          spec={"header.total": "X-Count", "field.page": "p"})
    page = client.invoices.page(3)
    assert page.total == 7
    assert adapter.requests[0].url.endswith("/invoices?p=3")


def test_an_unknown_spec_key_is_refused_naming_it():
    with pytest.raises(ConfigurationError, match=r"path\.invoice'"):
        ActiunInvoiceProvider(api_key=KEY, spec={"path.invoice": "/v2/invoices"})
    with pytest.raises(ConfigurationError, match=r"limit\.page_size"):
        ActiunEmulator(spec={"limit.page_size": 10})


def test_spec_cannot_be_given_with_a_ready_client():
    client = ActiunClient(api_key=KEY)
    with pytest.raises(ConfigurationError, match="spec="):
        ActiunInvoiceProvider(client=client, spec={"path.invoices": "/v2/invoices"})
    assert ActiunInvoiceProvider(client=client).spec is client.spec


def test_the_emulator_pages_by_its_spec():
    emulator = ActiunEmulator(spec={"limit.per_page": 2})
    for number in range(5):
        body = json.dumps({"item": {"name": f"Flete {number}", "price": 10,
                                    "product_key_code": "78101802", "unit_key_code": "E48"}})
        emulator.handle(EmulatorRequest.build("POST", "/items", "",
                                              {"Authorization": DEMO_API_KEY}, body.encode()))
    answer = emulator.handle(EmulatorRequest.build("GET", "/items", "page=3",
                                                   {"Authorization": DEMO_API_KEY}, b""))
    assert answer.status == 200
    assert len(json.loads(answer.body)["items"]) == 1
    assert answer.headers["Per-Page"] == "2" and answer.headers["Total"] == "5"


def test_a_stamp_records_which_assumed_facts_it_relied_on():
    with Sandbox(vendors=["actiun"], seed=3) as sb:
        provider = sb.invoice_provider("actiun", stamp_poll_interval=1)
        provider.spec.forget_used()
        provider.stamp(freight())
    assert "field.line_item_optional" in provider.spec.assumptions_used()
    assert set(provider.spec.assumptions_used()) <= set(SPEC.assumed())


def test_the_old_wait_keywords_still_work_with_a_warning():
    with pytest.warns(DeprecationWarning, match="stamp_wait"):
        provider = ActiunInvoiceProvider(api_key=KEY, stamp_timeout=30)
    assert provider.stamp_wait == 30
    with pytest.warns(DeprecationWarning, match="stamp_poll_interval"):
        provider = ActiunInvoiceProvider(api_key=KEY, poll_interval=0.5)
    assert provider.stamp_poll_interval == 0.5


def test_the_old_tables_are_readable_with_a_warning():
    from apunto_connect.actiun import spec as old

    with pytest.warns(DeprecationWarning, match=r"SPEC\['value.taxes'\]"):
        taxes = old.DEFAULT_TAXES
    assert taxes[1]["percentage"] == "16"
    with pytest.warns(DeprecationWarning):
        assert old.PATHS["invoices"] == "/invoices"
    with pytest.raises(AttributeError):
        old.NOT_A_TABLE  # noqa: B018


def test_a_sat_code_of_any_family_makes_a_rejection():
    adapter = ScriptedAdapter(
        (400, {"error": "CRP20238: El campo MonedaP no contiene un valor del catálogo"})
    )
    client = ActiunClient(api_key=KEY, session=session_with(adapter))
    with pytest.raises(StampRejected) as info:
        client.contacts.get(1)
    assert info.value.sat_code == "CRP20238"
    assert info.value.message.startswith("CRP20238: El campo MonedaP")
