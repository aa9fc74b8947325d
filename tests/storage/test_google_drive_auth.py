"""Google sign-in: client configuration, token stores, the PKCE web flow and the installed-app flow."""

from __future__ import annotations

import json
import logging
import os
import stat
from urllib.parse import parse_qs, urlsplit

import pytest
from googleapiclient.http import HttpMockSequence

from apunto_connect.credentials import CredentialField, Secret, resolve_credentials
from apunto_connect.errors import AuthenticationError, ConfigurationError
from apunto_connect.sandbox import Sandbox
from apunto_connect.storage.google_auth import (
    DRIVE_FILE_SCOPE,
    ClientConfig,
    FileTokenStore,
    KeyringTokenStore,
    MemoryTokenStore,
    PendingLogin,
    StoredToken,
    begin_web_login,
    default_token_store,
    finish_web_login,
    load_client_config,
    login_installed_app,
)
from apunto_connect.storage.google_drive import GoogleDriveStorage

REDIRECT = "https://app.example.com/oauth/google/callback"


class FakeKeyring:
    def __init__(self):
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, value):
        self.entries[(service, username)] = value

    def delete_password(self, service, username):
        del self.entries[(service, username)]


@pytest.fixture
def sb():
    with Sandbox(vendors=["google_drive"], seed=11) as sandbox:
        yield sandbox


@pytest.fixture
def emu(sb):
    return sb.emulator("google_drive")


@pytest.fixture
def client(emu):
    creds = emu.demo_credentials
    return {"web": {"client_id": creds["client_id"], "client_secret": creds["client_secret"],
                    "redirect_uris": [REDIRECT]}}


def token(refresh="1//a-refresh-token-that-is-long-enough", account="archivo@example.com"):
    return StoredToken(refresh_token=Secret(refresh), client_id="cid.apps.googleusercontent.com",
                       account=account)


# -- stored tokens --------------------------------------------------------------------------------


def test_the_stored_token_is_compact_and_holds_no_client_secret_or_access_token():
    text = token("1//" + "r" * 100).to_json()
    data = json.loads(text)
    assert set(data) == {"refresh_token", "client_id", "account"}
    assert len(text.encode()) < 400  # far below Windows' ~2.5 KB credential limit
    assert StoredToken.from_json(text) == token("1//" + "r" * 100)
    assert "1//" not in repr(token())


def test_keyring_store_writes_one_compact_entry_that_credential_resolution_reads(monkeypatch):
    fake = FakeKeyring()
    store = KeyringTokenStore(keyring=fake)
    store.save(token())
    assert list(fake.entries) == [("apunto_connect/google_drive", "credentials")]
    assert "client_secret" not in fake.entries[("apunto_connect/google_drive", "credentials")]
    assert store.load() == token()

    monkeypatch.delenv("APUNTO_NO_KEYRING")
    monkeypatch.setattr("apunto_connect.credentials._usable_keyring", lambda: fake)
    found = resolve_credentials("google_drive", [CredentialField("refresh_token")], {})
    assert found["refresh_token"].reveal() == token().refresh_token.reveal()

    store.clear()
    assert store.load() is None and fake.entries == {}
    store.clear()  # absent is fine


def test_keyring_store_without_a_backend_says_what_to_do_instead():
    store = KeyringTokenStore()
    assert store.load() is None
    with pytest.raises(ConfigurationError, match="FileTokenStore"):
        store.save(token())


def test_file_store_writes_mode_0600_atomically_and_clears(tmp_path):
    path = tmp_path / "sub" / "token.json"
    store = FileTokenStore(path)
    assert store.load() is None
    store.save(token())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.load() == token()
    store.save(token(account="otra.cuenta@example.com"))
    assert store.load().account == "otra.cuenta@example.com"
    assert sorted(p.name for p in path.parent.iterdir()) == ["token.json"]
    store.clear()
    assert not path.exists()


def test_file_store_warns_when_others_can_read_the_token(tmp_path, caplog):
    path = tmp_path / "token.json"
    path.write_text(token().to_json())
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="apunto_connect.google_drive"):
        assert FileTokenStore(path).load() == token()
    assert "chmod 600" in caplog.text


