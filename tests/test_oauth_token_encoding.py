"""`token_request_encoding` of oauth2_authorization_code: the code exchange and the refresh grant
are sent as a form (Gorgias, the default) or as one JSON object (Zendesk), sync and async."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import zendesk

import gorgias

TOKEN = {"access_token": "at-new", "refresh_token": "rt-new", "expires_in": 3600, "token_type": "bearer"}
EXPECTED_CODE = {"grant_type": "authorization_code", "code": "c0de", "redirect_uri": "https://app.example.com/cb",
                 "client_id": "cid", "client_secret": "csecret"}
EXPECTED_REFRESH = {"grant_type": "refresh_token", "refresh_token": "rt-old", "client_id": "cid",
                    "client_secret": "csecret"}
#: connector -> (package, token path, how the body is sent, a GET path that answers an object)
CONNECTORS = {
    "gorgias": (gorgias, "/oauth/token", "form", "/api/account"),
    "zendesk": (zendesk, "/oauth/tokens", "json", "/api/v2/users/me"),
}


def _transport(token_path: str) -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        if request.url.path == token_path:
            return httpx.Response(200, json=TOKEN)
        return httpx.Response(200, json={"user": {"id": 1}, "id": 1})

    return seen, httpx.MockTransport(handler)


def _body(request: httpx.Request, encoding: str) -> dict[str, Any]:
    content_type = request.headers["content-type"]
    if encoding == "json":
        assert content_type == "application/json"
        decoded: dict[str, Any] = json.loads(request.content)
        return decoded
    assert content_type == "application/x-www-form-urlencoded"
    return dict(parse_qsl(request.content.decode()))


@pytest.mark.parametrize("connector", sorted(CONNECTORS))
def test_code_exchange_is_sent_in_the_declared_encoding(connector: str) -> None:
    package, token_path, encoding, _ = CONNECTORS[connector]
    seen, transport = _transport(token_path)
    token = package.exchange_code("c0de", client_id="cid", client_secret="csecret",
                                  redirect_uri="https://app.example.com/cb", subdomain="acme",
                                  http_client=httpx.Client(transport=transport))
    assert token.access_token == "at-new" and token.refresh_token == "rt-new"

    async def run() -> Any:
        return await package.async_exchange_code(
            "c0de", client_id="cid", client_secret="csecret", redirect_uri="https://app.example.com/cb",
            subdomain="acme", http_client=httpx.AsyncClient(transport=transport))

    assert asyncio.run(run()).access_token == "at-new"
    assert [(r.method, r.url.host, r.url.path) for r in seen] == [("POST", f"acme.{connector}.com", token_path)] * 2
    assert [_body(r, encoding) for r in seen] == [EXPECTED_CODE] * 2


@pytest.mark.parametrize("connector", sorted(CONNECTORS))
def test_refresh_grant_is_sent_in_the_declared_encoding(connector: str) -> None:
    package, token_path, encoding, get_path = CONNECTORS[connector]
    seen, transport = _transport(token_path)
    name = connector.capitalize()
    kwargs = {"subdomain": "acme", "access_token": "at-old", "refresh_token": "rt-old", "client_id": "cid",
              "client_secret": "csecret", "token_expires_at": time.time() - 10, "rate_limit": False}
    renewed: list[str] = []
    client = getattr(package, name)(**kwargs, on_token_refresh=lambda t: renewed.append(t.access_token),
                                    http_client=httpx.Client(transport=transport))
    client.request("GET", get_path)

    async def run() -> None:
        async with getattr(package, "Async" + name)(**kwargs, http_client=httpx.AsyncClient(transport=transport)) as c:
            await c.request("GET", get_path)

    asyncio.run(run())
    token_requests = [r for r in seen if r.url.path == token_path]
    assert [_body(r, encoding) for r in token_requests] == [EXPECTED_REFRESH] * 2
    api_requests = [r for r in seen if r.url.path == get_path]
    assert [r.headers["authorization"] for r in api_requests] == ["Bearer at-new"] * 2
    assert renewed == ["at-new"]
