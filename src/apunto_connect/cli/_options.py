"""Options accepted both before the command and after it (``-v``, ``--base-url``).

argparse copies a subcommand's parsed values over the main parser's, so an option declared at
both levels would lose the value given before the command. The subcommand's copy therefore
writes to its own name (or is left out of the result when absent) and :func:`merged` combines.
"""

from __future__ import annotations

import argparse

__all__ = ["add_base_url_option", "add_global_options", "add_verbose_option", "merged"]


def add_verbose_option(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``-v/--verbose``, counted; given on the main parser and on every command."""
    parser.add_argument(
        "-v", "--verbose", action="count", dest="verbose" if top else "verbose_after",
        default=0 if top else argparse.SUPPRESS,
        help="more detail on errors (-vv: debug log)",
    )


def add_base_url_option(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``--base-url URL``: another server speaking the vendor's API (the loopback sandbox)."""
    parser.add_argument(
        "--base-url", metavar="URL", default=None if top else argparse.SUPPRESS,
        help="another server speaking the vendor's API (an http:// or https:// URL)",
    )


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """Add ``-v`` to ``parser`` and, recursively, to every command under it that lacks it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                if "-v" not in sub._option_string_actions:
                    add_verbose_option(sub)
                add_global_options(sub)


def merged(args: argparse.Namespace) -> argparse.Namespace:
    """Fold the after-the-command copies into the main values."""
    args.verbose = getattr(args, "verbose", 0) + getattr(args, "verbose_after", 0)
    return args
