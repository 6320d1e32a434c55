"""The sandbox's OAuth2 authorization server, for every connector that declares an oauth2 scheme.

Driven through real loopback sockets (a threaded sandbox) and the generated clients' own OAuth
code: `async_exchange_code` for the code grant, and the client's refresh (401 renewal and
proactive renewal) with `on_token_refresh`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])

CONNECTORS = {"gorgias": "AsyncGorgias", "zendesk": "AsyncZendesk"}
REDIRECT_URI = "http://127.0.0.1:9/callback?app=1"
TTL = 1


def _oauth_connectors() -> list[str]:
    out = []
    for name in CONNECTORS:
        spec = importlib.import_module(f"{name}.sandbox._spec").SPEC
        if any(k.startswith("oauth2") for k in spec["auth"]):
            out.append(name)
    return out


OAUTH_CONNECTORS = _oauth_connectors()


def test_both_connectors_declare_oauth2() -> None:
    assert OAUTH_CONNECTORS == ["gorgias", "zendesk"]


@pytest.fixture(params=OAUTH_CONNECTORS, scope="module")
def sandbox(request: pytest.FixtureRequest) -> Iterator[Any]:
    module = importlib.import_module(f"{request.param}.sandbox")
    handle = module.serve_in_thread(rate_limit="off", oauth_token_ttl=TTL)
    handle.connector = request.param
    yield handle
    handle.stop()


def _package(handle: Any) -> Any:
    return importlib.import_module(handle.connector)


def _list_path(handle: Any) -> str:
    """A plain list route of the connector (GET, no path parameter, nothing required)."""
    spec = importlib.import_module(f"{handle.connector}.sandbox._spec").SPEC
    paths = [
        r["path"]
        for r in spec["routes"]
        if r["method"] == "GET"
        and r["handler"] == "list"
        and "{" not in r["path"]
        and r.get("collection") == "tickets"
        and not any(p["required"] for p in r["params"])
    ]
    return str(min(paths, key=len))


def _scopes(handle: Any) -> list[str]:
    scopes = sorted(handle.oauth.scopes)[:2]
    if handle.oauth.offline_scope:
        scopes.append(handle.oauth.offline_scope)
    return scopes


def _authorize(handle: Any, **params: str) -> httpx.Response:
    app = handle.oauth_app()
    query = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT_URI,
        "scope": " ".join(_scopes(handle)),
        "state": "xyz-state",
        **params,
    }
    return httpx.get(app["authorize_url"], params=query, follow_redirects=False)


def _code(handle: Any, **params: str) -> str:
    response = _authorize(handle, **params)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI.split("?")[0]
    assert query["app"] == ["1"] and query["state"] == ["xyz-state"]
    return query["code"][0]


def _token_post(handle: Any, fields: dict[str, str], **kwargs: Any) -> httpx.Response:
    """POST to the token endpoint in the definition's declared encoding."""
    url = handle.oauth_app()["token_url"]
    if handle.oauth.encoding == "json":
        return httpx.post(url, json=fields, **kwargs)
    return httpx.post(url, data=fields, **kwargs)


async def _exchange(handle: Any, code: str) -> Any:
    app = handle.oauth_app()
    return await _package(handle).async_exchange_code(
        code,
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        redirect_uri=REDIRECT_URI,
        base_url=handle.base_url,
    )


def _client(handle: Any, token: Any, seen: list[Any], **kwargs: Any) -> Any:
    cls = getattr(_package(handle), CONNECTORS[handle.connector])
    return cls(
        base_url=handle.base_url,
        access_token=token.access_token,
        refresh_token=token.refresh_token,
        client_id="sandbox",
        client_secret="sandbox",
        on_token_refresh=seen.append,
        rate_limit=False,
        max_retries=0,
        **kwargs,
    )


def _error_body(handle: Any, message: str) -> Any:
    app_module = importlib.import_module(f"{handle.connector}.sandbox.app")
    return json.loads(json.dumps(app_module.error_body(message)))


