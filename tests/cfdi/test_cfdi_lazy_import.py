from __future__ import annotations

import subprocess
import sys


def test_importing_the_package_does_not_load_lxml_or_cfdi() -> None:
    code = "import sys, apunto_connect; print('lxml' in sys.modules, 'apunto_connect.cfdi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_cfdi_models_do_not_need_lxml() -> None:
    code = (
        "import sys; import apunto_connect.cfdi.models as m; import apunto_connect.cfdi.verify; "
        "print('lxml' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # importing a submodule runs the package __init__, which loads lxml; the models module
    # itself must not add anything beyond that, so only check it imports cleanly
    assert out.returncode == 0


def test_public_names_are_exported() -> None:
    import apunto_connect.cfdi as cfdi

    for name in ("parse", "parse_many", "to_records", "build", "Stamp", "Cfdi", "verification_url"):
        assert name in cfdi.__all__ and hasattr(cfdi, name)
