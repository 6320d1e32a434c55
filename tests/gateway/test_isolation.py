"""Isolation across 50 accounts: nothing of account A ever reaches account B, on every route.

Ten sandboxes (five per connector), each with its own seed (so its own data) and its own
credentials, carry 50 accounts (five each). Every account gets an API token scoped to it and an MCP
server. Then, for every account A:

- A's proxy route, unified route and MCP server URL answer A's sandbox data (and only that sandbox
  sees A's requests: per-sandbox request counts grow by exactly what its own accounts asked);
- A's token on B's proxy / unified routes, A's server URL with B's token, a revoked or unknown
  server URL, and A's token on the admin API are refused (401/403/404) and no sandbox sees any
  request at all; no sandbox ever answers 401 (no request went out with another account's
  credentials).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from .conftest import add_sandbox_account
from .test_proxy import api_token, requests_seen

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])

ACCOUNTS = 50
SANDBOXES_PER_CONNECTOR = 5
LIST_PATH = {"gorgias": "/api/tickets?limit=3", "zendesk": "/api/v2/tickets?page[size]=3"}
LIST_TOOL = {
    "gorgias": ("list_all_gorgias_tickets", {"limit": 3}),
    "zendesk": ("list_all_zendesk_tickets", {"page[size]": 3}),
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[list[tuple[str, Any]]]:
    """(connector, handle) x 10, each with its own seed and credentials."""
    started: list[tuple[str, Any]] = []
    try:
        for connector, first_seed in (("gorgias", 11), ("zendesk", 21)):
            module = __import__(f"{connector}.sandbox", fromlist=["serve_in_thread"])
            for k in range(SANDBOXES_PER_CONNECTOR):
                handle = module.serve_in_thread(
                    seed=first_seed + k,
                    scale=0.1 if connector == "gorgias" else 1.0,  # about 30 tickets each
                    rate_limit="off",
                    email=f"owner{k}@{connector}-sbx.example",
                    api_key=f"key-{connector}-{k}-" + secrets.token_hex(8),
                )
                started.append((connector, handle))
        yield started
    finally:
        for _, handle in started:  # all at once: each takes a fraction of a second to exit
            handle.server.should_exit = True
        for _, handle in started:
            handle.stop()


def subjects_of_vendor_page(connector: str, body: dict[str, Any]) -> list[str]:
    items = body["data"] if connector == "gorgias" else body["tickets"]
    return [item["subject"] for item in items]


async def mcp_call(
    gateway: httpx.AsyncClient, path: str, tool: str, arguments: dict[str, Any], headers: Any = None
) -> httpx.Response:
    return await gateway.post(
        path,
        headers={**MCP_HEADERS, **(headers or {})},
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        },
    )


async def test_no_route_of_account_a_reaches_account_b(
    gateway: httpx.AsyncClient,
    admin_headers: dict[str, str],
    sandboxes: list[tuple[str, Any]],
) -> None:
    for _, handle in sandboxes:
        handle.app.reset_stats()
    # --- 50 accounts over 10 sandboxes, each with its own token and MCP server ------------------
    accounts: list[dict[str, Any]] = []
    for i in range(ACCOUNTS):
        connector, handle = sandboxes[i % len(sandboxes)]
        account = await add_sandbox_account(
            gateway, admin_headers, handle, connector, name=f"tenant {i}"
        )
        token_id, headers = await api_token(gateway, admin_headers, [account["id"]])
        response = await gateway.post(
            f"/admin/accounts/{account['id']}/mcp-servers",
            headers=admin_headers,
            json={"read_only": True, "require_api_token": i % 2 == 0},
        )
        assert response.status_code == 201, response.text
        server = response.json()
        accounts.append(
            {
                "id": account["id"],
                "connector": connector,
                "sandbox": handle,
                "headers": headers,
                "token_id": token_id,
                "mcp_path": urlsplit(server["url"]).path,
                "server_id": server["id"],
                "requires_token": i % 2 == 0,
            }
        )

    # each sandbox's own first page, straight from it: the fingerprint of its data
    fingerprints: dict[int, list[str]] = {}
    for index, (connector, handle) in enumerate(sandboxes):
        kwargs = dict(handle.client_kwargs())
        client_class = getattr(__import__(connector), "Async" + connector.capitalize())
        async with client_class(**kwargs, rate_limit=False) as direct:
            path, _, query = LIST_PATH[connector].partition("?")
            response = await direct.send_raw("GET", path, params=[tuple(query.split("="))])
            fingerprints[index] = subjects_of_vendor_page(connector, response.json())
    for a, b in itertools.combinations(range(len(sandboxes)), 2):
        if sandboxes[a][0] == sandboxes[b][0]:
            assert fingerprints[a] != fingerprints[b], "sandboxes must hold different data"
    for _, handle in sandboxes:
        handle.app.reset_stats()

    # --- every route of A answers A's data, from A's sandbox only --------------------------------
    async def positive(i: int) -> None:
        account = accounts[i]
        connector, expected = account["connector"], fingerprints[i % len(sandboxes)]
        headers = account["headers"]
        response = await gateway.get(
            f"/{account['id']}/proxy{LIST_PATH[connector]}", headers=headers
        )
        assert response.status_code == 200, response.text[:200]
        assert subjects_of_vendor_page(connector, response.json()) == expected
        response = await gateway.get(
            f"/{account['id']}/unified/ticketing/tickets", params={"limit": 3}, headers=headers
        )
        assert response.status_code == 200, response.text[:200]
        assert [t["name"] for t in response.json()["result"]] == expected
        tool, arguments = LIST_TOOL[connector]
        response = await mcp_call(gateway, account["mcp_path"], tool, arguments, headers)
        assert response.status_code == 200, response.text[:300]
        result = response.json()["result"]
        assert not result.get("isError"), result
        items = result["structuredContent"]["result"]
        assert [item["subject"] for item in items] == expected

    await asyncio.gather(*(positive(i) for i in range(ACCOUNTS)))
    per_sandbox = ACCOUNTS // len(sandboxes)
    for _, handle in sandboxes:
        stats = handle.stats()
        assert sum(stats["statuses"].values()) == 3 * per_sandbox, stats["statuses"]
        assert set(stats["statuses"]) == {"200"}

    # --- A's credentials on B's routes: refused, and no request leaves the gateway ---------------
    response = await gateway.post(
        f"/admin/accounts/{accounts[1]['id']}/mcp-servers", headers=admin_headers, json={}
    )
    revoked_path = urlsplit(response.json()["url"]).path
    revoked_id = response.json()["id"]
    revoked = await gateway.delete(
        f"/admin/mcp-servers/{response.json()['id']}", headers=admin_headers
    )
    assert revoked.status_code == 200
    seen = [requests_seen(handle) for _, handle in sandboxes]

    async def negative(i: int) -> None:
        a = accounts[i]
        for b in (accounts[(i + 1) % ACCOUNTS], accounts[(i + len(sandboxes)) % ACCOUNTS]):
            assert b["id"] != a["id"]
            for url in (
                f"/{b['id']}/proxy{LIST_PATH[b['connector']]}",
                f"/{b['id']}/proxy/api/tickets/1",
                f"/{b['id']}/unified/ticketing/tickets",
                f"/{b['id']}/unified/user_directory/users/1",
            ):
                response = await gateway.get(url, headers=a["headers"])
                assert response.status_code == 403, (url, response.text)
            response = await gateway.post(
                f"/{b['id']}/proxy/api/tickets", json={}, headers=a["headers"]
            )
            assert response.status_code == 403
            # A's server URL with B's token, B's server URL with A's token
            if a["requires_token"]:
                tool, arguments = LIST_TOOL[a["connector"]]
                response = await mcp_call(gateway, a["mcp_path"], tool, arguments, b["headers"])
                assert response.status_code == 403, response.text
            if b["requires_token"]:
                tool, arguments = LIST_TOOL[b["connector"]]
                response = await mcp_call(gateway, b["mcp_path"], tool, arguments, a["headers"])
                assert response.status_code == 403, response.text
        # an API token is not an admin token
        response = await gateway.get("/admin/accounts", headers=a["headers"])
        assert response.status_code == 401
        # unknown and revoked server URLs
        response = await mcp_call(gateway, "/mcp/gwmcp_" + secrets.token_urlsafe(32), "x", {})
        assert response.status_code == 404
        tool, arguments = LIST_TOOL[accounts[1]["connector"]]
        response = await mcp_call(gateway, revoked_path, tool, arguments, accounts[1]["headers"])
        assert response.status_code == 404

    await asyncio.gather(*(negative(i) for i in range(ACCOUNTS)))
    assert [requests_seen(handle) for _, handle in sandboxes] == seen
    for _, handle in sandboxes:
        assert "401" not in handle.stats()["statuses"]

    # --- the audit tells the same story: each account's records are its own, and every refused
    # call on its routes is recorded (status "refused", the intruding token's id, no token text)
    tokens = [acc["headers"]["Authorization"].split()[1] for acc in accounts]
    for k, account in enumerate(accounts[:10]):
        response = await gateway.get(
            "/admin/audit", params={"account_id": account["id"]}, headers=admin_headers
        )
        assert not [t for t in tokens if t in response.text]
        records = [r for r in response.json() if r["kind"] in ("proxy", "unified", "mcp")]
        assert all(r["account_id"] == account["id"] for r in records)
        done = [r for r in records if r["status"] == "ok"]
        assert {r["kind"] for r in done} == {"proxy", "unified", "mcp"}
        callers = {r["caller"]["id"] for r in done if r["kind"] != "mcp"}
        assert callers == {account["token_id"]}
        refused = Counter(
            (
                r["kind"],
                r["arguments"]["http_status"],
                r["arguments"]["reason"],
                r["caller"]["kind"],
                r["caller"]["id"],
            )
            for r in records
            if r["status"] != "ok"
        )
        assert all(r["status"] in ("ok", "refused") for r in records)
        expected: Counter[tuple[str, int, str, str, str | None]] = Counter()
        for i, a in enumerate(accounts):
            for b in (accounts[(i + 1) % ACCOUNTS], accounts[(i + len(sandboxes)) % ACCOUNTS]):
                if b is account:  # A's token on this account's routes
                    intruder = ("api_token", a["token_id"])
                    for kind, count in (("proxy", 3), ("unified", 2)):
                        expected[(kind, 403, "account_not_allowed", *intruder)] += count
                    if b["requires_token"]:
                        expected[("mcp", 403, "account_not_allowed", *intruder)] += 1
                if i == k and a["requires_token"]:  # this account's server URL, B's token
                    key = ("mcp", 403, "account_not_allowed", "api_token", b["token_id"])
                    expected[key] += 1
        if k == 1:  # everyone tried the revoked server URL
            expected[("mcp", 404, "revoked_server", "anonymous", None)] = ACCOUNTS
        assert refused == expected
        refused_mcp = [r for r in records if r["status"] == "refused" and r["kind"] == "mcp"]
        assert {r["server_id"] for r in refused_mcp if r["arguments"]["http_status"] == 404} == (
            {revoked_id} if k == 1 else set()
        )
