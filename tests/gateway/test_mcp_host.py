"""MCP servers per account (`/mcp/{token}`), driven by the official `mcp` client.

In process (the app's lifespan running, the client on an ASGI transport, upstream calls to real
sandboxes on loopback): every scope option, data reaching the right account only, the optional API
token, revocation and expiry, Host checks, the audit of every call. Then the issue's multi-worker
test: `connector-gateway serve --workers 2 --redis-url`, a server revoked (and another expiring)
is refused by every worker within 1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import httpx2
import pytest
from mcp import ClientSession, MCPError
from mcp.client.streamable_http import streamable_http_client

from tests.gateway.conftest import add_sandbox_account, client_for, running_app
from tests.gateway.services import redis_url  # noqa: F401  (session fixture)

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])

LIST_TICKETS = "list_all_gorgias_tickets"
GET_TICKET = "get_single_gorgias_ticket_by_id"
CREATE_TICKET = "create_a_gorgias_ticket"
DYNAMIC_TOOLS = {"search_tools", "describe_tools", "call_tool"}
MCP_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
}


@pytest.fixture(scope="module")
def other_gorgias_sandbox() -> Iterator[Any]:
    """A second Gorgias sandbox: account B's vendor account, with data of its own."""
    import gorgias.sandbox

    handle = gorgias.sandbox.serve_in_thread(
        seed=2, rate_limit="off", api_key="sbxkey-" + secrets.token_hex(12)
    )
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
async def app(settings: Any) -> AsyncIterator[Any]:
    async with running_app(settings) as app:
        yield app


@pytest.fixture
async def gw(app: Any, settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, settings) as client:
        yield client


