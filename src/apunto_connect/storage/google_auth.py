"""Signing in to Google Drive: client configuration, sign-in flows, token stores, revocation.

Two sign-in flows, both asking only for the ``drive.file`` scope (the app sees the files and
folders it created, nothing else in the user's Drive):

* **installed app** (:func:`login_installed_app`) for notebooks and the command line: a browser
  opens Google's consent page and the answer comes back to a one-off ``localhost`` server
  (``InstalledAppFlow.run_local_server(port=0)``);
* **web server with PKCE** for backends, in two steps around the browser redirect:
  :func:`begin_web_login` returns a :class:`PendingLogin` (authorization URL, ``state`` and the
  PKCE ``code_verifier``) that the caller keeps server-side — keyed by ``state`` — until Google
  redirects back; :func:`finish_web_login` checks the ``state``, exchanges the code with the
  verifier and stores the result. Losing the verifier ends in Google's ``invalid_grant: Missing
  code verifier``.

What is stored is compact on purpose (Windows' credential manager caps an entry near 2.5 KB):
the refresh token, the OAuth client id, the account e-mail and the granted scopes — never the
access token, never the client secret. The client secret always comes from the client
configuration (a ``client_secret.json`` file, a dict, ``APUNTO_GOOGLE_DRIVE_CLIENT_CONFIG``, or
the ``client_id``/``client_secret`` credential fields).

Token stores (:class:`TokenStore`): :class:`KeyringTokenStore` (service
``apunto_connect/google_drive``, entry ``credentials`` — the same compact JSON entry
:func:`~apunto_connect.credentials.resolve_credentials` reads), :class:`FileTokenStore` (a file
the caller chooses, written atomically with mode 0600) and :class:`MemoryTokenStore` (tests,
short-lived workers).

Refresh tokens of an app whose OAuth consent screen is left in **Testing** expire after 7 days:
the next refresh fails with ``invalid_grant`` and :class:`RefreshTokenExpired` says to publish
the app ("In production") or to sign in again.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import attrs

from ..credentials import (
    CredentialField,
    Secret,
    resolve_credentials,
)
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    ProviderError,
    TransportError,
)

__all__ = [
    "DEFAULT_SCOPES",
    "DRIVE_FILE_SCOPE",
    "GOOGLE_OAUTH_ENDPOINTS",
    "KEYRING_ENTRY",
    "KEYRING_SERVICE",
    "ClientConfig",
    "FileTokenStore",
    "KeyringTokenStore",
    "MemoryTokenStore",
    "PendingLogin",
    "RefreshTokenExpired",
    "StoredToken",
    "TokenGrant",
    "TokenStore",
    "begin_web_login",
    "default_token_store",
    "exchange_code",
    "finish_web_login",
    "load_client_config",
    "login_installed_app",
    "oauth_error",
    "refresh_error",
    "revoke_token",
    "user_credentials",
]

from .google_tokens import (
    DEFAULT_SCOPES,
    DRIVE_FILE_SCOPE,
    KEYRING_ENTRY,
    KEYRING_SERVICE,
    FileTokenStore,
    KeyringTokenStore,
    MemoryTokenStore,
    StoredToken,
    TokenStore,
    default_token_store,
)
from .google_tokens import TOKEN_FILE_ENV as TOKEN_FILE_ENV

log = logging.getLogger("apunto_connect.google_drive")

PROVIDER = "google_drive"
CLIENT_CONFIG_ENV = "APUNTO_GOOGLE_DRIVE_CLIENT_CONFIG"

GOOGLE_OAUTH_ENDPOINTS: Mapping[str, str] = {
    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    "token_uri": "https://oauth2.googleapis.com/token",
    "revoke_uri": "https://oauth2.googleapis.com/revoke",
}
"""Google's OAuth 2.0 endpoints (a client configuration file may name others)."""


CLIENT_CREDENTIALS: tuple[CredentialField, ...] = (
    CredentialField("client_id", secret=False, required=False),
    CredentialField("client_secret", required=False),
)

