"""``apunto-connect sandbox serve``: every vendor emulator over HTTP on 127.0.0.1."""

from __future__ import annotations

import argparse
import contextlib
import threading
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``sandbox`` command group."""
    parser = sub.add_parser("sandbox", help="the offline emulators")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="serve every emulator on loopback until Ctrl-C")
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    serve.add_argument("--seed", type=int, default=None, help="reproducible ids")
    serve.add_argument(
        "--for", dest="duration", type=float, default=None, metavar="SECONDS",
        help="stop after this many seconds (default: run until interrupted)",
    )
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from ..sandbox import Sandbox

    with Sandbox(seed=args.seed) as sb:
        server = sb.serve(host=args.host, port=args.port)
        print(f"sandbox listening on {server.url}", flush=True)
        for name, url in server.base_urls().items():
            credentials = ", ".join(f"{k}={v}" for k, v in sb.emulator(name).demo_credentials.items())
            print(f"  {name:<14} base_url={url}  ({credentials})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
            threading.Event().wait(args.duration)
    print("sandbox stopped", flush=True)
    return 0