@contextlib.asynccontextmanager
async def mcp_session(
    app: Any, url: str, headers: dict[str, str] | None = None
) -> AsyncIterator[ClientSession]:
    """The official client on the in-process app (its Host header is the URL's: 127.0.0.1)."""
    async with (
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), headers=headers or {}, timeout=30
        ) as http,
        streamable_http_client(url, http_client=http) as (read, write, *_),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def new_server(
    gw: httpx.AsyncClient, headers: dict[str, str], account_id: str, **scope: Any
) -> dict[str, Any]:
    response = await gw.post(
        f"/admin/accounts/{account_id}/mcp-servers", headers=headers, json=scope
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["url"].startswith("http://127.0.0.1:8800/mcp/gwmcp_")
    return body


async def tool_names(app: Any, url: str, headers: dict[str, str] | None = None) -> set[str]:
    async with mcp_session(app, url, headers) as session:
        return {tool.name for tool in (await session.list_tools()).tools}


def mcp_path(url: str) -> str:
    return url.removeprefix("http://127.0.0.1:8800")


async def raw_list(gw: httpx.AsyncClient, url: str, **headers: str) -> httpx.Response:
    return await gw.post(
        mcp_path(url),
        headers={**MCP_HEADERS, **headers},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
    )


async def test_every_scope_option_filters_tools_list(
    app: Any, gw: httpx.AsyncClient, admin_headers: dict[str, str], gorgias_sandbox: Any
) -> None:
    account = await add_sandbox_account(gw, admin_headers, gorgias_sandbox)
    full = await tool_names(app, (await new_server(gw, admin_headers, account["id"]))["url"])
    assert {LIST_TICKETS, GET_TICKET, CREATE_TICKET} <= full
    assert "list_all_unified_ticketing_tickets" in full  # the connector's unified tools too
    assert len(full) == 162

    read_only = await tool_names(
        app, (await new_server(gw, admin_headers, account["id"], read_only=True))["url"]
    )
    assert LIST_TICKETS in read_only and GET_TICKET in read_only
    assert CREATE_TICKET not in read_only and "delete_a_gorgias_tag_by_id" not in read_only
    assert not any(n.startswith(("create_", "update_", "delete_")) for n in read_only)
    assert 0 < len(read_only) < len(full)

    gets = await tool_names(
        app, (await new_server(gw, admin_headers, account["id"], methods=["get"]))["url"]
    )
    assert GET_TICKET in gets and LIST_TICKETS not in gets and CREATE_TICKET not in gets
    assert all(n.startswith("get_") for n in gets)

    tagged = await tool_names(
        app, (await new_server(gw, admin_headers, account["id"], tags=["tags"]))["url"]
    )
    assert "list_all_gorgias_tags" in tagged and "gorgias_tags_merge" in tagged
    assert LIST_TICKETS not in tagged
    assert len(tagged) == 16  # 11 Gorgias tools + 5 unified ticketing tag tools
    assert "list_all_unified_ticketing_tags" in tagged

    two = await tool_names(
        app,
        (await new_server(gw, admin_headers, account["id"], tools=[LIST_TICKETS, GET_TICKET]))[
            "url"
        ],
    )
    assert two == {LIST_TICKETS, GET_TICKET}

    excluded = await tool_names(
        app,
        (await new_server(gw, admin_headers, account["id"], exclude_tools=[CREATE_TICKET]))["url"],
    )
    assert excluded == full - {CREATE_TICKET}

    combined = await tool_names(
        app,
        (
            await new_server(
                gw, admin_headers, account["id"], tags=["tickets"], methods=["read"], read_only=True
            )
        )["url"],
    )
    assert LIST_TICKETS in combined and CREATE_TICKET not in combined
    assert "list_all_gorgias_tags" not in combined

    dynamic = await new_server(gw, admin_headers, account["id"], tool_mode="dynamic", tags=["tags"])
    async with mcp_session(app, dynamic["url"]) as session:
        assert {t.name for t in (await session.list_tools()).tools} == DYNAMIC_TOOLS
        found = await session.call_tool("search_tools", {"query": "list tickets"})
        names = {t["name"] for t in found.structured_content["tools"]}
        assert LIST_TICKETS not in names  # out of the server's tags: not even searchable
        listed = await session.call_tool(
            "call_tool", {"name": "list_all_gorgias_tags", "arguments": {"limit": 2}}
        )
        assert not listed.is_error, listed.content
        assert len(listed.structured_content["result"]) == 2
        refused = await session.call_tool(
            "call_tool", {"name": LIST_TICKETS, "arguments": {"limit": 2}}
        )
        assert refused.is_error
    audit = await app.state.gateway.store.query_audit(account_id=account["id"], kind="mcp")
    dynamic_calls = sorted(
        (r["time"], r["action"], r["status"]) for r in audit if r["server_id"] == dynamic["id"]
    )
    assert [(action, status) for _, action, status in dynamic_calls] == [
        ("search_tools", "ok"),
        ("call_tool:list_all_gorgias_tags", "ok"),
        (f"call_tool:{LIST_TICKETS}", "error"),
    ]

    # a filtered tool called anyway is refused, nothing reaches the vendor
    async with mcp_session(
        app, (await new_server(gw, admin_headers, account["id"], read_only=True))["url"]
    ) as session:
        result = await session.call_tool(CREATE_TICKET, {"messages": []})
        assert result.is_error
        assert "read-only" in result.content[0].text

    # unknown names are refused when the server is created, with a suggestion
    bad = await gw.post(
        f"/admin/accounts/{account['id']}/mcp-servers",
        headers=admin_headers,
        json={"tools": ["list_all_gorgias_ticket"], "methods": ["reed"]},
    )
    assert bad.status_code == 400
    message = bad.json()["error"]["message"]
    assert "list_all_gorgias_tickets" in message and "reed" in message


async def test_calls_reach_the_accounts_own_data_and_are_audited(
    app: Any,
    gw: httpx.AsyncClient,
    admin_headers: dict[str, str],
    gorgias_sandbox: Any,
    other_gorgias_sandbox: Any,
) -> None:
    account_a = await add_sandbox_account(gw, admin_headers, gorgias_sandbox, name="A")
    account_b = await add_sandbox_account(gw, admin_headers, other_gorgias_sandbox, name="B")
    server_a = await new_server(gw, admin_headers, account_a["id"])
    server_b = await new_server(gw, admin_headers, account_b["id"], read_only=True)
    subject = f"only in A {secrets.token_hex(6)}"

    async with mcp_session(app, server_a["url"]) as session:
        created = await session.call_tool(
            CREATE_TICKET,
            {
                "subject": subject,
                "customer": {"email": "a-customer@example.com"},
                "messages": [
                    {
                        "channel": "email",
                        "via": "api",
                        "from_agent": False,
                        "body_text": "hello",
                        "sender": {"email": "a-customer@example.com"},
                    }
                ],
            },
        )
        assert not created.is_error, created.content
        ticket_id = created.structured_content["id"]
        got = await session.call_tool(GET_TICKET, {"id": ticket_id})
        assert not got.is_error and got.structured_content["subject"] == subject
        missing = await session.call_tool(GET_TICKET, {"id": 10**12})
        assert missing.is_error and "404" in missing.content[0].text

    # the ticket exists in A's vendor account, not in B's, and B's server never sees it
    assert any(t.get("subject") == subject for t in _sandbox_tickets(gorgias_sandbox))
    assert not any(t.get("subject") == subject for t in _sandbox_tickets(other_gorgias_sandbox))
    async with mcp_session(app, server_b["url"]) as session:
        other = await session.call_tool(GET_TICKET, {"id": ticket_id})
        assert other.is_error
        page = await session.call_tool(LIST_TICKETS, {"limit": 100, "response_format": "concise"})
        assert not page.is_error
        assert subject not in str(page.structured_content)

    store = app.state.gateway.store
    audit_a = await store.query_audit(account_id=account_a["id"], kind="mcp")
    assert [(r["action"], r["status"]) for r in sorted(audit_a, key=lambda r: r["time"])] == [
        (CREATE_TICKET, "ok"),
        (GET_TICKET, "ok"),
        (GET_TICKET, "error"),
    ]
    first = min(audit_a, key=lambda r: r["time"])
    assert first["server_id"] == server_a["id"]
    assert first["caller"] == {"kind": "mcp_server", "id": server_a["id"]}
    assert first["arguments"]["subject"] == subject
    assert first["duration_ms"] > 0
    audit_b = await store.query_audit(account_id=account_b["id"], kind="mcp")
    assert {r["server_id"] for r in audit_b} == {server_b["id"]} and len(audit_b) == 2


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for sub in error.exceptions for leaf in _leaves(sub)]
    return [error]


