"""The generated MCP server over streamable HTTP: bearer token required, then the same tools."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .conftest import HTTP_TOKEN, free_port, server_env, start_http_server, stop_process
from .fake_gorgias import FakeGorgias, example

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])


@pytest.fixture(scope="module")
def http_server(fake_server: FakeGorgias) -> Iterator[str]:
    """`gorgias-mcp --http --read-only` with the token from GORGIAS_MCP_TOKEN; yields its URL."""
    env = server_env(fake_server.base_url, GORGIAS_MCP_TOKEN=HTTP_TOKEN)
    process, url = start_http_server("--read-only", env=env)
    yield url
    stop_process(process)


async def _session_calls(url: str, token: str) -> tuple[Any, Any]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        listed = await client.list_tools()
        result = await client.call_tool("get_single_gorgias_tag_by_id", {"id": 123456})
    return listed, result


def test_refuses_to_start_without_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GORGIAS_MCP_TOKEN"}
    env.update(server_env("http://127.0.0.1:9"))
    proc = subprocess.run(
        [sys.executable, "-m", "gorgias.mcp", "--http", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "token" in proc.stderr and "GORGIAS_MCP_TOKEN" in proc.stderr


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Basic {HTTP_TOKEN}", f"Bearer {HTTP_TOKEN}x"]
)
def test_requests_without_the_token_get_401(http_server: str, authorization: str | None) -> None:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = httpx.post(http_server, json=body, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert HTTP_TOKEN not in response.text


async def test_session_with_token(
    http_server: str, fake: FakeGorgias, tools_document: dict[str, Any]
) -> None:
    listed, result = await _session_calls(http_server, HTTP_TOKEN)
    read_only = {t["name"] for t in tools_document["tools"] if t["annotations"]["readOnlyHint"]}
    assert {tool.name for tool in listed.tools} == read_only
    assert not result.is_error, result.content
    assert result.structured_content == example("tag_get.json")
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/api/tags/123456")]
