"""Unified HTTP API over both connectors' sandboxes: one format, every mapped method, clear refusals."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import add_sandbox_account
from .test_proxy import api_token, requests_seen

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])


@pytest.fixture
async def accounts(
    gateway: httpx.AsyncClient,
    admin_headers: dict[str, str],
    gorgias_sandbox: Any,
    zendesk_sandbox: Any,
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for connector, sandbox in (("gorgias", gorgias_sandbox), ("zendesk", zendesk_sandbox)):
        account = await add_sandbox_account(gateway, admin_headers, sandbox, connector)
        out[connector] = {"id": account["id"], "sandbox": sandbox}
    token_id, headers = await api_token(
        gateway, admin_headers, [a["id"] for a in out.values()], ["unified"]
    )
    for entry in out.values():
        entry.update(headers=headers, token_id=token_id, base=f"/{entry['id']}/unified")
    return out


@pytest.mark.parametrize("connector", ["gorgias", "zendesk"])
async def test_lists_have_one_format_and_cursors_walk_pages(
    gateway: httpx.AsyncClient, accounts: dict[str, dict[str, Any]], connector: str
) -> None:
    account = accounts[connector]
    url = account["base"] + "/ticketing/tickets"
    seen: list[str] = []
    cursor = None
    for _ in range(3):
        params = {"limit": "5", **({"cursor": cursor} if cursor else {})}
        response = await gateway.get(url, params=params, headers=account["headers"])
        assert response.status_code == 200, response.text[:300]
        assert response.headers["content-type"] == "application/json"
        page = response.json()
        assert set(page) == {"result", "next_cursor", "prev_cursor"}
        assert len(page["result"]) == 5
        for ticket in page["result"]:
            assert isinstance(ticket["id"], str)
            assert "remote_data" in ticket
        seen += [t["id"] for t in page["result"]]
        cursor = page["next_cursor"]
        assert cursor
    assert len(set(seen)) == 15
    # the directory users of the same account
    response = await gateway.get(
        account["base"] + "/user_directory/users", params={"limit": "2"}, headers=account["headers"]
    )
    assert response.status_code == 200
    assert len(response.json()["result"]) == 2


@pytest.mark.parametrize("connector", ["gorgias", "zendesk"])
async def test_create_get_update_delete_a_contact(
    gateway: httpx.AsyncClient, accounts: dict[str, dict[str, Any]], connector: str
) -> None:
    account = accounts[connector]
    url, headers = account["base"] + "/ticketing/contacts", account["headers"]
    response = await gateway.post(
        url,
        json={"name": "Una Fied", "emails": [{"email": f"una.{connector}@example.com"}]},
        headers=headers,
    )
    assert response.status_code == 201, response.text[:300]
    created = response.json()["result"]
    assert created["name"] == "Una Fied"
    contact_id = created["id"]

    response = await gateway.get(f"{url}/{contact_id}", headers=headers)
    assert response.status_code == 200
    assert response.json()["result"]["id"] == contact_id

    response = await gateway.patch(
        f"{url}/{contact_id}", json={"name": "Una Renamed"}, headers=headers
    )
    assert response.status_code == 200, response.text[:300]
    assert response.json()["result"]["name"] == "Una Renamed"
    response = await gateway.get(f"{url}/{contact_id}", headers=headers)
    assert response.json()["result"]["name"] == "Una Renamed"

    response = await gateway.delete(f"{url}/{contact_id}", headers=headers)
    assert response.status_code == 200, response.text[:300]
    assert response.json() == {"result": {"id": contact_id, "deleted": True}}
    response = await gateway.get(f"{url}/{contact_id}", headers=headers)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


async def test_unmapped_methods_and_unknown_resources(
    gateway: httpx.AsyncClient, accounts: dict[str, dict[str, Any]]
) -> None:
    zendesk = accounts["zendesk"]
    base, headers = zendesk["base"], zendesk["headers"]
    seen = requests_seen(zendesk["sandbox"])
    # Zendesk's mapping lists tags but cannot create or read one tag
    for method, path in [
        ("POST", "/ticketing/tags"),
        ("GET", "/ticketing/tags/12"),
        ("PUT", "/ticketing/tickets/1"),
        ("POST", "/ticketing/tickets/1"),
        ("DELETE", "/ticketing/tickets"),
    ]:
        response = await gateway.request(method, base + path, headers=headers, json={})
        assert response.status_code == 405, (method, path, response.text)
        error = response.json()["error"]
        assert error["type"] == "method_not_allowed"
        assert method in error["message"]
    for path, fragment in [
        ("/ticketing/widgets", "resources: attachments"),
        ("/crm/contacts", "no unified API 'crm'"),
        ("/user_directory/groups", "unknown unified user_directory resource"),
    ]:
        response = await gateway.get(base + path, headers=headers)
        assert response.status_code == 404, path
        assert fragment in response.json()["error"]["message"]
    assert requests_seen(zendesk["sandbox"]) == seen


async def test_bad_input_is_refused_with_the_validation_message(
    gateway: httpx.AsyncClient, accounts: dict[str, dict[str, Any]]
) -> None:
    gorgias = accounts["gorgias"]
    base, headers = gorgias["base"], gorgias["headers"]
    seen = requests_seen(gorgias["sandbox"])
    cases = [
        ("POST", "/ticketing/tickets", {"json": {}}, "description"),
        ("POST", "/ticketing/tickets", {"json": {"description": "x", "bogus": 1}}, "bogus"),
        ("POST", "/ticketing/tickets", {"content": b"{not json"}, "not valid JSON"),
        ("POST", "/ticketing/tickets", {"json": [1, 2]}, "JSON object"),
        ("GET", "/ticketing/tickets?colour=red", {}, "colour"),
        ("GET", "/ticketing/tickets?updated_after=yesterday", {}, "updated_after"),
        ("PATCH", "/ticketing/tickets/1", {"json": {"id": "2"}}, "differs"),
    ]
    for method, path, kwargs, fragment in cases:
        response = await gateway.request(method, base + path, headers=headers, **kwargs)
        assert response.status_code == 400, (method, path, response.text)
        error = response.json()["error"]
        assert error["type"] == "invalid_request"
        assert fragment in error["message"], (fragment, error)
    assert requests_seen(gorgias["sandbox"]) == seen


async def test_scope_audit_and_budget(
    gateway: httpx.AsyncClient,
    admin_headers: dict[str, str],
    accounts: dict[str, dict[str, Any]],
) -> None:
    gorgias = accounts["gorgias"]
    _, proxy_only = await api_token(gateway, admin_headers, [gorgias["id"]], ["proxy"])
    response = await gateway.get(gorgias["base"] + "/ticketing/tickets", headers=proxy_only)
    assert response.status_code == 403

    response = await gateway.get(
        gorgias["base"] + "/ticketing/contacts",
        params={"limit": "1"},
        headers=gorgias["headers"],
    )
    assert response.status_code == 200
    assert int(response.headers["X-Gateway-Budget-Remaining"]) >= 0
    await gateway.post(
        gorgias["base"] + "/ticketing/contacts",
        json={"name": "Audited", "emails": [{"email": "private.person@example.com"}]},
        headers=gorgias["headers"],
    )
    response = await gateway.get(
        "/admin/audit",
        params={"account_id": gorgias["id"], "kind": "unified"},
        headers=admin_headers,
    )
    records = response.json()
    actions = {r["action"]: r for r in records}
    listed = actions["list_all_unified_ticketing_contacts"]
    assert listed["status"] == "ok"
    assert listed["caller"] == {"kind": "api_token", "id": gorgias["token_id"]}
    assert listed["arguments"] == {"limit": 1}
    assert actions["create_a_unified_ticketing_contact"]["status"] == "ok"
    assert gorgias["sandbox"].api_key not in json.dumps(records)