def _sandbox_tickets(handle: Any) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{handle.base_url}/api/tickets",
        params={"limit": 100, "order_by": "created_datetime:desc"},
        auth=(handle.email, handle.api_key),
        timeout=10,
    )
    response.raise_for_status()
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_require_api_token(
    app: Any,
    gw: httpx.AsyncClient,
    admin_headers: dict[str, str],
    gorgias_sandbox: Any,
    other_gorgias_sandbox: Any,
) -> None:
    account_a = await add_sandbox_account(gw, admin_headers, gorgias_sandbox, name="A")
    account_b = await add_sandbox_account(gw, admin_headers, other_gorgias_sandbox, name="B")
    server = await new_server(
        gw, admin_headers, account_a["id"], require_api_token=True, tools=[LIST_TICKETS]
    )

    async def api_token(**body: Any) -> dict[str, Any]:
        response = await gw.post("/admin/api-tokens", headers=admin_headers, json=body)
        assert response.status_code == 201, response.text
        token: dict[str, Any] = response.json()
        return token

    good = await api_token(accounts=[account_a["id"]], scopes=["mcp"])
    for_b = await api_token(accounts=[account_b["id"]], scopes=["mcp"])
    proxy_only = await api_token(accounts=[account_a["id"]], scopes=["proxy"])
    every = await api_token()

    missing = await raw_list(gw, server["url"])
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "unauthorized"
    wrong = await raw_list(gw, server["url"], Authorization="Bearer gwtok_" + "x" * 43)
    assert wrong.status_code == 401
    assert (
        await raw_list(gw, server["url"], Authorization=f"Bearer {for_b['token']}")
    ).status_code == 403
    assert (
        await raw_list(gw, server["url"], Authorization=f"Bearer {proxy_only['token']}")
    ).status_code == 403
    with pytest.raises(BaseExceptionGroup) as refused:  # the client gets no session either
        await tool_names(app, server["url"])
    assert [type(e).__name__ for e in _leaves(refused.value)] == ["MCPError"]

    for token in (good, every):
        names = await tool_names(app, server["url"], {"Authorization": f"Bearer {token['token']}"})
        assert names == {LIST_TICKETS}

    # revoking the API token closes the door again
    assert (
        await gw.delete(f"/admin/api-tokens/{good['id']}", headers=admin_headers)
    ).status_code == 200
    assert (
        await raw_list(gw, server["url"], Authorization=f"Bearer {good['token']}")
    ).status_code == 401

    # a server without require_api_token ignores the header (the URL is the credential)
    open_server = await new_server(gw, admin_headers, account_a["id"], tools=[LIST_TICKETS])
    assert (await raw_list(gw, open_server["url"])).status_code == 200

    # every refusal left a record: the server's account and id, the token's id when it is known
    # (revoked too), anonymous otherwise; never the presented token
    records = await app.state.gateway.store.query_audit(kind="mcp")
    refused = [refusal_summary(r) for r in records if r["status"] == "refused"]
    anonymous = ("anonymous", None)
    a_id, s_id = account_a["id"], server["id"]
    assert refused == [
        ("mcp", 401, "missing_token", anonymous, a_id, s_id),
        ("mcp", 401, "unknown_token", anonymous, a_id, s_id),
        ("mcp", 403, "account_not_allowed", ("api_token", for_b["id"]), a_id, s_id),
        ("mcp", 403, "scope_not_allowed", ("api_token", proxy_only["id"]), a_id, s_id),
        ("mcp", 401, "missing_token", anonymous, a_id, s_id),  # the official client
        ("mcp", 401, "revoked_token", ("api_token", good["id"]), a_id, s_id),
    ]
    assert all(r["action"] == "mcp" for r in records if r["status"] == "refused")
    text = str(records)
    for token in (good, for_b, proxy_only, every):
        assert token["token"] not in text
    assert server["url"].rsplit("/", 1)[1] not in text and "gwtok_" not in text


