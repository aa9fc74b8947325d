from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["googleapiclient", "google.auth", "lxml", "keyring", "fpdf", "tenacity"]


def test_import_apunto_connect_stays_light():
    code = (
        "import json, sys, apunto_connect; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_public_names_resolve_lazily():
    code = (
        "import apunto_connect as ac; ac.Invoice; ac.ValidationError; ac.invoice_provider; "
        "import sys; print('lxml' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_attribute_is_an_attribute_error():
    import pytest

    import apunto_connect

    with pytest.raises(AttributeError):
        apunto_connect.DoesNotExist  # noqa: B018


def test_archive_is_the_function_even_after_its_module_is_imported():
    code = (
        "import apunto_connect.archiving, apunto_connect.storage.local; "
        "from apunto_connect import archive, archive_many; "
        "print(callable(archive) and callable(archive_many) and archive.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "archive"


def test_every_public_name_is_listed_once_and_resolves():
    import apunto_connect

    assert sorted(apunto_connect.__all__) == sorted(["__version__", *apunto_connect._LAZY])
    assert len(set(apunto_connect.__all__)) == len(apunto_connect.__all__)
    for name in apunto_connect.__all__:
        assert getattr(apunto_connect, name) is not None, name


def test_type_checkers_see_every_public_name_as_an_explicit_re_export():
    import ast
    from pathlib import Path

    import apunto_connect

    tree = ast.parse(Path(apunto_connect.__file__).read_text(encoding="utf-8"))
    re_exported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname == alias.name
    }
    assert re_exported == set(apunto_connect._LAZY)
