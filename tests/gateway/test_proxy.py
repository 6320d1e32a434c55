"""Proxy API: the vendor 1:1 through the account's client, normalize, budget, audit, auth.

Upstream are the generated sandboxes of both connectors on loopback; every answer is compared with
what the sandbox answers to the same request sent directly with the account's credentials.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from connector_gateway import proxy

from .conftest import add_sandbox_account

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])

SANDBOXES = {"gorgias": "gorgias_sandbox", "zendesk": "zendesk_sandbox"}
# a list path, an unknown object, an invalid create (vendor validation error), per connector
CASES = {
    "gorgias": {
        "list": ("/api/tickets", [("limit", "3"), ("order_by", "created_datetime:asc")]),
        "missing": "/api/tickets/987654",
        "invalid_create": ("/api/tickets", {"messages": "not a list"}),
        "create": ("/api/tags", {"name": "proxy-made-tag"}),
        "item_of_created": "/api/tags/{id}",
    },
    "zendesk": {
        "list": ("/api/v2/tickets", [("page[size]", "3")]),
        "missing": "/api/v2/tickets/987654",
        "invalid_create": ("/api/v2/tickets", {"ticket": {}}),
        "create": ("/api/v2/users", {"user": {"name": "Proxy Made", "email": "pm@example.com"}}),
        "item_of_created": "/api/v2/users/{id}",
    },
}


def requests_seen(sandbox: Any) -> int:
    """Every request the sandbox answered (any status, faults included)."""
    return sum(sandbox.stats()["statuses"].values())


class Direct:
    """Requests sent straight to the sandbox with the account's credentials (no gateway)."""

    def __init__(self, sandbox: Any) -> None:
        name = type(sandbox).__module__.split(".")[0]
        client_class = getattr(__import__(name), "Async" + name.capitalize())
        self.client = client_class(**sandbox.client_kwargs(), rate_limit=False, max_retries=0)

    async def __aenter__(self) -> Direct:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def get(self, path: str, params: Any = None) -> httpx.Response:
        return await self.client.send_raw("GET", path, params=params)  # type: ignore[no-any-return]

    async def post(self, path: str, json: Any) -> httpx.Response:
        body = __import__("json").dumps(json).encode()
        return await self.client.send_raw(  # type: ignore[no-any-return]
            "POST", path, content=body, headers={"Content-Type": "application/json"}
        )


def direct(sandbox: Any) -> Direct:
    return Direct(sandbox)


async def api_token(
    gateway: httpx.AsyncClient,
    admin_headers: dict[str, str],
    accounts: list[str] | None = None,
    scopes: list[str] | None = None,
) -> tuple[str, dict[str, str]]:
    response = await gateway.post(
        "/admin/api-tokens",
        headers=admin_headers,
        json={"name": "test", "accounts": accounts, "scopes": scopes},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], {"Authorization": f"Bearer {body['token']}"}


@pytest.fixture
async def accounts(
    gateway: httpx.AsyncClient,
    admin_headers: dict[str, str],
    gorgias_sandbox: Any,
    zendesk_sandbox: Any,
) -> dict[str, dict[str, Any]]:
    """One account per connector, and an API token allowed on both (proxy scope)."""
    out: dict[str, dict[str, Any]] = {}
    for connector, sandbox in (("gorgias", gorgias_sandbox), ("zendesk", zendesk_sandbox)):
        account = await add_sandbox_account(gateway, admin_headers, sandbox, connector)
        out[connector] = {"id": account["id"], "sandbox": sandbox}
    token_id, headers = await api_token(
        gateway, admin_headers, [a["id"] for a in out.values()], ["proxy"]
    )
    for entry in out.values():
        entry["headers"] = headers
        entry["token_id"] = token_id
    return out


