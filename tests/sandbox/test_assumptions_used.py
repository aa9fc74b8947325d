"""Sandbox.assumptions_used(): which assumed vendor facts a flow relied on, and only those."""

from __future__ import annotations

from datetime import date

from apunto_connect import Sandbox
from apunto_connect.demo import demo_invoice
from apunto_connect.invoicing.facturama.spec import SPEC as FACTURAMA
from apunto_connect.vendor_spec import VendorSpec, assumed, official

LISTING = ["value.list_oldest_first"]


def test_a_facturama_stamp_flow_reports_what_it_relied_on_and_nothing_else():
    with Sandbox(seed=1) as sb:
        assert sb.assumptions_used() == {}  # building the emulators relies on nothing
        facturama = sb.invoice_provider("facturama")
        stamped = facturama.stamp(demo_invoice("51"))
        facturama.download(stamped.id, "xml")
        # Stamping and fetching by Facturama's id use official facts only.
        assert sb.assumptions_used() == {}
        facturama.get(stamped.uuid)  # a UUID is searched in the (assumed) paged listing
        assert sb.assumptions_used() == {"facturama": LISTING}
        list(facturama.list(date_start=date(2020, 1, 1)))  # the date format is official
        assert sb.assumptions_used() == {"facturama": LISTING}
        assert set(sb.assumptions_used()["facturama"]) <= set(FACTURAMA.assumed())


def test_forget_starts_afresh_and_sandboxes_do_not_share_a_record():
    with Sandbox() as first, Sandbox() as second:
        provider = first.invoice_provider("facturama")
        list(provider.list())
        assert first.assumptions_used() == {"facturama": LISTING}
        assert second.assumptions_used() == {}
        first.forget_assumptions_used()
        assert first.assumptions_used() == {}


def test_other_vendors_report_under_their_own_name():
    with Sandbox(seed=2) as sb:
        sb.invoice_provider("facturama").stamp(demo_invoice("52"))
        sb.invoice_provider("alegra").stamp(demo_invoice("53"))
        used = sb.assumptions_used()
        assert list(used) == ["alegra"]
        assert "field.item.unit_key" in used["alegra"]
        assert "field.item.product_key" not in used["alegra"]  # public-integration now


def test_the_module_spec_never_records_and_its_copies_do():
    oldest_first = FACTURAMA["value.list_oldest_first"]  # as a mapper given no spec reads it
    assert oldest_first is True
    assert FACTURAMA.assumptions_used() == []
    with Sandbox() as sb:
        sb.invoice_provider("facturama")
        assert sb.assumptions_used() == {}  # the shared read is nobody's flow
    copy = FACTURAMA.with_overrides(None)
    assert copy.peek("value.list_oldest_first") is True
    assert copy.assumptions_used() == []  # peek() never records
    assert copy["value.list_oldest_first"] is True
    assert copy.assumptions_used() == ["value.list_oldest_first"]


def test_a_spec_records_only_assumed_facts_and_only_when_asked_to():
    facts = {"path.a": assumed("a", "searched x"), "path.b": official("b", "docs")}
    shared = VendorSpec("demo", facts, record=False)
    assert (shared["path.a"], shared["path.b"]) == ("a", "b")
    assert shared.assumptions_used() == []
    own = shared.with_overrides({"path.b": "B"})
    assert own.record
    assert (own["path.a"], own["path.b"]) == ("a", "B")
    assert own.assumptions_used() == ["path.a"]
