"""Refused calls leave an audit record: proxy, unified and admin routes refused by auth.

status "refused", arguments {http_status, reason} only, caller = the API token's id when the
token is known (revoked too) else anonymous, account_id only when that account exists, never any
part of a presented token, and no upstream request. (MCP refusals: tests/gateway/test_mcp_host.py.)
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import add_sandbox_account
from .test_proxy import api_token, requests_seen

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])

ANONYMOUS = ("anonymous", None)


def summary(record: dict[str, Any]) -> tuple[Any, ...]:
    assert record["status"] == "refused"
    arguments = record["arguments"]
    assert set(arguments) == {"http_status", "reason"}, arguments
    return (
        record["kind"],
        record["action"],
        arguments["http_status"],
        arguments["reason"],
        (record["caller"]["kind"], record["caller"]["id"]),
        record["account_id"],
        record["server_id"],
    )


async def test_refused_proxy_unified_and_admin_calls_are_recorded(
    gateway: httpx.AsyncClient,
    gateway_app: Any,
    admin_headers: dict[str, str],
    admin_token: str,
    gorgias_sandbox: Any,
) -> None:
    a = (await add_sandbox_account(gateway, admin_headers, gorgias_sandbox, name="A"))["id"]
    b = (await add_sandbox_account(gateway, admin_headers, gorgias_sandbox, name="B"))["id"]
    server = await gateway.post(f"/admin/accounts/{a}/mcp-servers", headers=admin_headers, json={})
    server_id = server.json()["id"]
    proxy_a_id, proxy_a = await api_token(gateway, admin_headers, [a], ["proxy"])
    unified_a_id, unified_a = await api_token(gateway, admin_headers, [a], ["unified"])
    only_b_id, only_b = await api_token(gateway, admin_headers, [b])
    every_id, every = await api_token(gateway, admin_headers)
    revoked_id, revoked = await api_token(gateway, admin_headers, [a])
    response = await gateway.delete(f"/admin/api-tokens/{revoked_id}", headers=admin_headers)
    assert response.status_code == 200
    unknown = {"Authorization": "Bearer gwtok_" + "u" * 43}
    wrong_admin = {"Authorization": "Bearer " + admin_token + "x"}
    store = gateway_app.state.gateway.store
    first_id = max([r["id"] for r in await store.query_audit()], default=0)
    seen = requests_seen(gorgias_sandbox)

    calls: list[tuple[str, str, dict[str, str], int]] = [
        ("GET", f"/{a}/proxy/api/tickets", {}, 401),
        ("GET", f"/{a}/proxy/api/tickets?limit=1", unknown, 401),
        ("POST", f"/{a}/proxy/api/tags", revoked, 401),
        ("GET", f"/{a}/proxy/api/tickets", unified_a, 403),
        ("GET", f"/{a}/proxy/api/tickets", only_b, 403),
        ("GET", "/acc_doesnotexist/proxy/api/tickets", every, 404),
        ("GET", "/acc_doesnotexist/proxy/api/tickets", unknown, 401),
        ("GET", f"/{a}/unified/ticketing/tickets", {}, 401),
        ("DELETE", f"/{a}/unified/ticketing/tickets/7", proxy_a, 403),
        ("GET", f"/{b}/unified/user_directory/users", unified_a, 403),
        ("GET", f"/admin/accounts/{a}", wrong_admin, 401),
        ("GET", "/admin/accounts", {}, 401),
        ("GET", "/admin/accounts/acc_doesnotexist", proxy_a, 401),
        ("DELETE", f"/admin/mcp-servers/{server_id}", wrong_admin, 401),
    ]
    for method, url, headers, status in calls:
        response = await gateway.request(method, url, headers=headers)
        assert response.status_code == status, (method, url, response.text)
        assert set(response.json()) == {"error"}
    assert requests_seen(gorgias_sandbox) == seen  # refused calls send nothing upstream

    records = [r for r in await store.query_audit() if r["id"] > first_id]
    assert [summary(r) for r in records] == [
        ("proxy", "GET /api/tickets", 401, "missing_token", ANONYMOUS, a, None),
        ("proxy", "GET /api/tickets", 401, "unknown_token", ANONYMOUS, a, None),
        ("proxy", "POST /api/tags", 401, "revoked_token", ("api_token", revoked_id), a, None),
        (
            "proxy",
            "GET /api/tickets",
            403,
            "scope_not_allowed",
            ("api_token", unified_a_id),
            a,
            None,
        ),
        (
            "proxy",
            "GET /api/tickets",
            403,
            "account_not_allowed",
            ("api_token", only_b_id),
            a,
            None,
        ),
        ("proxy", "GET /api/tickets", 404, "unknown_account", ("api_token", every_id), None, None),
        ("proxy", "GET /api/tickets", 401, "unknown_token", ANONYMOUS, None, None),
        ("unified", "GET ticketing/tickets", 401, "missing_token", ANONYMOUS, a, None),
        (
            "unified",
            "DELETE ticketing/tickets/{id}",
            403,
            "scope_not_allowed",
            ("api_token", proxy_a_id),
            a,
            None,
        ),
        (
            "unified",
            "GET user_directory/users",
            403,
            "account_not_allowed",
            ("api_token", unified_a_id),
            b,
            None,
        ),
        ("admin", "GET /admin/accounts/{account_id}", 401, "invalid_token", ANONYMOUS, a, None),
        ("admin", "GET /admin/accounts", 401, "missing_token", ANONYMOUS, None, None),
        ("admin", "GET /admin/accounts/{account_id}", 401, "invalid_token", ANONYMOUS, None, None),
        (
            "admin",
            "DELETE /admin/mcp-servers/{server_id}",
            401,
            "invalid_token",
            ANONYMOUS,
            None,
            server_id,
        ),
    ]
    # no presented token, nor any part of one, is in the audit
    text = (await gateway.get("/admin/audit", headers=admin_headers)).text
    for headers in (proxy_a, unified_a, only_b, every, revoked, unknown, wrong_admin):
        secret = headers["Authorization"].split()[1]
        assert secret not in text and secret[6:20] not in text
    assert admin_token not in text and "gwtok_" not in text
