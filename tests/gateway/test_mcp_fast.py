"""The fast MCP dispatch (`connector_gateway.mcp_fast`) answers exactly what the SDK's stateless
transport answers: same status, headers that matter and body bytes, for results, tool errors,
protocol errors and pings; audit records either way; everything else still reaches the SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from connector_gateway import mcp_fast

from tests.gateway.conftest import add_sandbox_account, client_for, running_app
from tests.gateway.test_mcp_host import (
    GET_TICKET,
    LIST_TICKETS,
    MCP_HEADERS,
    _sandbox_tickets,
    mcp_path,
    mcp_session,
)

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])

VERSIONED = {**MCP_HEADERS, "MCP-Protocol-Version": "2025-06-18"}


def requests(ticket_id: int) -> list[tuple[dict[str, str], dict[str, Any]]]:
    return [
        (VERSIONED, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        (MCP_HEADERS, {"jsonrpc": "2.0", "id": "a", "method": "tools/list", "params": {}}),
        (VERSIONED, {"jsonrpc": "2.0", "id": 2, "method": "ping"}),
        (
            VERSIONED,
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": GET_TICKET, "arguments": {"id": ticket_id}},
            },
        ),
        (  # a vendor 404: a tool error
            VERSIONED,
            {
                "jsonrpc": "2.0",
                "id": 4,
                "method": "tools/call",
                "params": {"name": GET_TICKET, "arguments": {"id": 10**12}},
            },
        ),
        (  # bad arguments: a tool error
            VERSIONED,
            {
                "jsonrpc": "2.0",
                "id": 5,
                "method": "tools/call",
                "params": {"name": LIST_TICKETS, "arguments": {"limit": "x"}},
            },
        ),
        (  # a tool out of the server's scope
            VERSIONED,
            {"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "nope"}},
        ),
        (  # invalid params: a JSON-RPC error
            VERSIONED,
            {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"arguments": {}}},
        ),
    ]


@pytest.fixture
async def app(settings: Any) -> AsyncIterator[Any]:
    async with running_app(settings) as app:
        yield app


@pytest.fixture
async def gw(app: Any, settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, settings) as client:
        yield client


async def test_fast_dispatch_answers_byte_for_byte_what_the_sdk_answers(
    app: Any,
    gw: httpx.AsyncClient,
    admin_headers: dict[str, str],
    gorgias_sandbox: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert mcp_fast.AVAILABLE
    account = await add_sandbox_account(gw, admin_headers, gorgias_sandbox)
    created = await gw.post(
        f"/admin/accounts/{account['id']}/mcp-servers",
        headers=admin_headers,
        json={"tools": [GET_TICKET, LIST_TICKETS]},
    )
    path = mcp_path(created.json()["url"])
    ticket_id = _sandbox_tickets(gorgias_sandbox)[0]["id"]
    REQUESTS = requests(ticket_id)
    host = app.state.gateway.mcp_host
    fast_answers = 0
    answer = mcp_fast.answer

    async def counting(*args: Any) -> bool:
        nonlocal fast_answers
        answered = await answer(*args)
        fast_answers += answered
        return answered

    monkeypatch.setattr(mcp_fast, "answer", counting)

    async def ask(fast: bool) -> list[tuple[int, str, bytes]]:
        host.fast_dispatch = fast
        answers = []
        for headers, message in REQUESTS:
            response = await gw.post(path, headers=headers, json=message)
            answers.append(
                (response.status_code, response.headers["content-type"], response.content)
            )
        return answers

    sdk = await ask(False)
    assert fast_answers == 0
    fast = await ask(True)
    assert fast_answers == len(REQUESTS)
    assert fast == sdk
    bodies = [httpx.Response(200, content=body).json() for _, _, body in fast]
    assert {tool["name"] for tool in bodies[0]["result"]["tools"]} == {GET_TICKET, LIST_TICKETS}
    assert bodies[2] == {"jsonrpc": "2.0", "id": 2, "result": {}}
    assert bodies[3]["result"]["structuredContent"]["id"] == ticket_id
    assert bodies[4]["result"]["isError"] and bodies[5]["result"]["isError"]
    assert bodies[6]["result"]["isError"] and "Unknown tool `nope`" in str(bodies[6])
    assert bodies[7]["error"]["code"] == -32602

    # every tools/call was audited on both paths, committed before its answer
    audit = await app.state.gateway.store.query_audit(account_id=account["id"], kind="mcp")
    # (the call whose params fail the SDK's validation never reaches the tool handler)
    assert sorted((r["action"], r["status"]) for r in audit) == sorted(
        2 * [(GET_TICKET, "ok"), (GET_TICKET, "error"), (LIST_TICKETS, "error"), ("nope", "error")]
    )


async def test_other_messages_still_go_through_the_sdk(
    app: Any, gw: httpx.AsyncClient, admin_headers: dict[str, str], gorgias_sandbox: Any
) -> None:
    account = await add_sandbox_account(gw, admin_headers, gorgias_sandbox)
    created = await gw.post(
        f"/admin/accounts/{account['id']}/mcp-servers",
        headers=admin_headers,
        json={"tools": [GET_TICKET]},
    )
    url = created.json()["url"]
    path = mcp_path(url)
    # the official client: initialize, notifications/initialized, then fast calls
    async with mcp_session(app, url) as session:
        assert [t.name for t in (await session.list_tools()).tools] == [GET_TICKET]
        ticket_id = _sandbox_tickets(gorgias_sandbox)[0]["id"]
        got = await session.call_tool(GET_TICKET, {"id": ticket_id})
        assert not got.is_error and got.structured_content["id"] == ticket_id
    garbage = await gw.post(path, headers=MCP_HEADERS, content=b"{nope")
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == -32700
    notification = await gw.post(
        path, headers=VERSIONED, json={"jsonrpc": "2.0", "method": "notifications/initialized"}
    )
    assert notification.status_code == 202
    not_acceptable = await gw.post(
        path,
        headers={**VERSIONED, "Accept": "text/event-stream"},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
    )
    assert not_acceptable.status_code == 406

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        for chunk in (b'{"a": "', b"x" * (2 * 1024 * 1024), b'"}'):
            yield chunk

    too_big = await gw.post(path, headers=VERSIONED, content=chunks())
    assert too_big.status_code == 413 and too_big.json()["error"]["type"] == "too_large"
