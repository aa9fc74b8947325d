"""The main job, end to end, on built-in data: what ``apunto-connect demo`` runs.

Each step returns plain data so the CLI can print a table or JSON, and notebooks can reuse it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from .errors import Issue, Severity
from .models import Customer, Invoice, Issuer, LineItem, Tax, to_dict

__all__ = ["DemoReport", "DemoStep", "demo_invoice", "run_demo"]

DEMO_ISSUER = Issuer(
    rfc="EKU9003173C9", legal_name="ESCUELA KEMPER URGATE", tax_regime="601", zip_code="26015"
)


@attrs.define
class DemoStep:
    """One step of the demo: a name, whether it worked, and what it produced."""

    name: str
    ok: bool
    detail: str
    data: dict[str, Any] = attrs.field(factory=dict)


@attrs.define
class DemoReport:
    """Everything the demo did, in order."""

    steps: list[DemoStep] = attrs.field(factory=list)

    @property
    def ok(self) -> bool:
        """``True`` when every step worked."""
        return all(step.ok for step in self.steps)


def demo_invoice() -> Invoice:
    """A realistic freight-forwarder invoice: land freight with 4 % IVA withholding, plus fees."""
    customer = Customer(
        rfc="XIA190128J61",
        legal_name="XENON INDUSTRIAL ARTICLES",
        tax_regime="601",
        zip_code="76343",
        cfdi_use="G03",
        email="cuentas@example.com",
    )
    return Invoice(
        issuer=DEMO_ISSUER,
        customer=customer,
        series="F",
        folio="1001",
        payment_form="03",
        issued_at=datetime(2026, 11, 20, 10, 30),
        items=[
            LineItem(
                product_code="78101802",
                unit_code="E48",
                unit_name="Unidad de servicio",
                description="Flete terrestre Manzanillo - Querétaro, contenedor 40HC",
                quantity=1,
                unit_price=Decimal("28500.00"),
                taxes=[Tax.iva(), Tax.iva_withholding("0.04")],
                sku="FLETE-TERR",
                name="Flete terrestre",
            ),
            LineItem(
                product_code="78141500",
                unit_code="E48",
                unit_name="Unidad de servicio",
                description="Maniobras de carga y descarga en patio",
                quantity=Decimal("2.5"),
                unit_price=Decimal("1180.40"),
                discount=Decimal("100"),
                taxes=[Tax.iva()],
                sku="MANIOBRAS",
                name="Maniobras",
            ),
        ],
    )


def _validate(invoice: Invoice) -> DemoStep:
    from .sat import preflight

    issues: list[Issue] = preflight(invoice)
    errors = [i for i in issues if i.severity is Severity.ERROR]
    return DemoStep(
        name="validate",
        ok=not errors,
        detail=f"{len(errors)} errors, {len(issues) - len(errors)} warnings",
        data={"issues": [str(i) for i in issues]},
    )


def _totals(invoice: Invoice) -> DemoStep:
    totals = invoice.totals
    return DemoStep(
        name="totals",
        ok=True,
        detail=(
            f"subtotal {totals.subtotal} - discount {totals.discount} + IVA "
            f"{totals.total_transferred} - withheld {totals.total_withheld} = "
            f"{totals.total} {invoice.currency}"
        ),
        data=to_dict(totals),
    )


def run_demo(progress: Callable[[DemoStep], None] | None = None) -> DemoReport:
    """Run every demo step in order; ``progress`` is called after each one."""
    report = DemoReport()
    invoice = demo_invoice()
    build_step = DemoStep(
        name="build",
        ok=True,
        detail=f"invoice {invoice.series}-{invoice.folio} for {invoice.customer.legal_name}, "
        f"{len(invoice.items)} lines",
        data=to_dict(invoice),
    )
    for step in (build_step, _totals(invoice), _validate(invoice)):
        report.steps.append(step)
        if progress is not None:
            progress(step)
    return report