def test_default_store_follows_the_token_file_variable(tmp_path):
    store = default_token_store({"APUNTO_GOOGLE_DRIVE_TOKEN_FILE": str(tmp_path / "t.json"),
                                 "APUNTO_NO_KEYRING": "1"})
    assert isinstance(store, FileTokenStore) and store.path == tmp_path / "t.json"


# -- client configuration -------------------------------------------------------------------------


def test_client_config_from_a_dict_a_file_json_text_or_two_fields(tmp_path, monkeypatch):
    installed = {"installed": {"client_id": "cid", "client_secret": "csecret",
                               "token_uri": "https://oauth2.googleapis.com/token"}}
    path = tmp_path / "client_secret.json"
    path.write_text(json.dumps(installed))

    from_dict = load_client_config(installed)
    assert from_dict.kind == "installed" and from_dict.client_secret.reveal() == "csecret"
    assert load_client_config(path) == from_dict
    assert load_client_config(json.dumps(installed)) == from_dict
    monkeypatch.setenv("APUNTO_GOOGLE_DRIVE_CLIENT_CONFIG", str(path))
    assert load_client_config() == from_dict
    monkeypatch.delenv("APUNTO_GOOGLE_DRIVE_CLIENT_CONFIG")
    monkeypatch.setenv("APUNTO_GOOGLE_DRIVE_CLIENT_ID", "env-cid")
    monkeypatch.setenv("APUNTO_GOOGLE_DRIVE_CLIENT_SECRET", "env-secret")
    from_env = load_client_config()
    assert from_env.client_id == "env-cid" and from_env.client_secret.reveal() == "env-secret"
    assert "csecret" not in repr(from_dict)


def test_a_missing_client_config_explains_how_to_create_one():
    with pytest.raises(ConfigurationError, match="Google Cloud console"):
        load_client_config()
    with pytest.raises(ConfigurationError, match="Cannot read"):
        load_client_config("/nonexistent/client_secret.json")


# -- web flow with PKCE -----------------------------------------------------------------------------


