"""`send_raw()`: any request with the client's auth, pacing and retries, answered as the
`httpx.Response` whatever its status (what a proxy passing the API's answers on needs)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gorgias import AsyncGorgias, Gorgias
from gorgias._errors import APIConnectionError, InvalidArgumentsError

KWARGS = {"base_url": "https://acme.gorgias.com", "email": "me@acme.example", "api_key": "k-secret"}


def test_error_statuses_are_returned_with_the_body_as_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/tickets/9":
            return httpx.Response(404, json={"error": {"msg": "Resource not found."}})
        return httpx.Response(
            422, content=b'{"error":"bad"}', headers={"Content-Type": "application/problem+json"}
        )

    with Gorgias(**KWARGS, http_client=httpx.Client(transport=httpx.MockTransport(handler))) as c:
        response = c.send_raw("GET", "/api/tickets/9")
        assert response.status_code == 404
        assert response.json() == {"error": {"msg": "Resource not found."}}
        response = c.send_raw(
            "POST",
            "/api/tickets",
            params=[("a", "1"), ("a", "2"), ("b", "x y")],
            content=b"{}",
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 422
        assert response.content == b'{"error":"bad"}'
        assert response.headers["content-type"] == "application/problem+json"
    assert seen[1].url.query == b"a=1&a=2&b=x+y"
    assert seen[1].content == b"{}"
    assert all(r.headers["authorization"].startswith("Basic ") for r in seen)


def test_retries_apply_and_the_last_answer_is_returned() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(503, json={"error": "down"})

    async def run() -> httpx.Response:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        async with AsyncGorgias(
            **KWARGS, http_client=http, max_retries=2, retry_initial_delay=0.001, rate_limit=False
        ) as c:
            return await c.send_raw("GET", "/api/account")

    response = asyncio.run(run())
    assert response.status_code == 503
    assert calls == ["GET", "GET", "GET"]


def test_transport_failures_and_foreign_urls_still_raise() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with Gorgias(**KWARGS, http_client=http, max_retries=0) as c:
        with pytest.raises(APIConnectionError):
            c.send_raw("POST", "/api/tags", content=b"{}")
        with pytest.raises(InvalidArgumentsError):
            c.send_raw("GET", "https://evil.example.com/api/tickets")
