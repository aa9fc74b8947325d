"""Sandbox state in a file, so a flow spread over several commands sees one emulator.

``apunto-connect invoice stamp --sandbox --sandbox-state s.json`` followed by ``invoice get
--sandbox --sandbox-state s.json ID`` finds the invoice the first command stamped. The file is
JSON: a header, the simulated clock and each emulator's :meth:`~Emulator.dump_state`. Emulators
without a JSON form of their own store their attributes pickled; loading them accepts only the
emulators' own record classes and a few standard value types, never arbitrary code.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import io
import json
import os
import pickle
import random
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError

if TYPE_CHECKING:
    from . import Sandbox

__all__ = ["FORMAT", "dump_sandbox", "load_sandbox", "pickle_state", "unpickle_state"]

FORMAT = "apunto-connect sandbox state"
VERSION = 1
FIELD = "sandbox_state"

# Standard value types an emulator's records hold; everything else must be a record class
# (attrs, dataclass or enum) from the package's models or sandbox modules.
_STANDARD: dict[tuple[str, str], Any] = {
    ("datetime", "date"): datetime.date,
    ("datetime", "datetime"): datetime.datetime,
    ("datetime", "time"): datetime.time,
    ("datetime", "timedelta"): datetime.timedelta,
    ("datetime", "timezone"): datetime.timezone,
    ("decimal", "Decimal"): decimal.Decimal,
    ("random", "Random"): random.Random,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): bytearray,
}
_RECORD_MODULES = ("apunto_connect.models.", "apunto_connect.sandbox.", "apunto_connect.sat.")


class _RecordsOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        standard = _STANDARD.get((module, name))
        if standard is not None:
            return standard
        if module.startswith(_RECORD_MODULES):
            found = super().find_class(module, name)
            # Only the emulators' own classes (records, indexes, documents): never a function,
            # which is what a crafted file would need to run code.
            if isinstance(found, type) and found.__module__ == module:
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a sandbox state file")


def pickle_state(data: Mapping[str, Any]) -> dict[str, str]:
    """``data`` (an emulator's attributes) as a JSON-ready value."""
    return {"pickle": base64.b64encode(pickle.dumps(dict(data), protocol=4)).decode("ascii")}


def unpickle_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes :func:`pickle_state` saved; refuses anything but record classes."""
    try:
        raw = base64.b64decode(str(state["pickle"]), validate=True)
        data = _RecordsOnly(io.BytesIO(raw)).load()
    except (KeyError, TypeError, binascii.Error, pickle.UnpicklingError, EOFError,
            AttributeError, ImportError, ValueError, IndexError) as exc:
        raise ValidationError(f"not a sandbox state: {exc}", field=FIELD) from None
    if not isinstance(data, dict):
        raise ValidationError("not a sandbox state: no attribute table", field=FIELD)
    return data


def _read(file: Path) -> dict[str, Any] | None:
    """The checked contents of a state file; ``None`` when there is no file yet."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {file}: {exc}", field=FIELD) from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"{file} is not a sandbox state file: {exc}", field=FIELD) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValidationError(f"{file} is not a sandbox state file", field=FIELD)
    if data.get("version") != VERSION:
        raise ValidationError(
            f"{file} has sandbox state version {data.get('version')!r}; this SDK reads {VERSION}",
            field=FIELD,
        )
    offset = data.get("clock_offset", 0.0)
    emulators = data.get("emulators")
    if (
        not isinstance(emulators, dict)
        or isinstance(offset, bool)
        or not isinstance(offset, (int, float))
        or any(not isinstance(state, dict) for state in emulators.values())
    ):
        raise ValidationError(f"{file} is not a sandbox state file", field=FIELD)
    return data


def load_sandbox(sandbox: Sandbox, path: str | os.PathLike[str]) -> None:
    """Restore ``sandbox`` from ``path``; a missing file means a fresh sandbox.

    Raises:
        ValidationError: the file cannot be read or is not a sandbox state file.
    """
    file = Path(path)
    data = _read(file)
    if data is None:
        return
    sandbox.clock.advance(float(data.get("clock_offset", 0.0)))
    for name, state in data["emulators"].items():
        if name not in sandbox.emulators:
            continue  # a sandbox made for fewer vendors leaves the others' state in the file
        try:
            sandbox.emulators[name].load_state(state)
        except ValidationError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValidationError(f"{file}: bad state for {name}: {exc}", field=FIELD) from None


def dump_sandbox(sandbox: Sandbox, path: str | os.PathLike[str]) -> None:
    """Save every emulator of ``sandbox`` (and the simulated clock) to ``path``.

    Vendors the file holds but ``sandbox`` does not run keep their saved state, so one file
    serves the storage, invoice and track commands alike.

    Raises:
        ValidationError: the file cannot be written.
    """
    file = Path(path)
    try:
        previous = _read(file) or {}
    except ValidationError:
        previous = {}  # load_sandbox refused it already; the new state replaces it
    emulators = dict(previous.get("emulators", {}))
    emulators.update({name: em.dump_state() for name, em in sandbox.emulators.items()})
    data = {
        "format": FORMAT,
        "version": VERSION,
        "clock_offset": sandbox.clock.now() - sandbox.clock.now_unshifted(),
        "emulators": emulators,
    }
    temporary = file.with_name(file.name + ".tmp")
    try:
        temporary.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temporary, file)  # a crash mid-write leaves the previous state whole
    except OSError as exc:
        raise ValidationError(f"cannot write {file}: {exc}", field=FIELD) from None