def refusal_summary(record: dict[str, Any]) -> tuple[Any, ...]:
    arguments = record["arguments"]
    assert set(arguments) == {"http_status", "reason"}, arguments
    caller = (record["caller"]["kind"], record["caller"]["id"])
    return (
        record["kind"],
        arguments["http_status"],
        arguments["reason"],
        caller,
        record["account_id"],
        record["server_id"],
    )


async def test_revoked_expired_and_unknown_servers_are_refused(
    app: Any, gw: httpx.AsyncClient, admin_headers: dict[str, str], gorgias_sandbox: Any
) -> None:
    account = await add_sandbox_account(gw, admin_headers, gorgias_sandbox)
    revoked = await new_server(gw, admin_headers, account["id"], tools=[LIST_TICKETS])
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)
    expiring = await new_server(
        gw, admin_headers, account["id"], tools=[LIST_TICKETS], expires_at=expires_at.isoformat()
    )
    host = app.state.gateway.mcp_host
    for server in (revoked, expiring):
        ok = await raw_list(gw, server["url"])
        assert ok.status_code == 200, ok.text
        assert ok.json()["result"]["tools"][0]["name"] == LIST_TICKETS
        assert ok.headers["x-gateway-worker"].startswith("w-")
    assert {revoked["id"], expiring["id"]} <= set(host.hosted_ids())

    async with mcp_session(app, revoked["url"]) as session:
        deleted = await gw.delete(f"/admin/mcp-servers/{revoked['id']}", headers=admin_headers)
        assert deleted.status_code == 200 and deleted.json()["revoked_at"]
        with pytest.raises(MCPError, match="Not Found"):  # an open session is cut at once
            await session.list_tools()
    refused = await raw_list(gw, revoked["url"])
    assert refused.status_code == 404
    assert refused.json() == {
        "error": {"type": "not_found", "message": "Unknown, revoked or expired MCP server."}
    }
    assert revoked["id"] not in host.hosted_ids()

    await asyncio.sleep(max(0.0, (expires_at - dt.datetime.now(dt.UTC)).total_seconds()) + 0.05)
    assert (await raw_list(gw, expiring["url"])).status_code == 404
    for path in (
        "/mcp/gwmcp_" + "A" * 43,
        "/mcp/x",
        "/mcp/" + revoked["url"].rsplit("/", 1)[1] + "x",
    ):
        response = await gw.post(
            path, headers=MCP_HEADERS, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        )
        assert response.status_code == 404 and response.json()["error"]["type"] == "not_found"

    # refusals of the known servers are recorded (unknown URL tokens identify nothing: logged
    # only), and no token is in any record
    records = await app.state.gateway.store.query_audit()
    refused = [refusal_summary(r) for r in records if r["status"] == "refused"]
    anonymous, account_id = ("anonymous", None), account["id"]
    assert refused == [
        # the open session's request, then the plain one
        ("mcp", 404, "revoked_server", anonymous, account_id, revoked["id"]),
        ("mcp", 404, "revoked_server", anonymous, account_id, revoked["id"]),
        ("mcp", 404, "expired_server", anonymous, account_id, expiring["id"]),
    ]
    assert all(revoked["url"].rsplit("/", 1)[1] not in str(r) for r in records)
    assert all(expiring["url"].rsplit("/", 1)[1] not in str(r) for r in records)


