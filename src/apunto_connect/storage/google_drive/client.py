"""The Drive client under the provider: credentials, service objects, executing a request.

:class:`~.provider.GoogleDriveStorage` builds on it: the OAuth client, the signed-in
credentials, one service object per thread, and the one place requests are executed (under the
house retry policy, :mod:`.retries`).
"""

import logging
import threading
from typing import Any

import attrs

from ...credentials import Secret
from ...errors import (
    ApuntoError,
    AuthenticationError,
    ProviderError,
    TransportError,
)
from ...http import RetryPolicy
from ..google_auth import (
    GOOGLE_OAUTH_ENDPOINTS,
    ClientConfig,
    StoredToken,
    TokenStore,
    default_token_store,
    load_client_config,
    refresh_error,
    user_credentials,
)
from .mapping import PROVIDER, google_drive_error, media_upload_uri
from .retries import DriveRetry

__all__ = ["DriveClient"]

log = logging.getLogger("apunto_connect.google_drive")


class DriveClient:
    """The HTTP side of the Drive provider; :class:`~.provider.GoogleDriveStorage` sets the state."""

    _lock: threading.RLock
    _local: threading.local
    _generation: int
    _credentials: Any
    _given_credentials: Any
    _token_store: TokenStore | None
    _seed: StoredToken | None
    _client: ClientConfig | None
    _client_config_source: Any
    _client_id: str | None
    _client_secret: Secret | None
    _oauth: dict[str, str]
    _session: Any
    _http: Any
    _timeout: float | None
    _client_options: dict[str, Any]
    _api_endpoint: str | None
    _name_locks: list[threading.Lock]
    _retry: DriveRetry
    retry_policy: RetryPolicy

    # -- configuration ------------------------------------------------------------------------

    @property
    def token_store(self) -> TokenStore:
        """Where the signed-in account's refresh token is kept."""
        with self._lock:
            if self._token_store is None:
                self._token_store = default_token_store()
            return self._token_store

    def client_config(self) -> ClientConfig:
        """The OAuth client (loaded on first use), with this provider's OAuth endpoints."""
        with self._lock:
            if self._client is None:
                client = load_client_config(
                    self._client_config_source, client_id=self._client_id,
                    client_secret=self._client_secret,
                )
                overrides = {k: v for k, v in self._oauth.items() if v != GOOGLE_OAUTH_ENDPOINTS.get(k)}
                self._client = client.with_endpoints(overrides) if overrides else client
            return self._client

    def _stored_token(self) -> StoredToken | None:
        return self.token_store.load() or self._seed

    # -- HTTP plumbing --------------------------------------------------------------------------

    def _base_http(self) -> Any:
        """The calling thread's unauthenticated httplib2-like client."""
        base = getattr(self._local, "base", None)
        if base is None:
            from ..google_http import DEFAULT_TIMEOUT, GuardedHttp, RequestsHttp, new_httplib2_http

            if self._http is not None:
                base = self._http
            elif self._session is not None:
                timeout = (self._timeout, self._timeout) if self._timeout else DEFAULT_TIMEOUT
                base = RequestsHttp(self._session, timeout)
            else:
                base = GuardedHttp(new_httplib2_http(self._timeout))
            self._local.base = base
        return base

    def _user_credentials(self) -> Any:
        with self._lock:
            if self._credentials is not None:
                return self._credentials
            token = self._stored_token()
            if token is None:
                raise AuthenticationError(
                    "Not signed in to Google Drive: run `apunto-connect drive login` or call "
                    "GoogleDriveStorage.login() (backends: begin_web_login/finish_web_login)",
                    provider=PROVIDER, vendor_code="not_signed_in",
                )
            client = self.client_config()
            if token.client_id and token.client_id != client.client_id:
                raise AuthenticationError(
                    "The stored Google Drive sign-in belongs to another OAuth client "
                    f"({token.client_id}); sign in again with this client",
                    provider=PROVIDER, vendor_code="client_mismatch",
                )
            self._credentials = user_credentials(
                client, token.refresh_token.reveal(), token.scopes, on_refresh=self._after_refresh
            )
            return self._credentials

    def _after_refresh(self, creds: Any) -> None:
        # Google may rotate the refresh token; what is stored must follow it.
        token = self._stored_token()
        new = getattr(creds, "refresh_token", None)
        if token is not None and new and new != token.refresh_token.reveal():
            updated = attrs.evolve(token, refresh_token=Secret(new))
            self.token_store.save(updated)
            if self._seed is not None:
                self._seed = updated

    def _service(self) -> Any:
        """The calling thread's Drive service object (one authorized HTTP client per thread)."""
        service = getattr(self._local, "service", None)
        if service is None or getattr(self._local, "generation", -1) != self._generation:
            from google_auth_httplib2 import (  # type: ignore[import-untyped,unused-ignore]
                AuthorizedHttp,
            )
            from googleapiclient.discovery import build

            authorized = AuthorizedHttp(self._user_credentials(), http=self._base_http())
            service = build(
                "drive", "v3", http=authorized, static_discovery=True, cache_discovery=False,
                client_options=self._client_options or None, requestBuilder=self._build_request,
            )
            self._local.service = service
            self._local.generation = self._generation
        return service

    def _build_request(self, http: Any, postproc: Any, uri: str, **kwargs: Any) -> Any:
        from googleapiclient.http import HttpRequest

        # Only the upload URL is rewritten; retries are ours (num_retries=0 in every call).
        return HttpRequest(http, postproc, media_upload_uri(uri, self._api_endpoint), **kwargs)

    def _error(self, exc: Any) -> ProviderError:
        error = google_drive_error(int(exc.resp.status), exc.content)
        return error

    def _execute(self, request: Any) -> Any:
        """Run one API request under the retry policy, mapping every failure to our tree."""
        from google.auth.exceptions import RefreshError
        from googleapiclient.errors import HttpError

        try:
            return self._retry.call(lambda: request.execute(num_retries=0))
        except HttpError as exc:
            raise self._error(exc) from None
        except RefreshError as exc:  # service-account and other non-user credentials
            raise refresh_error(exc) from exc
        except ApuntoError:
            raise
        except (OSError, ValueError) as exc:
            raise TransportError(f"Google Drive request failed: {exc}", provider=PROVIDER) from exc
        except Exception as exc:
            if type(exc).__module__.startswith("httplib2"):
                raise TransportError(f"Google Drive request failed: {exc}", provider=PROVIDER) from exc
            raise

    def _name_lock(self, parent: str, name: str) -> threading.Lock:
        return self._name_locks[hash((parent, name)) % len(self._name_locks)]