def test_web_sign_in_round_trips_the_pkce_verifier_through_the_token_endpoint(sb, emu, client):
    pending = begin_web_login(client, REDIRECT)
    query = parse_qs(urlsplit(pending.authorization_url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["access_type"] == ["offline"] and query["scope"] == [DRIVE_FILE_SCOPE]
    assert query["state"] == [pending.state]
    assert "code_verifier" not in pending.authorization_url

    # A backend keeps the pending login server-side between the two requests.
    kept = json.dumps(pending.to_dict())
    redirected_to = emu.approve(pending.authorization_url)
    store = MemoryTokenStore()
    grant = finish_web_login(client, REDIRECT, PendingLogin.from_dict(json.loads(kept)),
                             redirected_to, token_store=store, session=sb.session)

    assert store.load() == grant.stored
    assert grant.stored.scopes == (DRIVE_FILE_SCOPE,)
    drive = GoogleDriveStorage(client_config=client, token_store=store, session=sb.session)
    assert drive.status().account == emu.demo_account
    assert store.load().account == emu.demo_account


def test_state_and_verifier_alone_are_enough_to_finish(sb, emu, client):
    pending = begin_web_login(client, REDIRECT)
    redirected = emu.approve(pending.authorization_url)
    grant = finish_web_login(client, REDIRECT, (pending.state, pending.code_verifier.reveal()),
                             redirected, token_store=MemoryTokenStore(), session=sb.session)
    assert grant.access_token.reveal().startswith("ya29.")


def test_a_lost_or_wrong_verifier_is_refused_by_google(sb, emu, client):
    pending = begin_web_login(client, REDIRECT)
    redirected = emu.approve(pending.authorization_url)
    with pytest.raises(AuthenticationError) as info:
        finish_web_login(client, REDIRECT, (pending.state, "x" * 43), redirected,
                         token_store=MemoryTokenStore(), session=sb.session)
    assert info.value.vendor_code == "invalid_grant"
    assert info.value.message == "Invalid code verifier."
    assert type(info.value) is AuthenticationError  # not a refresh-token expiry


def test_a_state_mismatch_is_refused_before_any_request(client):
    pending = begin_web_login(client, REDIRECT)
    http = HttpMockSequence([])
    with pytest.raises(AuthenticationError, match="state mismatch"):
        finish_web_login(client, REDIRECT, pending, f"{REDIRECT}?state=forged&code=abc",
                         token_store=MemoryTokenStore(), http=http)
    assert http.request_sequence == []


def test_a_refused_consent_is_an_authentication_error(emu, client):
    emu.deny_consent = True
    pending = begin_web_login(client, REDIRECT)
    with pytest.raises(AuthenticationError) as info:
        finish_web_login(client, REDIRECT, pending, emu.approve(pending.authorization_url),
                         token_store=MemoryTokenStore(), http=HttpMockSequence([]))
    assert info.value.vendor_code == "access_denied"


def test_reconnect_with_another_account_revokes_the_old_token(sb, emu, client):
    drive = sb.storage_provider("google_drive", client_config=client)
    assert drive.status().account == emu.demo_account
    old = emu.demo_credentials["refresh_token"]

    pending = drive.begin_reconnect(REDIRECT, login_hint=emu.other_account)
    assert "select_account" in parse_qs(urlsplit(pending.authorization_url).query)["prompt"][0]
    status = drive.finish_web_login(pending, emu.approve(pending.authorization_url))

    assert emu.refresh_tokens[old].revoked
    assert status.connected and status.account == emu.other_account
    stored = drive.upload(b"x", "x.xml")
    assert emu.files[stored.id].owner == emu.other_account


# -- installed-app flow -----------------------------------------------------------------------------


def test_installed_app_sign_in_uses_a_free_local_port_and_stores_the_token(monkeypatch):
    seen = {}

    class FakeCreds:
        refresh_token = "1//refresh-from-browser"
        token = "ya29.access"
        scopes = (DRIVE_FILE_SCOPE,)
        expiry = None

    def run_local_server(self, **kwargs):
        seen.update(kwargs)
        seen["config"] = self.client_config
        return FakeCreds()

    monkeypatch.setattr("google_auth_oauthlib.flow.InstalledAppFlow.run_local_server", run_local_server)
    store = MemoryTokenStore()
    grant = login_installed_app(ClientConfig("cid", Secret("csecret")), token_store=store,
                                open_browser=False)

    assert seen["port"] == 0 and seen["open_browser"] is False
    assert seen["access_type"] == "offline" and seen["prompt"] == "consent"
    assert seen["config"]["client_id"] == "cid"
    assert store.load() == grant.stored
    assert grant.stored.refresh_token.reveal() == "1//refresh-from-browser"


def test_a_sign_in_found_in_the_keyring_is_used_and_forgotten_through_the_keyring(monkeypatch, sb, emu):
    fake = FakeKeyring()
    monkeypatch.delenv("APUNTO_NO_KEYRING")
    monkeypatch.setattr("apunto_connect.credentials._usable_keyring", lambda: fake)
    KeyringTokenStore(keyring=fake).save(StoredToken(
        refresh_token=Secret(emu.demo_credentials["refresh_token"]),
        client_id=emu.demo_credentials["client_id"]))
    drive = GoogleDriveStorage(client_id=emu.demo_credentials["client_id"],
                               client_secret=emu.demo_credentials["client_secret"], session=sb.session)

    assert isinstance(drive.token_store, KeyringTokenStore)
    assert drive.status().account == emu.demo_account
    saved = json.loads(fake.entries[("apunto_connect/google_drive", "credentials")])
    assert saved["account"] == emu.demo_account  # the account e-mail joins the same entry
    assert drive.disconnect() is True
    assert fake.entries == {}


def test_a_refresh_token_from_the_environment_stays_in_memory(monkeypatch, sb, emu):
    monkeypatch.setenv("APUNTO_GOOGLE_DRIVE_REFRESH_TOKEN", emu.demo_credentials["refresh_token"])
    drive = GoogleDriveStorage(client_id=emu.demo_credentials["client_id"],
                               client_secret=emu.demo_credentials["client_secret"], session=sb.session)
    assert isinstance(drive.token_store, MemoryTokenStore)
    assert drive.status().connected