async def test_host_and_origin_are_checked_before_the_token(
    app: Any, gw: httpx.AsyncClient, admin_headers: dict[str, str], gorgias_sandbox: Any
) -> None:
    account = await add_sandbox_account(gw, admin_headers, gorgias_sandbox)
    server = await new_server(gw, admin_headers, account["id"], tools=[LIST_TICKETS])
    rebinding = await raw_list(gw, server["url"], Host="evil.example")
    assert rebinding.status_code == 421
    assert rebinding.json()["error"]["message"] == "Invalid Host header."
    cross_site = await raw_list(gw, server["url"], Origin="https://evil.example")
    assert cross_site.status_code == 403
    assert (await raw_list(gw, "/mcp/unknown", Host="evil.example")).status_code == 421
    local = await raw_list(gw, server["url"], Origin="http://localhost:3000")
    assert local.status_code == 200
    not_json = await gw.post(
        mcp_path(server["url"]),
        headers={**MCP_HEADERS, "Content-Type": "text/plain"},
        content=b"hello",
    )
    assert not_json.status_code == 400 and not_json.json()["error"]["type"] == "bad_request"


async def test_lru_evicts_built_servers_and_rebuilds_them(
    settings: Any, admin_headers: dict[str, str], gorgias_sandbox: Any
) -> None:
    async with running_app(settings) as app, client_for(app, settings) as gw:
        host = app.state.gateway.mcp_host
        host.max_servers = 2
        account = await add_sandbox_account(gw, admin_headers, gorgias_sandbox)
        servers = [
            await new_server(gw, admin_headers, account["id"], tools=[LIST_TICKETS])
            for _ in range(3)
        ]

        async def use(server: dict[str, Any]) -> None:
            response = await raw_list(gw, server["url"])
            assert response.status_code == 200, response.text

        ids = [server["id"] for server in servers]
        for server in servers:
            await use(server)
        assert host.hosted_ids() == ids[1:] and host.built == 3  # least recently used evicted
        await use(servers[1])
        await use(servers[0])  # rebuilt, evicting servers[2]
        assert host.hosted_ids() == [ids[1], ids[0]] and host.built == 4
        # many concurrent requests over more servers than the cache holds all get answers
        await asyncio.gather(*(use(servers[i % 3]) for i in range(24)))
        assert len(host.hosted_ids()) == 2