TESTING_APP_HINT = (
    "Google refused the stored refresh token. Refresh tokens of an OAuth app whose consent "
    "screen is in 'Testing' expire after 7 days: publish the app ('In production') in the "
    "Google Cloud console, then sign in again (`apunto-connect drive login`)."
)


class RefreshTokenExpired(AuthenticationError):
    """Google answered ``invalid_grant`` to a refresh: the token expired or was revoked.

    ``message`` is Google's text verbatim; ``hint`` says what to do (shown by ``str()``).
    """

    hint: str = TESTING_APP_HINT

    def __str__(self) -> str:
        return f"{super().__str__()} — {self.hint}"


# -- client configuration -------------------------------------------------------------------


@attrs.frozen(slots=True)
class ClientConfig:
    """An OAuth client (from the Google Cloud console's ``client_secret.json``).

    Attributes:
        client_id: the client id (``…apps.googleusercontent.com``).
        client_secret: the client secret, masked everywhere.
        kind: ``installed`` (desktop app) or ``web``.
        auth_uri, token_uri, revoke_uri: Google's endpoints (override for a test server).
        redirect_uris: registered redirect URIs (web clients).
    """

    client_id: str
    client_secret: Secret | None = None
    kind: str = "installed"
    auth_uri: str = GOOGLE_OAUTH_ENDPOINTS["auth_uri"]
    token_uri: str = GOOGLE_OAUTH_ENDPOINTS["token_uri"]
    revoke_uri: str = GOOGLE_OAUTH_ENDPOINTS["revoke_uri"]
    redirect_uris: tuple[str, ...] = ()

    def flow_config(self) -> dict[str, Any]:
        """The dict google-auth-oauthlib's ``Flow.from_client_config`` wants (secret revealed)."""
        section: dict[str, Any] = {
            "client_id": self.client_id,
            "auth_uri": self.auth_uri,
            "token_uri": self.token_uri,
            "redirect_uris": list(self.redirect_uris) or ["http://localhost"],
        }
        if self.client_secret is not None:
            section["client_secret"] = self.client_secret.reveal()
        return {self.kind: section}

    def with_endpoints(self, endpoints: Mapping[str, str]) -> ClientConfig:
        """A copy pointing at other OAuth endpoints (keys ``auth_uri``, ``token_uri``, ``revoke_uri``)."""
        return attrs.evolve(
            self,
            auth_uri=endpoints.get("auth_uri", self.auth_uri),
            token_uri=endpoints.get("token_uri", self.token_uri),
            revoke_uri=endpoints.get("revoke_uri", self.revoke_uri),
        )


def _config_from_mapping(data: Mapping[str, Any]) -> ClientConfig:
    for kind in ("installed", "web"):
        section = data.get(kind)
        if isinstance(section, Mapping):
            break
    else:
        kind, section = "installed", data
    client_id = section.get("client_id")
    if not client_id:
        raise ConfigurationError(
            "The Google OAuth client configuration has no client_id; download the JSON of an "
            "OAuth client (Desktop app or Web application) from the Google Cloud console"
        )
    secret = section.get("client_secret")
    redirect = section.get("redirect_uris") or ()
    return ClientConfig(
        client_id=str(client_id),
        client_secret=Secret(str(secret)) if secret else None,
        kind=kind,
        auth_uri=str(section.get("auth_uri") or GOOGLE_OAUTH_ENDPOINTS["auth_uri"]),
        token_uri=str(section.get("token_uri") or GOOGLE_OAUTH_ENDPOINTS["token_uri"]),
        revoke_uri=str(section.get("revoke_uri") or GOOGLE_OAUTH_ENDPOINTS["revoke_uri"]),
        redirect_uris=tuple(str(u) for u in redirect),
    )


def _config_from_text_or_path(value: str) -> ClientConfig:
    text = value.strip()
    if text.startswith("{"):
        try:
            return _config_from_mapping(json.loads(text))
        except ValueError as exc:
            raise ConfigurationError(f"The Google OAuth client configuration is not JSON: {exc}") from None
    path = Path(text).expanduser()
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"Cannot read the Google OAuth client file {str(path)!r}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigurationError(f"{str(path)!r} is not a Google OAuth client JSON file: {exc}") from None
    if not isinstance(loaded, Mapping):
        raise ConfigurationError(f"{str(path)!r} is not a Google OAuth client JSON file")
    return _config_from_mapping(loaded)


