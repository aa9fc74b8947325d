"""A worker process that stamps a list of invoices over the loopback sandbox, one key each.

Run as ``python tests/exactly_once/batch_worker.py VENDOR BASE_URL JOURNAL LEASE FOLIO,FOLIO,...``;
prints one JSON line per invoice as it finishes: ``{"folio": ..., "ok": ..., "uuid"|"error": ...}``.
The key of folio ``N`` is ``batch-N``: two workers given the same folio race for one key.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stamp_worker import invoice_for, loopback_provider


def main(argv: list[str]) -> int:
    vendor, base_url, journal, lease, folios = argv[:5]
    provider = loopback_provider(vendor, base_url, journal, read_timeout=30.0)
    provider.lease_seconds = float(lease)
    print(json.dumps({"ready": True}), flush=True)
    for folio in folios.split(","):
        try:
            stamped = provider.stamp(invoice_for(folio), idempotency_key=f"batch-{folio}")
        except Exception as exc:  # reported to the parent test, which decides
            print(json.dumps({"folio": folio, "ok": False, "error": type(exc).__name__,
                              "message": str(exc)}), flush=True)
            continue
        print(json.dumps({"folio": folio, "ok": True, "uuid": stamped.uuid}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
