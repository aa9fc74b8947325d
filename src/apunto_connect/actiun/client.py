"""``ActiunClient``: one object holding the transport, the key and the three resources."""

from __future__ import annotations

import copy
import functools
import hashlib
import ipaddress
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from urllib.parse import urlsplit

import requests

from ..credentials import CredentialField, Secret, resolve_credentials
from ..http import DEFAULT_TIMEOUT, RetryPolicy, TimeoutValue, Transport
from ..vendor_spec import VendorSpec
from .errors import actiun_error
from .resources import Contacts, Invoices, Items
from .spec import SPEC

__all__ = ["CREDENTIALS", "ActiunClient"]

CREDENTIALS: tuple[CredentialField, ...] = (CredentialField("api_key"),)
"""The one credential: the account's private key (``APUNTO_ACTIUN_API_KEY``)."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def _parent_domain(host: str) -> str | None:
    """``api.actiun.com`` -> ``actiun.com``; ``None`` for IP addresses and single labels.

    Only the base host's own parent is trusted (never a public suffix such as ``co.uk``).
    """
    try:
        ipaddress.ip_address(host.strip("[]"))
        return None
    except ValueError:
        pass
    labels = host.split(".")
    if len(labels) >= 3:
        return ".".join(labels[1:])
    return host if len(labels) == 2 else None


class _KeyAuth(requests.auth.AuthBase):
    """Put the key in ``Authorization`` for trusted hosts only.

    Trusted: the base URL's own origin; HTTPS hosts under the same domain (``app.actiun.com``
    serving attachments for ``api.actiun.com``); any host named in ``extra_hosts``. Anything else
    gets no key: neither a plain-HTTP link nor a third party's storage URL ever sees it.
    """

    def __init__(
        self, key: Secret, base_url: str, extra_hosts: Iterable[str], *, header: str, prefix: str
    ) -> None:
        self._key = key
        self._header = header
        self._prefix = prefix
        self._base = _origin(base_url)
        self._extra = frozenset(h.lower() for h in extra_hosts)

    def trusts(self, url: str) -> bool:
        """Tell whether the key may be sent to ``url``."""
        scheme, host, port = _origin(url)
        base_scheme, base_host, base_port = self._base
        if host in self._extra:
            return True
        if host == base_host and port == base_port:
            return scheme == base_scheme or scheme == "https"
        domain = _parent_domain(base_host)
        return scheme == "https" and domain is not None and host.endswith("." + domain)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.trusts(request.url or ""):
            request.headers[self._header] = f"{self._prefix}{self._key.reveal()}"
        return request


class ActiunClient:
    """A client for any server that speaks the Actiun API.

    >>> client = ActiunClient(api_key="...")                        # doctest: +SKIP
    >>> contact = client.contacts.create("ACME SA DE CV", "ACM131115G35")  # doctest: +SKIP
    >>> for invoice in client.invoices.list(order_field="date", concurrency=4):  # doctest: +SKIP
    ...     print(invoice.number, invoice.total, invoice.sat_uuid)

    Args:
        api_key: the account's private key; resolved from ``APUNTO_ACTIUN_API_KEY`` or the
            keyring (service ``apunto_connect/actiun``) when not given.
        base_url: the server (``https://api.actiun.com`` by default).
        session: a :class:`requests.Session` to use for every call (proxies, test adapters).
        timeout: ``(connect, read)`` seconds.
        max_retries: retries of safe requests (GET, PUT, DELETE; 429 for any method).
        retry: a full :class:`~apunto_connect.http.RetryPolicy` instead of ``max_retries``.
        sleep, clock: injectable for tests (retries and polling never need real time).
        pool_maxsize: connections kept per host and thread.
        max_workers: threads for concurrent listing (shared by every ``list`` call).
        trusted_download_hosts: extra hosts that may receive the key when downloading
            attachments.
        provider: the name used in errors and logs.
        spec: overrides of :data:`~apunto_connect.actiun.spec.SPEC` (``{"path.invoices":
            "/v2/invoices"}``; unknown keys are refused), or a whole spec to share.
    """

    def __init__(
        self,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        *,
        session: requests.Session | None = None,
        timeout: TimeoutValue | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        pool_maxsize: int = 10,
        max_workers: int = 8,
        trusted_download_hosts: Iterable[str] = (),
        provider: str = "actiun",
        spec: Mapping[str, object] | VendorSpec | None = None,
    ) -> None:
        resolved = resolve_credentials("actiun", CREDENTIALS, {"api_key": api_key})
        key: Secret = resolved["api_key"]
        self.provider = provider
        # A whole spec is shared as it is (the provider's own, so both record the same
        # assumptions); a mapping is a set of overrides.
        self.spec = spec if isinstance(spec, VendorSpec) else SPEC.with_overrides(spec)
        self.base_url = (base_url or self.spec["path.base_url"]).rstrip("/")
        self.sleep = sleep
        self.clock = clock
        policy = (retry or RetryPolicy()).with_max_retries(max_retries)
        self.auth = _KeyAuth(key, self.base_url, trusted_download_hosts,
                             header=self.spec["header.auth"],
                             prefix=self.spec["header.auth_prefix"])
        self._fingerprint = hashlib.sha256(f"{self.base_url}#{key.reveal()}".encode()).hexdigest()
        self.transport = Transport(
            provider,
            self.base_url,
            auth=self.auth,
            headers={"Content-Type": "application/json"},
            retry=policy,
            pool_maxsize=max(pool_maxsize, max_workers),
            session=session,
            error_mapper=functools.partial(actiun_error, spec=self.spec),
            secrets=(key.reveal(),),
            sleep=sleep,
            clock=clock,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
        )
        self.max_workers = max(1, max_workers)
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self.contacts = Contacts(self)
        self.items = Items(self)
        self.invoices = Invoices(self)

    def with_options(
        self,
        *,
        timeout: TimeoutValue | None = None,
        deadline: float | None = None,
        max_retries: int | None = None,
    ) -> ActiunClient:
        """A copy with other transport defaults, sharing sessions and the thread pool."""
        twin = copy.copy(self)
        twin.transport = self.transport.with_options(
            timeout=timeout, deadline=deadline, max_retries=max_retries
        )
        twin.contacts = Contacts(twin)
        twin.items = Items(twin)
        twin.invoices = Invoices(twin)
        return twin

    def account_fingerprint(self) -> str:
        """A stable, non-secret id of the account (server and key): a hash prefix."""
        return f"{self.base_url}#{self._fingerprint[:16]}"

    def executor(self) -> Executor:
        """The thread pool used by concurrent listings (created on first use)."""
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.max_workers, thread_name_prefix="actiun-pages"
                )
            return self._executor

    def close(self) -> None:
        """Stop the listing threads and close the connections this client opened."""
        with self._executor_lock:
            pool, self._executor = self._executor, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self.transport.close()

    def __enter__(self) -> ActiunClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ActiunClient(base_url={self.base_url!r})"
