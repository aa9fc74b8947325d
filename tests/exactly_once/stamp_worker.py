"""A separate process that stamps one invoice over the loopback sandbox (for exactly-once tests).

Run as ``python tests/exactly_once/stamp_worker.py VENDOR BASE_URL JOURNAL KEY FOLIO [READ_TIMEOUT]``;
prints one JSON line: ``{"ok": true, "uuid": ...}`` or ``{"ok": false, "error": ..., ...}``.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

from apunto_connect.models import Customer, Invoice, LineItem, Tax

VENDORS = ["facturama", "alegra", "enlace_fiscal", "contadigital", "actiun"]


def invoice_for(folio: str) -> Invoice:
    """The same invoice every vendor accepts (the contract test's)."""
    customer = Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015", cfdi_use="G03")
    return Invoice(
        customer=customer,
        folio=folio,
        payment_form="03",
        items=[
            LineItem("78101802", "E48", "Flete terrestre Manzanillo - Querétaro", 1,
                     Decimal("28500"), unit_name="Servicio",
                     taxes=[Tax.iva(), Tax.iva_withholding("0.04")], sku="FLETE",
                     name="Flete terrestre"),
        ],
    )


def loopback_provider(vendor: str, base_url: str, journal: str, read_timeout: float) -> Any:
    """The vendor's provider on a loopback emulator, with the demo credentials."""
    from apunto_connect.registry import load_provider_class
    from apunto_connect.sandbox import EMULATORS, _load_emulator_class
    from apunto_connect.sandbox.enlace_fiscal import DEMO_ISSUER

    emulator_class = _load_emulator_class(EMULATORS[vendor])
    options: dict[str, Any] = {
        **emulator_class.demo_credentials,
        "base_url": base_url,
        "journal": journal,
        "timeout": (2.0, read_timeout),
    }
    if vendor == "enlace_fiscal":
        options["issuer"] = DEMO_ISSUER
    if vendor == "actiun":
        options["stamp_poll_interval"] = 0.05
    return load_provider_class("invoicing", vendor)(**options)


def main(argv: list[str]) -> int:
    vendor, base_url, journal, key, folio = argv[:5]
    read_timeout = float(argv[5]) if len(argv) > 5 else 30.0
    provider = loopback_provider(vendor, base_url, journal, read_timeout)
    print(json.dumps({"ready": True}), flush=True)
    try:
        stamped = provider.stamp(invoice_for(folio), idempotency_key=key)
    except Exception as exc:  # reported to the parent test, which decides
        print(json.dumps({"ok": False, "error": type(exc).__name__, "message": str(exc)}),
              flush=True)
        return 0
    print(json.dumps({"ok": True, "uuid": stamped.uuid}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
