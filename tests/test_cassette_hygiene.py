"""Cassette hygiene: no credentials, real e-mail addresses or real account hosts in any cassette;
the shared scrub hooks do what they promise; every operation has a case and a cassette.

The scan covers every cassette file under `cassettes/` (all subfolders, whoever wrote them) and
fails with `file:line` for each finding. What counts as a placeholder (allowed) secret: empty,
`REDACTED`, a value that says it is fake (`fake`, `placeholder`, `example`, `dummy`, `test`,
`cassette`, `xxx`), or a short value of at most 16 characters (the hand-written fakes such as
`at-new-91ab`; real Gorgias API keys and OAuth tokens are long random strings).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from vcr.request import Request

from tests.conftest import CASSETTES, GORGIAS_SPEC, scrub_request, scrub_response, vcr_config

CASSETTE_SUFFIXES = {".yaml", ".yml", ".json"}
ALLOWED_EMAIL_DOMAINS = re.compile(r"(?:^|\.)example\.(?:com|org|net)$", re.IGNORECASE)
DOCUMENTED_SAMPLE_EMAILS = {
    # addresses printed in Gorgias's recorded sample payloads (spec/gorgias/reference/examples)
    "test@sample.com",
    "jk0nxgz1z70o74pm@email.gorgias.com",
}
ALLOWED_ACCOUNT_HOSTS = {"acme.gorgias.com"}
PLACEHOLDER_WORDS = (
    "redacted",
    "fake",
    "placeholder",
    "example",
    "dummy",
    "test",
    "cassette",
    "xxx",
)
SECRET_KEYS = (
    r"access_token|refresh_token|id_token|api_key|apikey|client_secret|hmac_secret|password"
)

SECRET_HEADER = re.compile(
    r"""^\s*-?\s*["']?(authorization|proxy-authorization|cookie|set-cookie|x-api-key)["']?\s*:""",
    re.IGNORECASE,
)
BASIC = re.compile(r"\bBasic\s+([A-Za-z0-9+/=]{8,})")
BEARER = re.compile(r"\bBearer\s+([A-Za-z0-9._~+/=-]{8,})")
SECRET_VALUE = re.compile(
    rf"""["']?\b({SECRET_KEYS})\b["']?\s*(?::|=)\s*["']?([^"'&,\s}}\]\\]*)""", re.IGNORECASE
)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")
GORGIAS_HOST = re.compile(r"\b((?:[A-Za-z0-9-]+\.)+gorgias\.com)\b", re.IGNORECASE)


def cassette_files() -> list[Path]:
    return sorted(
        p for p in CASSETTES.rglob("*") if p.is_file() and p.suffix.lower() in CASSETTE_SUFFIXES
    )


def placeholder(value: str) -> bool:
    low = value.lower()
    return len(value) <= 16 or any(word in low for word in PLACEHOLDER_WORDS)


def findings(path: Path) -> list[str]:
    """Credential-like values, real e-mail addresses and real account hosts in one file."""
    out: list[str] = []
    rel = path.relative_to(CASSETTES.parent) if path.is_relative_to(CASSETTES.parent) else path
    for number, raw in enumerate(
        path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
    ):
        where = f"{rel}:{number}"
        for line in {raw, unquote(raw)}:
            if SECRET_HEADER.search(line):
                out.append(f"{where}: credential header: {line.strip()[:80]}")
            for match in BASIC.finditer(line):
                if not placeholder(match.group(1)):
                    out.append(f"{where}: Basic credentials")
            for match in BEARER.finditer(line):
                if not placeholder(match.group(1)):
                    out.append(f"{where}: Bearer token")
            for match in SECRET_VALUE.finditer(line):
                key, value = match.groups()
                if value and value.lower() not in ("null", "none") and not placeholder(value):
                    out.append(f"{where}: {key} with a real-looking value")
            rest = line
            for match in EMAIL.finditer(line):
                address, domain = match.group(0), match.group(1)
                if address.lower() in DOCUMENTED_SAMPLE_EMAILS:
                    rest = rest.replace(address, "")
                elif not ALLOWED_EMAIL_DOMAINS.search(domain):
                    out.append(f"{where}: e-mail address outside example.com/.org/.net: {address}")
            for match in GORGIAS_HOST.finditer(rest):
                if match.group(1).lower() not in ALLOWED_ACCOUNT_HOSTS:
                    out.append(
                        f"{where}: account host other than acme.gorgias.com: {match.group(1)}"
                    )
    return sorted(set(out))


