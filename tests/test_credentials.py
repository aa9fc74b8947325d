from __future__ import annotations

import keyring
import pytest
from keyring.backends import null

from apunto_connect.credentials import (
    CredentialField,
    Secret,
    keyring_available,
    resolve_credentials,
)
from apunto_connect.errors import CredentialsNotFound

FIELDS = [CredentialField("username", secret=False), CredentialField("password")]


@pytest.fixture
def null_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(null.Keyring())
    yield
    keyring.set_keyring(previous)


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self):
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.data.get((service, username))

    def set_password(self, service, username, password):
        self.data[(service, username)] = password

    def delete_password(self, service, username):
        self.data.pop((service, username))


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_explicit_argument_wins_over_environment(null_keyring):
    env = {"APUNTO_FACTURAMA_USERNAME": "env-user", "APUNTO_FACTURAMA_PASSWORD": "env-pass"}
    creds = resolve_credentials("facturama", FIELDS, {"username": "arg-user"}, environ=env)
    assert creds["username"] == "arg-user"
    assert isinstance(creds["password"], Secret)
    assert creds["password"].reveal() == "env-pass"


def test_missing_credential_names_every_source_tried_but_no_value(null_keyring):
    env = {"APUNTO_FACTURAMA_USERNAME": "someone"}
    with pytest.raises(CredentialsNotFound) as info:
        resolve_credentials("facturama", FIELDS, environ=env)
    text = str(info.value)
    assert "APUNTO_FACTURAMA_PASSWORD" in text
    assert "keyring" in text
    assert "someone" not in text
    assert info.value.field == "password"


def test_null_keyring_counts_as_not_there(null_keyring):
    assert keyring_available({}) is False
    with pytest.raises(CredentialsNotFound):
        resolve_credentials("alegra", FIELDS, environ={})


def test_fail_keyring_does_not_crash(monkeypatch):
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(CredentialsNotFound):
            resolve_credentials("alegra", FIELDS, environ={})
    finally:
        keyring.set_keyring(previous)


def test_keyring_per_field_and_compact_json(memory_keyring):
    memory_keyring.set_password("apunto_connect/shipsgo", "username", "kr-user")
    memory_keyring.set_password("apunto_connect/shipsgo", "credentials", '{"password": "kr-pass"}')
    creds = resolve_credentials("shipsgo", FIELDS, environ={})
    assert creds["username"] == "kr-user"
    assert creds["password"].reveal() == "kr-pass"


def test_no_keyring_env_var_disables_keyring(memory_keyring):
    memory_keyring.set_password("apunto_connect/shipsgo", "username", "kr-user")
    memory_keyring.set_password("apunto_connect/shipsgo", "password", "kr-pass")
    with pytest.raises(CredentialsNotFound) as info:
        resolve_credentials("shipsgo", FIELDS, environ={"APUNTO_NO_KEYRING": "1"})
    assert "disabled" in str(info.value)


def test_surrounding_whitespace_is_stripped_with_a_warning(null_keyring):
    with pytest.warns(UserWarning, match="whitespace"):
        creds = resolve_credentials(
            "enlace_fiscal", FIELDS, {"username": "user", "password": "  tok3n-value \n"}, environ={}
        )
    assert creds["password"].reveal() == "tok3n-value"


def test_optional_field_and_default(null_keyring):
    fields = [CredentialField("serie", secret=False, required=False),
              CredentialField("environment", secret=False, default="production")]
    creds = resolve_credentials("x", fields, environ={})
    assert creds == {"serie": None, "environment": "production"}


def test_env_aliases_are_accepted(null_keyring):
    fields = [CredentialField("api_key", env_aliases=("SHIPSGO_TOKEN",))]
    creds = resolve_credentials("shipsgo", fields, environ={"SHIPSGO_TOKEN": "abcd1234"})
    assert creds["api_key"].reveal() == "abcd1234"


def test_secret_never_shows_itself():
    secret = Secret("super-secret-value-123")
    assert "super-secret" not in repr(secret)
    assert "super-secret" not in str(secret)
    assert "super-secret" not in f"{secret}"
    assert "super-secret" not in repr({"password": secret})
    assert secret.masked() == "********"
    assert Secret("x").masked() == Secret("a-much-longer-password").masked()
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(secret)