# --- several workers ------------------------------------------------------------------------------


def _poll(urls: list[str], until: float) -> list[list[tuple[float, str, int]]]:
    """Per url, (time, worker, status) of tools/list requests made in turn, each on a new
    connection (so the kernel spreads them over the workers), until `until` (monotonic)."""
    seen: list[list[tuple[float, str, int]]] = [[] for _ in urls]
    while time.monotonic() < until:
        for url, found in zip(urls, seen, strict=True):
            with httpx.Client(timeout=5) as client:
                response = client.post(
                    url,
                    headers=MCP_HEADERS,
                    json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                )
            found.append(
                (
                    time.monotonic(),
                    response.headers.get("x-gateway-worker", "?"),
                    response.status_code,
                )
            )
    return seen


def _refusing(polled: list[tuple[float, str, int]], start: float) -> set[str]:
    """The workers that refused the server more than 1 s after `start`."""
    return {worker for t, worker, status in polled if status == 404 and t - start > 1.0}


def _warm(url: str, workers: int, limit: float = 20) -> set[str]:
    """Hit the server until every worker has answered it (so each one has it cached)."""
    answered: set[str] = set()
    deadline = time.monotonic() + limit
    while len(answered) < workers and time.monotonic() < deadline:
        for _, worker, status in _poll([url], time.monotonic() + 0.1)[0]:
            assert status == 200
            answered.add(worker)
    assert len(answered) == workers, f"only workers {answered} answered"
    return answered


def test_revocation_and_expiry_reach_every_worker_within_a_second(
    gateway_process: Any,
    redis_url: str,  # noqa: F811
    admin_headers: dict[str, str],
    gorgias_sandbox: Any,
) -> None:
    gateway = gateway_process(redis_url=redis_url, workers=2, log_level="warning")
    with httpx.Client(base_url=gateway.url, headers=admin_headers, timeout=10) as admin:
        credentials = dict(gorgias_sandbox.client_kwargs())
        base_url = credentials.pop("base_url")
        account = admin.post(
            "/admin/accounts",
            json={"connector": "gorgias", "credentials": credentials, "base_url": base_url},
        ).json()

        def server(**scope: Any) -> dict[str, Any]:
            response = admin.post(
                f"/admin/accounts/{account['id']}/mcp-servers",
                json={"tools": [LIST_TICKETS], **scope},
            )
            assert response.status_code == 201, response.text
            body: dict[str, Any] = response.json()
            return {**body, "url": gateway.url + "/mcp/" + body["url"].rsplit("/", 1)[1]}

        revoked = server()
        workers = _warm(revoked["url"], 2)  # also loads the MCP SDK in every worker
        expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
        expiring = server(expires_at=expires_at.isoformat())
        assert _warm(expiring["url"], 2) == workers
        assert expires_at - dt.datetime.now(dt.UTC) > dt.timedelta(seconds=0.5), "warming too slow"
        assert admin.delete(f"/admin/mcp-servers/{revoked['id']}").status_code == 200
        revoked_at = time.monotonic()
        expiry = revoked_at + (expires_at - dt.datetime.now(dt.UTC)).total_seconds()
        seen_revoked, seen_expiring = _poll(
            [revoked["url"], expiring["url"]], max(revoked_at, expiry) + 1.5
        )
        # the kernel may favour one worker for a while: go on until both have been asked
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (
            _refusing(seen_revoked, revoked_at) == _refusing(seen_expiring, expiry) == workers
        ):
            more = _poll([revoked["url"], expiring["url"]], time.monotonic() + 0.5)
            seen_revoked += more[0]
            seen_expiring += more[1]

    for label, start, polled in (
        ("revoked", revoked_at, seen_revoked),
        ("expired", expiry, seen_expiring),
    ):
        late = [(round(t - start, 3), w, s) for t, w, s in polled if s == 200 and t - start > 1.0]
        assert not late, f"{label}: still served after 1 s: {late}"
        refusing = _refusing(polled, start)
        assert refusing == workers, f"{label}: refusals after 1 s came from {refusing} only"
        assert all(s in (200, 404) for _, _, s in polled)


