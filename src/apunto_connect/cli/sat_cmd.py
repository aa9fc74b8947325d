"""``apunto-connect sat status FILE.xml|DIR|ZIP``: ask the SAT whether CFDI are still valid.

Reads every stamped CFDI (a file, a folder searched recursively, or a ZIP), asks the SAT's
public status service about each with a bounded number of requests in flight and a pause between
request starts, and prints one line per document (``--json`` / ``--csv`` for the full rows).
``--sandbox`` asks the emulated SAT instead, which is told about the documents first, so the
command can be tried offline.

Exit codes: 0 every document answered; 3 some could not be read or asked (the rows say why).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``sat`` command group."""
    parser = sub.add_parser("sat", help="ask the SAT about CFDI (status, cancellability)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="state of each CFDI at the SAT")
    status.add_argument("path", metavar="FILE.xml|DIR|ZIP")
    status.add_argument("--workers", type=int, default=4, help="requests in flight (1-16)")
    status.add_argument(
        "--interval", type=float, default=0.25, help="seconds between request starts"
    )
    status.add_argument("--base-url", help="another service URL (an emulator's)")
    status.add_argument("--sandbox", action="store_true", help="ask the offline emulated SAT")
    status.add_argument("--json", action="store_true", help="print every row as JSON")
    status.add_argument("--csv", metavar="FILE", help="also write every row to a CSV file")
    status.set_defaults(handler=_status)


def _sandbox_client(documents: list[Any]) -> Any:
    """A client of the emulated SAT, told about ``documents`` first (as their PAC would)."""
    from ..sat.cfdi_status import SatStatusClient
    from ._providers import shared_sandbox

    sandbox = shared_sandbox()
    emulator = sandbox.emulator("sat_status")
    for cfdi in documents:
        if cfdi.stamp is not None:
            emulator.register(cfdi.stamp.uuid, cfdi.issuer.rfc, cfdi.receiver.rfc, cfdi.total)
    return SatStatusClient(**sandbox.provider_kwargs("sat_status"))


def _status(args: argparse.Namespace) -> int:
    from ..cfdi import parse_many
    from ..sat.cfdi_status import STATUS_COLUMNS, SatStatusClient

    stream = parse_many(args.path, errors="collect")
    documents: Any = stream  # read lazily against the real service
    if args.sandbox:
        documents = list(stream)
        client = _sandbox_client(documents)
    else:
        client = SatStatusClient(args.base_url) if args.base_url else SatStatusClient()
    with client:
        rows = client.status_many(documents, workers=args.workers, min_interval=args.interval)
    for failure in stream.failures:
        rows.append({**dict.fromkeys(STATUS_COLUMNS), "source": failure.source,
                     "error": failure.message})  # fmt: skip
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(STATUS_COLUMNS))
            writer.writeheader()
            writer.writerows(rows)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
    else:
        for row in rows:
            name = row["source"] or row["uuid"] or "-"
            if row["error"]:
                print(f"ERROR      {name}: {row['error']}")
            else:
                print(f"{row['estado']:<13} {row['es_cancelable'] or '-':<27} {name}")
        _summary(rows)
    return 3 if any(row["error"] for row in rows) else 0


def _summary(rows: list[dict[str, Any]]) -> None:
    counts: dict[str, int] = {}
    for row in rows:
        key = "error" if row["error"] else str(row["estado"])
        counts[key] = counts.get(key, 0) + 1
    parts = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
    print(f"{len(rows)} documents: {parts}", file=sys.stderr)
