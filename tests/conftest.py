"""Project-wide test configuration: VCR cassettes (pytest-recording) and shared fixtures.

Cassettes live in the top-level `cassettes/` folder, one subfolder per test module. CI replays
them only (`--record-mode=none --block-network` in pyproject.toml); see cassettes/README.md for
re-recording against a real account.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
CASSETTES = REPO_ROOT / "cassettes"
GORGIAS_SPEC = REPO_ROOT / "spec" / "gorgias"
GORGIAS_REFERENCE = GORGIAS_SPEC / "reference"
"""Facts copied into the repository from public sources (see reference/examples/SOURCES.md)."""

#: The account every cassette talks to after scrubbing.
CASSETTE_SUBDOMAIN = "acme"
CASSETTE_BASE_URL = f"https://{CASSETTE_SUBDOMAIN}.gorgias.com"
CASSETTE_EMAIL = "agent@example.com"

SECRET_HEADERS = ("authorization", "cookie", "set-cookie", "x-api-key", "proxy-authorization")
_EMAIL = re.compile(
    rb"[A-Za-z0-9._%+-]+@(?!example\.(?:com|org|net)\b)[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
)
_URL_EMAIL = re.compile(
    r"[A-Za-z0-9._+-]+(?:@|%40)(?!example\.(?:com|org|net)\b)[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
)
_TOKEN_FIELDS = re.compile(
    rb'("(?:access_token|refresh_token|api_key|api_token|client_secret|hmac_secret|password'
    rb'|authenticity_token|secret|signing_secret)"\s*:\s*")[^"]*(")'
)
_RECORDED_TOKEN_FIELDS = re.compile(rb'("(?:id_token)"\s*:\s*")[^"]*(")')
"""Redacted only while recording (replayed OAuth tests check the fake id_token)."""
_FORM_SECRETS = re.compile(
    r"(?:^|(?<=&))(access_token|refresh_token|id_token|client_secret|code|password|api_key)=[^&]*"
)
_RECORDING = False
"""True when pytest runs with a record mode other than `none` (set in pytest_configure)."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A skipped test is a failed test: the suite must run whole on a fresh clone. So is an
    expected failure (xfail): there are none, every behaviour a test describes must work.

    Only re-recording against a real account may skip (see cassettes/README.md).
    """
    outcome = yield
    report = outcome.get_result()
    if hasattr(report, "wasxfail"):
        del report.wasxfail
        report.outcome = "failed"
        report.longrepr = "expected failures (xfail) count as failures in this project"
    elif report.skipped and not _RECORDING:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped tests count as failures in this project: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    """A module that skips itself at import (importorskip) fails the same way."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not _RECORDING:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped modules count as failures in this project: {reason}"


def pytest_configure(config: pytest.Config) -> None:
    global _RECORDING
    _RECORDING = config.getoption("--record-mode", default=None) not in (None, "none")


