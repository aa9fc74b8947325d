"""Scrubbing for vcrpy cassettes: one place that decides what never reaches disk."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from apunto_connect.redaction import MASK, redact

FILTER_HEADERS = [
    ("authorization", MASK),
    ("x-api-key", MASK),
    ("x-shipsgo-user-token", MASK),
    ("cookie", MASK),
    ("apikey", MASK),
    ("bmx-token", MASK),  # Banxico SIE
]
FILTER_QUERY = ["key", "api_key", "apikey", "access_token", "token"]
FILTER_POST = ["client_secret", "refresh_token", "assertion", "password", "code_verifier"]

_RESPONSE_HEADERS_TO_DROP = {"set-cookie", "authorization"}

# What a leaked credential looks like in a cassette file.
LEAK_PATTERNS = [
    re.compile(r"(?i)authorization:\s*\[?\s*-?\s*['\"]?(basic|bearer)\s+[A-Za-z0-9+/=._-]{12,}"),
    # YAML puts header values on their own line: "- Basic dXNlcj..."
    re.compile(r"(?i)^\s*-\s*['\"]?(basic|bearer)\s+(?!\*\*\*)[A-Za-z0-9+/=._-]{12,}"),
    re.compile(r"(?i)x-api-key:\s*\[?\s*-?\s*['\"]?[A-Za-z0-9]{16,}"),
    re.compile(r"ya29\.[A-Za-z0-9_-]{10,}"),
    re.compile(r"-----BEGIN (RSA |EC )?PRIVATE KEY"),
    re.compile(r"sk_(live|test)_[A-Za-z0-9]{10,}"),
    re.compile(r"(?i)\"(access_token|refresh_token|id_token|password|token)\"\s*:\s*\"(?!\*\*\*REDACTED)[^\"]{6,}\""),
]


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """Drop cookies and mask token-like values in recorded response bodies."""
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in _RESPONSE_HEADERS_TO_DROP:
            del headers[name]
    body = response.get("body", {})
    raw = body.get("string")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return response  # binary (PDF): nothing textual to leak
        cleaned = redact(text)
        if cleaned != text:
            body["string"] = cleaned.encode("utf-8")
            for name in list(headers):
                if name.lower() == "content-length":
                    headers[name] = [str(len(body["string"]))]
    return response


def vcr_config() -> dict[str, Any]:
    """The one vcrpy configuration every test uses."""
    return {
        "filter_headers": FILTER_HEADERS,
        "filter_query_parameters": FILTER_QUERY,
        "filter_post_data_parameters": FILTER_POST,
        "before_record_response": scrub_response,
        "decode_compressed_response": True,
        "record_on_exception": False,
        "match_on": ["method", "scheme", "host", "port", "path", "query"],
    }


def find_leaks(root: Path) -> list[str]:
    """Every cassette line under ``root`` that looks like a credential."""
    leaks = []
    for path in sorted(root.rglob("*.yaml")):
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if any(p.search(line) for p in LEAK_PATTERNS):
                leaks.append(f"{path}:{number}: {line.strip()[:80]}")
    return leaks


def dumps(value: Any) -> str:
    """Stable JSON for fixtures."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