# --- the scan --------------------------------------------------------------------------------


def test_there_are_cassettes_to_scan() -> None:
    files = cassette_files()
    assert len(files) >= 117
    assert {p.parent.name for p in files} >= {"operations", "operation_errors"}


def test_no_cassette_holds_credentials_real_emails_or_real_hosts() -> None:
    problems = [finding for path in cassette_files() for finding in findings(path)]
    assert problems == [], "\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "line",
    [
        "      Authorization: [Basic YWdlbnRAZXhhbXBsZS5jb206c2stbGl2ZS0xMjM0NTY3ODkw]",
        "    authorization:",
        "      Set-Cookie: ['session=abc']",
        '  string: \'{"token_type": "Bearer", "x": "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOjF9.c2lnbmF0dXJl"}\'',
        '  string: \'{"access_token": "2b7f0e9c4d1a4e8fb3c6a5d2e1f0a9b8c7d6e5f4"}\'',
        "    body: grant_type=refresh_token&refresh_token=9f8e7d6c5b4a39281706f5e4d3c2b1a0&client_id=x",
        '  string: \'{"email": "jane.doe@gmail.com"}\'',
        "    uri: https://acme.gorgias.com/api/customers?email=jane%40realshop.fr",
        "    uri: https://realshop.gorgias.com/api/account",
    ],
)
def test_the_scan_catches(tmp_path: Path, line: str) -> None:
    path = tmp_path / "probe.yaml"
    path.write_text(f"interactions:\n{line}\n", encoding="utf-8")
    assert findings(path), f"not caught: {line}"


@pytest.mark.parametrize(
    "line",
    [
        '  string: \'{"access_token": "at-new-91ab", "token_type": "Bearer", "id_token": "eyJhbGciOi.fake.token"}\'',
        '  string: \'{"access_token": "REDACTED"}\'',
        "    body: grant_type=refresh_token&refresh_token=rt-old-2f9c&client_secret=cs-secret-77d1",
        '  string: \'{"email": "jane@example.com", "address": "test@sample.com"}\'',
        '  "from": {"address": "jk0nxgz1z70o74pm@email.gorgias.com"}',
        "    uri: https://acme.gorgias.com/api/customers?email=jane%40example.com",
        "# Basic auth header is dropped by the scrubber",
    ],
)
def test_the_scan_allows(tmp_path: Path, line: str) -> None:
    path = tmp_path / "probe.yaml"
    path.write_text(f"interactions:\n{line}\n", encoding="utf-8")
    assert findings(path) == []


# --- the scrub hooks (tests/conftest.py) -----------------------------------------------------