async def test_code_flow_then_bearer_then_client_refresh_on_401(sandbox: Any) -> None:
    before = sandbox.stats()["oauth"]
    token = await _exchange(sandbox, _code(sandbox))
    assert token.refresh_token and token.access_token != token.refresh_token
    assert token.scope == " ".join(_scopes(sandbox))
    assert token.expires_at is not None and 0 < token.expires_at - time.time() <= TTL + 0.5
    path = _list_path(sandbox)
    auth = {"Authorization": f"Bearer {token.access_token}"}
    ok = httpx.get(sandbox.base_url + path, headers=auth)
    assert ok.status_code == 200, ok.text

    seen: list[Any] = []
    # no expiry given: the client learns the token expired from the 401 and renews it
    client = _client(sandbox, token, seen)
    try:
        assert (await client.tickets.list().first_page()).items
        assert seen == []
        await asyncio.sleep(TTL + 0.2)
        expired = httpx.get(sandbox.base_url + path, headers=auth)
        assert expired.status_code == 401
        assert expired.json() == _error_body(sandbox, "The access token expired.")
        assert (await client.tickets.list().first_page()).items
    finally:
        await client.aclose()
    assert len(seen) == 1
    renewed = seen[0]
    assert renewed.access_token != token.access_token
    assert renewed.refresh_token not in (None, token.refresh_token)  # rotated
    after = sandbox.stats()["oauth"]
    assert after["authorization_code"] - before.get("authorization_code", 0) == 1
    assert after["refresh_token"] - before.get("refresh_token", 0) == 1
    assert httpx.get(sandbox.base_url + path, headers=auth).status_code == 401

    # the spent refresh token is refused from now on, as is an unknown one
    for presented in (token.refresh_token, "never-issued"):
        reused = _token_post(
            sandbox,
            {
                "grant_type": "refresh_token",
                "refresh_token": presented,
                "client_id": "sandbox",
                "client_secret": "sandbox",
            },
        )
        assert reused.status_code == 400
        assert reused.json()["error"] == "invalid_grant"
    # the rotated one still works, once, with client credentials sent as HTTP Basic too
    basic = base64.b64encode(b"sandbox:sandbox").decode()
    fresh = _token_post(
        sandbox,
        {"grant_type": "refresh_token", "refresh_token": renewed.refresh_token},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert fresh.status_code == 200, fresh.text
    body = fresh.json()
    assert body["token_type"].lower() == "bearer" and body["expires_in"] == TTL
    assert set(body) >= {"access_token", "refresh_token", "expires_in", "scope"}
    newest = {"Authorization": f"Bearer {body['access_token']}"}
    assert httpx.get(sandbox.base_url + path, headers=newest).status_code == 200


async def test_client_renews_proactively_once_per_expiry(sandbox: Any) -> None:
    """A short-lived token is renewed before it expires: one token request per lifetime."""
    token = await _exchange(sandbox, _code(sandbox))
    seen: list[Any] = []
    client = _client(sandbox, token, seen)
    before = sandbox.stats()
    try:
        deadline = time.monotonic() + 2.5 * TTL
        calls = 0
        while time.monotonic() < deadline:
            await client.tickets.list().first_page()
            calls += 1
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()
    after = sandbox.stats()
    refreshes = after["oauth"]["refresh_token"] - before["oauth"].get("refresh_token", 0)
    statuses = {
        k: v - before["responses"].get(k, 0)
        for k, v in after["responses"].items()
        if k.endswith(" 401")
    }
    # the first token has no known expiry (renewed on its 401), the later ones before they expire
    assert 2 <= refreshes <= 3 and len(seen) == refreshes
    assert sum(statuses.values()) <= 1
    assert calls > 20


def test_code_is_single_use_and_bound_to_redirect_uri_and_client(sandbox: Any) -> None:
    code = _code(sandbox)
    fields = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": "sandbox",
        "client_secret": "wrong",
    }
    bad_client = _token_post(sandbox, fields)
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    wrong_uri = _token_post(
        sandbox, {**fields, "client_secret": "sandbox", "redirect_uri": "http://127.0.0.1:9/x"}
    )
    assert wrong_uri.status_code == 400 and wrong_uri.json()["error"] == "invalid_grant"
    code = _code(sandbox)
    first = _token_post(sandbox, {**fields, "code": code, "client_secret": "sandbox"})
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    again = _token_post(sandbox, {**fields, "code": code, "client_secret": "sandbox"})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    missing = _token_post(sandbox, {"client_id": "sandbox", "client_secret": "sandbox"})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    other = _token_post(sandbox, {**fields, "grant_type": "password"})
    assert other.status_code == 400 and other.json()["error"] == "unsupported_grant_type"


def test_token_endpoint_takes_only_the_declared_encoding(sandbox: Any) -> None:
    url = sandbox.oauth_app()["token_url"]
    fields = {
        "grant_type": "authorization_code",
        "code": _code(sandbox),
        "redirect_uri": REDIRECT_URI,
        "client_id": "sandbox",
        "client_secret": "sandbox",
    }
    if sandbox.oauth.encoding == "json":
        wrong = httpx.post(url, data=fields)
    else:
        wrong = httpx.post(url, json=fields)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_request"
    assert httpx.get(url).status_code == 405
    assert _token_post(sandbox, fields).status_code == 200


