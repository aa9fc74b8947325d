"""The main job, end to end, on the built-in emulators: what ``apunto-connect demo`` runs.

1. build a freight invoice and compute its totals;
2. validate it, and show the pre-flight issues of a badly registered customer;
3. stamp the same invoice with every invoicing vendor, download and parse each CFDI;
4. archive every XML and PDF to a local folder and to (emulated) Google Drive (without the
   ``sandbox`` extra the emulators draw no PDFs: the demo then keeps the XML only and says so);
5. cancel one invoice;
6. issue a payment receipt (Pagos 2.0) for the first instalment of a PPD invoice;
7. run a ControlT land trip through its whole lifecycle;
8. build (and stamp) the Carta Porte 3.1 of that trip;
9. follow a ShipsGo container until it has an ETA.

A vendor that cannot stamp a document reports the step as skipped with the reason, and the
document is built and read back offline instead, so the demo still shows what it would send.

Each step returns plain data so the CLI can print a table or JSON and notebooks can reuse it.
Nothing here touches the network: every vendor is an in-process emulator.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from ._extras import install_hint, missing_modules
from .errors import ApuntoError, Issue, Severity
from .models import (
    CancelMotive,
    Capability,
    Customer,
    Invoice,
    Issuer,
    LineItem,
    StampedInvoice,
    Tax,
    to_dict,
)

__all__ = [
    "DEMO_ISSUER",
    "DemoReport",
    "DemoStep",
    "StampResult",
    "StepSkipped",
    "demo_invoice",
    "run_demo",
]

DEMO_ISSUER = Issuer(
    rfc="EKU9003173C9", legal_name="ESCUELA KEMPER URGATE", tax_regime="601", zip_code="26015"
)


@attrs.define
class DemoStep:
    """One step of the demo: a name, whether it worked, and what it produced.

    A skipped step (``skipped=True``, the reason in ``detail``) counts as ok: the vendor lacks
    the capability, which is not a failure of the demo.
    """

    name: str
    ok: bool
    detail: str
    data: dict[str, Any] = attrs.field(factory=dict)
    seconds: float = 0.0
    skipped: bool = False


class StepSkipped(Exception):
    """Raised by a step that cannot run here; ``reason`` says why, ``data`` what it did do."""

    def __init__(self, reason: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.data = data or {}


@attrs.define
class StampResult:
    """One vendor's stamp of the demo invoice, and where its files went."""

    provider: str
    uuid: str = ""
    total: str = ""
    parsed: bool = False
    files: list[str] = attrs.field(factory=list)
    cancelled: str = ""
    error: str = ""