@pytest.mark.parametrize("connector", ["gorgias", "zendesk"])
async def test_vendor_answers_pass_through_one_to_one(
    gateway: httpx.AsyncClient, accounts: dict[str, dict[str, Any]], connector: str
) -> None:
    account = accounts[connector]
    sandbox, headers, base = account["sandbox"], account["headers"], f"/{account['id']}/proxy"
    case = CASES[connector]
    async with direct(sandbox) as vendor:
        path, query = case["list"]
        got = await gateway.get(base + path, params=query, headers=headers)
        want = await vendor.get(path, params=query)
        assert got.status_code == want.status_code == 200
        assert got.headers["content-type"] == want.headers["content-type"]
        assert got.json() == want.json()
        assert got.content == want.content

        got = await gateway.get(base + "/api/no-such-endpoint", headers=headers)
        want = await vendor.get("/api/no-such-endpoint")
        assert got.status_code == want.status_code == 404
        assert got.content == want.content

        got = await gateway.get(base + case["missing"], headers=headers)
        want = await vendor.get(case["missing"])
        assert got.status_code == want.status_code == 404
        assert got.content == want.content
        assert got.headers["content-type"] == want.headers["content-type"]

        path, body = case["invalid_create"]
        before = sandbox.stats()["counts"]
        got = await gateway.post(base + path, json=body, headers=headers)
        want = await vendor.post(path, json=body)
        assert got.status_code == want.status_code
        assert got.status_code in (400, 422)
        assert got.json() == want.json()
        assert sandbox.stats()["counts"] == before

        path, body = case["create"]
        created = await gateway.post(base + path, json=body, headers=headers)
        assert created.status_code == 201, created.text
        data = created.json()
        new_id = (data.get("user") or data)["id"]
        fetched = await gateway.get(
            base + case["item_of_created"].format(id=new_id), headers=headers
        )
        assert fetched.status_code == 200
        assert (
            fetched.json() == (await vendor.get(case["item_of_created"].format(id=new_id))).json()
        )
        deleted = await gateway.delete(
            base + case["item_of_created"].format(id=new_id), headers=headers
        )
        assert deleted.status_code in (200, 204)
        again = await vendor.get(case["item_of_created"].format(id=new_id))
        assert again.status_code == 404


