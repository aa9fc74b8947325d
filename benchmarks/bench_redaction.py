"""Redaction at scale: registering many secrets and cleaning a 4 KB text with them registered.

Two schemes side by side, in one run:

* ``regex per secret``: the scheme redaction used before, kept here as the reference: every new
  secret recompiles one alternation of all the known ones (so registering N secrets compiles N
  patterns of growing size);
* ``set scan``: :class:`apunto_connect.redaction.SecretSet` as shipped: each secret indexed by
  its first characters, one pass collecting the text's substrings and intersecting them with
  the index.

For each number of registered secrets it prints the time to register them all and the mean
time of one ``redact()`` of a 4 KB JSON text without any secret in it and of one with a
registered secret and a password field in it (the full public ``redact()`` path, patterns
included). The target: 10,000 secrets registered in under 1 s, ``redact()`` of 4 KB under 1 ms.

Run::

    .venv/bin/python benchmarks/bench_redaction.py
    .venv/bin/python benchmarks/bench_redaction.py --sizes 100 1000 10000 --legacy-max 300
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable

from apunto_connect import redaction


class RegexPerSecret:
    """The former scheme: one alternation recompiled on every new secret."""

    def __init__(self) -> None:
        self._known: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        if value in self._known:
            return
        self._known.add(value)
        ordered = sorted(self._known, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def redact(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(redaction.MASK, text)
        return redaction._mask_patterns(text)


class SetScan:
    """The shipped scheme, through the public registry and ``redact()``."""

    def __init__(self) -> None:
        redaction._restore(frozenset())

    def add(self, value: str) -> None:
        redaction.register_secret(value)

    def redact(self, text: str) -> str:
        return redaction.redact(text)


def _texts(secret: str) -> tuple[str, str]:
    """A 4 KB JSON text without secrets, and the same with a secret and a password field."""
    lines = [
        {"Description": f"Flete marítimo contenedor {n}", "ProductCode": "78101800",
         "UnitCode": "E48", "Quantity": "1", "UnitPrice": f"{1000 + n}.00", "Subtotal": "1000.00",
         "Taxes": [{"Name": "IVA", "Rate": "0.16", "Total": "160.00"}]}
        for n in range(40)
    ]
    clean = json.dumps({"Serie": "F", "Folio": "1234", "Items": lines})[:4096]
    dirty = clean[:2000] + f' "note": "{secret}", "password": "hunter2hunter2" ' + clean[2000:]
    return clean, dirty[:4096]


def _time_per_call(fn: Callable[[], object], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat


def measure(scheme: Callable[[], RegexPerSecret | SetScan], size: int, repeat: int) -> tuple[float, float, float]:
    """(seconds to register ``size`` secrets, ms per clean redact, ms per dirty redact)."""
    values = [secrets.token_urlsafe(24) for _ in range(size)]
    instance = scheme()
    started = time.perf_counter()
    for value in values:
        instance.add(value)
    registering = time.perf_counter() - started
    clean, dirty = _texts(values[size // 2])
    assert values[size // 2] not in instance.redact(dirty), "the registered secret leaked"
    return (
        registering,
        _time_per_call(lambda: instance.redact(clean), repeat) * 1000,
        _time_per_call(lambda: instance.redact(dirty), repeat) * 1000,
    )


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1_000, 10_000])
    parser.add_argument(
        "--legacy-max", type=int, default=300,
        help="largest size run with the former scheme (it grows quadratically)",
    )
    parser.add_argument("--repeat", type=int, default=200, help="redact() calls per timing")
    args = parser.parse_args(list(argv) if argv is not None else None)
    saved = redaction._snapshot()
    rows: list[tuple[str, int, float, float, float]] = []
    try:
        for size in args.sizes:
            if size <= args.legacy_max:
                rows.append(("regex per secret", size, *measure(RegexPerSecret, size, args.repeat)))
            rows.append(("set scan", size, *measure(SetScan, size, args.repeat)))
    finally:
        redaction._restore(saved)
    print(f"{'scheme':<18} {'secrets':>8} {'register all':>13} {'redact 4 KB':>12} "
          f"{'4 KB w/ hit':>12}")
    for scheme, size, registering, clean_ms, dirty_ms in rows:
        print(f"{scheme:<18} {size:>8,} {registering:>11.3f} s {clean_ms:>9.3f} ms "
              f"{dirty_ms:>9.3f} ms")


if __name__ == "__main__":
    main()
