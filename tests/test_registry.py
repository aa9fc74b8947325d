from __future__ import annotations

import pytest

import apunto_connect
from apunto_connect.errors import ConfigurationError
from apunto_connect.registry import available_providers, load_provider_class
from apunto_connect.storage.local import LocalStorage


def test_unknown_provider_lists_the_known_ones():
    with pytest.raises(ConfigurationError) as info:
        apunto_connect.storage_provider("dropbox")
    assert "local" in str(info.value)


def test_builtin_provider_loads_by_name(tmp_path):
    storage = apunto_connect.storage_provider("local", root=tmp_path)
    assert isinstance(storage, LocalStorage)
    assert "local" in available_providers("storage")


def test_entry_point_providers_are_discovered(monkeypatch):
    from importlib.metadata import EntryPoint

    import apunto_connect.registry as registry

    fake = EntryPoint(
        name="storage.memory", value="apunto_connect.storage.local:LocalStorage",
        group=registry.ENTRY_POINT_GROUP,
    )
    monkeypatch.setattr(registry, "entry_points", lambda group: [fake])
    assert "memory" in available_providers("storage")
    assert load_provider_class("storage", "memory") is LocalStorage


def test_broken_entry_point_is_a_configuration_error(monkeypatch):
    from importlib.metadata import EntryPoint

    import apunto_connect.registry as registry

    fake = EntryPoint(name="invoicing.broken", value="no_such_module:X", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [fake])
    with pytest.raises(ConfigurationError, match="could not be loaded"):
        load_provider_class("invoicing", "broken")
