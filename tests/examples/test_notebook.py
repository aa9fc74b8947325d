"""The ops-analyst notebook runs top to bottom in a real kernel, offline, and draws its chart."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

# These come with the test extra; without them this module must fail, not be skipped.
try:
    import ipykernel  # noqa: F401  (the kernel the notebook runs in)
    import matplotlib  # noqa: F401
    import nbformat
    import pandas  # noqa: F401
    from nbclient import NotebookClient
except ImportError as exc:  # pragma: no cover - only when the environment is incomplete
    raise ImportError(
        f"{exc.name} is missing: the notebook test needs the test extra "
        "(pip install -e '.[test]': pandas, matplotlib, nbclient, nbformat, ipykernel)"
    ) from exc

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "ops_analyst.ipynb"

# Run first in the kernel: any connection that is not to this machine fails loudly.
NETWORK_GUARD = """
import socket as _socket

_LOCAL = {"127.0.0.1", "::1", "localhost"}
_connect, _getaddrinfo = _socket.socket.connect, _socket.getaddrinfo


def _local_connect(self, address):
    if isinstance(address, tuple) and address[0] not in _LOCAL:
        raise OSError(f"network blocked in the notebook test: {address!r}")
    return _connect(self, address)


def _local_getaddrinfo(host, *args, **kwargs):
    if host not in _LOCAL and host is not None:
        raise OSError(f"network blocked in the notebook test: {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


_socket.socket.connect = _local_connect
_socket.getaddrinfo = _local_getaddrinfo
"""

# Run last in the kernel: report what the notebook produced.
INSPECT = """
import json as _json
import sys as _sys

import matplotlib as _mpl

print(_json.dumps({
    "rows": len(docs),
    "customers": sorted(docs["receiver_rfc"].unique()),
    "months": sorted(docs["month"].unique()),
    "per_customer": {name: round(float(v), 2) for name, v in per_customer["total_mxn"].items()},
    "per_month_rows": len(per_month),
    "total_mxn": round(float(docs["total_mxn"].sum()), 2),
    "xml_files": len(list(FOLDER.glob("*.xml"))),
    "chart": str(CHART.resolve()),
    "open_balances": {row.customer: row.open_balance for row in open_balances.itertuples()},
    "instalments": {row.customer: row.instalments for row in open_balances.itertuples()},
    "payments_applied": len(payments),
    "payment_files": sorted(c.kind for c in parse_many(PAYMENTS)),
    "executable": _sys.executable,
    "backend": _mpl.get_backend().lower(),
}))
"""


def test_notebook_is_stored_clean():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert nb.metadata.kernelspec.name == "python3"
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= len(code) // 2


def test_notebook_runs_top_to_bottom_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("APUNTO_NO_KEYRING", "1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(NETWORK_GUARD))
    nb.cells.append(nbformat.v4.new_code_cell(INSPECT))

    client = NotebookClient(
        nb, kernel_name="python3", timeout=60, startup_timeout=60,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working folder
    )
    started = time.monotonic()
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    elapsed = time.monotonic() - started

    outputs = nb.cells[-1].outputs
    report = json.loads("".join(o.get("text", "") for o in outputs if o.output_type == "stream"))
    assert report["executable"] == sys.executable  # the kernel is this virtualenv's Python
    assert report["backend"] == "agg"
    assert report["rows"] == report["xml_files"] == 10
    assert report["customers"] == ["CACX7605101P8", "EKU9003173C9", "URE180429TM6",
                                   "XIA190128J61"]
    assert report["months"] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert report["per_month_rows"] == 4
    # SAT arithmetic: 16 % IVA, 4 % withheld from companies, the USD job at 17.85.
    assert report["per_customer"] == {
        "ESCUELA KEMPER URGATE": 115976.0,
        "XENON INDUSTRIAL ARTICLES": 59808.0,
        "UNIVERSIDAD ROBOTICA ESPAÑOLA": 38956.4,
        "XOCHILT CASAS CHAVEZ": 6902.0,
    }
    assert report["total_mxn"] == 221642.4

    chart = Path(report["chart"])
    assert chart.parent == tmp_path
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000
    assert len(list((tmp_path / "cfdi-xml").glob("*.xml"))) == 10
    # Open balances from the parsed payment receipts (ImpSaldoInsoluto of the last instalment).
    assert report["open_balances"] == {
        "UNIVERSIDAD ROBOTICA ESPAÑOLA": 13200.0,  # 23,200 - 10,000
        "XENON INDUSTRIAL ARTICLES": 5800.0,  # no receipt yet: the whole total
        "ESCUELA KEMPER URGATE": 0.0,  # 11,600 paid in two instalments
    }
    assert report["instalments"] == {"UNIVERSIDAD ROBOTICA ESPAÑOLA": 1,
                                     "XENON INDUSTRIAL ARTICLES": 0, "ESCUELA KEMPER URGATE": 2}
    assert report["payments_applied"] == 3
    assert report["payment_files"] == ["I", "I", "I", "P", "P"]
    assert elapsed < 60, f"the notebook took {elapsed:.1f} s; keep it quick for analysts"
