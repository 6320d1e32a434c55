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
        result = await client.call_tool(
            "get_single_gorgias_tag_by_id", {"id": 123456, "response_format": "detailed"}
        )
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


# --- Host / Origin checks (DNS rebinding, cross-site calls) --------------------------------------

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


def _initialize(url: str, **headers: str) -> httpx.Response:
    base = {
        "Authorization": f"Bearer {HTTP_TOKEN}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    return httpx.post(url, json=INITIALIZE, headers={**base, **headers}, timeout=10)


@pytest.fixture(scope="module")
def http_server_on_all_interfaces(fake_server: FakeGorgias) -> Iterator[str]:
    """Bound to 0.0.0.0 (reached here through 127.0.0.1) with extra allowed hosts and origins."""
    env = server_env(fake_server.base_url, GORGIAS_MCP_TOKEN=HTTP_TOKEN)
    process, url = start_http_server(
        "--host",
        "0.0.0.0",
        "--allowed-hosts",
        "mcp.example.com,gateway.example.com:8443",
        "--allowed-origins",
        "https://app.example.com",
        env=env,
    )
    yield url
    stop_process(process)


@pytest.mark.parametrize("fixture", ["http_server", "http_server_on_all_interfaces"])
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "evil.example"}, 421),
        ({"Host": "mcp.example.com.evil.example"}, 421),
        ({"Host": "gateway.example.com:9999"}, 421),
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "https://app.example.com.evil.example"}, 403),
        ({"Origin": "null"}, 403),
    ],
)
def test_bad_host_or_origin_is_refused_whatever_the_bind_address(
    request: pytest.FixtureRequest, fixture: str, headers: dict[str, str], status: int
) -> None:
    url = request.getfixturevalue(fixture)
    response = _initialize(url, **headers)
    assert response.status_code == status
    assert HTTP_TOKEN not in response.text


@pytest.mark.parametrize("fixture", ["http_server", "http_server_on_all_interfaces"])
def test_loopback_host_and_origin_are_accepted(
    request: pytest.FixtureRequest, fixture: str
) -> None:
    url = request.getfixturevalue(fixture)
    port = httpx.URL(url).port
    assert _initialize(url).status_code == 200
    assert (
        _initialize(url, Host=f"localhost:{port}", Origin=f"http://localhost:{port}").status_code
        == 200
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "mcp.example.com"},
        {"Host": "mcp.example.com:443"},
        {"Host": "gateway.example.com:8443"},
        {"Origin": "https://app.example.com"},
        {"Host": "mcp.example.com", "Origin": "https://app.example.com"},
    ],
)
def test_allowed_hosts_and_origins_are_admitted(
    http_server_on_all_interfaces: str, headers: dict[str, str]
) -> None:
    assert _initialize(http_server_on_all_interfaces, **headers).status_code == 200


def test_allowed_hosts_are_not_admitted_without_the_option(http_server: str) -> None:
    assert _initialize(http_server, Host="mcp.example.com").status_code == 421
    assert _initialize(http_server, Origin="https://app.example.com").status_code == 403


@pytest.mark.parametrize(
    ("bind", "extra", "accepted", "refused"),
    [
        (
            "0.0.0.0",
            (),
            ["127.0.0.1:8765", "localhost:1", "[::1]:2"],
            ["0.0.0.0:8765", "10.0.0.5:8765"],
        ),
        ("::", (), ["127.0.0.1:8765"], ["[::]:8765"]),
        ("10.0.0.5", (), ["10.0.0.5:8765", "10.0.0.5"], ["10.0.0.6:8765"]),
        ("fd00::5", (), ["[fd00::5]:8765"], ["[fd00::6]:8765"]),
        (
            "0.0.0.0",
            ("mcp.example.com", "gw.example.com:8443"),
            ["mcp.example.com", "gw.example.com:8443"],
            ["gw.example.com:1"],
        ),
    ],
)
def test_transport_security_settings(
    bind: str, extra: tuple[str, ...], accepted: list[str], refused: list[str]
) -> None:
    from mcp.server.transport_security import TransportSecurityMiddleware

    from gorgias.mcp.server import transport_security

    settings = transport_security(bind, extra)
    assert settings.enable_dns_rebinding_protection is True
    check = TransportSecurityMiddleware(settings)
    assert [host for host in accepted if check._validate_host(host)] == accepted
    assert [host for host in refused if check._validate_host(host)] == []
