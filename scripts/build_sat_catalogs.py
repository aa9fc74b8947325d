r"""Regenerate the SAT catalogs shipped in ``src/apunto_connect/sat/data/catalogs/``.

Two sources are understood; the values are the SAT's public catalogs either way:

* the SAT's own workbooks, ``catCFDI_V_4_*.xls``/``.xlsx`` (c_ClaveProdServ, c_ClaveUnidad,
  c_CodigoPostal, c_Colonia) and ``CatalogosCartaPorte*.xls``/``.xlsx`` (c_Estado, c_Municipio,
  c_Localidad, and c_Colonia in the Carta Porte edition)::

      python scripts/build_sat_catalogs.py --workbook catCFDI_V_4_20260101.xls \\
          --carta-porte CatalogosCartaPorte31.xls --version 2026-01-01

  ``.xlsx`` needs ``openpyxl`` and ``.xls`` needs ``xlrd`` (install them by hand: the build
  step only, never a dependency of the SDK);

* the SQLite catalog file shipped by the ``satcfdi`` package (built by its authors from the same
  workbooks), used when the workbooks are not at hand::

      python scripts/build_sat_catalogs.py --satcfdi            # the installed package
      python scripts/build_sat_catalogs.py --satcfdi path/to/catalogs.db

Output: one gzip-compressed, tab-separated file per catalog, sorted by key, plus
``version.json`` naming the source and its version. Nothing else in the repository changes.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import importlib.util
import json
import pickle
import sqlite3
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "src" / "apunto_connect" / "sat" / "data" / "catalogs"

Row = tuple[str, ...]

# One entry per shipped file: the SAT sheet name, the header names of the columns we keep (the
# first is the key), and the satcfdi table that carries the same catalog.
CATALOGS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "products": ("c_ClaveProdServ", ("c_ClaveProdServ", "Descripción"), "C756_c_ClaveProdServ"),
    "units": ("c_ClaveUnidad", ("c_ClaveUnidad", "Nombre"), "C756_c_ClaveUnidad"),
    "postal_codes": (
        "c_CodigoPostal",
        (
            "c_CodigoPostal",
            "c_Estado",
            "c_Municipio",
            "c_Localidad",
            "Estímulo Franja Fronteriza",
            "Descripción del Huso Horario",
        ),
        "C756_c_CodigoPostal",
    ),
    "colonias": (
        "c_Colonia",
        ("c_CodigoPostal", "c_Colonia", "Nombre del asentamiento"),
        "C756_c_Colonia",
    ),
    "municipios": ("c_Municipio", ("c_Estado", "c_Municipio", "Descripción"), "C756_c_Municipio"),
    "localidades": ("c_Localidad", ("c_Estado", "c_Localidad", "Descripción"), "C756_c_Localidad"),
    "estados": ("c_Estado", ("c_Estado", "c_Pais", "Nombre del estado"), "C756_c_Estado"),
}
CARTA_PORTE = frozenset({"municipios", "localidades", "estados"})


def _fold(text: str) -> str:
    """Header comparison: no accents, no case, no spaces or underscores."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def rows_from_sheet(sheet: Iterable[Sequence[object]], columns: Sequence[str]) -> Iterator[Row]:
    """The rows of one SAT sheet, keeping ``columns`` (found by their header, in any order).

    The SAT's sheets open with a few title rows; the header row is the first that names every
    wanted column. Rows whose key cell is empty (notes, the end of the data) are skipped.
    Numeric key cells that Excel stored as numbers get their leading zeros back from the width
    of the longest key seen in the same column.
    """
    wanted = [_fold(name) for name in columns]
    positions: list[int] | None = None
    for raw in sheet:
        cells = [_cell(value) for value in raw]
        if positions is None:
            folded = [_fold(cell) for cell in cells]
            if all(name in folded for name in wanted):
                positions = [folded.index(name) for name in wanted]
            continue
        picked = tuple(cells[i] if i < len(cells) else "" for i in positions)
        if picked and picked[0]:
            yield picked
    if positions is None:
        raise SystemExit(f"no header row naming {list(columns)} in the sheet")


def _pad_codes(rows: list[Row], widths: dict[int, int]) -> list[Row]:
    """Restore leading zeros Excel dropped (``1000`` → ``01000`` for a postal code)."""
    out = []
    for row in rows:
        cells = list(row)
        for index, width in widths.items():
            if cells[index].isdigit():
                cells[index] = cells[index].zfill(width)
        out.append(tuple(cells))
    return out


_WIDTHS: dict[str, dict[int, int]] = {
    "products": {0: 8},
    "postal_codes": {0: 5, 2: 3, 3: 2},
    "colonias": {0: 5, 1: 4},
    "municipios": {1: 3},
    "localidades": {1: 2},
}


def _open_workbook(path: Path) -> Callable[[str], list[list[list[object]]]]:
    """Return a function giving the rows of every sheet whose name starts with a prefix."""
    if path.suffix.lower() == ".xlsx":
        import openpyxl  # type: ignore[import-untyped]

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)

        def xlsx_sheets(prefix: str) -> list[list[list[object]]]:
            return [
                [list(row) for row in book[name].iter_rows(values_only=True)]
                for name in book.sheetnames
                if name.startswith(prefix)
            ]

        return xlsx_sheets
    import xlrd  # type: ignore[import-untyped]

    xls = xlrd.open_workbook(str(path))

    def xls_sheets(prefix: str) -> list[list[list[object]]]:
        return [
            [sheet.row_values(i) for i in range(sheet.nrows)]
            for sheet in xls.sheets()
            if sheet.name.startswith(prefix)
        ]

    return xls_sheets


