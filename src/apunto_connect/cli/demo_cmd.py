"""``apunto-connect demo``: the main job end to end on built-in data and emulators."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..demo import DemoStep, run_demo

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``demo`` command."""
    parser = sub.add_parser("demo", help="run the main job end to end, offline")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=_run)


def _print_step(step: DemoStep) -> None:
    mark = "ok  " if step.ok else "FAIL"
    print(f"[{mark}] {step.name:<10} {step.detail}")


def _run(args: argparse.Namespace) -> int:
    report = run_demo(progress=None if args.json else _print_step)
    if args.json:
        steps = [
            {"name": s.name, "ok": s.ok, "detail": s.detail, "data": s.data} for s in report.steps
        ]
        print(json.dumps({"ok": report.ok, "steps": steps}, indent=2, ensure_ascii=False))
    else:
        print("demo finished: " + ("all steps ok" if report.ok else "some steps failed"))
    return 0 if report.ok else 1
