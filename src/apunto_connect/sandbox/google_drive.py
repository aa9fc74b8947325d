"""Offline Google Drive v3 and Google OAuth 2.0: enough of both for the real Google client.

What it speaks (base URLs ``https://www.googleapis.com``, ``https://oauth2.googleapis.com``
and ``https://accounts.google.com``):

* Drive: ``GET /drive/v3/about`` (``fields`` required, as on Drive), ``files`` list with ``q``,
  ``fields``, ``orderBy``, ``pageSize``/``pageToken``; get (metadata, or content with
  ``alt=media`` and ``Range``); metadata-only create (folders); update (metadata, and content
  via ``/upload``); delete; uploads ``uploadType=media``, ``multipart`` (``multipart/related``)
  and ``resumable`` (``200`` + ``Location`` with ``upload_id``, ``PUT`` chunks with
  ``Content-Range`` answered ``308`` + ``Range`` until done, ``bytes */total`` status
  queries). Chunks other than the last must be multiples of 256 KiB, or the chunk is refused
  with 400, as Google's upload protocol requires.
* ``q``: ``name``/``mimeType`` with ``=``, ``!=``, ``contains``; ``'<id>' in parents`` (``root``
  is My Drive); ``trashed = true|false``; ``createdTime``/``modifiedTime`` comparisons;
  ``appProperties has { key='…' and value='…' }`` (and ``properties``) — key-only queries are
  refused with 400 like the real API; ``and``, ``or``, ``not`` and parentheses. Anything else:
  400 ``Invalid Value``.
* OAuth: consent (``GET /o/oauth2/auth``) answers at once with a redirect carrying a code for
  :attr:`GoogleDriveEmulator.consent_account` (or ``login_hint``); ``POST /token`` with
  ``authorization_code`` (PKCE ``S256``/``plain`` verifier checked against the challenge) and
  ``refresh_token`` grants; ``POST /revoke``. Bearer tokens are checked on every Drive call
  (Google's 401 JSON shape), access tokens last 3599 s of sandbox time.
* ``drive.file``: an app sees only the files its OAuth client created.

Knobs for tests: :meth:`~GoogleDriveEmulator.set_storage_quota` (``403 storageQuotaExceeded``),
:meth:`~GoogleDriveEmulator.use_service_account` (zero quota, the service-account message),
:meth:`~GoogleDriveEmulator.fail_next` (the next N Drive calls answer ``403 rateLimitExceeded``),
:attr:`~GoogleDriveEmulator.publishing_status` ``"testing"`` (refresh tokens expire after 7 days
of sandbox-clock time with ``invalid_grant``), :attr:`~GoogleDriveEmulator.deny_consent`.

The limits are the ``limit.*`` facts of the storage ``SPEC`` (Google's documented ones;
``spec={...}`` overrides them, like the provider's). A property over 124 bytes gets the answer
two public projects quote (``403 propertyLengthLimitExceeded``); the wording of the
too-many-properties and chunk-size refusals is assumed.
Over loopback (``sb.serve()``) resumable ``Location`` URLs point back at the loopback server
(built from the ``Host`` header and the ``/google_drive`` prefix).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import string
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import attrs

from ..storage.google_auth import DRIVE_FILE_SCOPE
from ..storage.google_drive import (
    API_BASE_URL,
    CHUNK_QUANTUM,
    FOLDER_MIME_TYPE,
    OAUTH_BASE_URL,
)
from ..storage.google_drive.spec import SPEC as DRIVE_SPEC
from ..vendor_spec import VendorSpec
from .framework import (
    Emulator,
    EmulatorRequest,
    EmulatorResponse,
    HttpError,
    bearer_token,
    json_response,
    route,
)

__all__ = ["GoogleDriveEmulator"]

ACCOUNTS_BASE_URL = "https://accounts.google.com"
DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"
ACCESS_TOKEN_SECONDS = 3599
TESTING_REFRESH_SECONDS = 7 * 86400
CODE_SECONDS = 600
SERVICE_ACCOUNT_MESSAGE = (
    "Service Accounts do not have storage quota. Leverage shared drives "
    "(https://developers.google.com/workspace/drive/api/guides/about-shareddrives), or use OAuth "
    "delegation (http://support.google.com/a/answer/7281227) instead."
)
QUOTA_MESSAGE = "The user's Drive storage quota has been exceeded."
_ID_ALPHABET = string.ascii_letters + string.digits + "-_"


def _drive_error(status: int, message: str, reason: str, domain: str = "global",
                 location: str | None = None, location_type: str | None = None,
                 status_text: str | None = None) -> HttpError:
    item: dict[str, str] = {"message": message, "domain": domain, "reason": reason}
    if location:
        item["location"] = location
        item["locationType"] = location_type or "parameter"
    error: dict[str, Any] = {"code": status, "message": message, "errors": [item]}
    if status_text:
        error["status"] = status_text
    return HttpError(status, {"error": error})


def _not_found(file_id: str) -> HttpError:
    return _drive_error(404, f"File not found: {file_id}.", "notFound", location="fileId")


def _invalid(location: str, message: str = "Invalid Value") -> HttpError:
    return _drive_error(400, message, "invalid", location=location)


def _oauth_error(status: int, error: str, description: str) -> HttpError:
    return HttpError(status, {"error": error, "error_description": description})


def _rfc3339(instant: float) -> str:
    moment = datetime.fromtimestamp(instant, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -- state ----------------------------------------------------------------------------------


@attrs.define
class _Account:
    email: str
    display_name: str
    root_id: str
    quota: int | None = 15 * 1024**3
    service_account: bool = False


@attrs.define
class _Client:
    client_id: str
    secret: str


@attrs.define
class _Refresh:
    client_id: str
    account: str
    scopes: tuple[str, ...]
    issued_at: float
    revoked: bool = False


@attrs.define
class _Access:
    client_id: str
    account: str
    scopes: tuple[str, ...]
    expires_at: float
    refresh_token: str | None


@attrs.define
class _Code:
    client_id: str
    account: str
    redirect_uri: str
    scopes: tuple[str, ...]
    challenge: str | None
    method: str
    expires_at: float
    used: bool = False


@attrs.define
class _File:
    id: str
    name: str
    mime_type: str
    parents: list[str]
    owner: str
    client_id: str
    created: float
    modified: float
    app_properties: dict[str, str] = attrs.field(factory=dict)
    properties: dict[str, str] = attrs.field(factory=dict)
    content: bytes | None = None
    trashed: bool = False
    version: int = 1

    @property
    def is_folder(self) -> bool:
        return self.mime_type == FOLDER_MIME_TYPE

    def resource(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "parents": list(self.parents),
            "trashed": self.trashed,
            "createdTime": _rfc3339(self.created),
            "modifiedTime": _rfc3339(self.modified),
            "version": str(self.version),
            "ownedByMe": True,
            "webViewLink": (
                f"https://drive.google.com/drive/folders/{self.id}" if self.is_folder
                else f"https://drive.google.com/file/d/{self.id}/view?usp=drivesdk"
            ),
        }
        if self.app_properties:
            data["appProperties"] = dict(self.app_properties)
        if self.properties:
            data["properties"] = dict(self.properties)
        if self.content is not None:
            data["size"] = str(len(self.content))
            data["md5Checksum"] = hashlib.md5(self.content).hexdigest()
            data["sha1Checksum"] = hashlib.sha1(self.content).hexdigest()
            data["sha256Checksum"] = hashlib.sha256(self.content).hexdigest()
        return data


@attrs.define
class _Upload:
    account: str
    client_id: str
    metadata: dict[str, Any]
    mime_type: str
    total: int | None
    fields: str | None
    file_id: str | None
    received: bytearray = attrs.field(factory=bytearray)
    done: str | None = None


# -- fields masks ---------------------------------------------------------------------------

FieldMask = dict[str, Any]  # name -> nested mask or None (whole value)


def parse_fields(expression: str) -> FieldMask:
    """Parse a ``fields`` selector (``nextPageToken,files(id,name)``, ``user/emailAddress``)."""
    position = 0
    text = expression.replace(" ", "")

    def parse_list(until: str | None) -> FieldMask:
        nonlocal position
        mask: FieldMask = {}
        while position < len(text):
            if until and text[position] == until:
                position += 1
                return mask
            match = re.match(r"[A-Za-z0-9_*/]+", text[position:])
            if not match:
                raise _invalid("fields", f"Invalid field selection {expression}")
            name = match.group(0)
            position += len(name)
            sub: FieldMask | None = None
            if position < len(text) and text[position] == "(":
                position += 1
                sub = parse_list(")")
            parts = name.split("/")
            target = mask
            for part in parts[:-1]:
                existing = target.get(part)
                if not isinstance(existing, dict):
                    existing = target[part] = {}
                target = existing
            target[parts[-1]] = sub
            if position < len(text) and text[position] == ",":
                position += 1
        if until:
            raise _invalid("fields", f"Invalid field selection {expression}")
        return mask

    return parse_list(None)


def apply_fields(value: Any, mask: FieldMask | None) -> Any:
    """Keep only the parts of ``value`` that ``mask`` selects (unknown names are ignored)."""
    if mask is None or "*" in mask:
        return value
    if isinstance(value, list):
        return [apply_fields(item, mask) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: apply_fields(value[key], sub) for key, sub in mask.items() if key in value}


# -- the q language -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:\\.|[^'\\])*')|(?P<op>!=|<=|>=|=|<|>|\{|\}|\(|\))|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)
Predicate = Callable[[_File, str], bool]  # (file, root id of the caller) -> matches


def _tokens(query: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    while position < len(query):
        if query[position:].strip() == "":
            break
        match = _TOKEN.match(query, position)
        if not match or match.end() == position:
            raise _invalid("q")
        position = match.end()
        if match.group("string") is not None:
            raw = match.group("string")[1:-1]
            out.append(("str", re.sub(r"\\(.)", r"\1", raw)))
        elif match.group("op") is not None:
            out.append(("op", match.group("op")))
        else:
            out.append(("word", match.group("word")))
    return out


class _QueryParser:
    """Recursive descent over the subset of Drive's query language the SDK and tests use."""

    def __init__(self, query: str) -> None:
        self.tokens = _tokens(query)
        self.position = 0

    def parse(self) -> Predicate:
        if not self.tokens:
            return lambda file, root: True
        predicate = self.expression()
        if self.position != len(self.tokens):
            raise _invalid("q")
        return predicate

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, kind: str | None = None, value: str | None = None) -> str:
        token = self.peek()
        if token is None or (kind and token[0] != kind) or (
            value is not None and token[1].lower() != value.lower()
        ):
            raise _invalid("q")
        self.position += 1
        return token[1]

    def at_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1].lower() == word

    def expression(self) -> Predicate:
        return self.chain("or", self.conjunction, lambda a, b: lambda f, r: a(f, r) or b(f, r))

    def conjunction(self) -> Predicate:
        return self.chain("and", self.unary, lambda a, b: lambda f, r: a(f, r) and b(f, r))

    def chain(
        self,
        word: str,
        operand: Callable[[], Predicate],
        combine: Callable[[Predicate, Predicate], Predicate],
    ) -> Predicate:
        """``operand (word operand)*``, folded from the left with ``combine``."""
        left = operand()
        while self.at_word(word):
            self.take()
            left = combine(left, operand())
        return left

    def unary(self) -> Predicate:
        if self.at_word("not"):
            self.take()
            inner = self.unary()
            return lambda f, r: not inner(f, r)
        token = self.peek()
        if token == ("op", "("):
            self.take()
            inner = self.expression()
            self.take("op", ")")
            return inner
        return self.term()

    def term(self) -> Predicate:
        token = self.peek()
        if token is None:
            raise _invalid("q")
        if token[0] == "str":
            value = self.take()
            self.take("word", "in")
            collection = self.take("word")
            if collection != "parents":
                raise _invalid("q")
            return lambda f, r: (r if value == "root" else value) in f.parents
        field = self.take("word")
        if field in {"appProperties", "properties"}:
            return self.has_term(field)
        operator = self.take()
        if field in {"name", "mimeType"}:
            literal = self.take("str")
            attr = "name" if field == "name" else "mime_type"
            if operator == "=":
                return lambda f, r: getattr(f, attr) == literal
            if operator == "!=":
                return lambda f, r: getattr(f, attr) != literal
            if operator.lower() == "contains":
                return lambda f, r: literal in getattr(f, attr)
            raise _invalid("q")
        if field == "trashed":
            flag = self.take("word").lower()
            if flag not in {"true", "false"} or operator not in {"=", "!="}:
                raise _invalid("q")
            wanted = flag == "true"
            return (lambda f, r: f.trashed == wanted) if operator == "=" else (
                lambda f, r: f.trashed != wanted
            )
        if field in {"createdTime", "modifiedTime"}:
            literal = self.take("str")
            try:
                moment = datetime.fromisoformat(literal.replace("Z", "+00:00")).timestamp()
            except ValueError:
                raise _invalid("q") from None
            attr = "created" if field == "createdTime" else "modified"
            compare: dict[str, Callable[[float, float], bool]] = {
                "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
                "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
            }
            if operator not in compare:
                raise _invalid("q")
            check = compare[operator]
            return lambda f, r: check(getattr(f, attr), moment)
        raise _invalid("q")

    def has_term(self, field: str) -> Predicate:
        self.take("word", "has")
        self.take("op", "{")
        self.take("word", "key")
        self.take("op", "=")
        key = self.take("str")
        # Drive needs both key and value: "appProperties has { key='k' }" is an invalid query.
        self.take("word", "and")
        self.take("word", "value")
        self.take("op", "=")
        value = self.take("str")
        self.take("op", "}")
        attr = "app_properties" if field == "appProperties" else "properties"
        return lambda f, r: getattr(f, attr).get(key) == value


