"""The ``apunto-connect`` command.

Each command group lives in its own module and registers itself through ``register(sub)``;
this module only builds the parser, dispatches, and turns expected failures into one clear
line and a documented exit code (never a traceback; ``-v`` adds details).

Exit codes:
    0 success · 1 unexpected error · 2 usage error · 3 invalid input (ValidationError) ·
    4 the vendor refused (ProviderError) · 5 no usable answer (TransportError) ·
    6 configuration or credentials missing · 7 unsupported operation
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from .._version import __version__
from ..errors import (
    ApuntoError,
    ConfigurationError,
    ProviderError,
    TransportError,
    UnsupportedOperation,
    ValidationError,
)
from ..redaction import RedactingFilter, redact
from . import (
    credentials_cmd,
    demo_cmd,
    drive_cmd,
    invoice_cmd,
    rfc_cmd,
    sandbox_cmd,
    sat_cmd,
    storage_cmd,
    track_cmd,
    webhooks_cmd,
)

__all__ = ["EXIT_CODES", "build_parser", "main"]

EXIT_CODES: dict[type[BaseException], int] = {
    ValidationError: 3,
    ProviderError: 4,
    TransportError: 5,
    ConfigurationError: 6,
    UnsupportedOperation: 7,
}

# In the order a new user needs them (this is also the order of --help).
_COMMAND_MODULES = (
    demo_cmd,
    rfc_cmd,
    sat_cmd,
    invoice_cmd,
    track_cmd,
    storage_cmd,
    drive_cmd,
    credentials_cmd,
    sandbox_cmd,
    webhooks_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="apunto-connect",
        description="CFDI 4.0 invoicing, freight tracking and storage from one command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more detail on errors (-vv: debug log)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMAND_MODULES:
        module.register(sub)
    return parser


def _configure_logging(verbosity: int) -> None:
    level_name = os.environ.get("APUNTO_LOG", "").strip().lower()
    if verbosity >= 2:
        level_name = "debug"
    if level_name not in {"debug", "info"}:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("apunto_connect")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if level_name == "debug" else logging.INFO)


def _exit_code(exc: BaseException) -> int:
    for cls, code in EXIT_CODES.items():
        if isinstance(exc, cls):
            return code
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (also used by ``python -m``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        result: int = args.handler(args)
        return result
    except ApuntoError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        if args.verbose and isinstance(exc, ProviderError) and exc.raw_body:
            print(f"vendor response: {exc.raw_body}", file=sys.stderr)
        return _exit_code(exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
