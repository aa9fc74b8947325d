"""``apunto-connect demo``: the main job end to end on the built-in emulators."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ..demo import DemoReport, DemoStep, run_demo

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``demo`` command."""
    parser = sub.add_parser("demo", help="run the main job end to end, offline")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--output", default="demo-output", help="folder for the archived XML/PDF (default: %(default)s)"
    )
    parser.set_defaults(handler=_run)


def _print_step(step: DemoStep) -> None:
    mark = "skip" if step.skipped else "ok  " if step.ok else "FAIL"
    print(f"[{mark}] {step.name:<22} {step.detail}  ({step.seconds:.2f}s)", flush=True)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _summary(report: DemoReport) -> str:
    rows = [["vendor", "UUID", "total", "parsed", "archived files", "cancel"]]
    for stamp in report.stamps:
        rows.append([
            stamp.provider,
            stamp.uuid or f"failed: {stamp.error[:40]}",
            stamp.total,
            "yes" if stamp.parsed else "no",
            str(len(stamp.files)),
            stamp.cancelled or "-",
        ])
    parts = ["", "Invoices", _table(rows)]
    if report.trip:
        parts += ["", f"Land trip (ControlT): Travel ID {report.trip.get('travel_id')}, "
                      f"{' → '.join(dict.fromkeys(report.trip.get('statuses', [])))}"]
    if report.payment:
        p = report.payment
        parts += [f"Payment receipt ({p['vendor']}): instalment {p['installment']} of invoice "
                  f"{p['invoice_uuid']}: {p['previous_balance']} - {p['amount_paid']} = "
                  f"{p['remaining_balance']} still open"
                  + (f", receipt {p['receipt_uuid']}" if p.get("receipt_uuid") else
                     " (built offline, not stamped)")]
    if report.waybill:
        w = report.waybill
        parts += [f"Carta Porte: trip {w['trip']}, truck {w['plate']}, {w['operator']}, "
                  f"{w['distance_km']} km, IdCCP {w['id_ccp']}"
                  + (f", CFDI {w['uuid']} ({w['vendor']})" if w.get("uuid") else
                     " (built offline, not stamped)")]
    if report.container:
        parts += [f"Ocean container (ShipsGo): {report.container.get('container')} "
                  f"{report.container.get('status')}, ETA {report.container.get('eta')} "
                  f"at {report.container.get('port_of_discharge')}"]
    parts += [f"Archived files: {report.archive_dir}"]
    return "\n".join(parts)


def _run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    report = run_demo(progress=None if args.json else _print_step, archive_dir=args.output)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        print(_summary(report))
        skipped = [step.name for step in report.steps if step.skipped]
        verdict = "all steps ok" if report.ok else "some steps failed"
        if report.ok and skipped:
            verdict += f" ({len(skipped)} skipped: {', '.join(skipped)})"
        print(f"demo finished in {time.perf_counter() - started:.1f}s: {verdict}")
    return 0 if report.ok else 1
