"""SDK overhead per GET: :class:`apunto_connect.http.Transport` against a raw ``requests.Session``.

Both send ``GET /Profile`` to the in-process Facturama emulator through the same session and
the same sandbox adapter (no sockets, no latency), so the difference is what the transport adds
per call: option merging, the retry controller, error mapping, logging decisions. Rows:

* ``requests.Session``: ``session.get(url, auth=..., headers=..., timeout=...)``, the floor;
* ``Transport (logging off)``: ``transport.request("GET", "Profile")`` with the
  ``apunto_connect`` logger at WARNING (a production default);
* ``Transport (INFO logged)``: the same with INFO records written to a discarding handler, to
  show what logging with redaction costs when it is on.

Many short rounds are interleaved (A, B, C, A, B, C, ...) and the best round of each row is kept:
on a shared machine a noisy neighbour then inflates some rounds of every row alike, not one row.
The target: ``Transport (logging off)`` at most 1.10x the raw session.

Run::

    .venv/bin/python benchmarks/bench_transport.py
    .venv/bin/python benchmarks/bench_transport.py --calls 1000 --rounds 50
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Iterable

import requests

from apunto_connect.http import Transport
from apunto_connect.sandbox import Sandbox

BASE_URL = "https://apisandbox.facturama.mx"


def _per_call(fn: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="GETs per round and row")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(list(argv) if argv is not None else None)

    logger = logging.getLogger("apunto_connect")
    previous_level, previous_propagate = logger.level, logger.propagate
    discard = logging.NullHandler()
    with Sandbox(vendors=["facturama"]) as sb:
        creds = sb.emulator("facturama").demo_credentials
        auth = requests.auth.HTTPBasicAuth(creds["username"], creds["password"])
        session = sb.session
        transport = Transport("facturama", BASE_URL, auth=auth, session=session)
        headers = dict(transport.headers)
        url = f"{BASE_URL}/Profile"

        def raw() -> None:
            response = session.get(url, auth=auth, headers=headers, timeout=transport.timeout)
            response.raise_for_status()

        def sdk_quiet() -> None:
            logger.setLevel(logging.WARNING)
            transport.request("GET", "Profile")

        def sdk_logged() -> None:
            logger.setLevel(logging.INFO)
            transport.request("GET", "Profile")

        rows: dict[str, Callable[[], None]] = {
            "requests.Session": raw,
            "Transport (logging off)": sdk_quiet,
            "Transport (INFO logged)": sdk_logged,
        }
        best = {name: float("inf") for name in rows}
        logger.addHandler(discard)
        logger.propagate = False
        try:
            for fn in rows.values():  # warm-up: sessions, imports, emulator caches
                _per_call(fn, 50)
            for _ in range(args.rounds):
                for name, fn in rows.items():
                    best[name] = min(best[name], _per_call(fn, args.calls))
        finally:
            logger.removeHandler(discard)
            logger.setLevel(previous_level)
            logger.propagate = previous_propagate

    floor = best["requests.Session"]
    print(f"GET /Profile on the in-process Facturama emulator, best of {args.rounds} rounds "
          f"of {args.calls:,} calls")
    print(f"{'row':<26} {'µs per GET':>11} {'vs raw':>8}")
    for name, seconds in best.items():
        print(f"{name:<26} {seconds * 1e6:>11.1f} {seconds / floor:>7.2f}x")


if __name__ == "__main__":
    main()
