"""The ``apunto-connect`` command.

Each command group lives in its own module and registers itself through ``register(sub)``;
this module only builds the parser, dispatches, and turns expected failures into one clear
line and a documented exit code (never a traceback; ``-v`` adds details).

Exit codes:
    0 success · 1 unexpected error · 2 usage error · 3 invalid input (ValidationError) ·
    4 the vendor refused (ProviderError) · 5 no usable answer (TransportError) ·
    6 configuration or credentials missing · 7 unsupported operation ·
    130 interrupted · 141 standard output closed early (``| head``)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Sequence

from .._extras import missing_module_error
from .._version import __version__
from ..errors import (
    ApuntoError,
    ConfigurationError,
    ProviderError,
    TransportError,
    UnsupportedOperation,
    ValidationError,
)
from ..logsetup import configure_from_environment, configure_logging
from ..redaction import redact
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
from ._options import add_base_url_option, add_global_options, add_verbose_option, merged
from ._providers import check_base_url, save_sandbox_state

__all__ = ["EXIT_CODES", "EXIT_PIPE_CLOSED", "build_parser", "main"]

# 128 + SIGPIPE, what a shell reports for a command whose reader went away.
EXIT_PIPE_CLOSED = 141

EXIT_CODES: dict[type[BaseException], int] = {
    ValidationError: 3,  # also a local file that cannot be read or written
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
    add_verbose_option(parser, top=True)
    add_base_url_option(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMAND_MODULES:
        module.register(sub)
    add_global_options(parser)  # -v after the command too: `invoice get ID -v`
    return parser


def _configure_logging(verbosity: int) -> None:
    # APUNTO_LOG itself is read by the library (apunto_connect.logsetup) on first use of a
    # provider; -vv asks for debug whatever the environment says.
    if verbosity >= 2:
        configure_logging("debug")
    else:
        configure_from_environment()


def _exit_code(exc: BaseException) -> int:
    for cls, code in EXIT_CODES.items():
        if isinstance(exc, cls):
            return code
    return 1


def _stdout_closed() -> int:
    """The reader of standard output went away (``| head``): stop quietly."""
    # Python flushes stdout again at exit; point it at devnull so that flush cannot fail.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_PIPE_CLOSED


def _fail(message: str, code: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        print(f"error: {redact(message)}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (also used by ``python -m``)."""
    parser = build_parser()
    try:
        args = merged(parser.parse_args(argv))
    except SystemExit as exc:  # --help, --version and usage errors; argparse printed why
        return exc.code if isinstance(exc.code, int) else 2
    _configure_logging(args.verbose)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        if args.base_url is not None:  # given before the command; checked for every command
            check_base_url(args.base_url)
        try:
            result: int = args.handler(args)
        finally:
            save_sandbox_state(args)
        return result
    except ApuntoError as exc:
        code = _fail(str(exc), _exit_code(exc))
        if args.verbose and isinstance(exc, ProviderError) and exc.raw_body:
            with contextlib.suppress(OSError, ValueError):
                print(f"vendor response: {exc.raw_body}", file=sys.stderr)
        return code
    except BrokenPipeError:
        return _stdout_closed()
    except ImportError as exc:  # an optional extra is not installed
        return _fail(str(missing_module_error(exc)), EXIT_CODES[ConfigurationError])
    except OSError as exc:
        if exc.filename is not None:  # a local file the command was told to read or write
            return _fail(f"{exc.filename}: {exc.strerror or exc}", EXIT_CODES[ValidationError])
        # A socket error a vendor library let through: no usable answer, as TransportError.
        return _fail(f"{type(exc).__name__}: {exc}", EXIT_CODES[TransportError])
    except KeyboardInterrupt:
        with contextlib.suppress(OSError, ValueError):
            print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line, and the traceback only when asked for
        if args.verbose:
            traceback.print_exc()
        return _fail(f"unexpected {type(exc).__name__}: {exc} (run with -v for details)", 1)