def load_client_config(
    value: ClientConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    client_id: str | None = None,
    client_secret: str | Secret | None = None,
    environ: Mapping[str, str] | None = None,
) -> ClientConfig:
    """Find the OAuth client: argument > ``APUNTO_GOOGLE_DRIVE_CLIENT_CONFIG`` > id/secret fields.

    ``value`` may be a :class:`ClientConfig`, the parsed ``client_secret.json`` dict, its path,
    or its JSON text. Without one, ``client_id``/``client_secret`` are resolved like any
    credential (argument > ``APUNTO_GOOGLE_DRIVE_CLIENT_ID``/``…_SECRET`` > keyring).

    Raises:
        ConfigurationError: no client configuration anywhere (the message says how to get one).
    """
    environ = os.environ if environ is None else environ
    if isinstance(value, ClientConfig):
        return value
    if isinstance(value, Mapping):
        return _config_from_mapping(value)
    if value is not None:
        return _config_from_text_or_path(os.fspath(value))
    if client_id is None and environ.get(CLIENT_CONFIG_ENV):
        return _config_from_text_or_path(environ[CLIENT_CONFIG_ENV])
    found = resolve_credentials(
        PROVIDER, CLIENT_CREDENTIALS, {"client_id": client_id, "client_secret": client_secret},
        environ=environ,
    )
    if not found["client_id"]:
        raise ConfigurationError(
            "No Google OAuth client configured. Create an OAuth client (Desktop app) in the "
            "Google Cloud console (APIs & Services > Credentials), download its JSON and pass "
            f"client_config='client_secret.json' (command line: --client-config PATH), or set "
            f"{CLIENT_CONFIG_ENV} to its path, or "
            "set APUNTO_GOOGLE_DRIVE_CLIENT_ID and APUNTO_GOOGLE_DRIVE_CLIENT_SECRET."
        )
    secret = found["client_secret"]
    return ClientConfig(client_id=str(found["client_id"]), client_secret=secret)



# -- errors ---------------------------------------------------------------------------------


def oauth_error(
    status: int | None, body: Mapping[str, Any] | None, raw: str = "", *, refreshing: bool = True
) -> ProviderError:
    """Map a Google OAuth error answer (``{"error": ..., "error_description": ...}``) to our tree.

    ``invalid_grant`` on a refresh (``refreshing=True``) becomes :class:`RefreshTokenExpired`;
    other client errors (a refused code exchange too) :class:`AuthenticationError`; 5xx a plain
    :class:`ProviderError`.
    """
    body = body or {}
    code = str(body.get("error") or "") or None
    text = str(body.get("error_description") or body.get("error") or raw or "OAuth error")
    kwargs: dict[str, Any] = {
        "provider": PROVIDER, "status_code": status, "vendor_code": code,
        "details": dict(body), "raw_body": raw or None,
    }
    if code == "invalid_grant" and refreshing:
        return RefreshTokenExpired(text, **kwargs)
    if status is not None and status >= 500:
        return ProviderError(text, **kwargs)
    return AuthenticationError(text, **kwargs)


def refresh_error(exc: BaseException) -> ProviderError:
    """Turn google-auth's ``RefreshError`` into :func:`oauth_error`'s result."""
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    body = args[1] if len(args) > 1 and isinstance(args[1], Mapping) else None
    if body is None:
        # google-auth formats the first argument as "<error>: <description>".
        text = str(args[0]) if args else str(exc)
        code, _, description = text.partition(": ")
        body = {"error": code, "error_description": description or text} if code else {}
    return oauth_error(None, body, "")


# -- credentials ----------------------------------------------------------------------------

_credentials_class: Any = None
_class_lock = threading.Lock()


