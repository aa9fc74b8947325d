"""Codes outside the SAT's catalogs are refused before any call, and by every emulator."""

from __future__ import annotations

from decimal import Decimal

import pytest

import apunto_connect.sat
from apunto_connect import Sandbox
from apunto_connect.errors import ApuntoError, ValidationError
from apunto_connect.models import Customer, Invoice, Issuer, LineItem, Tax
from apunto_connect.registry import available_providers
from apunto_connect.sandbox import EMULATORS

PROVIDERS = [name for name in available_providers("invoicing") if name in EMULATORS]
CUSTOMER = Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015", cfdi_use="G03")

# (what is wrong, the line's product code, unit code, the SAT code a PAC answers)
BROKEN = [
    ("product", "99999999", "E48", "CFDI40162"),
    ("unit", "78101802", "ZZZ", "CFDI40165"),
]


# Vendors whose answer carries the PAC's text. Actiun only says the invoice stayed a draft (its
# API gives no reason), and ContaDigital refuses an unknown unit itself, before its PAC.
RELAY_THE_PAC = frozenset({"facturama", "alegra", "enlace_fiscal"})


def invoice(product_code: str, unit_code: str, folio: str) -> Invoice:
    line = LineItem(product_code, unit_code, "Flete terrestre", 1, Decimal("1000"),
                    unit_name="Servicio", taxes=[Tax.iva()], sku="FLETE", name="Flete terrestre")  # fmt: skip
    return Invoice(CUSTOMER, [line], folio=folio, payment_form="03")


def stamped_documents(sb: Sandbox, name: str) -> int:
    """How many CFDI the emulator stamped (drafts left unstamped do not count)."""
    emulator = sb.emulator(name)
    if name == "actiun":
        return sum(1 for record in emulator.invoices.values() if record.sat_uuid)  # type: ignore[attr-defined]
    for attribute in ("stamped", "stamped_invoices", "invoices"):
        found = getattr(emulator, attribute, None)
        if found is not None:
            value = found() if callable(found) else found
            return len(value)
    raise AssertionError(f"cannot count {name}'s documents")


def test_every_invoicing_vendor_is_covered() -> None:
    assert {"facturama", "alegra", "enlace_fiscal", "contadigital", "actiun"} <= set(PROVIDERS)


@pytest.mark.parametrize(("what", "product", "unit", "code"), BROKEN, ids=[b[0] for b in BROKEN])
@pytest.mark.parametrize("name", PROVIDERS)
def test_refused_before_any_call(name: str, what: str, product: str, unit: str, code: str) -> None:
    with Sandbox(vendors=[name], seed=3) as sb:
        provider = sb.invoice_provider(name)
        with pytest.raises(ValidationError) as info:
            provider.stamp(invoice(product, unit, folio="901"))
        assert code in {issue.code for issue in info.value.issues}


@pytest.mark.parametrize(("what", "product", "unit", "code"), BROKEN, ids=[b[0] for b in BROKEN])
@pytest.mark.parametrize("name", PROVIDERS)
def test_refused_by_every_emulator(
    name: str, what: str, product: str, unit: str, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Switch the SDK's own pre-flight off, so the request reaches the emulated PAC.
    monkeypatch.setattr(apunto_connect.sat, "check", lambda *args, **kwargs: None)
    monkeypatch.setattr(apunto_connect.sat, "preflight", lambda *args, **kwargs: [])
    with Sandbox(vendors=[name], seed=3) as sb:
        provider = sb.invoice_provider(name)
        with pytest.raises(ApuntoError) as info:
            provider.stamp(invoice(product, unit, folio="902"))
        if name in RELAY_THE_PAC:
            assert code in str(info.value), str(info.value)
        assert stamped_documents(sb, name) == 0


def test_a_postal_code_outside_the_catalog_is_refused_by_the_shared_stamping_path() -> None:
    from apunto_connect.sandbox.documents import issue_document
    from apunto_connect.sandbox.framework import SandboxClock

    issuer = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "00001")
    with pytest.raises(ValidationError) as info:
        issue_document(invoice("78101802", "E48", "1"), issuer, clock=SandboxClock())
    assert [i.code for i in info.value.issues] == ["CFDI40126"]
