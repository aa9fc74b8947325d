from __future__ import annotations

import subprocess
import sys


def test_importing_the_package_does_not_load_lxml_or_cfdi() -> None:
    code = "import sys, apunto_connect; print('lxml' in sys.modules, 'apunto_connect.cfdi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_package_functions_are_not_shadowed_by_submodules() -> None:
    # parse.py/build.py share their names with the functions the package exports; importing
    # the submodules in any order must leave the functions in place.
    code = (
        "import apunto_connect.cfdi.batch, apunto_connect.cfdi.build, apunto_connect.cfdi.parse; "
        "import apunto_connect.cfdi as c; print(callable(c.parse), callable(c.build), "
        "type(c.parse).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "function"]


def test_public_names_are_exported() -> None:
    import apunto_connect.cfdi as cfdi

    for name in ("parse", "parse_many", "to_records", "build", "Stamp", "Cfdi", "verification_url"):
        assert name in cfdi.__all__ and hasattr(cfdi, name)


def test_every_model_name_is_exported_by_the_package() -> None:
    import apunto_connect.cfdi as cfdi
    from apunto_connect.cfdi import models

    assert set(models.__all__) <= set(cfdi.__all__)
    assert len(set(cfdi.__all__)) == len(cfdi.__all__)
    for name in models.__all__:
        assert getattr(cfdi, name) is getattr(models, name)
