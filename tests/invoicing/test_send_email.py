"""provider.send_email(ref, to=[...]) at every invoicing vendor, against the emulators."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from apunto_connect import Sandbox
from apunto_connect.demo import demo_invoice
from apunto_connect.errors import ProviderError, UnsupportedOperation, ValidationError
from apunto_connect.models.common import Capability

TO = ["cxp@cliente.example", "conta@cliente.example"]


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=3) as sandbox:
        yield sandbox


def count_requests(sb: Sandbox) -> list[str]:
    """The URL of every request the sandbox's session answers from now on."""
    seen: list[str] = []
    sb.session.hooks["response"].append(lambda response, **_: seen.append(response.url))
    return seen


def sent_to(sb: Sandbox, vendor: str, ref: str) -> list[str]:
    """The addresses the vendor's emulator says it e-mailed ``ref`` to."""
    emulator: Any = sb.emulator(vendor)
    if vendor == "facturama":
        return [m["email"] for m in emulator.outbox if m["id"] == ref]
    if vendor == "alegra":
        return list(emulator.invoices[ref].emails)
    if vendor == "contadigital":
        return list(emulator.invoices[int(ref)].emails)
    return [c for m in emulator.outbox if m["ref"] == ref for c in m["Correos"]]


@pytest.mark.parametrize("vendor", ["facturama", "alegra", "enlace_fiscal", "contadigital"])
def test_send_email_reaches_the_vendor(sb, vendor):
    provider = sb.invoice_provider(vendor)
    assert Capability.SEND_EMAIL in provider.capabilities
    stamped = provider.stamp(demo_invoice("41"))
    answer = provider.send_email(stamped.id, [*TO, " CXP@cliente.example "])  # a repeat
    assert isinstance(answer, str)
    assert sent_to(sb, vendor, stamped.id) == TO


@pytest.mark.parametrize("vendor", ["facturama", "alegra", "enlace_fiscal", "contadigital"])
@pytest.mark.parametrize(
    ("to", "field"), [([], "to"), (["sin-arroba"], "to[0]"), (["a@b.mx", "a b@c.mx"], "to[1]")]
)
def test_bad_addresses_fail_before_any_request(sb, vendor, to, field):
    provider = sb.invoice_provider(vendor)
    seen = count_requests(sb)
    with pytest.raises(ValidationError) as caught:
        provider.send_email("1", to)
    assert [issue.field for issue in caught.value.issues] == [field]
    assert seen == []


@pytest.mark.parametrize(
    ("vendor", "option"),
    [
        ("facturama", "message"),
        ("alegra", "message"),
        ("alegra", "subject"),
        ("enlace_fiscal", "subject"),
        ("contadigital", "message"),
        ("contadigital", "subject"),
    ],
)
def test_an_option_the_vendor_cannot_carry_is_refused_before_any_request(sb, vendor, option):
    provider = sb.invoice_provider(vendor)
    seen = count_requests(sb)
    with pytest.raises(ValidationError) as caught:
        provider.send_email("1", TO, **{option: "Su factura"})
    assert [issue.field for issue in caught.value.issues] == [option]
    assert seen == []


def test_facturama_sends_one_request_per_address_with_the_subject(sb):
    provider = sb.invoice_provider("facturama")
    stamped = provider.stamp(demo_invoice("42"))
    seen = count_requests(sb)
    provider.send_email(stamped.id, TO, subject="Factura 42")
    assert len(seen) == 2
    assert all("cfdiType=issued" in url and f"cfdiId={stamped.id}" in url for url in seen)
    assert [m["subject"] for m in sb.emulator("facturama").outbox] == ["Factura 42"] * 2


def test_facturama_refusal_keeps_its_text(sb):
    provider = sb.invoice_provider("facturama")
    with pytest.raises(ProviderError, match="No se encontró el CFDI"):
        provider.send_email("no-such-id", TO)


def test_alegra_sends_the_addresses_in_one_body(sb):
    provider = sb.invoice_provider("alegra")
    stamped = provider.stamp(demo_invoice("43"))
    assert provider.send_email(stamped.id, TO) == "La factura fue enviada por correo"


def test_actiun_has_no_email_call(sb):
    provider = sb.invoice_provider("actiun")
    assert Capability.SEND_EMAIL not in provider.capabilities
    seen = count_requests(sb)
    with pytest.raises(UnsupportedOperation, match="send_email"):
        provider.send_email("1", TO)
    assert seen == []


def test_contadigital_former_name_still_sends(sb):
    provider = sb.invoice_provider("contadigital")
    stamped = provider.stamp(demo_invoice("44"))
    with pytest.warns(DeprecationWarning, match="send_email"):
        provider.send_by_email(stamped.id, TO[0])
    assert sent_to(sb, "contadigital", stamped.id) == [TO[0]]


@pytest.mark.parametrize(
    ("vendor", "path"),
    [
        ("facturama", "*/cfdi"),
        ("alegra", "*/email"),
        ("enlace_fiscal", "*/enviarcorreo"),
        ("contadigital", "*/enviar.json/*"),
    ],
)
def test_a_lost_answer_is_not_retried_so_nothing_is_sent_twice(vendor, path):
    from apunto_connect.errors import TransportError
    from apunto_connect.sandbox import Fault, FaultKind

    with Sandbox(seed=4) as sb:
        provider = sb.invoice_provider(vendor)
        stamped = provider.stamp(demo_invoice("45"))
        sb.faults.add(Fault(FaultKind.DROP_AFTER, vendor=vendor, method="*", path=path))
        with pytest.raises(TransportError):
            provider.send_email(stamped.id, TO[:1])
        assert sent_to(sb, vendor, stamped.id) == TO[:1]  # processed once, never repeated