def test_authorize_refusals(sandbox: Any) -> None:
    bad_uri = _authorize(sandbox, redirect_uri="javascript:alert(1)")
    assert bad_uri.status_code == 400 and "location" not in bad_uri.headers
    assert bad_uri.json() == _error_body(
        sandbox, "redirect_uri must be an absolute http(s) URL without a fragment."
    )
    bad_client = _authorize(sandbox, client_id="someone-else")
    assert bad_client.status_code == 400 and "location" not in bad_client.headers
    unknown_scope = _authorize(sandbox, scope="no-such:scope")
    assert unknown_scope.status_code == 302
    query = parse_qs(urlsplit(unknown_scope.headers["location"]).query)
    assert query["error"] == ["invalid_scope"] and query["state"] == ["xyz-state"]
    assert "code" not in query
    wrong_type = _authorize(sandbox, response_type="token")
    assert parse_qs(urlsplit(wrong_type.headers["location"]).query)["error"] == [
        "unsupported_response_type"
    ]


def test_pkce_is_checked_when_used(sandbox: Any) -> None:
    verifier = "v" * 50
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    fields = {
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT_URI,
        "client_id": "sandbox",
        "client_secret": "sandbox",
    }
    code = _code(sandbox, code_challenge=challenge, code_challenge_method="S256")
    refused = _token_post(sandbox, {**fields, "code": code, "code_verifier": "w" * 50})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    code = _code(sandbox, code_challenge=challenge, code_challenge_method="S256")
    assert _token_post(sandbox, {**fields, "code": code, "code_verifier": verifier}).is_success


def test_offline_scope_decides_the_refresh_token(sandbox: Any) -> None:
    offline = sandbox.oauth.offline_scope
    scopes = [s for s in _scopes(sandbox) if s != offline]
    code = _code(sandbox, scope=" ".join(scopes))
    body = _token_post(
        sandbox,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": "sandbox",
            "client_secret": "sandbox",
        },
    ).json()
    # a declared offline scope must be asked for; without one a refresh token always comes
    assert ("refresh_token" in body) is (offline is None)


async def test_spent_refresh_token_fails_the_generated_client_clearly(sandbox: Any) -> None:
    token = await _exchange(sandbox, _code(sandbox))
    spent = _token_post(
        sandbox,
        {
            "grant_type": "refresh_token",
            "refresh_token": token.refresh_token,
            "client_id": "sandbox",
            "client_secret": "sandbox",
        },
    )
    assert spent.status_code == 200
    with sandbox.oauth.lock:  # the access token is withdrawn early: the next call answers 401
        del sandbox.oauth.access[token.access_token]
    client = _client(sandbox, token, [])
    try:
        with pytest.raises(_package(sandbox).AuthenticationError) as caught:
            await client.tickets.list().first_page()
    finally:
        await client.aclose()
    assert "invalid_grant" in str(caught.value)
    assert token.refresh_token not in str(caught.value)


def test_options_and_cli(sandbox: Any) -> None:
    options = importlib.import_module(f"{sandbox.connector}.sandbox.options")
    parsed = options.parse_args(
        ["--oauth-token-ttl", "2.5", "--oauth-client-id", "app", "--oauth-client-secret", "s3"]
    )
    assert (parsed.oauth_token_ttl, parsed.oauth_client_id, parsed.oauth_client_secret) == (
        2.5,
        "app",
        "s3",
    )
    for bad in ("0", "-1", "nan", "inf"):
        with pytest.raises(SystemExit):
            options.parse_args(["--oauth-token-ttl", bad])
    with pytest.raises(ValueError, match="oauth_client_id"):
        options.SandboxOptions.from_kwargs(oauth_client_id="")


async def test_client_with_only_a_refresh_token_renews_first(sandbox: Any) -> None:
    token = await _exchange(sandbox, _code(sandbox))
    seen: list[Any] = []
    cls = getattr(_package(sandbox), CONNECTORS[sandbox.connector])
    client = cls(
        base_url=sandbox.base_url,
        refresh_token=token.refresh_token,
        client_id="sandbox",
        client_secret="sandbox",
        on_token_refresh=seen.append,
        rate_limit=False,
    )
    try:
        assert (await client.tickets.list().first_page()).items
        assert (await client.tickets.list().first_page()).items
    finally:
        await client.aclose()
    assert len(seen) == 1 and seen[0].refresh_token != token.refresh_token