def from_workbooks(workbook: Path, carta_porte: Path | None) -> dict[str, list[Row]]:
    """Read every shipped catalog from the SAT's workbooks.

    The big catalogs are split over several sheets (``c_CodigoPostal_Parte_1``, ``_Parte_2``,
    ``c_Colonia_1``…); every sheet whose name starts with the catalog's name is read.
    """
    main = _open_workbook(workbook)
    cp = _open_workbook(carta_porte) if carta_porte is not None else None
    tables: dict[str, list[Row]] = {}
    for name, (sheet_name, columns, _) in CATALOGS.items():
        reader = cp if name in CARTA_PORTE else main
        if reader is None:
            raise SystemExit(f"{name} comes from the Carta Porte workbook: pass --carta-porte")
        sheets = reader(sheet_name)
        if not sheets and name == "colonias" and cp is not None:
            sheets = cp(sheet_name)
        if not sheets:
            raise SystemExit(f"no sheet named {sheet_name}* in the workbook")
        rows = [row for sheet in sheets for row in rows_from_sheet(sheet, columns)]
        tables[name] = _pad_codes(rows, _WIDTHS.get(name, {}))
    return tables


def _satcfdi_db() -> Path:
    spec = importlib.util.find_spec("satcfdi")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("satcfdi is not installed: pip install satcfdi, or pass the .db path")
    return Path(next(iter(spec.submodule_search_locations))) / "catalogs" / "catalogs.db"


def _satcfdi_row(name: str, key: Any, value: Any) -> Row:
    """One satcfdi key/value pair as the columns of :data:`CATALOGS`."""
    keys = key if isinstance(key, tuple) else (key,)
    values = value if isinstance(value, list) else [value]
    if name == "postal_codes":  # [estado, municipio, localidad, frontera, huso]
        return (keys[0], *(str(v) for v in values[:5]))
    if name == "colonias":  # key (colonia, cp)
        return (keys[1], keys[0], str(values[0]))
    if name in ("municipios", "localidades"):  # key (code, estado)
        return (keys[1], keys[0], str(values[0]))
    if name == "estados":  # [pais, name]
        return (keys[0], str(values[0]), str(values[1]))
    return (keys[0], str(values[0]))


def from_satcfdi(db: Path) -> dict[str, list[Row]]:
    """Read every shipped catalog from satcfdi's SQLite file (pickled keys and values).

    The file is the package's own data, read only; unpickling it is as safe as importing the
    package that ships it.
    """
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables: dict[str, list[Row]] = {}
        for name, (_, _, table) in CATALOGS.items():
            rows = connection.execute(f'SELECT key, value FROM "{table}"').fetchall()
            tables[name] = [
                _satcfdi_row(name, pickle.loads(key), pickle.loads(value)) for key, value in rows
            ]
        return tables
    finally:
        connection.close()


def _clean(text: str) -> str:
    # Tabs and newlines would break the file format; the SAT's texts never need them.
    return " ".join(text.replace("\t", " ").split())


def write(tables: dict[str, list[Row]], out: Path, source: str, version: str) -> dict[str, int]:
    """Write one ``NAME.tsv.gz`` per catalog and ``version.json``; return the row counts."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, rows in tables.items():
        unique = sorted({tuple(_clean(cell) for cell in row) for row in rows})
        body = "".join("\t".join(row) + "\n" for row in unique).encode("utf-8")
        # mtime=0 keeps the bytes identical from one run to the next (reviewable diffs).
        with gzip.GzipFile(out / f"{name}.tsv.gz", "wb", compresslevel=9, mtime=0) as handle:
            handle.write(body)
        counts[name] = len(unique)
    meta = {"source": source, "version": version, "generated": date.today().isoformat()}
    meta["rows"] = counts  # type: ignore[assignment]
    (out / "version.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workbook", type=Path, help="the SAT's catCFDI .xls/.xlsx")
    parser.add_argument("--carta-porte", type=Path, help="the SAT's CatalogosCartaPorte workbook")
    parser.add_argument(
        "--satcfdi", nargs="?", const="installed", help="satcfdi's catalogs.db (default: installed)"
    )
    parser.add_argument("--version", help="catalog version/date to record (e.g. 2026-01-01)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.workbook is not None:
        tables = from_workbooks(args.workbook, args.carta_porte)
        source = f"SAT {args.workbook.name}" + (
            f" + {args.carta_porte.name}" if args.carta_porte else ""
        )
        version = args.version or args.workbook.stem
    elif args.satcfdi is not None:
        db = _satcfdi_db() if args.satcfdi == "installed" else Path(args.satcfdi)
        tables = from_satcfdi(db)
        try:
            package = importlib.metadata.version("satcfdi")
        except importlib.metadata.PackageNotFoundError:
            package = "unknown"
        source = f"satcfdi {package} catalogs.db (built from the SAT's catCFDI workbooks)"
        version = args.version or f"satcfdi-{package}"
    else:
        parser.error("give --workbook (and --carta-porte) or --satcfdi")
    counts = write(tables, args.out, source, version)
    for name, count in counts.items():
        print(f"{name:14} {count:>8} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