@pytest.fixture
def real_account(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GORGIAS_SUBDOMAIN", "realshop")
    return "realshop"


def test_scrub_request_removes_credentials_and_rewrites_account(real_account: str) -> None:
    request = Request(
        "POST",
        "https://realshop.gorgias.com/api/customers?email=jane%40realshop.fr&limit=1",
        b'{"email": "jane@realshop.fr", "name": "Jane", "access_token": "2b7f0e9c4d1a", '
        b'"api_key": "k-123", "password": "hunter2", "hmac_secret": "s3", "url": '
        b'"https://realshop.gorgias.com/api/tickets/1"}',
        {
            "Authorization": "Basic amFuZUByZWFsc2hvcC5mcjpzZWNyZXQ=",
            "Cookie": "session=abc",
            "X-Api-Key": "k-123",
            "Content-Type": "application/json",
            "Host": "realshop.gorgias.com",
        },
    )
    scrubbed = scrub_request(request, recording=True)
    assert set(scrubbed.headers) == {"Content-Type", "Host"}
    assert scrubbed.headers["Host"] == "acme.gorgias.com"
    assert scrubbed.uri == (
        "https://acme.gorgias.com/api/customers?email=redacted%40example.com&limit=1"
    )
    assert scrubbed.host == "acme.gorgias.com"
    body = scrubbed.body.decode()
    for secret in ("2b7f0e9c4d1a", "k-123", "hunter2", '"s3"', "realshop"):
        assert secret not in body
    assert '"email": "redacted@example.com"' in body
    assert '"access_token": "REDACTED"' in body and '"password": "REDACTED"' in body
    assert "https://acme.gorgias.com/api/tickets/1" in body


def test_scrub_request_redacts_oauth_form_bodies_while_recording() -> None:
    form = (
        b"grant_type=refresh_token&refresh_token=rt-9f8e7d6c5b4a&client_id=app-1"
        b"&client_secret=cs-0a1b2c3d&code=abc"
    )
    recorded = scrub_request(
        Request("POST", "https://acme.gorgias.com/oauth/token", form, {}), recording=True
    )
    assert recorded.body == (
        b"grant_type=refresh_token&refresh_token=REDACTED&client_id=app-1"
        b"&client_secret=REDACTED&code=REDACTED"
    )
    # on replay the form is left as written, so OAuth tests still match the exact tokens sent
    replayed = scrub_request(
        Request("POST", "https://acme.gorgias.com/oauth/token", form, {}), recording=False
    )
    assert replayed.body == form


def test_scrub_request_leaves_the_cassette_account_alone() -> None:
    request = Request(
        "GET", "https://acme.gorgias.com/api/customers?email=jane%40example.com", b"", {}
    )
    assert scrub_request(request, recording=True).uri == (
        "https://acme.gorgias.com/api/customers?email=jane%40example.com"
    )


def test_scrub_response_removes_cookies_tokens_and_account(real_account: str) -> None:
    response: dict[str, Any] = {
        "status": {"code": 200, "message": "OK"},
        "headers": {
            "Set-Cookie": ["session=abc; HttpOnly"],
            "Location": ["https://realshop.gorgias.com/api/attachment/download/x/y.png"],
            "Content-Type": ["application/json"],
        },
        "body": {
            "string": b'{"domain": "realshop", "access_token": "at-0123456789abcdef0123", '
            b'"refresh_token": "rt-x", "id_token": "eyJ.real.jwt", '
            b'"email": "owner@realshop.fr", "uri": "https://realshop.gorgias.com/api/account"}'
        },
    }
    scrubbed = scrub_response(response, recording=True)
    assert "Set-Cookie" not in scrubbed["headers"]
    assert scrubbed["headers"]["Location"] == [
        "https://acme.gorgias.com/api/attachment/download/x/y.png"
    ]
    body = scrubbed["body"]["string"].decode()
    assert "realshop" not in body
    assert '"domain": "acme"' in body
    assert '"access_token": "REDACTED"' in body and '"refresh_token": "REDACTED"' in body
    assert '"id_token": "REDACTED"' in body
    assert '"email": "redacted@example.com"' in body


def test_vcr_config_uses_the_scrubbers_and_strict_matching() -> None:
    config = vcr_config.__wrapped__()  # type: ignore[attr-defined]
    assert config["before_record_request"] is scrub_request
    assert config["before_record_response"] is scrub_response
    assert {"method", "scheme", "host", "port", "path", "query", "body"} <= set(config["match_on"])
    assert {"authorization", "cookie", "set-cookie"} <= set(config["filter_headers"])


# --- coverage of the definition ----------------------------------------------------------------


def test_every_operation_has_a_case_and_a_cassette() -> None:
    """Operations of the definition, cases and cassettes/operations are the same tool names."""
    from connectorgen.pipeline import build
    from tests.operations.casebook import CASSETTE_DIR, load_cases

    tools = {op.tool for op in build(GORGIAS_SPEC).operations}
    cases = set(load_cases())
    cassettes = {p.stem for p in CASSETTE_DIR.glob("*.yaml")}
    assert sorted(tools - cases) == [], "operations without a case in tests/operations/cases/"
    assert sorted(tools - cassettes) == [], "operations without a cassette in cassettes/operations/"
    assert sorted(cases - tools) == [], "cases of no operation"
    assert sorted(cassettes - tools) == [], "cassettes/operations/ files of no operation"
    others = sorted(p.name for p in CASSETTE_DIR.iterdir() if p.suffix != ".yaml")
    assert others == [], "unexpected files in cassettes/operations/"
