"""Facturama's SPEC: evidence on every fact, spec= overrides on provider and emulator, legacy tables."""

from __future__ import annotations

import warnings

import pytest
import requests

from apunto_connect.errors import ConfigurationError, ValidationError
from apunto_connect.invoicing import facturama
from apunto_connect.invoicing.facturama import SPEC, FacturamaProvider
from apunto_connect.models import Customer, Invoice, LineItem, RelatedDocuments, Tax
from apunto_connect.sandbox import Sandbox
from apunto_connect.sandbox.adapter import SandboxAdapter
from apunto_connect.sandbox.facturama import FacturamaEmulator

pytest.importorskip("fpdf")

CUSTOMER = Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "86991")


def freight(folio: str, **changes: object) -> Invoice:
    invoice = Invoice(
        customer=CUSTOMER,
        items=[LineItem("78101802", "E48", "Flete Manzanillo - Guadalajara", 1, "18500",
                        unit_name="Servicio", taxes=[Tax.iva()])],
        payment_form="03",
        series="FLT",
        folio=folio,
    )
    return invoice.with_changes(**changes)


class Spy(requests.adapters.BaseAdapter):
    """Records every request's method and path, then hands it to the sandbox."""

    def __init__(self, inner: requests.adapters.BaseAdapter) -> None:
        super().__init__()
        self.inner = inner
        self.paths: list[str] = []

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def, override]
        self.paths.append(f"{request.method} {request.path_url.split('?')[0]}")
        return self.inner.send(request, **kwargs)

    def close(self) -> None:
        pass


@pytest.fixture
def sandbox():
    with Sandbox(vendors=["facturama"], seed=5) as sb:
        yield sb


@pytest.fixture
def spy(sandbox) -> Spy:
    spy = Spy(sandbox.adapter)
    for prefix in facturama.BASE_URLS.values():
        sandbox.session.mount(prefix, spy)
    return spy


def test_every_fact_says_where_it_comes_from():
    assert SPEC.vendor == "facturama"
    for key in SPEC:
        fact = SPEC.fact(key)
        assert key.split(".")[0] in {"path", "field", "header", "limit", "value"}, key
        assert fact.source in {"official", "public-integration", "assumed"}, key
        assert fact.evidence.strip(), f"{key} has no evidence"
    # what the evidence page lists as not public stays marked so
    assert set(SPEC.assumed()) == {
        "limit.list_page_size", "value.list_oldest_first", "value.list_date_format",
    }


def test_spec_values_cannot_be_changed_in_place():
    with pytest.raises(TypeError):
        SPEC["field.list_filters"]["colour"] = "color"  # type: ignore[index]


def test_a_spec_override_changes_the_path_the_provider_calls(sandbox, spy):
    provider = sandbox.invoice_provider("facturama", spec={"path.tax_entity": "api/TaxEntity"})
    status = provider.check_connection()
    assert status.ok
    assert spy.paths == ["GET /api/TaxEntity"]
    assert provider.spec.fact("path.tax_entity").source == "override"
    assert SPEC["path.tax_entity"] == "TaxEntity"  # the shared spec is untouched


def test_an_unknown_spec_key_is_refused_before_anything_is_sent():
    with pytest.raises(ConfigurationError, match=r"path\.stamps"):
        FacturamaProvider(username="u", password="p", spec={"path.stamps": "4/cfdis"})


def test_the_emulator_pages_by_its_spec_and_the_provider_reads_every_page():
    emulator = FacturamaEmulator(seed=5, spec={"limit.list_page_size": 2})
    spy = Spy(SandboxAdapter({"facturama": emulator}))
    session = requests.Session()
    for prefix in emulator.base_urls:
        session.mount(prefix, spy)
    provider = FacturamaProvider(
        **emulator.demo_credentials, **emulator.provider_options(), session=session,
        journal="memory",
    )
    assert provider.spec["limit.list_page_size"] == 2  # the emulator hands its spec on
    for folio in ("1", "2", "3", "4", "5"):
        provider.stamp(freight(folio))
    spy.paths.clear()
    folios = [row.folio for row in provider.list(series="FLT")]
    assert folios == ["1", "2", "3", "4", "5"]
    assert spy.paths.count("GET /Cfdi") == 4  # pages of 2, 2, 1 and the empty one
    with pytest.raises(ConfigurationError):
        FacturamaEmulator(spec={"limit.page_size": 2})


def test_two_relation_types_are_a_preflight_issue_and_nothing_is_sent(sandbox, spy):
    provider = sandbox.invoice_provider("facturama")
    invoice = freight("7", related=[
        RelatedDocuments("01", ["0F8C2B7E-5A14-4D3B-9E61-2C7A9B0D4E15"]),
        RelatedDocuments("04", ["1F8C2B7E-5A14-4D3B-9E61-2C7A9B0D4E15"]),
    ])
    assert "APUNTO-FACTURAMA-002" in [issue.code for issue in provider.preflight(invoice)]
    with pytest.raises(ValidationError) as info:
        provider.stamp(invoice, idempotency_key="rel-7")
    assert "APUNTO-FACTURAMA-002" in [issue.code for issue in info.value.issues]
    assert spy.paths == []


def test_the_old_tables_still_override_for_one_release_with_a_warning(sandbox, spy):
    with pytest.warns(DeprecationWarning, match="PATHS"):
        paths = facturama.PATHS
    original = paths["tax_entity"]
    paths["tax_entity"] = "api/TaxEntity"
    try:
        with pytest.warns(DeprecationWarning, match=r"spec=\{'path\.tax_entity'"):
            provider = sandbox.invoice_provider("facturama")
        assert provider.check_connection().ok
        assert spy.paths == ["GET /api/TaxEntity"]
    finally:
        paths["tax_entity"] = original
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        untouched = FacturamaProvider(username="u", password="p")  # nothing changed: no warning
    assert untouched.spec["path.tax_entity"] == "TaxEntity"
    with pytest.warns(DeprecationWarning):
        assert facturama.ASSUMPTIONS["name_id"] == SPEC["value.name_id"]
    with pytest.raises(AttributeError):
        facturama.NOT_A_NAME  # noqa: B018