async def test_raw_bodies_and_content_types_are_forwarded_as_sent(
    gateway: httpx.AsyncClient, accounts: dict[str, dict[str, Any]]
) -> None:
    account = accounts["gorgias"]
    base = f"/{account['id']}/proxy"
    raw = json.dumps({"name": "raw-body-tag", "description": "sent as bytes"}).encode()
    response = await gateway.post(
        base + "/api/tags",
        content=raw,
        headers={**account["headers"], "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["description"] == "sent as bytes"
    # a body the vendor cannot read: its own error, not the gateway's
    response = await gateway.post(
        base + "/api/tags",
        content=b"name=x",
        headers={**account["headers"], "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code in (400, 415, 422)
    assert "error" in response.json()
    assert response.json()["error"].get("type") != "internal"


@pytest.mark.parametrize(
    "path",
    [
        "/%2e%2e/admin/accounts",
        "/api/%2E%2E/%2e%2e/x",
        "/api/%2e/tickets",
        "/%2F%2Fevil.example.com/api/tickets",
        "/http://evil.example.com/api/tickets",
        "/api/tickets%5C..%5Cx",
        "/api/tick%00ets",
    ],
)
async def test_paths_outside_the_api_are_refused_before_any_request(
    gateway: httpx.AsyncClient, accounts: dict[str, dict[str, Any]], path: str
) -> None:
    account = accounts["gorgias"]
    seen = requests_seen(account["sandbox"])
    url = httpx.URL(f"http://127.0.0.1:8800/{account['id']}/proxy")
    url = url.copy_with(raw_path=(f"/{account['id']}/proxy" + path).encode())
    response = await gateway.get(url, headers=account["headers"])
    assert response.status_code == 400, response.text[:200]
    assert response.json()["error"]["type"] == "invalid_path"
    assert requests_seen(account["sandbox"]) == seen


async def test_request_bodies_are_bounded(
    gateway: httpx.AsyncClient,
    accounts: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(proxy, "MAX_REQUEST_BYTES", 1000)
    account = accounts["gorgias"]
    seen = requests_seen(account["sandbox"])
    response = await gateway.post(
        f"/{account['id']}/proxy/api/tags",
        json={"name": "x" * 2000},
        headers=account["headers"],
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "payload_too_large"

    async def chunks() -> Any:  # no Content-Length: counted while reading
        for _ in range(5):
            yield b"y" * 400

    response = await gateway.post(
        f"/{account['id']}/proxy/api/tags", content=chunks(), headers=account["headers"]
    )
    assert response.status_code == 413
    assert requests_seen(account["sandbox"]) == seen


def test_caller_credentials_and_hop_by_hop_headers_are_not_forwarded() -> None:
    kept = proxy.forwarded_headers(
        [
            ("Authorization", "Bearer gwtok_x"),
            ("Proxy-Authorization", "Basic x"),
            ("Cookie", "session=1"),
            ("X-Api-Key", "k"),
            ("X-Auth-Token", "t"),
            ("Connection", "keep-alive, X-Drop-Me"),
            ("X-Drop-Me", "1"),
            ("Transfer-Encoding", "chunked"),
            ("Host", "gateway"),
            ("Content-Length", "3"),
            ("X-Forwarded-For", "1.2.3.4"),
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            ("If-None-Match", '"abc"'),
            ("X-Custom", "kept"),
        ]
    )
    assert kept == {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "If-None-Match": '"abc"',
        "X-Custom": "kept",
    }


async def test_the_callers_authorization_never_reaches_the_vendor(
    gateway: httpx.AsyncClient, accounts: dict[str, dict[str, Any]]
) -> None:
    """The caller authenticates with a gateway token; upstream gets the account's credentials."""
    account = accounts["zendesk"]
    response = await gateway.get(
        f"/{account['id']}/proxy/api/v2/users/me",
        headers={**account["headers"], "X-Api-Key": "caller-key", "Cookie": "a=b"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["user"]["email"] == account["sandbox"].email


# --- normalize -----------------------------------------------------------------------------------


async def _pages(
    gateway: httpx.AsyncClient, url: str, query: list[tuple[str, str]], headers: dict[str, str]
) -> list[dict[str, Any]]:
    pages = []
    cursor = None
    for _ in range(3):
        params = [*query, ("normalize", "true")] + ([("cursor", cursor)] if cursor else [])
        response = await gateway.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        page = response.json()
        assert set(page) >= {"result", "next_cursor", "prev_cursor"}
        pages.append(page)
        cursor = page["next_cursor"]
        if not cursor:
            break
    return pages


@pytest.mark.parametrize(
    ("connector", "path", "query", "style"),
    [
        ("gorgias", "/api/tickets", [("limit", "4")], "cursor in meta"),
        ("zendesk", "/api/v2/tickets", [("page[size]", "4")], "page[after] cursor"),
        ("zendesk", "/api/v2/search", [("query", "type:ticket"), ("per_page", "4")], "page"),
        (
            "zendesk",
            "/api/v2/incremental/tickets",
            [("start_time", "0"), ("per_page", "4")],
            "time export",
        ),
    ],
)
async def test_normalize_gives_one_shape_for_every_pagination(
    gateway: httpx.AsyncClient,
    accounts: dict[str, dict[str, Any]],
    connector: str,
    path: str,
    query: list[tuple[str, str]],
    style: str,
) -> None:
    account = accounts[connector]
    url = f"/{account['id']}/proxy{path}"
    pages = await _pages(gateway, url, query, account["headers"])
    assert len(pages) == 3, style
    ids = [item["id"] for page in pages for item in page["result"]]
    assert all(len(page["result"]) == 4 for page in pages), style
    assert len(ids) == len(set(ids)) == 12, style  # nothing repeated across pages
    # the same items, in the same order, as the vendor's own first pages
    raw = await gateway.get(url, params=query, headers=account["headers"])
    key = "tickets" if connector == "zendesk" and "search" not in path else None
    vendor_items = raw.json()[key] if key else raw.json().get("data", raw.json().get("results"))
    assert [item["id"] for item in vendor_items] == ids[:4]


async def test_normalize_refusals_and_vendor_errors(
    gateway: httpx.AsyncClient, accounts: dict[str, dict[str, Any]]
) -> None:
    account = accounts["zendesk"]
    base, headers = f"/{account['id']}/proxy", account["headers"]
    seen = requests_seen(account["sandbox"])
    for url, fragment in [
        ("/api/v2/tickets/1?normalize=true", "not a list operation"),
        ("/api/v2/tickets?normalize=true&bogus=1", "'bogus'"),
        ("/api/v2/tickets/abc/comments?normalize=true", "integer"),
    ]:
        response = await gateway.get(base + url, headers=headers)
        assert response.status_code == 400, (url, response.text)
        assert fragment in response.json()["error"]["message"]
    response = await gateway.post(base + "/api/v2/tickets?normalize=true", json={}, headers=headers)
    assert response.status_code == 400
    assert requests_seen(account["sandbox"]) == seen
    # a matched list whose parent does not exist: the vendor's 404 and body
    response = await gateway.get(
        base + "/api/v2/tickets/987654/comments?normalize=true", headers=headers
    )
    async with direct(account["sandbox"]) as vendor:
        want = await vendor.get("/api/v2/tickets/987654/comments")
    assert response.status_code == want.status_code == 404
    assert response.json() == want.json()


# --- budget, audit, auth -------------------------------------------------------------------------


async def test_budget_header_shows_the_accounts_remaining_share(
    gateway: httpx.AsyncClient, accounts: dict[str, dict[str, Any]]
) -> None:
    for connector in ("gorgias", "zendesk"):
        account = accounts[connector]
        values = []
        for _ in range(4):
            response = await gateway.get(
                f"/{account['id']}/proxy/{'api/account' if connector == 'gorgias' else 'api/v2/users/me'}",
                headers=account["headers"],
            )
            assert response.status_code == 200
            values.append(int(response.headers[proxy.BUDGET_HEADER]))
        assert values[-1] < values[0], (connector, values)
        assert all(v >= 0 for v in values)


async def test_every_proxy_call_is_audited_with_redacted_query(
    gateway: httpx.AsyncClient,
    admin_headers: dict[str, str],
    accounts: dict[str, dict[str, Any]],
) -> None:
    account = accounts["gorgias"]
    base = f"/{account['id']}/proxy"
    await gateway.get(
        base + "/api/customers",
        params={"email": "secret.person@example.com", "limit": "1"},
        headers=account["headers"],
    )
    await gateway.get(base + "/api/tickets/987654", headers=account["headers"])
    response = await gateway.get(
        "/admin/audit", params={"account_id": account["id"], "kind": "proxy"}, headers=admin_headers
    )
    assert response.status_code == 200
    records = response.json()
    by_action = {r["action"]: r for r in records}
    ok = by_action["GET /api/customers"]
    assert ok["status"] == "ok"
    assert ok["account_id"] == account["id"]
    assert ok["caller"] == {"kind": "api_token", "id": account["token_id"]}
    assert ok["duration_ms"] >= 0
    error = by_action["GET /api/tickets/987654"]
    assert error["status"] == "error"
    assert error["arguments"]["http_status"] == 404
    text = json.dumps(records)
    assert "secret.person@example.com" not in text
    assert account["sandbox"].api_key not in text
    assert account["headers"]["Authorization"].split()[1] not in text


async def test_auth_is_checked_before_any_upstream_request(
    gateway: httpx.AsyncClient,
    admin_headers: dict[str, str],
    accounts: dict[str, dict[str, Any]],
) -> None:
    gorgias, zendesk = accounts["gorgias"], accounts["zendesk"]
    url = f"/{gorgias['id']}/proxy/api/account"
    _, only_zendesk = await api_token(gateway, admin_headers, [zendesk["id"]], ["proxy"])
    _, only_unified = await api_token(gateway, admin_headers, [gorgias["id"]], ["unified", "mcp"])
    revoked_id, revoked = await api_token(gateway, admin_headers, [gorgias["id"]])
    assert (
        await gateway.delete(f"/admin/api-tokens/{revoked_id}", headers=admin_headers)
    ).status_code == 200
    _, everything = await api_token(gateway, admin_headers)
    seen = requests_seen(gorgias["sandbox"])
    for headers, status in [
        ({}, 401),
        ({"Authorization": "Bearer gwtok_not-a-real-token"}, 401),
        ({"Authorization": admin_headers["Authorization"]}, 401),
        (revoked, 401),
        (only_zendesk, 403),
        (only_unified, 403),
    ]:
        response = await gateway.get(url, headers=headers)
        assert response.status_code == status, (headers, response.text)
        assert set(response.json()["error"]) >= {"type", "message"}
    response = await gateway.get("/acc_doesnotexist/proxy/api/account", headers=everything)
    assert response.status_code == 404
    # a token scoped to another account cannot tell whether an account exists
    response = await gateway.get("/acc_doesnotexist/proxy/api/account", headers=only_zendesk)
    assert response.status_code == 403
    assert requests_seen(gorgias["sandbox"]) == seen
    response = await gateway.get(url, headers=everything)
    assert response.status_code == 200
    assert requests_seen(gorgias["sandbox"]) == seen + 1


async def test_unreachable_vendor_is_a_clear_json_error(
    gateway: httpx.AsyncClient, admin_headers: dict[str, str], gorgias_sandbox: Any
) -> None:
    from .conftest import free_port, sandbox_credentials

    credentials, _ = sandbox_credentials(gorgias_sandbox)
    response = await gateway.post(
        "/admin/accounts",
        headers=admin_headers,
        json={
            "connector": "gorgias",
            "credentials": credentials,
            "base_url": f"http://127.0.0.1:{free_port()}",
        },
    )
    assert response.status_code == 201, response.text
    account_id = response.json()["id"]
    _, headers = await api_token(gateway, admin_headers, [account_id], ["proxy"])
    # a POST is never retried: the connection error comes back at once
    response = await gateway.post(
        f"/{account_id}/proxy/api/tags", json={"name": "x"}, headers=headers
    )
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["type"] == "upstream_unavailable"
    assert "connection failed" in error["message"]
    assert credentials["api_key"] not in response.text
