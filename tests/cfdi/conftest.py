"""CFDI test fixtures: the SAT schemas, when available."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def _sat_schema_dir() -> Path | None:
    # The SAT's XSDs ship inside the satcfdi wheel (installed by the test extra); nothing is
    # fetched from the network.
    spec = importlib.util.find_spec("satcfdi")
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(next(iter(spec.submodule_search_locations)))
    folder = base / "transform" / "schemas" / "www.sat.gob.mx" / "sitio_internet" / "cfd"
    return folder if (folder / "4" / "cfdv40.xsd").exists() else None


@pytest.fixture(scope="session")
def sat_schema():  # type: ignore[no-untyped-def]
    """An lxml XMLSchema covering CFDI 4.0/3.3, TFD 1.1, Pagos 2.0/1.0 and Carta Porte 3.1."""
    from lxml import etree

    folder = _sat_schema_dir()
    if folder is None:
        pytest.fail("the SAT XSDs ship with satcfdi, which the 'test' extra installs; "
                    "it is missing or no longer carries them", pytrace=False)
    imports = {
        "http://www.sat.gob.mx/cfd/4": folder / "4" / "cfdv40.xsd",
        "http://www.sat.gob.mx/cfd/3": folder / "3" / "cfdv33.xsd",
        "http://www.sat.gob.mx/TimbreFiscalDigital":
            folder / "TimbreFiscalDigital" / "TimbreFiscalDigitalv11.xsd",
        "http://www.sat.gob.mx/Pagos20": folder / "Pagos" / "Pagos20.xsd",
        "http://www.sat.gob.mx/Pagos": folder / "Pagos" / "Pagos10.xsd",
        "http://www.sat.gob.mx/CartaPorte31": folder / "CartaPorte" / "CartaPorte31.xsd",
    }
    wrapper = '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">' + "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{path.as_uri()}"/>'
        for ns, path in imports.items()
    ) + "</xs:schema>"
    return etree.XMLSchema(etree.fromstring(wrapper))
