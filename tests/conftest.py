"""Project-wide test configuration: VCR cassettes (pytest-recording) and shared fixtures.

Cassettes live in the top-level `cassettes/` folder, one subfolder per test module. CI replays
them only (`--record-mode=none --block-network` in pyproject.toml); see cassettes/README.md for
re-recording against a real account.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CASSETTES = REPO_ROOT / "cassettes"
SHARED_REFERENCE = REPO_ROOT.parent / "shared" / "reference"

#: The account every cassette talks to after scrubbing.
CASSETTE_SUBDOMAIN = "acme"
CASSETTE_BASE_URL = f"https://{CASSETTE_SUBDOMAIN}.gorgias.com"
CASSETTE_EMAIL = "agent@example.com"

SECRET_HEADERS = ("authorization", "cookie", "set-cookie", "x-api-key", "proxy-authorization")
_EMAIL = re.compile(rb"[A-Za-z0-9._%+-]+@(?!example\.(?:com|org|net)\b)[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_TOKEN_FIELDS = re.compile(rb'("(?:access_token|refresh_token|api_key|client_secret|password)"\s*:\s*")[^"]*(")')


def _scrub_bytes(data: bytes) -> bytes:
    data = _TOKEN_FIELDS.sub(rb"\1REDACTED\2", data)
    data = _EMAIL.sub(b"redacted@example.com", data)
    real = os.environ.get("GORGIAS_SUBDOMAIN")
    if real and real != CASSETTE_SUBDOMAIN:
        data = data.replace(f"{real}.gorgias.com".encode(), f"{CASSETTE_SUBDOMAIN}.gorgias.com".encode())
    return data


def scrub_request(request: Any) -> Any:
    real = os.environ.get("GORGIAS_SUBDOMAIN")
    if real and real != CASSETTE_SUBDOMAIN:
        request.uri = request.uri.replace(f"{real}.gorgias.com", f"{CASSETTE_SUBDOMAIN}.gorgias.com")
    for header in list(request.headers):
        if header.lower() in SECRET_HEADERS:
            del request.headers[header]
    if isinstance(request.body, bytes):
        request.body = _scrub_bytes(request.body)
    elif isinstance(request.body, str):
        request.body = _scrub_bytes(request.body.encode()).decode()
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for header in list(headers):
        if header.lower() in SECRET_HEADERS:
            del headers[header]
    body = response.get("body", {})
    if isinstance(body.get("string"), bytes):
        body["string"] = _scrub_bytes(body["string"])
    return response


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": list(SECRET_HEADERS),
        "filter_query_parameters": ["access_token", "api_key"],
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    return str(CASSETTES / module)