def _storing_credentials_class() -> Any:
    """google-auth user credentials that refresh under a lock and report every refresh."""
    global _credentials_class
    with _class_lock:
        if _credentials_class is not None:
            return _credentials_class
        from google.auth.exceptions import RefreshError
        from google.oauth2.credentials import Credentials

        class _StoringCredentials(Credentials):  # type: ignore[misc,unused-ignore]
            _apunto_lock: threading.Lock
            _apunto_on_refresh: Callable[[Any], None] | None

            def refresh(self, request: Any) -> None:
                # Threads share one credentials object; only one of them refreshes at a time.
                with self._apunto_lock:
                    try:
                        super().refresh(request)  # type: ignore[no-untyped-call,unused-ignore]
                    except RefreshError as exc:
                        raise refresh_error(exc) from exc
                    callback = self._apunto_on_refresh
                if callback is not None:
                    callback(self)

        _credentials_class = _StoringCredentials
        return _credentials_class


def _naive_utc(moment: datetime | None) -> datetime | None:
    # google-auth compares expiry with a naive UTC "now".
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def user_credentials(
    client: ClientConfig,
    refresh_token: str,
    scopes: Sequence[str] = DEFAULT_SCOPES,
    *,
    access_token: str | None = None,
    expiry: datetime | None = None,
    on_refresh: Callable[[Any], None] | None = None,
) -> Any:
    """google-auth ``Credentials`` for a signed-in user; ``on_refresh`` runs after each refresh."""
    cls = _storing_credentials_class()
    creds = cls(
        token=access_token,
        refresh_token=refresh_token,
        token_uri=client.token_uri,
        client_id=client.client_id,
        client_secret=client.client_secret.reveal() if client.client_secret else None,
        scopes=list(scopes),
        expiry=_naive_utc(expiry),
    )
    creds._apunto_lock = threading.Lock()
    creds._apunto_on_refresh = on_refresh
    return creds


# -- HTTP helpers ---------------------------------------------------------------------------


def _post_form(http: Any, uri: str, form: Mapping[str, str]) -> tuple[int, Any, str]:
    headers = {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}
    try:
        response, content = http.request(uri, "POST", body=urlencode(form), headers=headers)
    except (OSError, TransportError) as exc:
        raise TransportError(f"cannot reach {uri}: {exc}", provider=PROVIDER) from None
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content or "")
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        body = None
    return int(response.status), body, text


# -- web server flow (PKCE) -----------------------------------------------------------------


