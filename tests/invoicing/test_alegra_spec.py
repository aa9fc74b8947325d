"""Alegra's SPEC: evidence on every fact, spec= overrides, the deprecated api= and the clocks."""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pytest

from apunto_connect import Sandbox
from apunto_connect.errors import ConfigurationError
from apunto_connect.invoicing.alegra import ALEGRA_API, SPEC, AlegraProvider
from apunto_connect.models.invoices import CancelMotive
from apunto_connect.sandbox import SandboxClock
from tests.factories import fixture_invoice
from tests.fakes import ScriptedAdapter, session_with

FIXTURES = Path(__file__).parent / "fixtures" / "alegra"
START = 1_772_467_200  # 2026-03-02 10:00 in Mexico City


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def scripted(*answers: bytes, **kwargs) -> tuple[AlegraProvider, ScriptedAdapter]:
    adapter = ScriptedAdapter(*((200, body) for body in answers))
    provider = AlegraProvider(
        email="ops@forwarder.example",
        token="tok-1234567890",
        session=session_with(adapter),
        sleep=lambda s: None,
        **kwargs,
    )
    return provider, adapter


def test_every_fact_says_where_it_comes_from():
    assert SPEC.vendor == "alegra"
    for key in SPEC:
        fact = SPEC.fact(key)
        assert key.split(".")[0] in {"path", "field", "header", "limit", "value"}, key
        assert fact.source in {"official", "public-integration", "assumed"}, key
        assert fact.evidence.strip(), f"{key} has no evidence"
    # The facts the evidence page could not confirm stay marked as assumed.
    for key in (
        "field.cancel.motive",
        "field.cancel.replacement",
        "field.item.unit_key",
        "field.tax.factor",
    ):
        assert SPEC.fact(key).source == "assumed", key


def test_spec_overrides_reach_the_wire_and_unknown_keys_are_refused():
    void = json.dumps(load("invoice_void.json")).encode()
    provider, adapter = scripted(
        void, spec={"path.void": "invoices/{id}/annul", "field.cancel.motive": "reason.code"}
    )
    provider.cancel("2047", CancelMotive.WITHOUT_RELATION)
    assert adapter.requests[0].url.endswith("/invoices/2047/annul")
    assert json.loads(adapter.requests[0].body) == {"reason": {"code": "02"}}
    assert provider.spec.fact("path.void").source == "override"
    assert SPEC["path.void"] == "invoices/{id}/void"  # the shared spec is never changed
    with pytest.raises(ConfigurationError, match=r"field\.cancel\.motiv"):
        AlegraProvider(
            email="ops@forwarder.example", token="t" * 12, spec={"field.cancel.motiv": "x"}
        )


def test_the_old_api_keyword_still_works_with_a_deprecation_warning():
    void = json.dumps(load("invoice_void.json")).encode()
    with pytest.warns(DeprecationWarning, match="spec="):
        provider, adapter = scripted(void, api={"cancel.motive": "motivo"})
    provider.cancel("2047", CancelMotive.WITHOUT_RELATION)
    assert json.loads(adapter.requests[0].body) == {"motivo": "02"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ConfigurationError, match=r"path\.vodi"):
            AlegraProvider(email="ops@forwarder.example", token="t" * 12, api={"path.vodi": "x"})


def test_the_old_table_is_a_read_only_view_of_the_spec():
    assert ALEGRA_API["cancel.motive"] == SPEC["field.cancel.motive"]
    assert ALEGRA_API["path.void"] == SPEC["path.void"]
    with pytest.raises(TypeError):
        ALEGRA_API["path.void"] = "x"  # type: ignore[index]


def test_each_provider_records_the_assumptions_its_flows_relied_on():
    with Sandbox(seed=4, vendors=["alegra"], clock=SandboxClock(start=START)) as sandbox:
        used = sandbox.invoice_provider("alegra")
        idle = sandbox.invoice_provider("alegra")
        used.stamp(fixture_invoice("alegra/invoice.json"))
    relied = used.spec.assumptions_used()
    assert {"field.invoice.payment_method", "field.item.unit_key", "field.tax.factor"} <= set(relied)
    # public-integration now: the régimen's name and the stamp block are no longer guesses
    assert not {"field.contact.regime", "field.answer.uuid", "field.answer.stamped_at"} & set(relied)
    assert "field.cancel.motive" not in relied  # nothing was cancelled
    assert idle.spec.assumptions_used() == []


def test_now_gives_the_invoice_date_in_mexico_city():
    # 05:30 UTC on 3 March is still 2 March in Mexico City (UTC-6).
    moment = datetime(2026, 3, 3, 5, 30, tzinfo=timezone.utc)
    with Sandbox(seed=4, vendors=["alegra"], clock=SandboxClock(start=START)) as sandbox:
        provider = sandbox.invoice_provider("alegra", now=lambda: moment)
        stamped = provider.stamp(fixture_invoice("alegra/invoice.json"))
    assert stamped.issued_at is not None and stamped.issued_at.date().isoformat() == "2026-03-02"


def test_the_rate_headers_named_in_the_spec_are_the_ones_read():
    provider, _ = scripted(
        spec={
            "header.rate_limit": "X-Budget",
            "header.rate_remaining": "X-Left",
            "header.rate_reset": "X-Reset",
        }
    )
    provider.rate_limiter.observe({"X-Budget": "40", "X-Left": "0", "X-Reset": "30"})
    assert provider.rate_limiter.limit == 40 and provider.rate_limiter.tokens == 0
