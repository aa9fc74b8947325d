"""ContaDigital's SPEC: evidence on every fact, overrides that refuse unknown keys, old names kept."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta, timezone
from functools import partial

import pytest

from apunto_connect.errors import ConfigurationError
from apunto_connect.invoicing.contadigital import (
    DEFAULT_API,
    PATHS,
    SPEC,
    ContaDigitalProvider,
    invoice_to_contadigital,
)
from apunto_connect.sandbox import Sandbox
from apunto_connect.sandbox.contadigital import ContaDigitalEmulator
from tests.factories import fixture_invoice
from tests.fakes import FakeClock, ScriptedAdapter, session_with

CONNECT_OK = (200, {"Resultado": {"Token": "tok-" + "a" * 30, "IdEmpresa": 1207}, "Codigo": 1})
KINDS = ("path.", "field.", "header.", "limit.", "value.")


def scripted(*steps, **kwargs):
    adapter = ScriptedAdapter(*steps)
    provider = ContaDigitalProvider(
        api_key="cd-test-key-0123456789", session=session_with(adapter), sleep=lambda s: None,
        clock=FakeClock(), **kwargs,
    )
    return provider, adapter


freight_invoice = partial(fixture_invoice, "contadigital/invoice_freight.json")


def test_every_fact_is_dotted_by_kind_and_says_where_it_comes_from():
    for key in SPEC:
        fact = SPEC.fact(key)
        assert key.startswith(KINDS), key
        assert fact.source in ("official", "public-integration", "assumed"), key
        assert fact.evidence.strip(), key


def test_nothing_is_claimed_beyond_the_one_public_integration():
    # Every path and field comes from one integration: none may be marked as agreed by two.
    assert SPEC.counts()["public-integration"] == 0
    assert SPEC.fact("path.products").source == "assumed"


def test_a_path_override_is_followed_and_marked_as_the_callers():
    provider, adapter = scripted(CONNECT_OK, spec={"path.connect": "/api/v2/login.json"})
    provider.company_id  # noqa: B018 - connects
    assert adapter.requests[0].path_url == "/api/v2/login.json"
    assert provider.spec.fact("path.connect").source == "override"
    assert SPEC["path.connect"] == "/api/conectar.json"  # the shared spec is untouched


def test_an_unknown_spec_key_is_refused_before_any_request():
    with pytest.raises(ConfigurationError, match=r"path\.conectar"):
        ContaDigitalProvider(api_key="k" * 12, spec={"path.conectar": "/x"})


def test_each_provider_records_the_assumptions_its_own_requests_relied_on():
    provider, _ = scripted(CONNECT_OK)
    other, _ = scripted()
    provider.company_id  # noqa: B018 - connects
    used = provider.spec.assumptions_used()
    assert {"path.connect", "field.token", "field.code", "limit.token_ttl"} <= set(used)
    assert other.spec.assumptions_used() == ["value.production_url"]  # its host, no request


def test_the_old_api_keyword_still_works_for_one_release_with_a_warning():
    api = DEFAULT_API.override(paths={"connect": "/api/v2/login.json"}, token_ttl=60.0)
    with pytest.warns(DeprecationWarning, match="spec="):
        provider, adapter = scripted(CONNECT_OK, api=api)
    provider.company_id  # noqa: B018 - connects
    assert adapter.requests[0].path_url == "/api/v2/login.json"
    assert provider.spec["limit.token_ttl"] == 60.0
    # Only what differs becomes an override: the rest keeps its evidence.
    assert provider.spec.fact("path.catalog").source == "assumed"


def test_an_old_api_object_naming_an_unknown_path_is_refused():
    api = DEFAULT_API.override(paths={"facturas_v2": "/api/v2/cfdi.json"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ConfigurationError, match=r"path\.facturas_v2"):
            ContaDigitalProvider(api_key="k" * 12, api=api)


def test_old_api_and_new_spec_on_the_mappers_say_the_same():
    renames = {"Fecha": "FechaEmision"}
    with pytest.warns(DeprecationWarning):
        old = invoice_to_contadigital(
            freight_invoice(), _ids(), issued_at=datetime(2030, 1, 1),
            api=DEFAULT_API.override(request_fields=renames),
        )
    new = invoice_to_contadigital(
        freight_invoice(), _ids(), issued_at=datetime(2030, 1, 1),
        spec={"field.request_renames": renames},
    )
    assert old == new and "FechaEmision" in new


def test_the_old_tables_are_read_only_views_of_the_spec():
    assert PATHS["invoices"] == SPEC["path.invoices"]
    with pytest.raises(TypeError):
        PATHS["invoices"] = "/elsewhere"  # type: ignore[index]


def test_send_by_email_is_the_deprecated_name_of_send_email():
    reply = (200, {"Resultado": "Enviado a cuentas@xenon.example", "Codigo": 1})
    provider, adapter = scripted(CONNECT_OK, reply, reply)
    assert provider.send_email("9001", "cuentas@xenon.example") == "Enviado a cuentas@xenon.example"
    with pytest.warns(DeprecationWarning, match="send_email"):
        assert provider.send_by_email("9001", "cuentas@xenon.example") == (
            "Enviado a cuentas@xenon.example")
    assert adapter.requests[1].path_url == adapter.requests[2].path_url == (
        "/api/cfdi/enviar.json/1207/9001/cuentas%40xenon.example")


def test_the_document_date_is_mexico_city_wall_time_of_now():
    moment = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    with Sandbox(vendors=["contadigital"], seed=3) as sandbox:
        provider = sandbox.invoice_provider("contadigital", now=lambda: moment)
        stamped = provider.stamp(freight_invoice().with_changes(issued_at=None))
        issued = provider.get(stamped.id).issued_at
    assert issued == moment.astimezone(_mexico()).replace(tzinfo=None)


def test_the_emulator_takes_value_overrides_but_never_moves_its_routes():
    emulator = ContaDigitalEmulator(spec={"value.no_credits_code": 7})
    assert emulator.spec["value.no_credits_code"] == 7
    with pytest.raises(ConfigurationError, match="fixed"):
        ContaDigitalEmulator(spec={"path.connect": "/api/v2/login.json"})
    with pytest.raises(ConfigurationError, match="unknown"):
        ContaDigitalEmulator(spec={"value.codigo_ok": 1})


def _mexico():
    from apunto_connect._wire import mexico_tz

    return mexico_tz()


def _ids():
    from apunto_connect.invoicing.contadigital import ResolvedIds

    return ResolvedIds(
        company_id=1207, rfc_id=88, series_id=31, branch_id=4, place_id=15, place_zip="26015",
        customer_id=3001, currency_id=1, payment_form_id=3, payment_form_text="03 Transferencia",
        product_ids=(501, 601, 602), unit_ids=(7, 7, 12),
    )