# -- the emulator ---------------------------------------------------------------------------


class GoogleDriveEmulator(Emulator):
    """A stateful Google account with Drive files, an OAuth client and its tokens."""

    name: ClassVar[str] = "google_drive"
    kind: ClassVar[str] = "storage"
    vendor_spec: ClassVar[VendorSpec | None] = DRIVE_SPEC
    base_urls: ClassVar[tuple[str, ...]] = (API_BASE_URL, OAUTH_BASE_URL, ACCOUNTS_BASE_URL)
    demo_credentials: ClassVar[Mapping[str, str]] = {
        "client_id": "sandbox-0001.apps.googleusercontent.com",
        "client_secret": "GOCSPX-sandbox-client-secret",
        "refresh_token": "1//sandbox-demo-refresh-token",
    }
    demo_account: ClassVar[str] = "archivo@example.com"
    other_account: ClassVar[str] = "otra.cuenta@example.com"

    def setup(self) -> None:
        """The demo and a second account, the demo OAuth client and its refresh token; no files."""
        self._random = random.Random(self.seed)
        self.accounts: dict[str, _Account] = {}
        self.clients: dict[str, _Client] = {}
        self.refresh_tokens: dict[str, _Refresh] = {}
        self.access_tokens: dict[str, _Access] = {}
        self.codes: dict[str, _Code] = {}
        self.files: dict[str, _File] = {}
        self.uploads: dict[str, _Upload] = {}
        self.request_log: list[tuple[str, str]] = []
        self.publishing_status = "production"
        self.consent_account = self.demo_account
        self.deny_consent = False
        self._failures: list[tuple[int, str]] = []
        self.add_account(self.demo_account, "Archivo Apunto")
        self.add_account(self.other_account, "Otra Cuenta")
        creds = self.demo_credentials
        self.clients[creds["client_id"]] = _Client(creds["client_id"], creds["client_secret"])
        self.refresh_tokens[creds["refresh_token"]] = _Refresh(
            creds["client_id"], self.demo_account, (DRIVE_FILE_SCOPE,), self.clock.now()
        )

    def provider_options(self) -> dict[str, Any]:
        """Back-off sleeps advance the sandbox clock; status reports ``emulator``."""
        return {"sleep": self.clock.sleep, "environment": "emulator"}

    # -- knobs and introspection ------------------------------------------------------------

    def add_account(self, email: str, display_name: str, *, quota: int | None = 15 * 1024**3,
                    service_account: bool = False) -> None:
        """Add a Google account that can sign in (its My Drive root is created too)."""
        with self.lock:
            root = self._new_id("0A")
            self.accounts[email] = _Account(email, display_name, root, quota, service_account)

    def set_storage_quota(self, limit: int | None, account: str | None = None) -> None:
        """Drive space of ``account`` (the demo one by default), in bytes; ``None``: unlimited."""
        with self.lock:
            self.accounts[account or self.demo_account].quota = limit

    def use_service_account(self, enabled: bool = True, account: str | None = None) -> None:
        """Make ``account`` behave like a service account: no Drive quota at all."""
        with self.lock:
            target = self.accounts[account or self.demo_account]
            target.service_account = enabled
            target.quota = 0 if enabled else 15 * 1024**3

    def fail_next(self, count: int, reason: str = "rateLimitExceeded", status: int = 403) -> None:
        """The next ``count`` Drive calls answer with Google's rate-limit error."""
        with self.lock:
            self._failures.extend([(status, reason)] * count)

    def issue_refresh_token(self, account: str | None = None, client_id: str | None = None) -> str:
        """A refresh token as if ``account`` had signed in (for tests)."""
        with self.lock:
            token = "1//sandbox-" + self._token(40)
            self.refresh_tokens[token] = _Refresh(
                client_id or self.demo_credentials["client_id"], account or self.demo_account,
                (DRIVE_FILE_SCOPE,), self.clock.now(),
            )
            return token

    def usage(self, account: str | None = None) -> int:
        """Bytes stored by ``account`` (trash included, as Drive counts it)."""
        owner = account or self.demo_account
        return sum(len(f.content or b"") for f in self.files.values() if f.owner == owner)

    def live_files(self, name: str | None = None) -> list[_File]:
        """Files (not folders, not trashed), optionally by name, oldest first."""
        with self.lock:
            return sorted(
                (f for f in self.files.values()
                 if not f.is_folder and not f.trashed and (name is None or f.name == name)),
                key=lambda f: (f.created, f.id),
            )

    def folders(self, name: str | None = None) -> list[_File]:
        """Folders, optionally by name."""
        with self.lock:
            return [f for f in self.files.values() if f.is_folder and (name is None or f.name == name)]

    def path_of(self, file_id: str) -> str:
        """``My Drive/…`` path of a file, for assertions."""
        names = []
        current = self.files.get(file_id)
        for _ in range(64):
            if current is None:
                break
            names.append(current.name)
            current = self.files.get(current.parents[0]) if current.parents else None
        return "/".join(reversed(names))

    def approve(self, authorization_url: str) -> str:
        """The redirect URL Google's consent screen would send the browser to (in process)."""
        parts = urlsplit(authorization_url)
        request = EmulatorRequest.build("GET", "/o/oauth2/auth", parts.query, {}, b"")
        answer = self.handle(request)
        if answer.status != 302:
            raise ValueError(f"consent refused: {answer.body.decode('utf-8', 'replace')}")
        return str(answer.headers["Location"])

    def loopback_options(self, base_url: str) -> dict[str, Any]:
        """Provider keyword arguments that reach this emulator at ``base_url`` over real HTTP."""
        root = base_url.rstrip("/")
        return {
            "client_options": {"api_endpoint": f"{root}/drive/v3/"},
            "oauth_endpoints": {
                "token_uri": f"{root}/token",
                "revoke_uri": f"{root}/revoke",
                "auth_uri": f"{root}/o/oauth2/auth",
            },
        }

    def dump_state(self) -> dict[str, Any]:
        """Everything the emulator keeps, as JSON-ready data (the CLI's ``--sandbox-state``)."""
        with self.lock:
            def encode(obj: Any) -> Any:
                data = attrs.asdict(obj)
                for key, value in data.items():
                    if isinstance(value, (bytes, bytearray)):
                        data[key] = {"b64": base64.b64encode(bytes(value)).decode()}
                    elif isinstance(value, tuple):
                        data[key] = list(value)
                return data

            return {
                "accounts": {k: encode(v) for k, v in self.accounts.items()},
                "refresh_tokens": {k: encode(v) for k, v in self.refresh_tokens.items()},
                "files": {k: encode(v) for k, v in self.files.items()},
                "publishing_status": self.publishing_status,
            }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`dump_state` returned."""
        def decode(data: Mapping[str, Any]) -> dict[str, Any]:
            out = dict(data)
            for key, value in out.items():
                if isinstance(value, Mapping) and set(value) == {"b64"}:
                    out[key] = base64.b64decode(value["b64"])
            return out

        with self.lock:
            self.accounts = {k: _Account(**decode(v)) for k, v in state.get("accounts", {}).items()}
            self.refresh_tokens = {
                k: _Refresh(**{**decode(v), "scopes": tuple(v["scopes"])})
                for k, v in state.get("refresh_tokens", {}).items()
            }
            self.files = {k: _File(**decode(v)) for k, v in state.get("files", {}).items()}
            self.publishing_status = str(state.get("publishing_status", "production"))

    # -- helpers ------------------------------------------------------------------------------

    def _token(self, length: int) -> str:
        return "".join(self._random.choice(_ID_ALPHABET) for _ in range(length))

    def _new_id(self, prefix: str = "1") -> str:
        return prefix + self._token(33 - len(prefix))

    def _public_base(self, request: EmulatorRequest) -> str:
        host = request.header("host")
        if host and "googleapis.com" not in host:
            return f"http://{host}/{self.name}"  # reached over the loopback server
        return API_BASE_URL

    def _grant(self, request: EmulatorRequest) -> _Access:
        token = bearer_token(request)
        if not token:
            raise _drive_error(
                401,
                "Request is missing required authentication credential. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "required", location="Authorization", location_type="header",
                status_text="UNAUTHENTICATED",
            )
        grant = self.access_tokens.get(token)
        refresh = self.refresh_tokens.get(grant.refresh_token) if grant and grant.refresh_token else None
        if grant is None or grant.expires_at <= self.clock.now() or (refresh is not None and refresh.revoked):
            raise _drive_error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "authError", location="Authorization", location_type="header",
                status_text="UNAUTHENTICATED",
            )
        if not {DRIVE_FILE_SCOPE, DRIVE_SCOPE} & set(grant.scopes):
            raise _drive_error(403, "Request had insufficient authentication scopes.",
                               "insufficientPermissions", status_text="PERMISSION_DENIED")
        return grant

    def authenticate(self, request: EmulatorRequest) -> EmulatorResponse | None:
        """Drive paths need a valid Bearer token; rate-limit failures are injected here."""
        path = request.path.lower()
        if not (path.startswith("/drive/") or path.startswith("/upload/")):
            return None
        with self.lock:
            self.request_log.append((request.method, request.path))
            try:
                self._grant(request)
            except HttpError as exc:
                return exc.response()
            if self._failures:
                status, reason = self._failures.pop(0)
                message = "User Rate Limit Exceeded" if reason == "userRateLimitExceeded" else "Rate Limit Exceeded"
                return _drive_error(status, message, reason, domain="usageLimits").response()
        return None

    def _visible(self, file: _File, grant: _Access) -> bool:
        if file.owner != grant.account:
            return False
        return DRIVE_SCOPE in grant.scopes or file.client_id == grant.client_id

    def _file(self, file_id: str, grant: _Access) -> _File:
        root = self._root(grant)
        if file_id in {"root", root}:
            # My Drive itself: readable, never listed, not stored as a file.
            now = self.clock.now()
            return _File(root, "My Drive", FOLDER_MIME_TYPE, [], grant.account, grant.client_id, now, now)
        file = self.files.get(file_id)
        if file is None or not self._visible(file, grant):
            raise _not_found(file_id)
        return file

    def _root(self, grant: _Access) -> str:
        return self.accounts[grant.account].root_id

    def _parent_ids(self, parents: Any, grant: _Access) -> list[str]:
        if parents is None:
            return [self._root(grant)]
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise _invalid("parents")
        if len(parents) > 1:
            raise _drive_error(403, "Increasing the number of parents is not allowed",
                               "cannotAddParent")
        resolved = []
        for parent in parents or ["root"]:
            if parent == "root" or parent == self._root(grant):
                resolved.append(self._root(grant))
                continue
            folder = self._file(parent, grant)
            if not folder.is_folder:
                raise _drive_error(400, "The specified parent is not a folder.", "parentNotAFolder")
            resolved.append(folder.id)
        return resolved

    def _check_properties(self, properties: Mapping[str, str]) -> None:
        for key, value in properties.items():
            if len(key.encode()) + len(str(value).encode()) > self.spec["limit.property_bytes"]:
                raise _drive_error(
                    self.spec["value.property_refusal_status"],
                    self.spec["value.property_refusal_text"],
                    self.spec["value.property_refusal_reason"],
                )
        most = self.spec["limit.app_properties"]
        if len(properties) > most:
            raise _drive_error(
                400, f"A file may have at most {most} private properties per app.",
                "invalidProperty",
            )

    @staticmethod
    def _merged(old: Mapping[str, str], update: Any, field: str) -> dict[str, str]:
        if update is None:
            return dict(old)
        if not isinstance(update, Mapping):
            raise _invalid(field)
        merged = dict(old)
        for key, value in update.items():
            if value is None:
                merged.pop(key, None)  # null deletes the property
            else:
                merged[str(key)] = str(value)
        return merged

    def _check_quota(self, grant: _Access, extra: int) -> None:
        account = self.accounts[grant.account]
        if account.service_account:
            raise _drive_error(403, SERVICE_ACCOUNT_MESSAGE, "storageQuotaExceeded", domain="usageLimits")
        if account.quota is not None and self.usage(account.email) + extra > account.quota:
            raise _drive_error(403, QUOTA_MESSAGE, "storageQuotaExceeded", domain="usageLimits")

    def _fields_mask(self, request: EmulatorRequest) -> FieldMask | None:
        fields = request.query.get("fields")
        return parse_fields(fields) if fields else None

    def _file_response(self, request: EmulatorRequest, file: _File, status: int = 200,
                       fields: str | None = None) -> EmulatorResponse:
        expression = fields if fields is not None else request.query.get("fields")
        resource = file.resource()
        if expression:
            payload = apply_fields(resource, parse_fields(expression))
        else:
            payload = {k: resource[k] for k in ("kind", "id", "name", "mimeType")}
        return json_response(status, payload)

    def _create(self, grant: _Access, metadata: Mapping[str, Any], content: bytes | None,
                media_type: str | None) -> _File:
        parents = self._parent_ids(metadata.get("parents"), grant)
        app_properties = self._merged({}, metadata.get("appProperties"), "appProperties")
        properties = self._merged({}, metadata.get("properties"), "properties")
        self._check_properties(app_properties)
        mime = str(metadata.get("mimeType") or media_type or "application/octet-stream")
        if content is not None and mime != FOLDER_MIME_TYPE:
            self._check_quota(grant, len(content))
        now = self.clock.now()
        file = _File(
            id=self._new_id(), name=str(metadata.get("name") or "Untitled"), mime_type=mime,
            parents=parents, owner=grant.account, client_id=grant.client_id, created=now,
            modified=now, app_properties=app_properties, properties=properties,
            content=None if mime == FOLDER_MIME_TYPE else (content or b""),
        )
        self.files[file.id] = file
        return file

    def _update(self, grant: _Access, file: _File, metadata: Mapping[str, Any],
                content: bytes | None, query: Mapping[str, str]) -> _File:
        app_properties = self._merged(file.app_properties, metadata.get("appProperties"), "appProperties")
        self._check_properties(app_properties)
        if content is not None:
            if file.is_folder:
                raise _drive_error(400, "Folders cannot have content.", "badContent")
            self._check_quota(grant, len(content) - len(file.content or b""))
            file.content = content
        file.app_properties = app_properties
        file.properties = self._merged(file.properties, metadata.get("properties"), "properties")
        if "name" in metadata:
            file.name = str(metadata["name"])
        if metadata.get("mimeType") and not file.is_folder:
            file.mime_type = str(metadata["mimeType"])
        if "trashed" in metadata:
            file.trashed = bool(metadata["trashed"])
        if query.get("addParents") or query.get("removeParents"):
            removed = set(filter(None, query.get("removeParents", "").split(",")))
            added = self._parent_ids([p for p in query.get("addParents", "").split(",") if p], grant) \
                if query.get("addParents") else []
            parents = [p for p in file.parents if p not in removed] + added
            if len(parents) != 1:
                raise _drive_error(403, "Increasing the number of parents is not allowed",
                                   "cannotAddParent")
            file.parents = parents
        file.modified = self.clock.now()
        file.version += 1
        return file

    # -- Drive: about and files -------------------------------------------------------------

    @route("GET", "/drive/v3/about")
    def _about(self, request: EmulatorRequest) -> EmulatorResponse:
        grant = self._grant(request)
        if not request.query.get("fields"):
            raise _drive_error(400, "The 'fields' parameter is required for this method.",
                               "required", location="fields")
        account = self.accounts[grant.account]
        quota: dict[str, str] = {
            "usage": str(self.usage(account.email)),
            "usageInDrive": str(self.usage(account.email)),
            "usageInDriveTrash": str(sum(
                len(f.content or b"") for f in self.files.values()
                if f.owner == account.email and f.trashed
            )),
        }
        if account.quota is not None:
            quota["limit"] = str(account.quota)
        about = {
            "kind": "drive#about",
            "user": {
                "kind": "drive#user", "displayName": account.display_name,
                "emailAddress": account.email, "me": True,
                "permissionId": hashlib.sha256(account.email.encode()).hexdigest()[:20],
            },
            "storageQuota": quota,
        }
        return json_response(200, apply_fields(about, self._fields_mask(request)))

    @route("GET", "/drive/v3/files")
    def _list(self, request: EmulatorRequest) -> EmulatorResponse:
        grant = self._grant(request)
        predicate = _QueryParser(request.query.get("q", "")).parse()
        root = self._root(grant)
        try:
            size = int(request.query.get("pageSize", "100"))
        except ValueError:
            raise _invalid("pageSize") from None
        if size < 1:
            raise _invalid("pageSize")
        size = min(size, int(self.spec["limit.max_page_size"]))
        matches = [f for f in self.files.values() if self._visible(f, grant) and predicate(f, root)]
        matches.sort(key=self._order_key(request.query.get("orderBy", "")))
        if request.query.get("orderBy", "").strip().endswith("desc"):
            matches.reverse()
        offset = 0
        if request.query.get("pageToken"):
            try:
                offset = int(base64.urlsafe_b64decode(request.query["pageToken"]).decode())
            except (ValueError, UnicodeDecodeError):
                raise _invalid("pageToken") from None
        page = matches[offset:offset + size]
        payload: dict[str, Any] = {
            "kind": "drive#fileList", "incompleteSearch": False,
            "files": [f.resource() for f in page],
        }
        if offset + size < len(matches):
            payload["nextPageToken"] = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
        mask = self._fields_mask(request)
        if mask is None:
            payload["files"] = [{k: f[k] for k in ("kind", "id", "name", "mimeType")} for f in payload["files"]]
        else:
            payload = apply_fields(payload, mask)
        return json_response(200, payload)

    @staticmethod
    def _order_key(order_by: str) -> Callable[[_File], Any]:
        field = order_by.split(",")[0].strip().split(" ")[0] if order_by else "createdTime"
        if field == "name":
            return lambda f: (f.name, f.created, f.id)
        if field == "modifiedTime":
            return lambda f: (f.modified, f.id)
        return lambda f: (f.created, f.id)

    @route("POST", "/drive/v3/files")
    def _create_metadata(self, request: EmulatorRequest) -> EmulatorResponse:
        grant = self._grant(request)
        metadata = request.json() or {}
        if not isinstance(metadata, Mapping):
            raise _invalid("body")
        content = None if metadata.get("mimeType") == FOLDER_MIME_TYPE else b""
        file = self._create(grant, metadata, content, None)
        return self._file_response(request, file)

    @route("GET", "/drive/v3/files/{file_id}")
    def _get(self, request: EmulatorRequest, file_id: str) -> EmulatorResponse:
        grant = self._grant(request)
        file = self._file(file_id, grant)
        if request.query.get("alt") != "media":
            return self._file_response(request, file)
        if file.content is None:
            raise _drive_error(
                403, "Only files with binary content can be downloaded. Use Export with Docs "
                "Editors files.", "fileNotDownloadable", location="alt",
            )
        return self._media(request, file.content, file.mime_type)

    @staticmethod
    def _media(request: EmulatorRequest, content: bytes, mime: str) -> EmulatorResponse:
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", request.header("range").strip())
        total = len(content)
        if not wanted or total == 0:
            return EmulatorResponse(200, content, {"Content-Type": mime})
        start = int(wanted.group(1))
        end = min(int(wanted.group(2)) if wanted.group(2) else total - 1, total - 1)
        if start >= total:
            return EmulatorResponse(416, b"", {"Content-Range": f"bytes */{total}"})
        return EmulatorResponse(
            206, content[start:end + 1],
            {"Content-Type": mime, "Content-Range": f"bytes {start}-{end}/{total}"},
        )

    @route("PATCH", "/drive/v3/files/{file_id}")
    def _patch(self, request: EmulatorRequest, file_id: str) -> EmulatorResponse:
        grant = self._grant(request)
        file = self._file(file_id, grant)
        metadata = request.json() or {}
        if not isinstance(metadata, Mapping):
            raise _invalid("body")
        self._update(grant, file, metadata, None, request.query)
        return self._file_response(request, file)

    @route("DELETE", "/drive/v3/files/{file_id}")
    def _delete(self, request: EmulatorRequest, file_id: str) -> EmulatorResponse:
        grant = self._grant(request)
        file = self._file(file_id, grant)
        doomed = [file.id]
        for _ in range(len(self.files) + 1):  # a folder takes its whole subtree with it
            children = [f.id for f in self.files.values()
                        if f.id not in doomed and any(p in doomed for p in f.parents)]
            if not children:
                break
            doomed.extend(children)
        for item in doomed:
            self.files.pop(item, None)
        return EmulatorResponse(204, b"", {})

    # -- Drive: uploads -----------------------------------------------------------------------

    @staticmethod
    def _multipart(request: EmulatorRequest) -> tuple[dict[str, Any], bytes, str]:
        content_type = request.header("content-type")
        found = re.search(r'boundary="?([^";]+)"?', content_type)
        if not content_type.lower().startswith("multipart/related") or not found:
            raise _drive_error(400, "Bad multipart request: missing boundary", "badContent")
        delimiter = b"--" + found.group(1).encode()
        pieces = request.body.split(delimiter)
        parts = []
        for piece in pieces[1:]:
            if piece.startswith(b"--"):
                break
            piece = piece[2:] if piece.startswith(b"\r\n") else piece[1:] if piece.startswith(b"\n") else piece
            for separator in (b"\r\n\r\n", b"\n\n"):
                head, sep, content = piece.partition(separator)
                if sep:
                    break
            else:
                raise _drive_error(400, "Bad multipart request: part without headers", "badContent")
            # The newline before the next delimiter belongs to the delimiter.
            content = content[:-2] if content.endswith(b"\r\n") and b"\r\n" in head else (
                content[:-1] if content.endswith(b"\n") else content
            )
            headers = BytesHeaderParser().parsebytes(head + b"\n\n")
            parts.append((headers.get("Content-Type", "application/octet-stream"), content))
        if len(parts) != 2:
            raise _drive_error(400, "Bad multipart request: expected metadata and media parts", "badContent")
        try:
            metadata = json.loads(parts[0][1] or b"{}")
        except ValueError:
            raise _drive_error(400, "Bad multipart request: metadata is not JSON", "parseError") from None
        return metadata, parts[1][1], parts[1][0]

    def _upload(self, request: EmulatorRequest, file_id: str | None) -> EmulatorResponse:
        grant = self._grant(request)
        existing = self._file(file_id, grant) if file_id else None
        kind = request.query.get("uploadType", "")
        if kind == "media":
            metadata: dict[str, Any] = {}
            content, mime = request.body, request.header("content-type") or None
        elif kind == "multipart":
            metadata, content, mime = self._multipart(request)
        elif kind == "resumable":
            return self._start_resumable(request, grant, existing)
        else:
            raise _invalid("uploadType", f"Invalid value '{kind}' for uploadType")
        if existing is not None:
            file = self._update(grant, existing, metadata, content, request.query)
        else:
            file = self._create(grant, metadata, content, mime)
        return self._file_response(request, file)

    @route("POST", "/upload/drive/v3/files")
    def _upload_create(self, request: EmulatorRequest) -> EmulatorResponse:
        return self._upload(request, None)

    @route("PATCH", "/upload/drive/v3/files/{file_id}")
    def _upload_update(self, request: EmulatorRequest, file_id: str) -> EmulatorResponse:
        return self._upload(request, file_id)

    @route("PUT", "/upload/drive/v3/files")
    def _put_chunk(self, request: EmulatorRequest) -> EmulatorResponse:
        return self._chunk(request)

    @route("PUT", "/upload/drive/v3/files/{file_id}")
    def _put_update_chunk(self, request: EmulatorRequest, file_id: str) -> EmulatorResponse:
        return self._chunk(request)

    def _start_resumable(self, request: EmulatorRequest, grant: _Access,
                         existing: _File | None) -> EmulatorResponse:
        metadata = request.json() or {}
        if not isinstance(metadata, Mapping):
            raise _invalid("body")
        total_text = request.header("x-upload-content-length")
        total = int(total_text) if total_text.isdigit() else None
        if total is not None:
            self._check_quota(grant, total - (len(existing.content or b"") if existing else 0))
        upload_id = "ADPyc" + self._token(60)
        self.uploads[upload_id] = _Upload(
            account=grant.account, client_id=grant.client_id, metadata=dict(metadata),
            mime_type=request.header("x-upload-content-type") or str(metadata.get("mimeType") or ""),
            total=total, fields=request.query.get("fields"),
            file_id=existing.id if existing else None,
        )
        path = f"/upload/drive/v3/files/{existing.id}" if existing else "/upload/drive/v3/files"
        location = f"{self._public_base(request)}{path}?" + urlencode(
            {"uploadType": "resumable", "upload_id": upload_id}
        )
        return EmulatorResponse(200, b"", {"Location": location, "X-GUploader-UploadID": upload_id})

    def _chunk(self, request: EmulatorRequest) -> EmulatorResponse:
        grant = self._grant(request)
        upload = self.uploads.get(request.query.get("upload_id", ""))
        if upload is None or upload.account != grant.account:
            raise _drive_error(404, "Not Found", "notFound", location="upload_id")
        if upload.done is not None:
            return self._file_response(request, self._file(upload.done, grant), fields=upload.fields or "")
        header = request.header("content-range").strip()
        body = request.body
        if not header:
            if body:
                raise _drive_error(400, "Content-Range header is required", "badRequest")
            return self._finish_upload(request, grant, upload)  # an empty file
        status_query = re.fullmatch(r"bytes \*/(\d+|\*)", header)
        if status_query:
            if status_query.group(1) != "*":
                upload.total = int(status_query.group(1))
            if upload.total is not None and len(upload.received) == upload.total:
                return self._finish_upload(request, grant, upload)
            return self._incomplete(upload)
        found = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", header)
        if not found:
            raise _drive_error(400, f"Invalid Content-Range: {header}", "badRequest")
        start, end = int(found.group(1)), int(found.group(2))
        if found.group(3) != "*":
            upload.total = int(found.group(3))
        if end < start or len(body) != end - start + 1:
            raise _drive_error(400, "Content-Range does not match the body length", "badRequest")
        final = upload.total is not None and end + 1 == upload.total
        if not final and len(body) % CHUNK_QUANTUM:
            text = self.spec["value.chunk_refusal_text"]
            raise _drive_error(
                400, text.format(quantum=CHUNK_QUANTUM, size=len(body)), "badRequest"
            )
        received = len(upload.received)
        if start > received:
            raise _drive_error(400, f"Chunk starts at {start} but only {received} bytes arrived",
                               "badRequest")
        upload.received.extend(body[received - start:])
        if upload.total is not None and len(upload.received) > upload.total:
            raise _drive_error(400, "More bytes than the declared length", "badRequest")
        if final:
            return self._finish_upload(request, grant, upload)
        return self._incomplete(upload)

    @staticmethod
    def _incomplete(upload: _Upload) -> EmulatorResponse:
        headers = {"X-GUploader-UploadID": "resumable"}
        if upload.received:
            headers["Range"] = f"bytes=0-{len(upload.received) - 1}"
        return EmulatorResponse(308, b"", headers)

    def _finish_upload(self, request: EmulatorRequest, grant: _Access, upload: _Upload) -> EmulatorResponse:
        content = bytes(upload.received)
        if upload.file_id is not None:
            file = self._update(grant, self._file(upload.file_id, grant), upload.metadata, content, {})
        else:
            file = self._create(grant, upload.metadata, content, upload.mime_type or None)
        upload.done = file.id
        upload.received = bytearray()
        return self._file_response(request, file, fields=upload.fields or "")

    # -- OAuth ------------------------------------------------------------------------------

    def _form(self, request: EmulatorRequest) -> dict[str, str]:
        if "json" in request.header("content-type"):
            data = request.json() or {}
            return {str(k): str(v) for k, v in data.items()} if isinstance(data, Mapping) else {}
        pairs = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        return {**request.query, **pairs}

    @route("GET", "/o/oauth2/auth")
    def _consent(self, request: EmulatorRequest) -> EmulatorResponse:
        query = request.query
        client = self.clients.get(query.get("client_id", ""))
        if client is None:
            raise _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        redirect = query.get("redirect_uri", "")
        if not redirect or query.get("response_type") != "code":
            raise _oauth_error(400, "invalid_request", "Required parameter is missing: response_type")
        params: dict[str, str] = {}
        if query.get("state"):
            params["state"] = query["state"]
        if self.deny_consent:
            params["error"] = "access_denied"
        else:
            hint = query.get("login_hint", "")
            account = hint if hint in self.accounts else self.consent_account
            scopes = tuple(query.get("scope", DRIVE_FILE_SCOPE).split())
            code = "4/sandbox-" + self._token(40)
            self.codes[code] = _Code(
                client.client_id, account, redirect, scopes, query.get("code_challenge"),
                query.get("code_challenge_method", "plain"), self.clock.now() + CODE_SECONDS,
            )
            params.update({"code": code, "scope": " ".join(scopes)})
        separator = "&" if "?" in redirect else "?"
        return EmulatorResponse(302, b"", {"Location": redirect + separator + urlencode(params)})

    def _client(self, form: Mapping[str, str]) -> _Client:
        client = self.clients.get(form.get("client_id", ""))
        if client is None or client.secret != form.get("client_secret"):
            raise _oauth_error(401, "invalid_client", "Unauthorized")
        return client

    def _issue_access(self, client_id: str, account: str, scopes: tuple[str, ...],
                      refresh_token: str | None) -> str:
        token = "ya29.sandbox-" + self._token(48)
        self.access_tokens[token] = _Access(
            client_id, account, scopes, self.clock.now() + ACCESS_TOKEN_SECONDS, refresh_token
        )
        return token

    @route("POST", "/token")
    def _token_endpoint(self, request: EmulatorRequest) -> EmulatorResponse:
        form = self._form(request)
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._exchange(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        raise _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _exchange(self, form: Mapping[str, str]) -> EmulatorResponse:
        client = self._client(form)
        code = self.codes.get(form.get("code", ""))
        if code is None or code.client_id != client.client_id:
            raise _oauth_error(400, "invalid_grant", "Malformed auth code.")
        if code.used or code.expires_at <= self.clock.now():
            raise _oauth_error(400, "invalid_grant", "Bad Request")
        if form.get("redirect_uri") != code.redirect_uri:
            raise _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        if code.challenge:
            verifier = form.get("code_verifier", "")
            if not verifier:
                raise _oauth_error(400, "invalid_grant", "Missing code verifier.")
            if code.method.upper() == "S256":
                digest = hashlib.sha256(verifier.encode()).digest()
                computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            else:
                computed = verifier
            if computed != code.challenge:
                raise _oauth_error(400, "invalid_grant", "Invalid code verifier.")
        code.used = True
        refresh = "1//sandbox-" + self._token(40)
        self.refresh_tokens[refresh] = _Refresh(client.client_id, code.account, code.scopes, self.clock.now())
        access = self._issue_access(client.client_id, code.account, code.scopes, refresh)
        return json_response(200, {
            "access_token": access, "expires_in": ACCESS_TOKEN_SECONDS, "refresh_token": refresh,
            "scope": " ".join(code.scopes), "token_type": "Bearer",
        })

    def _refresh(self, form: Mapping[str, str]) -> EmulatorResponse:
        client = self._client(form)
        token = form.get("refresh_token", "")
        grant = self.refresh_tokens.get(token)
        expired = (
            grant is not None and self.publishing_status == "testing"
            and self.clock.now() - grant.issued_at > TESTING_REFRESH_SECONDS
        )
        if grant is None or grant.revoked or expired:
            raise _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        if grant.client_id != client.client_id:
            raise _oauth_error(401, "unauthorized_client", "Unauthorized")
        requested = tuple(form.get("scope", "").split()) or grant.scopes
        if not set(requested) <= set(grant.scopes):
            raise _oauth_error(400, "invalid_scope", "Bad Request")
        access = self._issue_access(client.client_id, grant.account, requested, token)
        return json_response(200, {
            "access_token": access, "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": " ".join(requested), "token_type": "Bearer",
        })

    @route("POST", "/revoke")
    def _revoke(self, request: EmulatorRequest) -> EmulatorResponse:
        token = self._form(request).get("token", "")
        if token in self.refresh_tokens and not self.refresh_tokens[token].revoked:
            self.refresh_tokens[token].revoked = True
            for access in [t for t, a in self.access_tokens.items() if a.refresh_token == token]:
                del self.access_tokens[access]
            return EmulatorResponse(200, b"", {"Content-Type": "application/json; charset=utf-8"})
        access_grant = self.access_tokens.pop(token, None)
        if access_grant is not None:
            # Revoking an access token revokes the refresh token it came from, too.
            if access_grant.refresh_token in self.refresh_tokens:
                self.refresh_tokens[access_grant.refresh_token].revoked = True
            return EmulatorResponse(200, b"", {"Content-Type": "application/json; charset=utf-8"})
        raise _oauth_error(400, "invalid_token", "Token expired or revoked")

    def not_found(self, request: EmulatorRequest) -> EmulatorResponse:
        """Google's front end answers unknown paths with a plain 404 page."""
        return EmulatorResponse(404, b"<!DOCTYPE html><title>Error 404 (Not Found)</title>",
                                {"Content-Type": "text/html; charset=UTF-8"})

