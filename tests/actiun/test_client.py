"""ActiunClient behaviour: validation before sending, errors, pagination, concurrency, auth."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from apunto_connect.actiun import SPEC, ActiunClient, LineItemInput, Page
from apunto_connect.actiun.pagination import iterate_pages, parse_link_header
from apunto_connect.errors import (
    AuthenticationError,
    CredentialsNotFound,
    NotFound,
    ProviderError,
    RateLimited,
    ServerError,
    StampRejected,
    TransportError,
    ValidationError,
)
from apunto_connect.sandbox import Sandbox
from apunto_connect.sandbox.actiun import DEMO_API_KEY
from tests.fakes import FakeClock, ScriptedAdapter, make_response, session_with

KEY = "llave-privada-de-prueba-0002"


def scripted(*steps, clock: FakeClock | None = None) -> tuple[ActiunClient, ScriptedAdapter]:
    adapter = ScriptedAdapter(*steps)
    clock = clock or FakeClock()
    client = ActiunClient(api_key=KEY, session=session_with(adapter), sleep=clock.sleep,
                          clock=clock)
    return client, adapter


@pytest.fixture
def sandbox():
    with Sandbox(vendors=["actiun"], seed=7) as sb:
        yield sb


@pytest.fixture
def live(sandbox):
    client = ActiunClient(api_key=DEMO_API_KEY, session=sandbox.session,
                          sleep=sandbox.clock.sleep, clock=sandbox.clock.now)
    yield client
    client.close()


def query_of(request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def line(item_id: int = 1, **kw) -> LineItemInput:
    return LineItemInput(item_id, kw.pop("price", "100"), kw.pop("quantity", "1"), **kw)


# -- validation before any request ------------------------------------------------------------


def test_bad_order_field_is_refused_naming_the_field_and_its_allowed_values():
    client, adapter = scripted()
    with pytest.raises(ValidationError) as info:
        client.invoices.list(order_field="total")
    issue = info.value.issues[0]
    assert issue.field == "order_field"
    assert all(name in issue.message for name in SPEC["value.order_fields"])
    assert adapter.requests == []


def test_bad_order_direction_is_refused_and_lower_case_is_normalised():
    client, adapter = scripted((200, {"invoices": []}))
    with pytest.raises(ValidationError, match="ASC, DESC"):
        client.invoices.page(1, order_direction="sideways")
    client.invoices.page(1, order_field="date", order_direction="desc")
    assert query_of(adapter.requests[0]) == {"order_field": ["date"], "order_direction": ["DESC"]}


def test_ppd_is_refused_with_any_payment_method_but_other():
    client, adapter = scripted()
    with pytest.raises(ValidationError) as info:
        client.invoices.create(1, [line()], payment_method_code="wire-transfer",
                               payment_type_code="PPD")
    assert [i.field for i in info.value.issues] == ["payment_type_code"]
    assert "other" in info.value.issues[0].message
    assert adapter.requests == []


def test_ppd_with_other_is_sent():
    client, adapter = scripted((201, {"invoice": {"id": 9, "status": "stamping"}}))
    client.invoices.create(1, [line()], payment_method_code="other", payment_type_code="PPD")
    body = json.loads(adapter.requests[0].body)["invoice"]
    assert (body["payment_method_code"], body["payment_type_code"]) == ("other", "PPD")


def test_every_problem_of_an_invoice_is_reported_at_once():
    client, adapter = scripted()
    with pytest.raises(ValidationError) as info:
        client.invoices.create(
            0,
            [line(quantity="0"), {"item_id": "x", "price": "abc", "quantity": 1}],
            payment_method_code="bitcoin",
            type_code="NOTA",
            currency_code="pesos",
            cfdi_use_code="gastos",
            due_offset_days=-1,
            account_number="12",
        )
    fields = {i.field for i in info.value.issues}
    assert {"client_id", "payment_method_code", "type_code", "currency_code", "cfdi_use_code",
            "due_offset_days", "account_number", "line_items[0].quantity",
            "line_items[1].price"} <= fields
    assert adapter.requests == []


def test_the_fifteen_payment_methods_of_the_reference_are_accepted():
    assert len(SPEC["value.payment_methods"]) == 15
    steps = [(201, {"invoice": {"id": n}}) for n in range(15)]
    client, adapter = scripted(*steps)
    for code in SPEC["value.payment_methods"]:
        client.invoices.create(1, [line()], payment_method_code=code)
    assert len(adapter.requests) == 15


def test_an_invoice_needs_lines():
    client, _ = scripted()
    with pytest.raises(ValidationError, match="at least one line"):
        client.invoices.create(1, [], payment_method_code="cash")


def test_money_travels_as_json_numbers_with_the_same_digits():
    client, adapter = scripted((201, {"invoice": {"id": 1}}))
    client.invoices.create(1, [line(price=Decimal("1234.57"), quantity=Decimal("2.5"),
                                    tax_ids=[1], retention_ids=[4])],
                           payment_method_code="cash", exchange_rate=Decimal("18.6574"),
                           currency_code="USD")
    raw = adapter.requests[0].body.decode()
    assert '"price":1234.57' in raw and '"quantity":2.5' in raw
    assert '"exchange_rate":18.6574' in raw
    assert '"retentions":[{"tax_id":4}]' in raw
    assert adapter.requests[0].headers["Content-Type"] == "application/json"


def test_money_with_more_digits_than_a_float_keeps_still_travels_exactly():
    client, adapter = scripted((201, {"invoice": {"id": 1}}))
    client.invoices.create(1, [line(price=Decimal("123456789012.123456"), quantity=1,
                                    tax_ids=[1])],
                           payment_method_code="cash")
    assert '"price":123456789012.123456' in adapter.requests[0].body.decode()


def test_item_create_checks_sat_keys_and_required_fields():
    client, adapter = scripted()
    with pytest.raises(ValidationError) as info:
        client.items.create("", "-1", "4412", "too-long")
    assert {i.field for i in info.value.issues} == {
        "name", "price", "product_key_code", "unit_key_code"
    }
    assert adapter.requests == []


def test_contact_create_checks_the_e_mail_list():
    client, _ = scripted()
    with pytest.raises(ValidationError, match="not an e-mail"):
        client.contacts.create("ACME", "ACM131115G35", billing_address_email="a@b.mx, nope")


def test_ids_must_be_numbers_before_a_path_is_built():
    client, adapter = scripted()
    with pytest.raises(ValidationError):
        client.invoices.get("../contacts")
    assert adapter.requests == []


# -- errors -----------------------------------------------------------------------------------


def test_400_keeps_the_servers_message_verbatim_and_the_field_errors():
    body = {"error": "name no puede estar en blanco", "errors": {"name": ["no puede estar en blanco"]}}
    client, _ = scripted((400, body))
    with pytest.raises(ProviderError) as info:
        client.contacts.create("A", "ACM131115G35")
    error = info.value
    assert type(error) is ProviderError
    assert error.message == "name no puede estar en blanco"
    assert error.status_code == 400 and error.details == {"name": ["no puede estar en blanco"]}


def test_401_is_an_authentication_error_with_the_references_words_when_the_body_is_empty():
    client, _ = scripted((401, None))
    with pytest.raises(AuthenticationError) as info:
        client.contacts.get(1)
    assert info.value.message == "Credenciales no válidas."


def test_404_and_405_map_to_their_statuses():
    client, _ = scripted((404, {"error": "El objeto que buscas no existe."}),
                         (405, {"message": "Operación no permitida."}))
    with pytest.raises(NotFound, match=r"El objeto que buscas no existe\."):
        client.invoices.get(1)
    with pytest.raises(ProviderError) as info:
        client.items.get(1)
    assert info.value.status_code == 405 and info.value.message == "Operación no permitida."


def test_429_waits_what_retry_after_asks_then_succeeds():
    clock = FakeClock()
    client, adapter = scripted(
        (429, {"error": "Has hecho muchas peticiones"}, {"Retry-After": "7"}),
        (200, {"contact": {"id": 3}}),
        clock=clock,
    )
    assert client.contacts.get(3).id == 3
    assert clock.sleeps == [7.0]
    assert len(adapter.requests) == 2


def test_429_that_persists_is_rate_limited_with_retry_after():
    steps = [(429, {"error": "Has hecho muchas peticiones"}, {"Retry-After": "2"})] * 3
    client, _ = scripted(*steps)
    with pytest.raises(RateLimited) as info:
        client.contacts.get(3)
    assert info.value.retry_after == 2.0
    assert info.value.message == "Has hecho muchas peticiones"


def test_a_503_on_get_is_retried_but_a_500_on_invoice_create_is_never_repeated():
    client, adapter = scripted((503, None), (200, {"invoice": {"id": 1, "status": "opened"}}),
                               (500, None))
    assert client.invoices.get(1).id == 1
    with pytest.raises(ServerError) as info:
        client.invoices.create(1, [line()], payment_method_code="cash")
    assert info.value.message == SPEC["value.status_meanings"][500]
    assert [r.method for r in adapter.requests] == ["GET", "GET", "POST"]


def test_a_sat_rule_code_in_a_400_becomes_stamp_rejected():
    client, _ = scripted((400, {"error": "CFDI40147: El código postal del receptor no coincide"}))
    with pytest.raises(StampRejected) as info:
        client.invoices.create(1, [line()], payment_method_code="cash")
    assert info.value.sat_code == "CFDI40147"


def test_an_html_page_instead_of_json_is_a_transport_error_after_sending():
    def html(request):
        return make_response(request, 200, "<html>mantenimiento</html>")

    client, _ = scripted(html)
    with pytest.raises(TransportError) as info:
        client.contacts.get(1)
    assert info.value.request_sent is True


def test_the_key_never_shows_in_errors_or_repr():
    client, _ = scripted((401, {"error": f"bad key {KEY}"}))
    with pytest.raises(AuthenticationError) as info:
        client.contacts.get(1)
    assert KEY not in str(info.value) and KEY not in repr(client)


def test_the_key_resolves_from_the_environment(monkeypatch):
    monkeypatch.setenv("APUNTO_ACTIUN_API_KEY", "llave-desde-el-entorno")
    adapter = ScriptedAdapter((200, {"contact": {"id": 1}}))
    ActiunClient(session=session_with(adapter)).contacts.get(1)
    assert adapter.requests[0].headers["Authorization"] == "llave-desde-el-entorno"


def test_a_missing_key_names_where_it_was_looked_for():
    with pytest.raises(CredentialsNotFound, match="APUNTO_ACTIUN_API_KEY"):
        ActiunClient()


def test_auth_prefix_is_overridable_for_servers_that_want_a_scheme():
    adapter = ScriptedAdapter((200, {"contact": {"id": 1}}))
    client = ActiunClient(api_key=KEY, session=session_with(adapter),
                          spec={"header.auth_prefix": "Token "})
    client.contacts.get(1)
    assert adapter.requests[0].headers["Authorization"] == f"Token {KEY}"


# -- tolerant decoding ------------------------------------------------------------------------


def test_unknown_fields_and_missing_optional_ones_are_tolerated():
    answer = {"invoice": {"id": 5, "status": "paid", "brand_new_field": {"x": 1},
                          "line_items": [{"item_id": 3, "surprise": True}], "stamp": None,
                          "number": 77}}
    client, _ = scripted((200, answer))
    invoice = client.invoices.get(5)
    assert invoice.number == "77" and invoice.stamp is None and invoice.sat_uuid is None
    assert invoice.raw["brand_new_field"] == {"x": 1}
    assert invoice.line_items[0].taxes == ()


def test_an_unknown_status_is_kept_as_text():
    client, _ = scripted((200, {"invoice": {"id": 5, "status": "archived"}}))
    invoice = client.invoices.get(5)
    assert invoice.status is None and invoice.status_text == "archived"


def test_a_record_without_id_is_a_transport_error():
    client, _ = scripted((200, {"contact": {"name": "sin id"}}))
    with pytest.raises(TransportError, match="id"):
        client.contacts.get(1)


# -- pagination -------------------------------------------------------------------------------


def _page_headers(number: int, last: int, total: int) -> dict[str, str]:
    rels = ['<https://api.actiun.com/contacts?page=1>; rel="first"',
            f'<https://api.actiun.com/contacts?page={last}>; rel="last"']
    if number < last:
        rels.append(f'<https://api.actiun.com/contacts?page={number + 1}>; rel="next"')
    return {"Link": ",\n  ".join(rels), "Per-Page": "25", "Total": str(total)}


def test_iteration_keeps_the_query_on_every_page_and_omits_page_1():
    pages = [
        (200, {"contacts": [{"id": n} for n in range(1, 26)]}, _page_headers(1, 3, 60)),
        (200, {"contacts": [{"id": n} for n in range(26, 51)]}, _page_headers(2, 3, 60)),
        (200, {"contacts": [{"id": n} for n in range(51, 61)]}, _page_headers(3, 3, 60)),
    ]
    client, adapter = scripted(*pages)
    ids = [c.id for c in client.contacts.list(query="flete")]
    assert ids == list(range(1, 61))
    queries = [query_of(r) for r in adapter.requests]
    assert queries == [{"query": ["flete"]}, {"query": ["flete"], "page": ["2"]},
                       {"query": ["flete"], "page": ["3"]}]


def test_without_pagination_headers_a_short_page_is_the_last():
    client, adapter = scripted(
        (200, {"items": [{"id": n} for n in range(25)]}),
        (200, {"items": [{"id": 99}]}),
    )
    assert len(list(client.items.list())) == 26
    assert len(adapter.requests) == 2


def test_link_header_parsing_handles_folded_lines_and_single_quotes():
    links = parse_link_header("<a?page=2>;\n rel='next' ,<a?page=9>; rel=\"last\"")
    assert links == {"next": "a?page=2", "last": "a?page=9"}
    assert Page((), 1, links=links).page_count == 9


def test_the_lazy_iterator_fetches_nothing_until_asked(live, sandbox):
    sandbox.emulator("actiun").seed_invoices(30)
    iterator = live.invoices.list()
    assert sandbox.emulator("actiun").invoices  # the data is there, but nothing was fetched
    assert next(iterator).id == 1


def test_concurrent_listing_returns_the_same_invoices_in_the_same_order(live, sandbox):
    sandbox.emulator("actiun").seed_invoices(130)
    serial = [(i.id, i.sat_uuid) for i in live.invoices.list(order_field="date",
                                                            order_direction="DESC")]
    concurrent = [(i.id, i.sat_uuid) for i in live.invoices.list(
        order_field="date", order_direction="DESC", concurrency=4)]
    assert len(serial) == 130 and concurrent == serial
    assert serial[0][0] == 130


def test_concurrency_is_bounded_and_stopping_early_cancels_the_rest():
    in_flight = 0
    peak = 0
    fetched: list[int] = []
    lock = threading.Lock()

    def fetch(number: int) -> Page[int]:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            fetched.append(number)
        time.sleep(0.01)
        with lock:
            in_flight -= 1
        return Page(tuple(range((number - 1) * 25, number * 25)), number, 25, 50 * 25)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        pages = iterate_pages(fetch, concurrency=3, executor=lambda: pool)
        numbers = [next(pages).number for _ in range(5)]
        pages.close()
    assert numbers == [1, 2, 3, 4, 5]
    assert peak <= 3
    assert len(fetched) <= 5 + 3  # never ran ahead by more than the window


def test_a_failing_page_surfaces_in_order():
    def fetch(number: int) -> Page[int]:
        if number == 3:
            raise ServerError("boom", provider="actiun")
        return Page((number,), number, 1, 5)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        got = []
        with pytest.raises(ServerError):
            for page in iterate_pages(fetch, concurrency=4, executor=lambda: pool):
                got.append(page.number)
    assert got == [1, 2]


# -- against the emulator ---------------------------------------------------------------------


def test_contact_with_invoices_is_soft_deleted_hidden_and_not_invoiceable(live):
    contact = live.contacts.create("TRANSPORTES DEL NORTE", "TDN010101AB1")
    item = live.items.create("Flete", "1500", "78101802", "E48")
    live.invoices.create(contact.id, [LineItemInput(item.id, "1500", 1, tax_ids=[1])],
                         payment_method_code="wire-transfer")
    deletion = live.contacts.delete(contact.id)
    assert deletion.soft is True and deletion.record is not None
    assert live.contacts.get(contact.id).soft_deleted is True
    assert [c.id for c in live.contacts.list()] == []
    with pytest.raises(ProviderError, match="eliminado"):
        live.invoices.create(contact.id, [LineItemInput(item.id, "1500", 1)],
                             payment_method_code="cash")


def test_contact_without_documents_is_deleted_for_good(live):
    contact = live.contacts.create("PROVEEDOR SIN FACTURAS", "PSF010101AB1")
    assert live.contacts.delete(contact.id).soft is False
    with pytest.raises(NotFound):
        live.contacts.get(contact.id)


def test_waiting_while_stamping_is_bounded(live, sandbox, monkeypatch):
    monkeypatch.setattr(type(sandbox.emulator("actiun")), "stamping_seconds", 10_000.0)
    contact = live.contacts.create("ACME", "ACM131115G35")
    item = live.items.create("Flete", "1500", "78101802", "E48")
    invoice = live.invoices.create(contact.id, [LineItemInput(item.id, "1500", 1)],
                                   payment_method_code="cash")
    from apunto_connect.errors import Timeout

    with pytest.raises(Timeout) as info:
        live.invoices.wait_while_stamping(invoice, timeout=30, interval=1)
    assert info.value.request_sent is True


def test_download_of_a_stamped_invoice_from_the_emulator(live):
    contact = live.contacts.create("ACME", "ACM131115G35")
    item = live.items.create("Flete", "1500", "78101802", "E48")
    created = live.invoices.create(contact.id, [LineItemInput(item.id, "1500", 2, tax_ids=[1])],
                                   payment_method_code="cash")
    assert created.status_text == "stamping" and created.sat_uuid is None
    with pytest.raises(NotFound, match="no PDF attachment"):
        live.invoices.download(created, "pdf")
    stamped = live.invoices.wait_while_stamping(created)
    xml = live.invoices.download(stamped.id, "xml")
    assert stamped.sat_uuid is not None and stamped.sat_uuid.encode() in xml
    with pytest.raises(ValidationError):
        live.invoices.download(stamped, "docx")


@pytest.mark.parametrize(
    ("base", "url", "trusted"),
    [
        ("https://api.actiun.com", "https://api.actiun.com/documents/pdf/1", True),
        ("https://api.actiun.com", "https://app.actiun.com/documents/pdf/1", True),
        ("https://api.actiun.com", "http://app.actiun.com/documents/pdf/1", False),
        ("https://api.actiun.com", "http://api.actiun.com/invoices?page=2", False),
        ("https://api.actiun.com", "https://bucket.s3.amazonaws.com/f.pdf", False),
        ("https://api.actiun.com", "https://actiun.com.evil.mx/f.pdf", False),
        ("https://api.example.co.uk", "https://other.co.uk/f.pdf", False),
        ("http://127.0.0.1:8080/actiun", "http://127.0.0.1:8080/actiun/documents/xml/1", True),
        ("http://127.0.0.1:8080/actiun", "https://10.0.0.1/f.pdf", False),
        ("http://127.0.0.1:8080/actiun", "http://127.0.0.1:9090/f.pdf", False),
    ],
)
def test_the_key_goes_only_to_the_servers_own_hosts(base, url, trusted):
    client = ActiunClient(api_key=KEY, base_url=base)
    assert client.auth.trusts(url) is trusted