@attrs.frozen(slots=True)
class PendingLogin:
    """A web sign-in waiting for Google's redirect.

    Keep it server-side (e.g. in the user's session, keyed by ``state``) between
    :func:`begin_web_login` and :func:`finish_web_login`: the ``code_verifier`` is a secret and
    the code exchange fails without it.
    """

    authorization_url: str
    state: str
    code_verifier: Secret
    redirect_uri: str
    scopes: tuple[str, ...] = DEFAULT_SCOPES

    def to_dict(self) -> dict[str, str]:
        """Plain strings to persist (the verifier is revealed: store it server-side only)."""
        return {
            "authorization_url": self.authorization_url,
            "state": self.state,
            "code_verifier": self.code_verifier.reveal(),
            "redirect_uri": self.redirect_uri,
            "scopes": " ".join(self.scopes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> PendingLogin:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            authorization_url=data.get("authorization_url", ""),
            state=data["state"],
            code_verifier=Secret(data["code_verifier"]),
            redirect_uri=data["redirect_uri"],
            scopes=tuple((data.get("scopes") or " ".join(DEFAULT_SCOPES)).split()),
        )


def begin_web_login(
    client_config: ClientConfig | Mapping[str, Any] | str | os.PathLike[str] | None,
    redirect_uri: str,
    *,
    scopes: Sequence[str] = DEFAULT_SCOPES,
    login_hint: str | None = None,
    select_account: bool = False,
) -> PendingLogin:
    """Start a web sign-in: the URL to send the browser to, plus what to keep until it returns.

    Asks for offline access (a refresh token) and always shows the consent screen, because
    Google sends a refresh token only on consent. ``select_account=True`` lets the user pick
    another Google account (the help page's "reconnect with a different account").
    """
    from google_auth_oauthlib.flow import Flow

    client = load_client_config(client_config)
    flow = Flow.from_client_config(
        client.flow_config(), scopes=list(scopes), redirect_uri=redirect_uri,
        autogenerate_code_verifier=True,
    )
    extra: dict[str, str] = {"prompt": "select_account consent" if select_account else "consent"}
    if login_hint:
        extra["login_hint"] = login_hint
    url, state = flow.authorization_url(
        access_type="offline", include_granted_scopes="true", **extra
    )
    return PendingLogin(
        authorization_url=url,
        state=state,
        code_verifier=Secret(flow.code_verifier),
        redirect_uri=redirect_uri,
        scopes=tuple(scopes),
    )


@attrs.frozen(slots=True)
class TokenGrant:
    """The answer of a code exchange: what was stored, plus the short-lived access token."""

    stored: StoredToken
    access_token: Secret
    expiry: datetime | None


def exchange_code(
    client: ClientConfig,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    *,
    http: Any,
    scopes: Sequence[str] = DEFAULT_SCOPES,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> TokenGrant:
    """POST the authorization code and PKCE verifier to the token endpoint."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client.client_id,
        "code_verifier": code_verifier,
    }
    if client.client_secret is not None:
        form["client_secret"] = client.client_secret.reveal()
    status, body, raw = _post_form(http, client.token_uri, form)
    if status != 200 or not isinstance(body, Mapping) or not body.get("access_token"):
        raise oauth_error(status, body if isinstance(body, Mapping) else None, raw, refreshing=False)
    if not body.get("refresh_token"):
        raise AuthenticationError(
            "Google returned no refresh token; sign in again with prompt=consent "
            "(or remove the app's access at myaccount.google.com/permissions first)",
            provider=PROVIDER, status_code=status,
        )
    granted = tuple(str(body.get("scope") or " ".join(scopes)).split())
    expires_in = body.get("expires_in")
    expiry = now() + timedelta(seconds=int(expires_in)) if expires_in else None
    stored = StoredToken(
        refresh_token=Secret(str(body["refresh_token"])), client_id=client.client_id, scopes=granted
    )
    return TokenGrant(stored=stored, access_token=Secret(str(body["access_token"])), expiry=expiry)


def _parse_redirect(authorization_response: str) -> dict[str, str]:
    parts = urlsplit(authorization_response)
    params = dict(parse_qsl(parts.query or authorization_response.lstrip("?"), keep_blank_values=True))
    return params


def finish_web_login(
    client_config: ClientConfig | Mapping[str, Any] | str | os.PathLike[str] | None,
    redirect_uri: str | None,
    pending: PendingLogin | tuple[str, str],
    authorization_response: str,
    *,
    token_store: TokenStore | None = None,
    http: Any = None,
    session: Any = None,
) -> TokenGrant:
    """Finish a web sign-in: check ``state``, exchange the code with the verifier, store the token.

    Args:
        client_config: the OAuth client (as for :func:`load_client_config`).
        redirect_uri: the same redirect URI as in :func:`begin_web_login` (``None``: the one
            kept in ``pending``).
        pending: the :class:`PendingLogin`, or ``(state, code_verifier)`` read back from storage.
        authorization_response: the full URL Google redirected to (or its query string).
        token_store: where to save the result (:func:`default_token_store` when ``None``).
        http: transport for the token request (an httplib2-like object).
        session: a :class:`requests.Session` to send through instead; a real httplib2 client
            when both are ``None``.

    Raises:
        AuthenticationError: the user refused, the ``state`` does not match, or Google refused
            the code (``invalid_grant`` — e.g. a missing or wrong code verifier).
    """
    client = load_client_config(client_config)
    if isinstance(pending, PendingLogin):
        state, verifier = pending.state, pending.code_verifier.reveal()
        redirect_uri = redirect_uri or pending.redirect_uri
        scopes: Sequence[str] = pending.scopes
    else:
        state, verifier = pending
        scopes = DEFAULT_SCOPES
    if not redirect_uri:
        raise ConfigurationError("finish_web_login needs the redirect_uri used to begin the sign-in")
    params = _parse_redirect(authorization_response)
    if params.get("error"):
        raise AuthenticationError(
            params.get("error_description") or params["error"],
            provider=PROVIDER, vendor_code=params["error"],
        )
    returned_state = params.get("state", "")
    if not hmac.compare_digest(returned_state.encode(), state.encode()):
        raise AuthenticationError(
            "The sign-in answer does not match the pending sign-in (state mismatch); start again",
            provider=PROVIDER, vendor_code="state_mismatch",
        )
    code = params.get("code")
    if not code:
        raise AuthenticationError("Google's redirect carries no authorization code", provider=PROVIDER)
    transport = _http_for(http, session)
    grant = exchange_code(client, code, redirect_uri, verifier, http=transport, scopes=scopes)
    (token_store or default_token_store()).save(grant.stored)
    return grant


def _http_for(http: Any, session: Any) -> Any:
    if http is not None:
        return http
    if session is not None:
        from .google_http import RequestsHttp

        return RequestsHttp(session)
    from .google_http import GuardedHttp, new_httplib2_http

    return GuardedHttp(new_httplib2_http())


# -- installed-app flow ---------------------------------------------------------------------


def login_installed_app(
    client_config: ClientConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    scopes: Sequence[str] = DEFAULT_SCOPES,
    token_store: TokenStore | None = None,
    port: int = 0,
    open_browser: bool = True,
    timeout_seconds: int | None = None,
    login_hint: str | None = None,
    select_account: bool = False,
    prompt_message: str | None = None,
) -> TokenGrant:
    """Sign in from a notebook or terminal: browser consent, answer on a one-off localhost server.

    ``port=0`` picks a free port. Without a browser (``open_browser=False``) the URL is printed
    and the call waits for the redirect (up to ``timeout_seconds``).
    """
    from google_auth_oauthlib.flow import InstalledAppFlow

    client = load_client_config(client_config)
    flow = InstalledAppFlow.from_client_config(client.flow_config(), scopes=list(scopes))
    extra: dict[str, str] = {"prompt": "select_account consent" if select_account else "consent"}
    if login_hint:
        extra["login_hint"] = login_hint
    creds = flow.run_local_server(
        host="localhost",
        port=port,
        open_browser=open_browser,
        timeout_seconds=timeout_seconds,
        authorization_prompt_message=prompt_message
        or "Open this URL in a browser to let apunto-connect use Google Drive:\n{url}",
        success_message="apunto-connect is connected to Google Drive; you may close this tab.",
        access_type="offline",
        **extra,
    )
    if not creds.refresh_token:
        raise AuthenticationError(
            "Google returned no refresh token; remove the app's access at "
            "myaccount.google.com/permissions and sign in again",
            provider=PROVIDER,
        )
    stored = StoredToken(
        refresh_token=Secret(creds.refresh_token),
        client_id=client.client_id,
        scopes=tuple(creds.scopes or scopes),
    )
    (token_store or default_token_store()).save(stored)
    expiry = creds.expiry.replace(tzinfo=timezone.utc) if creds.expiry else None
    return TokenGrant(stored=stored, access_token=Secret(creds.token), expiry=expiry)


# -- revocation -----------------------------------------------------------------------------


def revoke_token(token: str, *, http: Any, revoke_uri: str = GOOGLE_OAUTH_ENDPOINTS["revoke_uri"]) -> bool:
    """Revoke a refresh (or access) token at Google; ``False`` when it was already invalid.

    Revoking the refresh token also ends every access token issued from it.
    """
    status, body, raw = _post_form(http, revoke_uri, {"token": token})
    if status == 200:
        return True
    if status == 400 and isinstance(body, Mapping) and body.get("error") in {"invalid_token", "invalid_request"}:
        return False
    raise oauth_error(status, body if isinstance(body, Mapping) else None, raw, refreshing=False)

