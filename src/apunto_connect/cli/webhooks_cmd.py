"""``apunto-connect webhooks list|retry``: see and revive outgoing webhook deliveries."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``webhooks`` command group."""
    parser = sub.add_parser("webhooks", help="list or retry outgoing webhook deliveries")
    parser.add_argument(
        "--outbox",
        help="outbox: a SQLite file or a postgresql:// URL "
        "(default: APUNTO_JOURNAL, else the journal file in the user's data folder)",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    list_parser = actions.add_parser("list", help="deliveries with their status")
    list_parser.add_argument("--status", choices=["pending", "delivered", "failed"])
    list_parser.add_argument("--json", action="store_true", help="machine-readable output")
    list_parser.set_defaults(handler=_list)
    retry_parser = actions.add_parser("retry", help="put parked (failed) deliveries back in line")
    retry_parser.add_argument("event_id", nargs="?", help="only this event (default: all failed)")
    retry_parser.set_defaults(handler=_retry)


def _outbox(args: argparse.Namespace) -> Any:
    from ..webhooks import Outbox

    return Outbox(args.outbox or None)


def _list(args: argparse.Namespace) -> int:
    from ..webhooks import utc_timestamp

    rows = _outbox(args).list(args.status)
    if args.json:
        print(json.dumps([
            {
                "event_id": d.event_id, "event_type": d.event_type, "endpoint": d.endpoint,
                "status": d.status, "attempts": d.attempts, "last_error": d.last_error,
                "created_at": utc_timestamp(d.created_at),
            }
            for d in rows
        ], indent=2))
        return 0
    if not rows:
        print("no deliveries")
    for d in rows:
        error = f"  last error: {d.last_error}" if d.last_error else ""
        print(f"{d.status:<9} {d.attempts:>2}x {d.event_type:<24} {d.event_id} -> {d.endpoint}{error}")
    return 0


def _retry(args: argparse.Namespace) -> int:
    count = _outbox(args).retry(args.event_id)
    print(f"{count} deliveries queued again; they go out on the next deliver_pending()")
    return 0