@attrs.define
class DemoReport:
    """Everything the demo did, in order, plus the summary table rows."""

    steps: list[DemoStep] = attrs.field(factory=list)
    stamps: list[StampResult] = attrs.field(factory=list)
    trip: dict[str, Any] = attrs.field(factory=dict)
    container: dict[str, Any] = attrs.field(factory=dict)
    archive_dir: str = ""
    payment: dict[str, Any] = attrs.field(factory=dict)
    waybill: dict[str, Any] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        """``True`` when every step worked."""
        return all(step.ok for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        """Machine-readable form (``apunto-connect demo --json``)."""
        return {
            "ok": self.ok,
            "steps": [attrs.asdict(step) for step in self.steps],
            "invoices": [attrs.asdict(stamp) for stamp in self.stamps],
            "trip": self.trip,
            "payment": self.payment,
            "waybill": self.waybill,
            "container": self.container,
            "archive_dir": self.archive_dir,
        }


def demo_customer() -> Customer:
    """The receiver of the demo invoice: the SAT's test taxpayer, registered correctly."""
    return Customer(
        rfc="EKU9003173C9",
        legal_name="ESCUELA KEMPER URGATE",
        tax_regime="601",
        zip_code="26015",
        cfdi_use="G03",
        email="cuentas@example.com",
    )


def demo_invoice(folio: str = "1001") -> Invoice:
    """A realistic freight-forwarder invoice: land freight with 4 % IVA withholding, plus fees."""
    return Invoice(
        issuer=DEMO_ISSUER,
        customer=demo_customer(),
        folio=folio,
        payment_form="03",
        # No fixed date: the vendors stamp at their own "now" (the SAT refuses documents dated
        # more than 72 hours before stamping, so a fixed date would expire the demo).
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


def bad_customer_invoice() -> Invoice:
    """The same invoice for a customer registered the way people often get wrong."""
    bad = Customer(
        rfc="EKU9003173C9",
        legal_name="Escuela Kemper Urgate, S.A. de C.V.",  # régimen capital must not be sent
        tax_regime="612",  # a persona física régimen on a 12-character (moral) RFC
        zip_code="2601",  # not five digits
        cfdi_use="D01",  # deducciones personales: only for personas físicas
    )
    return demo_invoice().with_changes(customer=bad, payment_method="PPD", payment_form="03")


class _Runner:
    """Times each step, turns expected failures into failed steps, reports progress."""

    def __init__(self, report: DemoReport, progress: Callable[[DemoStep], None] | None) -> None:
        self.report = report
        self.progress = progress

    def step(self, name: str, action: Callable[[], tuple[bool, str, dict[str, Any]]]) -> DemoStep:
        started = time.perf_counter()
        skipped = False
        try:
            ok, detail, data = action()
        except StepSkipped as skip:
            ok, detail, data, skipped = True, f"skipped: {skip.reason}", skip.data, True
        except ApuntoError as exc:
            ok, detail, data = False, f"{type(exc).__name__}: {exc}", {}
        step = DemoStep(name, ok, detail, data, round(time.perf_counter() - started, 3), skipped)
        self.report.steps.append(step)
        if self.progress is not None:
            self.progress(step)
        return step


def _issues(issues: list[Issue]) -> list[dict[str, str]]:
    return [
        {"field": i.field, "code": i.code, "severity": i.severity.value, "message": i.message}
        for i in issues
    ]


def run_demo(
    progress: Callable[[DemoStep], None] | None = None,
    archive_dir: str | Path = "demo-output",
) -> DemoReport:
    """Run every demo step in order; ``progress`` is called after each one."""
    from .archiving import archive
    from .cfdi import parse
    from .registry import available_providers
    from .sandbox import EMULATORS, Sandbox
    from .sat import preflight

    report = DemoReport(archive_dir=str(Path(archive_dir).resolve()))
    run = _Runner(report, progress)
    invoice = demo_invoice()

    def build() -> tuple[bool, str, dict[str, Any]]:
        totals = invoice.totals
        return True, (
            f"{len(invoice.items)} lines: subtotal {totals.subtotal} - discount {totals.discount}"
            f" + IVA {totals.total_transferred} - withheld {totals.total_withheld}"
            f" = {totals.total} {invoice.currency}"
        ), {"invoice": to_dict(invoice), "totals": to_dict(totals)}

    def validate() -> tuple[bool, str, dict[str, Any]]:
        good = preflight(invoice)
        bad = preflight(bad_customer_invoice())
        good_errors = [i for i in good if i.severity is Severity.ERROR]
        bad_errors = [i for i in bad if i.severity is Severity.ERROR]
        codes = ", ".join(sorted({i.code for i in bad_errors}))
        return (not good_errors and bool(bad_errors)), (
            f"demo invoice: {len(good_errors)} errors; badly registered customer: "
            f"{len(bad_errors)} errors caught before any call ({codes})"
        ), {"good": _issues(good), "bad_customer": _issues(bad)}

    run.step("build", build)
    run.step("validate", validate)

    vendors = [name for name in available_providers("invoicing") if name in EMULATORS]
    with Sandbox(seed=2026) as sb:
        local = sb.storage_provider("local", root=Path(archive_dir))
        # Drive is an optional extra: without it the demo archives locally only.
        with_drive = "google_drive" in EMULATORS and not missing_modules("drive")
        drive = sb.storage_provider("google_drive") if with_drive else None
        # fpdf2 is the sandbox extra: a core install stamps and archives the XML, no PDF.
        with_pdf = not missing_modules("sandbox")
        no_pdf = f"no PDF drawn (fpdf2 is missing: {install_hint('sandbox')})"
        stamped_by: dict[str, tuple[Any, StampedInvoice]] = {}

        for number, name in enumerate(vendors):
            result = StampResult(provider=name)
            report.stamps.append(result)

            def stamp(name: str = name, number: int = number, result: StampResult = result) -> tuple[bool, str, dict[str, Any]]:
                provider = sb.invoice_provider(name)
                stamped = provider.stamp(
                    demo_invoice(folio=str(1001 + number)), idempotency_key=f"demo-{name}"
                )
                cfdi = parse(provider.download(stamped.id, "xml"))
                pdf = provider.download(stamped.id, "pdf") if with_pdf else None
                result.uuid, result.total = str(stamped.uuid), str(cfdi.total)
                result.parsed = (
                    cfdi.uuid is not None
                    and cfdi.uuid.upper() == str(stamped.uuid).upper()
                    and cfdi.total == invoice.total
                )
                stamped_by[name] = (provider, stamped)
                drawn = no_pdf if pdf is None else f"PDF {len(pdf):,} bytes"
                return result.parsed and (pdf is None or pdf.startswith(b"%PDF")), (
                    f"UUID {stamped.uuid}, total {cfdi.total}, {drawn}"
                ), {"stamped": {k: v for k, v in to_dict(stamped).items() if k != "raw"}}

            if not run.step(f"stamp:{name}", stamp).ok:
                result.error = report.steps[-1].detail

        def archive_all() -> tuple[bool, str, dict[str, Any]]:
            stored = 0
            targets = [("local", local)] + ([("google_drive", drive)] if drive else [])
            for name, (provider, stamped) in stamped_by.items():
                result = next(r for r in report.stamps if r.provider == name)
                for label, storage in targets:
                    archived = archive(stamped, provider, storage, include_pdf=with_pdf)
                    files = [archived.xml] + ([archived.pdf] if archived.pdf else [])
                    result.files.extend(f"{label}:{f.id}" for f in files)
                    stored += len(files)
            where = ", ".join(label for label, _ in targets)
            kinds = "" if with_pdf else f", XML only: {no_pdf}"
            return stored > 0, (
                f"{stored} files archived to {where} (local folder {report.archive_dir}){kinds}"
            ), {}

        run.step("archive", archive_all)

        def cancel() -> tuple[bool, str, dict[str, Any]]:
            # The first vendor that can cancel (an Actiun-compatible server cannot).
            name = next(n for n, (p, _) in stamped_by.items() if p.supports(Capability.CANCEL))
            provider, stamped = stamped_by[name]
            cancellation = provider.cancel(stamped.id, CancelMotive.NOT_CARRIED_OUT)
            result = next(r for r in report.stamps if r.provider == name)
            result.cancelled = cancellation.status.value
            return True, f"{name} {stamped.uuid}: {cancellation.status.value}", {}

        if stamped_by:
            run.step("cancel", cancel)

        run.step("payment", lambda: _payment_receipt(sb, vendors, report))
        run.step("trip", lambda: _land_trip(sb, report))
        if report.trip.get("statuses", [""])[-1] == "closed":
            run.step("waybill", lambda: _waybill(sb, vendors, report))
        run.step("container", lambda: _ocean_container(sb, report))
    return report


def _land_trip(sb: Any, report: DemoReport) -> tuple[bool, str, dict[str, Any]]:
    from .models.tracking import Assignment, Driver, Shipment, TrackingStatus, Vehicle

    controlt = sb.tracking_provider("controlt")
    trip = controlt.create_tracking(
        Shipment("SRV-DEMO-0001", "land", origin="Manzanillo, Col.",
                 destination="Querétaro, Qro.", service_status="Activo")
    )
    statuses = [trip.status.value]
    trip = controlt.wait_until_created(trip.tracking_id)
    statuses.append(trip.status.value)
    trip = controlt.assign(
        trip.tracking_id,
        Assignment("TBA850101AB1", "Transportes del Bajío", Vehicle("JL-12-345", "Propia"),
                   Driver("GOMJ800101", "Juan", "Gómez", "3312345678")),
    )
    statuses.append(trip.status.value)
    trip = controlt.activate(trip.tracking_id, by="demo")
    statuses.append(trip.status.value)
    sb.clock.advance(3600)
    statuses.append(controlt.get_tracking(trip.tracking_id).status.value)
    trip = controlt.close(trip.tracking_id, by="demo")
    statuses.append(trip.status.value)
    travel_id = getattr(trip, "travel_id", None)
    report.trip = {"tracking_id": trip.tracking_id, "travel_id": travel_id, "statuses": statuses,
                   "closed_by": trip.closed_by}
    path = " → ".join(dict.fromkeys(statuses))
    return trip.status is TrackingStatus.CLOSED, f"Travel ID {travel_id}: {path}", report.trip


def _ocean_container(sb: Any, report: DemoReport) -> tuple[bool, str, dict[str, Any]]:
    from .models.tracking import Shipment

    shipsgo = sb.tracking_provider("shipsgo")
    box = shipsgo.create_tracking(
        Shipment("APT-DEMO-0001", "ocean", container_number="CSQU3054383", tags=("demo",))
    )
    sb.clock.advance(3 * 86400)
    box = shipsgo.get_tracking(box.tracking_id)
    pod = getattr(box, "port_of_discharge", None)
    port = getattr(pod, "name", None) or str(pod or "")
    eta = box.eta.isoformat() if box.eta else None
    report.container = {"tracking_id": box.tracking_id, "container": "CSQU3054383",
                        "status": box.status.value, "eta": eta, "port_of_discharge": port}
    return eta is not None, f"CSQU3054383 {box.status.value}, ETA {eta} at {port}", report.container


def _stamping_vendor(sb: Any, vendors: list[str], kind: str) -> tuple[str, str | None]:
    """The first vendor that stamps ``kind`` (and ``None``), else the first vendor and why not."""
    from .invoicing.documents import stamping_unavailable

    reasons: dict[str, str] = {}
    for name in vendors:
        reason = stamping_unavailable(sb.invoice_provider(name), kind)  # type: ignore[arg-type]
        if reason is None:
            return name, None
        reasons[name] = reason
    first = "facturama" if "facturama" in vendors else vendors[0]
    distinct = sorted(set(reasons.values()))
    return first, distinct[0] if len(distinct) == 1 else "; ".join(
        f"{n}: {r}" for n, r in reasons.items()
    )


def _payment_receipt(sb: Any, vendors: list[str], report: DemoReport) -> tuple[bool, str, dict[str, Any]]:
    """A PPD invoice, then the receipt for its first instalment (stamped where the vendor can)."""
    from .cfdi import build, parse, read_document
    from .models import PaymentReceipt
    from .sat import check

    if not vendors:
        raise StepSkipped("no invoicing emulator is available")
    name, reason = _stamping_vendor(sb, vendors, "payment")
    provider = sb.invoice_provider(name)
    ppd = demo_invoice(folio="2001").with_changes(payment_method="PPD", payment_form="99")
    stamped = provider.stamp(ppd, idempotency_key=f"demo-ppd-{name}")
    cfdi = parse(provider.download(stamped.id, "xml"))
    first_instalment = (cfdi.total / 2).quantize(Decimal("1"))
    receipt = PaymentReceipt.for_invoices(
        [cfdi], amount=first_instalment, paid_at=cfdi.issued_at, form="03",
    )
    check(receipt)
    paid = receipt.documents[0]
    report.payment = {
        "vendor": name, "invoice_uuid": str(stamped.uuid), "invoice_total": str(cfdi.total),
        "installment": paid.installment, "previous_balance": str(paid.previous_balance),
        "amount_paid": str(paid.amount_paid), "remaining_balance": str(paid.remaining_balance),
        "receipt_uuid": None,
    }
    summary = (f"PPD invoice {stamped.uuid} ({cfdi.total}): instalment {paid.installment} pays "
               f"{paid.amount_paid}, ImpSaldoInsoluto {paid.remaining_balance}")
    if reason is not None:
        xml = build(receipt)  # what a vendor would stamp, read back
        back = read_document(xml)
        if not isinstance(back, PaymentReceipt) or back.balances() != receipt.balances():
            return False, f"the receipt built offline reads back differently: {summary}", {}
        raise StepSkipped(
            f"{reason}; receipt built offline instead: {summary}", {**report.payment, "xml_bytes": len(xml)}
        )
    receipt_stamped = provider.stamp(receipt, idempotency_key=f"demo-payment-{name}")
    back = read_document(provider.download(receipt_stamped.id, "xml"))
    report.payment["receipt_uuid"] = str(receipt_stamped.uuid)
    ok = isinstance(back, PaymentReceipt) and back.balances() == receipt.balances()
    return ok, f"{name}: receipt {receipt_stamped.uuid} for {summary}", report.payment


def demo_waybill_facts() -> dict[str, Any]:
    """What the Carta Porte needs that a tracking vendor does not know (the demo's trip)."""
    from .models import WaybillGoods, WaybillLocation, WaybillTrailer, WaybillTruck

    return {
        "goods": [WaybillGoods("24112700", "Tarimas de madera con refacciones", 20, "H87",
                               "8500")],
        "origin": WaybillLocation("Origen", DEMO_ISSUER.rfc, None, "28219", "COL"),
        "destination": WaybillLocation("Destino", demo_customer().rfc, None, "76000", "QUE",
                                       distance="530"),
        "truck": WaybillTruck("TPAF01", "0X2XTXZ0X5X0X3X2X1X0", "T3S2", "40", "", 2022,
                              "SEGUROS DEL BAJIO", "POL-2026-0001",
                              trailers=[WaybillTrailer("CTR004", "1AB2345")]),
        "operator_rfc": "GOMJ800101AB1",
    }


def _waybill(sb: Any, vendors: list[str], report: DemoReport) -> tuple[bool, str, dict[str, Any]]:
    """The Carta Porte 3.1 of the demo's ControlT trip, on the freight invoice that bills it."""
    from .cfdi import build, parse
    from .models import CartaPorteInvoice, carta_porte_from_trip
    from .sat import check

    trip = sb.tracking_provider("controlt").get_tracking(report.trip["tracking_id"])
    carta_porte = carta_porte_from_trip(trip, **demo_waybill_facts())
    document = CartaPorteInvoice(demo_invoice(folio="3001"), carta_porte)
    check(document)
    report.waybill = {
        "trip": trip.tracking_id, "id_ccp": carta_porte.id_ccp,
        "plate": carta_porte.truck.plate, "operator": carta_porte.figures[0].name,
        "distance_km": str(carta_porte.total_distance),
        "gross_weight_kg": str(carta_porte.gross_weight), "vendor": None, "uuid": None,
    }
    summary = (f"trip {trip.tracking_id}: truck {carta_porte.truck.plate}, operator "
               f"{carta_porte.figures[0].name}, {carta_porte.total_distance} km, "
               f"{carta_porte.gross_weight} kg")
    name, reason = _stamping_vendor(sb, vendors, "carta_porte") if vendors else ("", "no vendor")
    if reason is not None:
        parsed = parse(build(document)).carta_porte
        if parsed is None or parsed.vehicle_plate != carta_porte.truck.plate:
            return False, f"the Carta Porte built offline reads back differently: {summary}", {}
        raise StepSkipped(f"{reason}; Carta Porte built offline instead: {summary}",
                          report.waybill)
    provider = sb.invoice_provider(name)
    stamped = provider.stamp(document, idempotency_key=f"demo-waybill-{name}")
    parsed = parse(provider.download(stamped.id, "xml")).carta_porte
    report.waybill.update(vendor=name, uuid=str(stamped.uuid))
    ok = parsed is not None and parsed.vehicle_plate == carta_porte.truck.plate
    return ok, f"{name}: CFDI {stamped.uuid} with Carta Porte for {summary}", report.waybill