@cache
def account_hosts() -> tuple[tuple[str, str | None], ...]:
    """Per connector of `spec/`: the account host template of its server (`{subdomain}.zendesk.com`)
    and the environment variable naming the real account's value (`ZENDESK_SUBDOMAIN`), read from
    each `spec/<connector>/connector.yaml` (server `base_url` and its variables' `env`)."""
    out: list[tuple[str, str | None]] = []
    spec = REPO_ROOT / "spec"
    for path in sorted(spec.glob("*/connector.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        server = data.get("server") if isinstance(data, dict) else None
        if not isinstance(server, dict) or not isinstance(server.get("base_url"), str):
            continue
        host = re.sub(r"^[a-z]+://", "", server["base_url"]).split("/", 1)[0]
        variables = server.get("variables") or {}
        for name, var in variables.items():
            if f"{{{name}}}" in host and isinstance(var, dict):
                out.append((host.replace(f"{{{name}}}", "{}"), var.get("env")))
    return tuple(out)


def cassette_hosts() -> set[str]:
    """The account hosts allowed in cassettes: every connector's host on the `acme` account."""
    return {template.format(CASSETTE_SUBDOMAIN) for template, _ in account_hosts()}


def _real_accounts() -> list[tuple[str, str, str]]:
    """(real value, real host, cassette host) of each connector whose account variable is set in
    the environment to something other than the cassette account (re-recording)."""
    out = []
    for template, env in account_hosts():
        real = os.environ.get(env) if env else None
        if real and real != CASSETTE_SUBDOMAIN:
            out.append((real, template.format(real), template.format(CASSETTE_SUBDOMAIN)))
    return out


def _scrub_text(text: str) -> str:
    """URLs and header values: the account host back to `acme`, e-mail addresses to example.com."""
    for _, real_host, cassette_host in _real_accounts():
        text = text.replace(real_host, cassette_host)
    return _URL_EMAIL.sub(
        lambda m: "redacted%40example.com" if "%40" in m.group(0) else "redacted@example.com", text
    )


def _scrub_bytes(data: bytes, recording: bool = False) -> bytes:
    data = _TOKEN_FIELDS.sub(rb"\1REDACTED\2", data)
    if recording:
        data = _RECORDED_TOKEN_FIELDS.sub(rb"\1REDACTED\2", data)
    data = _EMAIL.sub(b"redacted@example.com", data)
    for real, real_host, cassette_host in _real_accounts():
        data = data.replace(real_host.encode(), cassette_host.encode())
        # an account object may name its subdomain without the host (`"domain": "<sub>"`,
        # `"subdomain": "<sub>"`)
        data = re.sub(
            rb'("(?:domain|subdomain)"\s*:\s*")' + re.escape(real.encode()) + rb'(")',
            rb"\1" + CASSETTE_SUBDOMAIN.encode() + rb"\2",
            data,
        )
    return data


def _scrub_form(text: str) -> str:
    return _FORM_SECRETS.sub(lambda m: f"{m.group(1)}=REDACTED", text)


def scrub_request(request: Any, *, recording: bool | None = None) -> Any:
    """vcrpy `before_record_request`: drop credential headers, redact token fields and e-mail
    addresses, map the real account host back to `acme` (URI, query, headers and body).

    vcrpy also applies this hook to the requests it replays and matches, so it must leave the
    hand-written cassettes alone; secrets in form-encoded bodies (OAuth token requests) are only
    redacted while recording (`recording`, default: pytest's `--record-mode` is not `none`), so
    replayed OAuth tests still match on the exact tokens sent.
    """
    recording = _RECORDING if recording is None else recording
    request.uri = _scrub_text(request.uri)
    for header in list(request.headers):
        if header.lower() in SECRET_HEADERS:
            del request.headers[header]
        elif isinstance(request.headers[header], str):  # e.g. `host: <account>.gorgias.com`
            request.headers[header] = _scrub_text(request.headers[header])
    if isinstance(request.body, bytes):
        request.body = _scrub_bytes(request.body, recording)
    elif isinstance(request.body, str):
        request.body = _scrub_bytes(request.body.encode(), recording).decode()
    if recording:
        body = request.body
        if isinstance(body, bytes) and b"=" in body and not body.lstrip().startswith((b"{", b"[")):
            request.body = _scrub_form(body.decode("utf-8", "replace")).encode()
    return request


def scrub_response(response: dict[str, Any], *, recording: bool | None = None) -> dict[str, Any]:
    """vcrpy `before_record_response`: drop cookies and credential headers, map the account host
    and e-mail addresses in the other headers (e.g. `Location`), redact token fields, e-mail
    addresses and the account subdomain in the body (id tokens only while recording)."""
    recording = _RECORDING if recording is None else recording
    headers = response.get("headers", {})
    for header in list(headers):
        if header.lower() in SECRET_HEADERS:
            del headers[header]
        else:
            values = headers[header]
            if isinstance(values, list):
                headers[header] = [_scrub_text(v) if isinstance(v, str) else v for v in values]
            elif isinstance(values, str):
                headers[header] = _scrub_text(values)
    body = response.get("body", {})
    if isinstance(body.get("string"), bytes):
        body["string"] = _scrub_bytes(body["string"], recording)
    elif isinstance(body.get("string"), str):
        body["string"] = _scrub_bytes(body["string"].encode(), recording).decode()
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
