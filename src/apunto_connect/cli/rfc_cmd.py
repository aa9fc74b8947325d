"""``apunto-connect rfc check RFC...``: validate RFCs the SAT way, before any vendor sees them."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``rfc`` command group."""
    parser = sub.add_parser("rfc", help="validate RFCs (format, date, homoclave, check digit)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="check one or more RFCs ('-' reads one per line)")
    check.add_argument("rfcs", nargs="+", metavar="RFC")
    check.add_argument("--strict", action="store_true", help="a wrong check digit is an error")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(handler=_check)


def _values(args: argparse.Namespace) -> list[str]:
    values: list[str] = []
    for value in args.rfcs:
        if value == "-":
            values.extend(line.strip() for line in sys.stdin if line.strip())
        else:
            values.append(value)
    return values


def _check(args: argparse.Namespace) -> int:
    from ..sat import validate_rfc

    results: list[dict[str, Any]] = []
    for value in _values(args):
        check = validate_rfc(value, strict=args.strict)
        kind = check.kind.value if check.kind is not None else None
        results.append({
            "input": value,
            "normalized": check.normalized,
            "valid": check.valid,
            "kind": kind,
            "issues": [
                {"code": i.code, "severity": i.severity.value, "message": i.message}
                for i in check.issues
            ],
        })
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        for row in results:
            verdict = "valid  " if row["valid"] else "INVALID"
            print(f"{verdict} {row['normalized']:<14} {row['kind'] or '-'}")
            for issue in row["issues"]:
                print(f"        {issue['severity']}: [{issue['code']}] {issue['message']}")
    # 3 is the documented code for invalid input (as for ValidationError).
    return 0 if all(row["valid"] for row in results) else 3