async def test_bad_requests_get_clear_errors_never_a_hang(
    app: Any, gw: httpx.AsyncClient, admin_headers: dict[str, str], gorgias_sandbox: Any
) -> None:
    account = await add_sandbox_account(gw, admin_headers, gorgias_sandbox)
    path = mcp_path(
        (await new_server(gw, admin_headers, account["id"], tools=[LIST_TICKETS]))["url"]
    )

    garbage = await gw.post(path, headers=MCP_HEADERS, content=b"{nope")
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == -32700
    unknown = await gw.post(
        path, headers=MCP_HEADERS, json={"jsonrpc": "2.0", "id": 1, "method": "nope"}
    )
    assert unknown.status_code == 200 and unknown.json()["error"]["code"] == -32601
    bad_args = await gw.post(
        path,
        headers=MCP_HEADERS,
        json={
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": LIST_TICKETS, "arguments": {"limit": "x"}},
        },
    )
    result = bad_args.json()["result"]
    assert result["isError"] and "`limit`: must be integer" in result["content"][0]["text"]
    too_big = await gw.post(
        path, headers=MCP_HEADERS, content=b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    )
    assert too_big.status_code == 413 and too_big.json()["error"]["type"] == "too_large"
    # stateless: no event stream to hold open (the SDK would), no session to end
    for method in ("GET", "DELETE"):
        answer = await asyncio.wait_for(
            gw.request(method, path, headers={"Accept": "text/event-stream"}), 5
        )
        assert answer.status_code == 405 and answer.headers["allow"] == "POST"
        assert answer.json()["error"]["type"] == "method_not_allowed"
    # an unknown token is still a 404 whatever the method
    assert (
        await gw.get("/mcp/unknown", headers={"Accept": "text/event-stream"})
    ).status_code == 404


async def test_vendor_refusals_come_back_as_tool_errors_without_secrets(
    app: Any, gw: httpx.AsyncClient, admin_headers: dict[str, str], gorgias_sandbox: Any
) -> None:
    wrong_key = "wrong-key-" + secrets.token_hex(16)
    credentials = {"email": gorgias_sandbox.email, "api_key": wrong_key}
    created = await gw.post(
        "/admin/accounts",
        headers=admin_headers,
        json={
            "connector": "gorgias",
            "credentials": credentials,
            "base_url": gorgias_sandbox.base_url,
        },
    )
    assert created.status_code == 201, created.text
    server = await new_server(gw, admin_headers, created.json()["id"], tools=[LIST_TICKETS])
    async with mcp_session(app, server["url"]) as session:
        result = await session.call_tool(LIST_TICKETS, {"limit": 2, "api_key": wrong_key})
        assert result.is_error
        text = result.content[0].text
        assert wrong_key not in text
        # an unknown argument is refused before anything is sent; a plain call reaches the vendor
        assert "unknown argument `api_key`" in text
        refused = await session.call_tool(LIST_TICKETS, {"limit": 2})
        assert refused.is_error and "401" in refused.content[0].text
        assert wrong_key not in refused.content[0].text
    records = await app.state.gateway.store.query_audit(account_id=created.json()["id"])
    assert records and all(wrong_key not in str(record) for record in records)
    mcp_records = [r for r in records if r["kind"] == "mcp"]
    assert [r["status"] for r in mcp_records] == ["error", "error"]
    assert any(r["arguments"].get("api_key") == "[redacted]" for r in mcp_records)
