"""``provider.with_options(...)``: other transport defaults, the same sessions, journal and events."""

from __future__ import annotations

import pytest

from apunto_connect import Sandbox
from apunto_connect.errors import ServerError, Timeout
from apunto_connect.sandbox import Fault, FaultKind
from tests.exactly_once.stamp_worker import VENDORS, invoice_for

READS = {
    "facturama": "*/cfdi/*", "alegra": "*/invoices/*", "enlace_fiscal": "*informacionCfdi",
    "contadigital": "*/factura.json/*", "actiun": "*/invoices/*",
}


@pytest.mark.parametrize("vendor", VENDORS)
def test_fewer_retries_on_the_copy_only(vendor: str) -> None:
    with Sandbox(vendors=[vendor], seed=3) as sb:
        if vendor == "actiun":
            sb.emulator("actiun").stamping_seconds = 0.0  # type: ignore[attr-defined]
        provider = sb.invoice_provider(vendor)
        stamped = provider.stamp(invoice_for("901"), idempotency_key="k-901")
        method = "POST" if vendor == "enlace_fiscal" else "GET"
        sb.faults.add(Fault(FaultKind.SERVER_ERROR, vendor=vendor, method=method,
                            path=READS[vendor], times=1, status=503))
        strict = provider.with_options(max_retries=0)
        with pytest.raises(ServerError):
            strict.get(stamped.id)
        sb.faults.add(Fault(FaultKind.SERVER_ERROR, vendor=vendor, method=method,
                            path=READS[vendor], times=1, status=503))
        assert provider.get(stamped.id).uuid == stamped.uuid  # the original still retries
        assert strict.journal is provider.journal and strict.events is provider.events
        assert type(strict) is type(provider)


def test_a_deadline_bounds_the_whole_call() -> None:
    late = Fault(FaultKind.LATE_COMMIT, vendor="facturama", method="POST", path="*/cfdis",
                 latency=0.5)
    with Sandbox(vendors=["facturama"], faults=[late]) as sb:
        provider = sb.invoice_provider("facturama").with_options(timeout=(1, 0.1))
        with pytest.raises(Timeout):
            provider.stamp(invoice_for("902"), idempotency_key="k-902")
