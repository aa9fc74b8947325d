"""A worker process that stamps one batch with ``stamp_many`` over the loopback sandbox.

Run as ``python tests/exactly_once/many_worker.py VENDOR BASE_URL JOURNAL COUNT CONCURRENCY``;
stamps folios ``1..COUNT`` with keys ``many-N`` and prints the batch summary as one JSON line
(unless it is killed first, which is what the test does).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stamp_worker import invoice_for, loopback_provider


def main(argv: list[str]) -> int:
    vendor, base_url, journal, count, concurrency = argv[:5]
    folios = [str(n) for n in range(1, int(count) + 1)]
    provider = loopback_provider(vendor, base_url, journal, read_timeout=30.0)
    print(json.dumps({"ready": True}), flush=True)
    batch = provider.stamp_many([invoice_for(folio) for folio in folios],
                                concurrency=int(concurrency),
                                idempotency_keys=[f"many-{folio}" for folio in folios])
    summary = batch.summary()
    print(json.dumps({"stamped": summary.stamped, "already_done": summary.already_done,
                      "failed": sum(summary.failed.values())}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
